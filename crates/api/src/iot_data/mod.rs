//! The `iot-data` data plane: routes, query parameters, headers and members exactly as
//! botocore's `iot-data` model (2015-05-28) declares them. Requests reach it when their SigV4
//! credential scope names `iotdata` or `iotdevicegateway` (see [`crate::sigv4`]).
//!
//! | operation | route |
//! | --- | --- |
//! | GetThingShadow, UpdateThingShadow, DeleteThingShadow | `GET/POST/DELETE /things/{thingName}/shadow?name=` |
//! | ListNamedShadowsForThing | `GET /api/things/shadow/ListNamedShadowsForThing/{thingName}` |
//! | Publish | `POST /topics/{topic}` |
//! | GetRetainedMessage | `GET /retainedMessage/{topic}` |
//! | ListRetainedMessages | `GET /retainedMessage` |
//! | GetConnection, DeleteConnection | `GET/DELETE /connections/{clientId}` |
//! | ListSubscriptions | `GET /connections/{clientId}/subscriptions` |
//! | SendDirectMessage | `POST /connections/{clientId}/messages` |
//! | (MQTT over WebSocket) | `GET /mqtt` with `Upgrade: websocket`, subprotocol `mqtt` |
//!
//! Shadow operations call the same [`ShadowService`](ferrocore_shadow::ShadowService)
//! functions as the MQTT topics, so a REST update publishes `/update/accepted`, `/delta` and
//! `/documents` to MQTT subscribers. Publish goes through [`Broker::publish`] under the rules
//! MQTT clients follow (topic limits, reserved topics, payload size).
//!
//! [`Broker::publish`]: ferrocore_broker::Broker::publish

mod connections;
mod publish;
mod retained;
mod shadow;
mod websocket;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::{ApiError, ErrorCode};
use crate::{ApiState, DataPlane};

/// The `iot-data` router (without authentication; [`crate::app`] adds it).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route(
            "/things/{thingName}/shadow",
            get(shadow::get).post(shadow::update).delete(shadow::delete),
        )
        .route("/api/things/shadow/ListNamedShadowsForThing/{thingName}", get(shadow::list_named))
        .route("/topics/{*topic}", post(publish::publish))
        .route("/retainedMessage", get(retained::list))
        .route("/retainedMessage/{*topic}", get(retained::get))
        .route("/connections/{clientId}", get(connections::get).delete(connections::delete))
        .route("/connections/{clientId}/subscriptions", get(connections::list_subscriptions))
        .route("/connections/{clientId}/messages", post(connections::send_direct_message))
        .route("/mqtt", get(websocket::upgrade))
}

/// AWS's answer to a known route called with another method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("The method {method} is not allowed on {}", uri.path()),
    )
}

/// The data plane's services, or `UnknownOperationException` when the API has none.
fn data(state: &ApiState) -> Result<&DataPlane, ApiError> {
    state
        .data_plane()
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownOperation, "The data plane is not enabled"))
}

/// A 200 response with a JSON document the service produced (a shadow document).
fn json_document(body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
