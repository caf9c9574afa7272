//! Parsing and validating request payloads: the update request document, and the optional
//! `{"clientToken"}` of get and delete.
//!
//! Request document ("Device Shadow service documents", request state document,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html>):
//! `{"state":{"desired":{..},"reported":{..}},"clientToken":"..","version":N}`; `state` is
//! required, other top-level members are ignored. Checks and their messages follow "Device
//! Shadow error messages"; the limits (8 KB of desired plus reported, 6 levels of nesting,
//! clientToken of 64 bytes) follow the AWS IoT Device Shadow service quotas
//! (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html>).

use serde_json::{Map, Value};

use crate::error::{MAX_DEPTH, ShadowError};
use crate::merge::SectionPatch;

/// The longest `clientToken`, in bytes.
pub const MAX_CLIENT_TOKEN: usize = 64;
/// The largest shadow state, in bytes of JSON: `desired` plus `reported`, metadata excluded.
pub const MAX_STATE_BYTES: usize = 8 * 1024;

/// A validated update request.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    /// What to do with `desired`.
    pub desired: SectionPatch,
    /// What to do with `reported`.
    pub reported: SectionPatch,
    /// The request's `state`, echoed in `/update/accepted`.
    pub state: Map<String, Value>,
    /// The `clientToken`, echoed on every response.
    pub client_token: Option<String>,
    /// The expected current version (optimistic locking), when given.
    pub version: Option<u64>,
}

/// Parses and validates an update request. Errors carry the request's client token once it
/// has been read.
pub fn parse_update(payload: &[u8]) -> Result<UpdateRequest, ShadowError> {
    let text = std::str::from_utf8(payload).map_err(|_| ShadowError::unsupported_encoding())?;
    let document: Value = serde_json::from_str(text).map_err(|_| ShadowError::invalid_json())?;
    let Value::Object(mut document) = document else {
        return Err(ShadowError::invalid_json());
    };
    let client_token = client_token(&document)?;
    let fail = |error: ShadowError| error.with_token(client_token.clone());
    let version = match document.get("version") {
        None => None,
        Some(version) => {
            Some(version.as_u64().ok_or_else(|| fail(ShadowError::invalid_version()))?)
        }
    };
    let state = match document.remove("state") {
        None => return Err(fail(ShadowError::missing_state())),
        // `"state": null` clears both sections; the shadow itself stays.
        Some(Value::Null) => {
            let mut state = Map::new();
            state.insert("desired".to_owned(), Value::Null);
            state.insert("reported".to_owned(), Value::Null);
            state
        }
        Some(Value::Object(state)) => state,
        Some(_) => return Err(fail(ShadowError::state_not_object())),
    };
    if let Some(node) = state.keys().find(|key| *key != "desired" && *key != "reported") {
        return Err(fail(ShadowError::invalid_node(node)));
    }
    let desired = section(state.get("desired"), ShadowError::desired_not_object).map_err(fail)?;
    let reported =
        section(state.get("reported"), ShadowError::reported_not_object).map_err(fail)?;
    let mut size = 0;
    for patch in [&desired, &reported] {
        if let SectionPatch::Merge(map) = patch {
            if map.values().any(|v| depth(v) + 1 > MAX_DEPTH) {
                return Err(fail(ShadowError::too_deep()));
            }
            // AWS's docs: "Arrays can't have null values". The message AWS gives is not
            // documented; we answer `Invalid JSON` (unverified).
            if map.values().any(null_in_array) {
                return Err(fail(ShadowError::invalid_json()));
            }
            size += json_len(map);
        }
    }
    if size > MAX_STATE_BYTES {
        return Err(fail(ShadowError::too_large()));
    }
    Ok(UpdateRequest { desired, reported, state, client_token, version })
}

/// The `clientToken` of a get or delete request. Their payload is optional (AWS says an
/// empty message; the delete topic's content is ignored), so anything but a JSON object is
/// treated as no token; a token that is not a string of at most 64 bytes is rejected.
pub fn parse_token_only(payload: &[u8]) -> Result<Option<String>, ShadowError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(document)) => client_token(&document),
        _ => Ok(None),
    }
}

fn client_token(document: &Map<String, Value>) -> Result<Option<String>, ShadowError> {
    match document.get("clientToken") {
        None => Ok(None),
        Some(Value::String(token)) if token.len() <= MAX_CLIENT_TOKEN => Ok(Some(token.clone())),
        Some(_) => Err(ShadowError::invalid_client_token()),
    }
}

fn section(
    value: Option<&Value>,
    not_object: fn() -> ShadowError,
) -> Result<SectionPatch, ShadowError> {
    match value {
        None => Ok(SectionPatch::Absent),
        Some(Value::Null) => Ok(SectionPatch::Remove),
        Some(Value::Object(map)) => Ok(SectionPatch::Merge(map.clone())),
        Some(_) => Err(not_object()),
    }
}

/// Levels of objects and arrays in `value`: 0 for a scalar, 1 for `{"a":1}` or `[1]`.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn null_in_array(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(null_in_array),
        Value::Array(items) => items.iter().any(|item| item.is_null() || null_in_array(item)),
        _ => false,
    }
}

/// The size of `map` as compact JSON.
pub fn json_len(map: &Map<String, Value>) -> usize {
    // Serializing a `Map` of `Value`s cannot fail.
    serde_json::to_vec(map).map_or(0, |bytes| bytes.len())
}
