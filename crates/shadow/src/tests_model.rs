//! Property tests against a simple reference model, and a seeded mutation test that no input
//! makes the core panic.
//!
//! The model keeps each section as a flat map from key paths to leaf values (scalars and
//! arrays): `null` removes a path and everything under it, a leaf replaces everything at,
//! under and above its path, and the delta is every desired leaf that reported does not have
//! with an equal value. Empty objects do not exist in that model, which is the pruning rule.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::document::{Stored, apply_update, delete, get};
use crate::name::ShadowId;

type Flat = BTreeMap<Vec<String>, Value>;

fn flatten(map: &Map<String, Value>, prefix: &mut Vec<String>, out: &mut Flat) {
    for (key, value) in map {
        prefix.push(key.clone());
        match value {
            Value::Object(child) => flatten(child, prefix, out),
            leaf => {
                out.insert(prefix.clone(), leaf.clone());
            }
        }
        prefix.pop();
    }
}

fn flat(map: Option<&Map<String, Value>>) -> Flat {
    let mut out = Flat::new();
    if let Some(map) = map {
        flatten(map, &mut Vec::new(), &mut out);
    }
    out
}

fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

fn model_merge(section: &mut Flat, patch: &Map<String, Value>, prefix: &mut Vec<String>) {
    for (key, value) in patch {
        prefix.push(key.clone());
        match value {
            Value::Null => section.retain(|path, _| !starts_with(path, prefix)),
            Value::Object(child) => {
                // An object replaces a leaf that was at this path.
                section.remove(prefix.as_slice());
                model_merge(section, child, prefix);
            }
            leaf => {
                section.retain(|path, _| !starts_with(path, prefix));
                // ... and any leaf above it.
                for cut in 1..prefix.len() {
                    section.remove(&prefix[..cut]);
                }
                section.insert(prefix.clone(), leaf.clone());
            }
        }
        prefix.pop();
    }
}

fn model_delta(desired: &Flat, reported: &Flat) -> Flat {
    desired
        .iter()
        .filter(|(path, value)| reported.get(*path) != Some(*value))
        .map(|(path, value)| (path.clone(), value.clone()))
        .collect()
}

/// Metadata mirrors state: the same paths, each ending in `timestamp`.
fn mirrors(state: &Map<String, Value>, metadata: &Map<String, Value>) -> bool {
    let state = flat(Some(state));
    let meta = flat(Some(metadata));
    state.len() == meta.len()
        && state.keys().all(|path| {
            let mut stamped = path.clone();
            stamped.push("timestamp".to_owned());
            meta.get(&stamped).is_some_and(Value::is_u64)
        })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..3).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[xy]{0,2}".prop_map(Value::from),
        prop::collection::vec(0i64..3, 0..3).prop_map(|v| json!(v)),
    ]
}

