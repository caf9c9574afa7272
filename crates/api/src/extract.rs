//! Extractors that answer as AWS does when a request does not fit the model: malformed JSON,
//! members of the wrong type and bad query parameters become `InvalidRequestException` with a
//! message that says what is wrong, never a 500 or axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// A JSON body. An empty body reads as `{}` (the SDKs send none for operations without body
/// members).
#[derive(Debug)]
pub struct AwsJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AwsJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|e| ApiError::invalid(format!("Could not read the request body: {e}")))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        serde_json::from_slice(text)
            .map(AwsJson)
            .map_err(|e| ApiError::invalid(format!("Could not parse request body into json: {e}")))
    }
}

/// Query parameters.
#[derive(Debug)]
pub struct AwsQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AwsQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| AwsQuery(q.0))
            .map_err(|e| ApiError::invalid(format!("Invalid query string: {}", e.body_text())))
    }
}

/// Path parameters (percent-decoded).
#[derive(Debug)]
pub struct AwsPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AwsPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| AwsPath(p.0))
            .map_err(|e| ApiError::invalid(format!("Invalid path: {}", e.body_text())))
    }
}
