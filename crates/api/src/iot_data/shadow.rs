//! Device Shadow over REST: GetThingShadow, UpdateThingShadow, DeleteThingShadow (classic, or
//! named with `?name=`) and ListNamedShadowsForThing, through [`ShadowService`], the code path
//! of the MQTT topics. Shadow errors keep their status and AWS's body
//! (`{"code","message","timestamp","clientToken"}`) with the model's error name.
//!
//! [`ShadowService`]: ferrocore_shadow::ShadowService

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocore_shadow::{ShadowError, ShadowId};
use serde::Deserialize;

use super::{data, json_document, now_secs};
use crate::ApiState;
use crate::authorize::{Caller, shadow_resource};
use crate::error::ErrorCode;
use crate::extract::{AwsPath, AwsQuery};
use ferrocore_policy::Action;

/// `?name=`: the named shadow, or the classic one when absent.
#[derive(Debug, Deserialize)]
pub(super) struct ShadowQuery {
    name: Option<String>,
}

/// The three shadow operations, which differ only in the service call.
#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    Update,
    Delete,
}

/// Runs one shadow operation on the shadow the path and `?name=` name, if `caller` may.
async fn run(
    state: &ApiState,
    caller: &Caller,
    thing: &str,
    name: Option<&str>,
    op: Op,
    body: &[u8],
) -> Response {
    let action = match op {
        Op::Get => Action::GetThingShadow,
        Op::Update => Action::UpdateThingShadow,
        Op::Delete => Action::DeleteThingShadow,
    };
    if let Err(error) = caller.check(state, action, &shadow_resource(thing, name)) {
        return error.into_response();
    }
    let result = async {
        let data = data(state).map_err(IntoResponse::into_response)?;
        let id = ShadowId::new(thing, name).map_err(shadow_error)?;
        let shadows = &data.shadows;
        match op {
            Op::Get => shadows.get(&id, b"").await,
            Op::Update => shadows.update(&id, body).await,
            Op::Delete => shadows.delete(&id, b"").await,
        }
        .map_err(shadow_error)
    };
    respond(result.await)
}

/// `GET /things/{thingName}/shadow`.
pub(super) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ShadowQuery>,
) -> Response {
    run(&state, &caller, &thing, query.name.as_deref(), Op::Get, b"").await
}

/// `POST /things/{thingName}/shadow`: the body is the request state document.
pub(super) async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ShadowQuery>,
    body: Bytes,
) -> Response {
    run(&state, &caller, &thing, query.name.as_deref(), Op::Update, &body).await
}

/// `DELETE /things/{thingName}/shadow`.
pub(super) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ShadowQuery>,
) -> Response {
    run(&state, &caller, &thing, query.name.as_deref(), Op::Delete, b"").await
}

/// ListNamedShadowsForThing's query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    next_token: Option<String>,
    page_size: Option<i64>,
}

/// The largest `pageSize` (`PageSize`, 1..100).
const MAX_PAGE_SIZE: i64 = 100;

/// `GET /api/things/shadow/ListNamedShadowsForThing/{thingName}`.
pub(super) async fn list_named(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Response {
    let result = async {
        caller
            .check(&state, Action::ListNamedShadowsForThing, &shadow_resource(&thing, None))
            .map_err(IntoResponse::into_response)?;
        let data = data(&state).map_err(IntoResponse::into_response)?;
        let page_size = match query.page_size {
            None => MAX_PAGE_SIZE,
            Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            Some(n) => {
                return Err(crate::ApiError::invalid(format!(
                    "1 validation error detected: Value '{n}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and {MAX_PAGE_SIZE}"
                ))
                .into_response());
            }
        };
        let page_size = usize::try_from(page_size).unwrap_or(1);
        let token = query.next_token.as_deref().filter(|t| !t.is_empty());
        let page = data
            .shadows
            .list_named_shadows(&thing, token, page_size)
            .await
            .map_err(shadow_error)?;
        let mut body = serde_json::json!({ "results": page.results, "timestamp": now_secs() });
        if let Some(token) = page.next_token {
            body["nextToken"] = token.into();
        }
        Ok(axum::Json(body).into_response())
    };
    match result.await {
        Ok(response) | Err(response) => response,
    }
}

fn respond(result: Result<Vec<u8>, Response>) -> Response {
    match result {
        Ok(document) => json_document(document),
        Err(response) => response,
    }
}

/// The model's error name for a shadow error's code.
fn error_code(code: u16) -> ErrorCode {
    match code {
        400 => ErrorCode::InvalidRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::ResourceNotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::RequestEntityTooLarge,
        415 => ErrorCode::UnsupportedDocumentEncoding,
        429 => ErrorCode::Throttling,
        503 => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::InternalFailure,
    }
}

/// A shadow error as iot-data answers it: its own status (429 for throttling, unlike `iot`),
/// the model's error name and AWS's error document.
fn shadow_error(error: ShadowError) -> Response {
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, error.to_payload(now_secs())).into_response();
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(error_code(error.code).name()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shadow_codes_map_to_the_iot_data_error_names() {
        assert_eq!(error_code(404).name(), "ResourceNotFoundException");
        assert_eq!(error_code(409).name(), "ConflictException");
        assert_eq!(error_code(413).name(), "RequestEntityTooLargeException");
        assert_eq!(error_code(415).name(), "UnsupportedDocumentEncodingException");
        assert_eq!(error_code(400).name(), "InvalidRequestException");
        assert_eq!(error_code(500).name(), "InternalFailureException");
    }

    #[tokio::test]
    async fn a_shadow_error_keeps_its_status_and_aws_body() {
        let response = shadow_error(ShadowError::version_conflict());
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()["x-amzn-ErrorType"], "ConflictException");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], 409);
        assert_eq!(json["message"], "Version conflict");
    }
}
