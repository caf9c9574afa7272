//! Table tests of the pure core: update semantics, payload shapes, every rejection, get and
//! delete, and the stored form.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::document::{Stored, apply_update, delete, get};
use crate::name::ShadowId;

const T0: u64 = 1_700_000_000;
const T1: u64 = T0 + 10;

fn update(current: &Stored, request: Value, now: u64) -> (Stored, Value, Option<Value>, Value) {
    let outcome = apply_update(current, request.to_string().as_bytes(), now).unwrap();
    let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
    (
        Stored::Live(outcome.record.clone()),
        parse(&outcome.accepted),
        outcome.delta.as_deref().map(parse),
        parse(&outcome.documents),
    )
}

fn rejected(current: &Stored, request: &[u8]) -> (u16, String, Option<String>) {
    let error = apply_update(current, request, T0).unwrap_err();
    (error.code, error.message, error.client_token)
}

fn full(stored: &Stored) -> Value {
    let id = ShadowId::classic("t").unwrap();
    serde_json::from_slice(&get(stored, b"", T1, &id).unwrap()).unwrap()
}

#[test]
fn first_update_creates_version_1_with_payloads() {
    let request = json!({"state": {"desired": {"color": "red"}}, "clientToken": "tok"});
    let (stored, accepted, delta, documents) = update(&Stored::Absent, request, T0);
    assert_eq!(
        accepted,
        json!({
            "state": {"desired": {"color": "red"}},
            "metadata": {"desired": {"color": {"timestamp": T0}}},
            "version": 1, "timestamp": T0, "clientToken": "tok"
        })
    );
    assert_eq!(
        delta.unwrap(),
        json!({
            "state": {"color": "red"},
            "metadata": {"color": {"timestamp": T0}},
            "version": 1, "timestamp": T0, "clientToken": "tok"
        })
    );
    assert_eq!(
        documents,
        json!({
            "previous": null,
            "current": {
                "state": {"desired": {"color": "red"}},
                "metadata": {"desired": {"color": {"timestamp": T0}}},
                "version": 1
            },
            "timestamp": T0, "clientToken": "tok"
        })
    );
    assert_eq!(stored.live().unwrap().version, 1);
}

#[test]
fn update_semantics_table() {
    // (initial desired, patch desired, expected desired after)
    let cases: Vec<(Value, Value, Option<Value>)> = vec![
        // deep merge
        (
            json!({"a": {"b": 1, "c": 2}}),
            json!({"a": {"b": 3}}),
            Some(json!({"a": {"b": 3, "c": 2}})),
        ),
        // scalars replace, new keys add
        (json!({"a": 1}), json!({"a": "x", "n": true}), Some(json!({"a": "x", "n": true}))),
        // arrays replace whole
        (json!({"l": [1, 2, 3]}), json!({"l": [9]}), Some(json!({"l": [9]}))),
        // object over scalar and scalar over object
        (
            json!({"a": 1, "o": {"x": 1}}),
            json!({"a": {"y": 2}, "o": 5}),
            Some(json!({"a": {"y": 2}, "o": 5})),
        ),
        // null deletes a key
        (json!({"a": 1, "b": 2}), json!({"a": null}), Some(json!({"b": 2}))),
        // emptied objects are pruned, up to the section
        (json!({"a": {"b": 1}}), json!({"a": {"b": null}}), None),
        (
            json!({"a": {"b": {"c": 1}}, "k": 1}),
            json!({"a": {"b": {"c": null}}}),
            Some(json!({"k": 1})),
        ),
        // an empty object adds nothing
        (json!({"k": 1}), json!({"e": {}}), Some(json!({"k": 1}))),
        // deleting what is not there is fine
        (json!({"k": 1}), json!({"zz": null}), Some(json!({"k": 1}))),
    ];
    for (initial, patch, expected) in cases {
        let (stored, ..) = update(&Stored::Absent, json!({"state": {"desired": initial}}), T0);
        let (stored, ..) = update(&stored, json!({"state": {"desired": patch.clone()}}), T1);
        let record = stored.live().unwrap();
        assert_eq!(record.version, 2);
        let desired = record.desired.as_ref().map(|s| Value::Object(s.state.clone()));
        assert_eq!(desired, expected, "patch {patch}");
    }
}

