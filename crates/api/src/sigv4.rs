//! The SigV4 middleware: buffers the body (the signature covers it), verifies the request with
//! the [`Verifier`](ferrocore_auth::Verifier), requires an admin key for the control plane, and
//! hands the [`Principal`] to the handlers as a request extension.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrocore_auth::{Principal, sigv4};

use crate::ApiState;
use crate::error::{ApiError, ErrorCode};
use crate::extract::MAX_BODY;

/// Authenticates the request or answers with the AWS error.
pub async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return ApiError::invalid(format!("Could not read the request body: {error}"))
                .into_response();
        }
    };
    // Header values that are not UTF-8 cannot have been signed by an SDK; leaving them out
    // makes a signature over them fail as a missing signed header.
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str(), value)))
        .collect();
    let signed = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &bytes,
    };
    let principal = match state.verifier().verify(&signed, SystemTime::now()) {
        Ok(principal) => principal,
        Err(error) => return ApiError::from(error).into_response(),
    };
    drop(headers);
    match &principal {
        Principal::AccessKey { admin: true, .. } => {}
        Principal::AccessKey { id, .. } => {
            tracing::warn!(access_key_id = %id, path = parts.uri.path(), "control plane refused to a non-admin key");
            return ApiError::new(
                ErrorCode::AccessDenied,
                format!("User: {id} is not authorized to perform this control-plane action"),
            )
            .into_response();
        }
        _ => return ApiError::new(ErrorCode::AccessDenied, "Not authorized").into_response(),
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
