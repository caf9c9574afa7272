//! Why a shadow request is rejected: AWS's HTTP-style `code` and exact `message`, and the
//! `/rejected` payload they render to.
//!
//! Codes and messages are AWS's own, from "Device Shadow error messages"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html>).
//! The error response document is `{"code", "message", "timestamp", "clientToken"}`
//! ("Shadow document syntax", archived awsdocs/aws-iot-docs
//! `developerguide/device-shadow-document-syntax.md`).

use serde::Serialize;

use crate::name::ShadowId;

/// A rejected shadow request: the error's code and message, plus the request's client token
/// when it had a valid one (AWS echoes it on every response to that request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {message}")]
pub struct ShadowError {
    /// The HTTP status code AWS reports (`400`, `404`, `409`, `413`, `415`, `500`).
    pub code: u16,
    /// AWS's message, verbatim.
    pub message: String,
    /// The request's `clientToken`, echoed in the `/rejected` payload.
    pub client_token: Option<String>,
}

/// The maximum nesting inside `desired` or `reported`.
pub const MAX_DEPTH: usize = 6;

impl ShadowError {
    fn new(code: u16, message: impl Into<String>) -> ShadowError {
        ShadowError { code, message: message.into(), client_token: None }
    }

    /// 400 `Invalid JSON`.
    pub fn invalid_json() -> ShadowError {
        ShadowError::new(400, "Invalid JSON")
    }

    /// 400 `Missing required node: state`.
    pub fn missing_state() -> ShadowError {
        ShadowError::new(400, "Missing required node: state")
    }

    /// 400 `State node must be an object`.
    pub fn state_not_object() -> ShadowError {
        ShadowError::new(400, "State node must be an object")
    }

    /// 400 `Desired node must be an object`.
    pub fn desired_not_object() -> ShadowError {
        ShadowError::new(400, "Desired node must be an object")
    }

    /// 400 `Reported node must be an object`.
    pub fn reported_not_object() -> ShadowError {
        ShadowError::new(400, "Reported node must be an object")
    }

    /// 400 `Invalid version`.
    pub fn invalid_version() -> ShadowError {
        ShadowError::new(400, "Invalid version")
    }

    /// 400 `Invalid clientToken` (not a string, or longer than 64 bytes).
    pub fn invalid_client_token() -> ShadowError {
        ShadowError::new(400, "Invalid clientToken")
    }

    /// 400 `JSON contains too many levels of nesting; maximum is 6`.
    pub fn too_deep() -> ShadowError {
        ShadowError::new(
            400,
            format!("JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"),
        )
    }

    /// 400 `State contains an invalid node: 'name'` (a key of `state` other than `desired`
    /// and `reported`). The docs list the message without the node; moto's emulation and
    /// observed responses append `: '<node>'`.
    pub fn invalid_node(node: &str) -> ShadowError {
        ShadowError::new(400, format!("State contains an invalid node: '{node}'"))
    }

    /// 400 for a thing name or shadow name that breaks AWS's pattern or length. The message
    /// is ours (unverified against AWS).
    pub fn invalid_name(what: &str) -> ShadowError {
        ShadowError::new(400, format!("Invalid {what}"))
    }

    /// 404 `No shadow exists with name: '<name>'`. For a named shadow AWS names it
    /// `'<thing>~<shadow>'` (as observed by users, e.g. "No shadow exists with name:
    /// 'blevk-prod-grootbot-thing~GrootShadow'"), for the classic one `'<thing>'`.
    pub fn not_found(id: &ShadowId) -> ShadowError {
        let name = match &id.shadow {
            Some(shadow) => format!("{}~{shadow}", id.thing),
            None => id.thing.clone(),
        };
        ShadowError::new(404, format!("No shadow exists with name: '{name}'"))
    }

    /// 409 `Version conflict`.
    pub fn version_conflict() -> ShadowError {
        ShadowError::new(409, "Version conflict")
    }

    /// 413 `The payload exceeds the maximum size allowed` (desired plus reported over 8 KB).
    pub fn too_large() -> ShadowError {
        ShadowError::new(413, "The payload exceeds the maximum size allowed")
    }

    /// 415 `Unsupported documented encoding; supported encoding is UTF-8` (sic, AWS's
    /// wording).
    pub fn unsupported_encoding() -> ShadowError {
        ShadowError::new(415, "Unsupported documented encoding; supported encoding is UTF-8")
    }

    /// 500 `Internal service failure`.
    pub fn internal() -> ShadowError {
        ShadowError::new(500, "Internal service failure")
    }

    /// The same error, echoing `token`.
    pub fn with_token(mut self, token: Option<String>) -> ShadowError {
        self.client_token = token;
        self
    }

    /// The `/rejected` payload: `{"code":400,"message":"...","timestamp":T,"clientToken":"..."}`
    /// (`clientToken` only when the request had one).
    pub fn to_payload(&self, now_secs: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Rejected<'a> {
            code: u16,
            message: &'a str,
            timestamp: u64,
            #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
            client_token: Option<&'a str>,
        }
        let body = Rejected {
            code: self.code,
            message: &self.message,
            timestamp: now_secs,
            client_token: self.client_token.as_deref(),
        };
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}