#[test]
fn metadata_keeps_untouched_timestamps() {
    let (stored, ..) = update(
        &Stored::Absent,
        json!({"state": {"reported": {"a": {"b": 1, "c": 2}, "l": [1]}}}),
        T0,
    );
    let (stored, accepted, delta, _) =
        update(&stored, json!({"state": {"reported": {"a": {"b": 5, "c": null}}}}), T1);
    assert!(delta.is_none(), "reported-only updates publish no delta");
    assert_eq!(
        accepted["metadata"],
        json!({"reported": {"a": {"b": {"timestamp": T1}, "c": {"timestamp": T1}}}})
    );
    assert_eq!(accepted["state"], json!({"reported": {"a": {"b": 5, "c": null}}}));
    let doc = full(&stored);
    assert_eq!(
        doc["metadata"],
        json!({"reported": {"a": {"b": {"timestamp": T1}}, "l": {"timestamp": T0}}})
    );
    assert_eq!(doc["state"], json!({"reported": {"a": {"b": 5}, "l": [1]}}));
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["timestamp"], T1);
}

#[test]
fn delta_walks_desired_against_reported() {
    let (stored, ..) = update(
        &Stored::Absent,
        json!({"state": {"reported": {"x": 1, "y": {"z": 2}, "only_reported": 1, "arr": [1, 2]}}}),
        T0,
    );
    let (stored, _, delta, _) = update(
        &stored,
        json!({"state": {"desired": {"x": 1, "y": {"z": 2, "w": 3}, "arr": [1], "new": "n"}}}),
        T1,
    );
    let delta = delta.unwrap();
    assert_eq!(delta["state"], json!({"y": {"w": 3}, "arr": [1], "new": "n"}));
    assert_eq!(
        delta["metadata"],
        json!({"y": {"w": {"timestamp": T1}}, "arr": {"timestamp": T1}, "new": {"timestamp": T1}})
    );
    assert_eq!(full(&stored)["state"]["delta"], json!({"y": {"w": 3}, "arr": [1], "new": "n"}));
    // The device reports what was asked: the delta empties and get shows none.
    let (stored, _, delta, _) = update(
        &stored,
        json!({"state": {"reported": {"y": {"w": 3}, "arr": [1], "new": "n"}}}),
        T1,
    );
    assert!(delta.is_none());
    assert!(full(&stored)["state"].get("delta").is_none());
    // A desired update that changes nothing relative to reported publishes no delta.
    let (_, _, delta, _) = update(&stored, json!({"state": {"desired": {"x": 1}}}), T1);
    assert!(delta.is_none());
}

#[test]
fn section_null_and_state_null() {
    let request = json!({"state": {"desired": {"a": 1}, "reported": {"b": 2}}});
    let (stored, ..) = update(&Stored::Absent, request, T0);
    let (stored, accepted, ..) =
        update(&stored, json!({"state": {"desired": null, "reported": {"c": 3}}}), T1);
    assert_eq!(accepted["metadata"]["desired"], json!({"timestamp": T1}));
    assert_eq!(full(&stored)["state"], json!({"reported": {"b": 2, "c": 3}}));
    let (stored, _, _, documents) = update(&stored, json!({"state": null}), T1);
    assert_eq!(full(&stored)["state"], json!({}));
    assert_eq!(full(&stored)["version"], 3);
    assert_eq!(documents["previous"]["version"], 2);
    assert_eq!(documents["current"], json!({"state": {}, "metadata": {}, "version": 3}));
}

