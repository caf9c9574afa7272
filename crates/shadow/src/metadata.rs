//! Metadata: a tree mirroring the state, with `{"timestamp": T}` (epoch seconds) at every
//! leaf, telling when each value was last written.
//!
//! Shape from "Device Shadow service documents"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html>,
//! "Document properties"): objects recurse, and a scalar or an array is one leaf (the docs'
//! example gives the array `sequence` a single `{"timestamp"}`).

use serde_json::{Map, Value};

use crate::merge::SectionPatch;

/// The metadata leaf `{"timestamp": now}`.
pub fn leaf(now: u64) -> Value {
    let mut map = Map::new();
    map.insert("timestamp".to_owned(), Value::from(now));
    Value::Object(map)
}

/// Metadata for every leaf of `value`, all stamped `now`. `null` leaves are stamped too:
/// this is what `/update/accepted` reports for the keys a request deletes.
pub fn stamp(value: &Value, now: u64) -> Value {
    match value {
        Value::Object(map) => Value::Object(stamp_map(map, now)),
        _ => leaf(now),
    }
}

/// [`stamp`] over each entry of `map`.
pub fn stamp_map(map: &Map<String, Value>, now: u64) -> Map<String, Value> {
    map.iter().map(|(key, value)| (key.clone(), stamp(value, now))).collect()
}

/// The `/update/accepted` metadata of one section of a request: the keys it sent, stamped.
/// `None` when the section was not sent.
pub fn stamp_patch(patch: &SectionPatch, now: u64) -> Option<Value> {
    match patch {
        SectionPatch::Absent => None,
        SectionPatch::Remove => Some(leaf(now)),
        SectionPatch::Merge(map) => Some(Value::Object(stamp_map(map, now))),
    }
}

/// The metadata of a section after an update: it mirrors `state` (the merged section)
/// exactly; keys the patch wrote are stamped `now`, the others keep their `previous`
/// timestamps.
pub fn rebuild(
    state: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
    patch: Option<&Map<String, Value>>,
    now: u64,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in state {
        let old = previous.and_then(|p| p.get(key));
        let written = patch.and_then(|p| p.get(key));
        let meta = match (written, value, old) {
            // Untouched by this update: keep what was there (it mirrors the old value, which
            // is unchanged). A missing entry can only come from a corrupted record: restamp.
            (None, _, Some(old)) => old.clone(),
            (None, value, None) => stamp(value, now),
            // An object merged into the stored value: recurse, keeping untouched children.
            // When the stored value was not an object, every merged key comes from the patch,
            // so the old leaf `{"timestamp"}` is never mistaken for children.
            (Some(Value::Object(child)), Value::Object(merged), old) => {
                let old = old.and_then(Value::as_object);
                Value::Object(rebuild(merged, old, Some(child), now))
            }
            // Replaced (scalar, array, or an object over a scalar): all new.
            (Some(_), value, _) => stamp(value, now),
        };
        out.insert(key.clone(), meta);
    }
    out
}

/// The metadata of `delta`'s keys, taken from the desired section's metadata (which mirrors
/// the desired state, of which the delta is a sub-tree).
pub fn restrict(
    delta: &Map<String, Value>,
    desired_meta: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in delta {
        let Some(meta) = desired_meta.get(key) else { continue };
        let meta = match (value, meta) {
            (Value::Object(child), Value::Object(child_meta)) => {
                Value::Object(restrict(child, child_meta))
            }
            _ => meta.clone(),
        };
        out.insert(key.clone(), meta);
    }
    out
}
