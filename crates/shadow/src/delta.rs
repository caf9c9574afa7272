//! The delta: what `desired` asks for that `reported` does not show.
//!
//! Rules from "Device Shadow MQTT topics", `/update/delta` message body details
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html>): a
//! desired attribute is included when reported lacks it or differs; reported-only attributes
//! never appear; objects recurse (so only the differing leaves of a nested object appear,
//! under their full path); arrays and scalars compare as whole values.

use serde_json::{Map, Value};

/// The delta of `desired` against `reported` (empty when they agree).
pub fn delta(
    desired: &Map<String, Value>,
    reported: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.and_then(|r| r.get(key))) {
            (Value::Object(want_child), Some(Value::Object(have_child))) => {
                let child = delta(want_child, Some(have_child));
                if !child.is_empty() {
                    out.insert(key.clone(), Value::Object(child));
                }
            }
            (want, Some(have)) if want == have => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    out
}