#[test]
fn optimistic_locking() {
    let (stored, ..) = update(&Stored::Absent, json!({"state": {"desired": {"a": 1}}}), T0);
    let body = json!({"state": {"desired": {"a": 2}}, "version": 5, "clientToken": "c"});
    let (code, message, token) = rejected(&stored, body.to_string().as_bytes());
    assert_eq!((code, message.as_str(), token.as_deref()), (409, "Version conflict", Some("c")));
    let (stored, accepted, ..) =
        update(&stored, json!({"state": {"desired": {"a": 2}}, "version": 1}), T1);
    assert_eq!(accepted["version"], 2);
    assert_eq!(stored.live().unwrap().version, 2);
}

#[test]
fn every_rejection_has_aws_code_and_message() {
    let deep7 = json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}});
    let deep6 = json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}});
    let big = json!({"state": {"reported": {"k": "x".repeat(8200)}}});
    let long_token = "t".repeat(65);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not json".to_vec(), 400, "Invalid JSON"),
        (b"".to_vec(), 400, "Invalid JSON"),
        (b"[1,2]".to_vec(), 400, "Invalid JSON"),
        (b"{\"state\":{\"desired\":{\"a\":1}}".to_vec(), 400, "Invalid JSON"),
        (b"{\"clientToken\":\"x\"}".to_vec(), 400, "Missing required node: state"),
        (b"{\"state\":5}".to_vec(), 400, "State node must be an object"),
        (b"{\"state\":{\"desired\":[1]}}".to_vec(), 400, "Desired node must be an object"),
        (b"{\"state\":{\"reported\":\"x\"}}".to_vec(), 400, "Reported node must be an object"),
        (b"{\"state\":{\"delta\":{}}}".to_vec(), 400, "State contains an invalid node: 'delta'"),
        (b"{\"state\":{},\"version\":\"1\"}".to_vec(), 400, "Invalid version"),
        (b"{\"state\":{},\"version\":-1}".to_vec(), 400, "Invalid version"),
        (b"{\"state\":{},\"version\":1.5}".to_vec(), 400, "Invalid version"),
        (b"{\"state\":{},\"clientToken\":5}".to_vec(), 400, "Invalid clientToken"),
        (
            json!({"state": {}, "clientToken": long_token}).to_string().into_bytes(),
            400,
            "Invalid clientToken",
        ),
        (
            deep7.to_string().into_bytes(),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        (b"{\"state\":{\"desired\":{\"l\":[1,null]}}}".to_vec(), 400, "Invalid JSON"),
        (big.to_string().into_bytes(), 413, "The payload exceeds the maximum size allowed"),
        (
            b"{\"state\":{\"desired\":{\"a\":\"\xff\"}}}".to_vec(),
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        ),
    ];
    for (payload, code, message) in cases {
        let got = rejected(&Stored::Absent, &payload);
        assert_eq!(
            (got.0, got.1.as_str()),
            (code, message),
            "{}",
            String::from_utf8_lossy(&payload)
        );
    }
    assert!(apply_update(&Stored::Absent, deep6.to_string().as_bytes(), T0).is_ok());
    // 64 bytes is fine, and a valid token is echoed on later errors.
    let token = "t".repeat(64);
    let body = json!({"state": 1, "clientToken": token});
    assert_eq!(rejected(&Stored::Absent, body.to_string().as_bytes()).2, Some(token));
}

#[test]
fn size_limit_counts_the_merged_document() {
    let half = "x".repeat(4100);
    let (stored, ..) = update(&Stored::Absent, json!({"state": {"desired": {"a": half}}}), T0);
    let body = json!({"state": {"reported": {"b": half}}});
    let (code, ..) = rejected(&stored, body.to_string().as_bytes());
    assert_eq!(code, 413);
    // Replacing the big value instead fits.
    assert!(
        apply_update(
            &stored,
            json!({"state": {"desired": {"a": half}}}).to_string().as_bytes(),
            T1
        )
        .is_ok()
    );
}

#[test]
fn rejected_payload_shape() {
    let error = apply_update(&Stored::Absent, b"{\"clientToken\":\"abc\"}", T0).unwrap_err();
    let payload: Value = serde_json::from_slice(&error.to_payload(T0)).unwrap();
    assert_eq!(
        payload,
        json!({"code": 400, "message": "Missing required node: state", "timestamp": T0, "clientToken": "abc"})
    );
    let error = apply_update(&Stored::Absent, b"nope", T0).unwrap_err();
    let payload: Value = serde_json::from_slice(&error.to_payload(T0)).unwrap();
    assert_eq!(payload, json!({"code": 400, "message": "Invalid JSON", "timestamp": T0}));
}