fn patch_value() -> impl Strategy<Value = Value> {
    let base = prop_oneof![4 => leaf(), 1 => Just(Value::Null)];
    base.prop_recursive(3, 16, 3, |inner| {
        prop::collection::btree_map("[abc]", inner, 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

fn section_patch() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        4 => prop::collection::btree_map("[abc]", patch_value(), 0..3)
            .prop_map(|m| Some(Value::Object(m.into_iter().collect()))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merge_and_delta_agree_with_the_model(
        updates in prop::collection::vec((section_patch(), section_patch()), 1..6)
    ) {
        let mut stored = Stored::Absent;
        let (mut desired, mut reported) = (Flat::new(), Flat::new());
        for (i, (d, r)) in updates.iter().enumerate() {
            let mut state = Map::new();
            for (name, patch, model) in [("desired", d, &mut desired), ("reported", r, &mut reported)] {
                match patch {
                    None => {}
                    Some(Value::Null) => model.clear(),
                    Some(Value::Object(map)) => model_merge(model, map, &mut Vec::new()),
                    Some(_) => unreachable!(),
                }
                if let Some(patch) = patch {
                    state.insert(name.to_owned(), patch.clone());
                }
            }
            let request = json!({"state": state});
            let outcome = apply_update(&stored, request.to_string().as_bytes(), 100 + i as u64).unwrap();
            let record = &outcome.record;
            prop_assert_eq!(record.version, i as u64 + 1);
            prop_assert_eq!(flat(record.desired.as_ref().map(|s| &s.state)), desired.clone());
            prop_assert_eq!(flat(record.reported.as_ref().map(|s| &s.state)), reported.clone());
            for section in [&record.desired, &record.reported].into_iter().flatten() {
                prop_assert!(!section.state.is_empty());
                prop_assert!(mirrors(&section.state, &section.metadata));
            }
            let expected_delta = model_delta(&desired, &reported);
            let id = ShadowId::classic("t").unwrap();
            let stored_next = Stored::Live(record.clone());
            let doc: Value = serde_json::from_slice(&get(&stored_next, b"", 0, &id).unwrap()).unwrap();
            let got_delta = flat(doc["state"].get("delta").and_then(Value::as_object));
            prop_assert_eq!(&got_delta, &expected_delta);
            // The delta message, when sent, carries the same delta.
            if let Some(delta) = &outcome.delta {
                let delta: Value = serde_json::from_slice(delta).unwrap();
                prop_assert_eq!(flat(delta["state"].as_object()), expected_delta.clone());
                prop_assert!(mirrors(delta["state"].as_object().unwrap(), delta["metadata"].as_object().unwrap()));
            } else {
                prop_assert!(expected_delta.is_empty() || d.is_none());
            }
            stored = stored_next;
        }
    }
}

/// A tiny deterministic generator (xorshift64*), so the mutation test needs no dependency
/// and replays the same inputs every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"{"state":{"desired":{"color":"red","l":[1,2]}},"clientToken":"abc","version":1}"#,
    r#"{"state":{"reported":{"a":{"b":{"c":null}},"n":1.5e3}}}"#,
    r#"{"state":{"desired":null,"reported":{"x":true}}}"#,
    r#"{"state":null}"#,
    r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}"#,
    r#"{"clientToken":"t"}"#,
    "",
];

const ALPHABET: &[u8] =
    b"{}[]\":,nulltruefalse0123456789.-eE\\ \xff\x00stateiredpoversionclientToken";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] = ALPHABET[rng.below(ALPHABET.len())];
            }
            1 => {
                let at = rng.below(out.len() + 1);
                out.insert(at, ALPHABET[rng.below(ALPHABET.len())]);
            }
            2 if !out.is_empty() => {
                let at = rng.below(out.len());
                out.truncate(at);
            }
            3 if !out.is_empty() => {
                let from = rng.below(out.len());
                let to = from + rng.below(out.len() - from);
                let chunk = out[from..to].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, chunk);
            }
            _ => {
                // Deep nesting, past serde_json's recursion limit sometimes.
                let depth = rng.below(200);
                let mut deep = "{\"state\":{\"desired\":".to_owned();
                deep.push_str(&"{\"a\":".repeat(depth));
                deep.push('1');
                deep.push_str(&"}".repeat(depth + 2));
                out = deep.into_bytes();
            }
        }
    }
    out
}

#[test]
fn mutated_json_never_panics() {
    let id = ShadowId::new("t", Some("s")).unwrap();
    let live = apply_update(&Stored::Absent, SEEDS[1].as_bytes(), 1).unwrap().record;
    let currents =
        [Stored::Absent, Stored::Deleted { version: 7, deleted_at: 1 }, Stored::Live(live)];
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut accepted = 0;
    for round in 0..20_000 {
        let seed = SEEDS[round % SEEDS.len()].as_bytes();
        let input = mutate(&mut rng, seed);
        for current in &currents {
            if let Ok(outcome) = apply_update(current, &input, 2) {
                accepted += 1;
                assert_eq!(outcome.record.version, current.base_version(2) + 1);
                serde_json::from_slice::<Value>(&outcome.accepted).unwrap();
                serde_json::from_slice::<Value>(&outcome.documents).unwrap();
            }
            let _ = get(current, &input, 2, &id);
            let _ = delete(current, &input, 2, &id);
        }
    }
    assert!(accepted > 100, "the mutations should keep some inputs valid ({accepted})");
}