#[test]
fn get_and_delete_of_missing_shadows_are_404() {
    let classic = ShadowId::classic("thing-1").unwrap();
    let named = ShadowId::new("thing-1", Some("cfg")).unwrap();
    let error = get(&Stored::Absent, b"", T0, &classic).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (404, "No shadow exists with name: 'thing-1'")
    );
    let error = delete(&Stored::Absent, b"{\"clientToken\":\"d\"}", T0, &named).unwrap_err();
    assert_eq!(error.message, "No shadow exists with name: 'thing-1~cfg'");
    assert_eq!(error.client_token.as_deref(), Some("d"));
    let deleted = Stored::Deleted { version: 3, deleted_at: T0 };
    assert_eq!(get(&deleted, b"", T0, &classic).unwrap_err().code, 404);
}

#[test]
fn delete_keeps_the_version_counter_for_48_hours() {
    let id = ShadowId::classic("t").unwrap();
    let (mut stored, ..) = update(&Stored::Absent, json!({"state": {"desired": {"a": 1}}}), T0);
    for _ in 0..2 {
        stored = update(&stored, json!({"state": {"desired": {"a": 2}}}), T0).0;
    }
    let (deleted, payload) = delete(&stored, b"{\"clientToken\":\"x\"}", T1, &id).unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload, json!({"version": 3, "timestamp": T1, "clientToken": "x"}));
    assert_eq!(deleted, Stored::Deleted { version: 3, deleted_at: T1 });
    let (again, accepted, _, documents) =
        update(&deleted, json!({"state": {"reported": {"a": 1}}}), T1 + 5);
    assert_eq!(accepted["version"], 4);
    assert_eq!(documents["previous"], Value::Null);
    assert_eq!(again.live().unwrap().version, 4);
    // Locking against the deleted counter works too.
    let body = json!({"state": {"reported": {"a": 1}}, "version": 3});
    assert!(apply_update(&deleted, body.to_string().as_bytes(), T1).is_ok());
    // After 48 hours numbering starts over.
    let later = T1 + crate::DELETED_VERSION_KEPT_SECS + 1;
    let (_, accepted, ..) = update(&deleted, json!({"state": {"reported": {"a": 1}}}), later);
    assert_eq!(accepted["version"], 1);
}

#[test]
fn get_echoes_client_token_and_rejects_bad_ones() {
    let id = ShadowId::classic("t").unwrap();
    let (stored, ..) = update(&Stored::Absent, json!({"state": {"desired": {"a": 1}}}), T0);
    let doc: Value =
        serde_json::from_slice(&get(&stored, b"{\"clientToken\":\"g\"}", T1, &id).unwrap())
            .unwrap();
    assert_eq!(doc["clientToken"], "g");
    assert_eq!(doc["state"], json!({"desired": {"a": 1}, "delta": {"a": 1}}));
    // Garbage is ignored (the payload is optional); a bad token is not.
    assert!(get(&stored, b"\x00garbage", T1, &id).is_ok());
    let long = json!({"clientToken": "x".repeat(65)}).to_string();
    assert_eq!(get(&stored, long.as_bytes(), T1, &id).unwrap_err().message, "Invalid clientToken");
}

#[test]
fn stored_json_round_trips() {
    let (stored, ..) = update(
        &Stored::Absent,
        json!({"state": {"desired": {"a": {"b": [1, 2]}}, "reported": {"c": null, "d": 1.5}}}),
        T0,
    );
    let record = stored.live().unwrap();
    let json = record.to_stored_json();
    let back = crate::ShadowRecord::from_stored_json(&json, record.version).unwrap();
    assert_eq!(&back, record);
    assert!(crate::ShadowRecord::from_stored_json("[]", 1).is_none());
}
