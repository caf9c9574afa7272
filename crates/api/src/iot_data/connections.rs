//! The connection APIs of `iot-data`: what the broker knows of one MQTT client, and what an
//! operator may do to it.
//!
//! | operation | route |
//! | --- | --- |
//! | GetConnection | `GET /connections/{clientId}?includeSocketInformation=` |
//! | DeleteConnection | `DELETE /connections/{clientId}?cleanSession=&preventWillMessage=` |
//! | ListSubscriptions | `GET /connections/{clientId}/subscriptions?maxResults=&nextToken=` |
//! | SendDirectMessage | `POST /connections/{clientId}/messages?topic=&contentType=&responseTopic=&confirmation=&timeout=` |
//!
//! A client without a session is `ResourceNotFoundException`; DeleteConnection and
//! SendDirectMessage need it connected. DeleteConnection closes the connection with the
//! lifecycle reason `API_INITIATED_DISCONNECT` (MQTT 5 clients get DISCONNECT 0x98).
//! SendDirectMessage queues one message for that client only, at QoS 0, or at QoS 1 with
//! `confirmation=true`, waiting up to `timeout` seconds for its PUBACK (then 504
//! `GatewayTimeoutException`).
//!
//! GetConnection reports the keep-alive in effect and, with `includeSocketInformation=true`,
//! the client's `sourceIp` and `sourcePort`. Not known to the broker, and so left out: the
//! target address, the thing name and the last disconnect reason.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use ferrocore_broker::Message;
use ferrocore_mqtt::QoS;
use serde::Deserialize;
use serde_json::{Value, json};

use super::data;
use super::publish::{check_payload, properties, topic_name};
use crate::ApiState;
use crate::authorize::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{AwsPath, AwsQuery};
use crate::pagination;

/// ListSubscriptions' page size without `maxResults`.
const DEFAULT_MAX_RESULTS: usize = 20;
/// The largest `maxResults` (`MaxResults` in the model).
const MAX_RESULTS: usize = 200;
/// SendDirectMessage's wait for a PUBACK without `timeout`, in seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 5;
/// The longest `timeout`, in seconds.
const MAX_TIMEOUT_SECS: u64 = 15;
/// How long DeleteConnection waits for the connection to be gone before answering.
const DISCONNECT_WAIT: Duration = Duration::from_secs(2);
/// How often the waits look again.
const POLL: Duration = Duration::from_millis(10);

/// GetConnection's query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetQuery {
    include_socket_information: Option<String>,
}

/// DeleteConnection's query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeleteQuery {
    clean_session: Option<String>,
    prevent_will_message: Option<String>,
}

/// ListSubscriptions' query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    max_results: Option<String>,
    next_token: Option<String>,
}

/// SendDirectMessage's query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageQuery {
    topic: Option<String>,
    content_type: Option<String>,
    response_topic: Option<String>,
    confirmation: Option<String>,
    timeout: Option<String>,
}

/// `GET /connections/{clientId}`.
pub(super) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(client_id): AwsPath<String>,
    AwsQuery(query): AwsQuery<GetQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.access_key_only("GetConnection")?;
    check_client_id(&client_id)?;
    let socket = boolean("includeSocketInformation", query.include_socket_information.as_deref())?;
    let broker = &data(&state)?.broker;
    let info = broker.client_info(&client_id).ok_or_else(|| not_found(&client_id))?;
    let mut body = json!({
        "clientId": &*info.client_id,
        "connected": info.connected,
        "cleanSession": info.session_expiry == 0,
        "sessionExpiry": info.session_expiry,
    });
    if let Some(keep_alive) = info.keep_alive {
        body["keepAliveDuration"] = json!(keep_alive);
    }
    if socket && let Some(peer) = info.peer {
        body["sourceIp"] = json!(peer.ip().to_string());
        body["sourcePort"] = json!(peer.port());
    }
    if let Some(since) = info.connected_at_ms {
        body["connectedSince"] = json!(since);
    }
    if let Some(since) = info.disconnected_at_ms {
        body["disconnectedSince"] = json!(since);
    }
    Ok(Json(body))
}

/// `DELETE /connections/{clientId}`.
pub(super) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(client_id): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.access_key_only("DeleteConnection")?;
    check_client_id(&client_id)?;
    let clean_session = boolean("cleanSession", query.clean_session.as_deref())?;
    let prevent_will = boolean("preventWillMessage", query.prevent_will_message.as_deref())?;
    let broker = &data(&state)?.broker;
    let session = broker
        .disconnect_client(&client_id, clean_session, prevent_will)
        .ok_or_else(|| not_found(&client_id))?;
    tracing::info!(%client_id, clean_session, prevent_will, "DeleteConnection");
    // Answer once the connection is gone (its task closes it on the kick), within reason.
    let deadline = tokio::time::Instant::now() + DISCONNECT_WAIT;
    while session.lock().is_online() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    Ok(Json(json!({})))
}

/// `GET /connections/{clientId}/subscriptions`.
pub(super) async fn list_subscriptions(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(client_id): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.access_key_only("ListSubscriptions")?;
    check_client_id(&client_id)?;
    let limit = max_results(query.max_results.as_deref())?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let broker = &data(&state)?.broker;
    let subscriptions =
        broker.client_subscriptions(&client_id).ok_or_else(|| not_found(&client_id))?;
    // In filter order: a page resumes after the last filter returned.
    let rest: Vec<(String, QoS)> = subscriptions
        .into_iter()
        .filter(|(filter, _)| after.as_deref().is_none_or(|after| filter.as_str() > after))
        .collect();
    let page = &rest[..rest.len().min(limit)];
    let mut body = json!({
        "subscriptions": page
            .iter()
            .map(|(filter, qos)| json!({"topicFilter": filter, "qos": *qos as u8}))
            .collect::<Vec<_>>(),
    });
    if rest.len() > limit
        && let Some((last, _)) = page.last()
    {
        body["nextToken"] = json!(pagination::encode(last));
    }
    Ok(Json(body))
}

/// `POST /connections/{clientId}/messages`.
pub(super) async fn send_direct_message(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(client_id): AwsPath<String>,
    AwsQuery(query): AwsQuery<MessageQuery>,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.access_key_only("SendDirectMessage")?;
    check_client_id(&client_id)?;
    let broker = &data(&state)?.broker;
    let config = broker.config();
    let topic = query.topic.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "1 validation error detected: Value null at 'topic' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let topic = topic_name(config, topic)?;
    let confirmation = boolean("confirmation", query.confirmation.as_deref())?;
    let timeout = timeout_secs(query.timeout.as_deref())?;
    check_payload(config, &payload)?;
    let properties = properties(
        query.content_type.as_deref(),
        query.response_topic.as_deref(),
        &headers,
        &payload,
    )?;
    let qos = if confirmation { QoS::AtLeastOnce } else { QoS::AtMostOnce };
    let message = Message {
        topic,
        payload,
        qos,
        retain: false,
        properties,
        publisher: None::<Arc<str>>,
        principal: None,
        source_ip: None,
        expires_at_ms: None,
        templates: Default::default(),
    };
    let mut delivery =
        broker.deliver_direct(&client_id, message).ok_or_else(|| not_found(&client_id))?;
    if let Some(commit) = delivery.commit.take()
        && let Err(error) = commit.wait().await
    {
        tracing::error!(%error, %client_id, "direct message not stored");
        return Err(ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred"));
    }
    if confirmation {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        while delivery.is_pending() {
            if tokio::time::Instant::now() >= deadline {
                tracing::info!(%client_id, timeout, "direct message not acknowledged in time");
                return Err(ApiError::new(
                    ErrorCode::GatewayTimeout,
                    format!("The client {client_id} did not acknowledge the message in time"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(Json(json!({
        "message": "OK",
        "traceId": uuid::Uuid::new_v4().to_string(),
    })))
}

/// `ClientId`: 1 to 128 characters, not starting with `$`.
fn check_client_id(client_id: &str) -> Result<(), ApiError> {
    let length = client_id.chars().count();
    if !(1..=128).contains(&length) {
        return Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{client_id}' at 'clientId' failed to satisfy constraint: Member must have length between 1 and 128"
        )));
    }
    if client_id.starts_with('$') {
        return Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{client_id}' at 'clientId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[^$].*"
        )));
    }
    Ok(())
}

fn not_found(client_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFound,
        format!("No connection found for client {client_id}"),
    )
}

/// A boolean query parameter; absent is false.
fn boolean(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None => Ok(false),
        Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(ApiError::invalid(format!("Invalid value for '{name}': '{other}'"))),
    }
}

/// `maxResults`: 1 to 200, default 20.
fn max_results(value: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = value else { return Ok(DEFAULT_MAX_RESULTS) };
    text.parse::<usize>().ok().filter(|n| (1..=MAX_RESULTS).contains(n)).ok_or_else(|| {
        ApiError::invalid(format!(
            "1 validation error detected: Value '{text}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
        ))
    })
}

/// `timeout`: 1 to 15 seconds, default 5.
fn timeout_secs(value: Option<&str>) -> Result<u64, ApiError> {
    let Some(text) = value else { return Ok(DEFAULT_TIMEOUT_SECS) };
    text.parse::<u64>().ok().filter(|n| (1..=MAX_TIMEOUT_SECS).contains(n)).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid value for 'timeout': '{text}' (must be between 1 and {MAX_TIMEOUT_SECS} seconds)"
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_follow_the_model() {
        assert!(check_client_id("device-1").is_ok());
        assert!(check_client_id(&"a".repeat(128)).is_ok());
        assert!(check_client_id(&"a".repeat(129)).is_err());
        assert!(check_client_id("").is_err());
        assert!(check_client_id("$aws").is_err());
    }

    #[test]
    fn query_values_are_checked() {
        assert!(!boolean("x", None).unwrap());
        assert!(boolean("x", Some("true")).unwrap());
        assert!(!boolean("x", Some("FALSE")).unwrap());
        assert!(boolean("x", Some("yes")).is_err());
        assert_eq!(max_results(None).unwrap(), 20);
        assert_eq!(max_results(Some("200")).unwrap(), 200);
        assert!(max_results(Some("0")).is_err());
        assert!(max_results(Some("201")).is_err());
        assert_eq!(timeout_secs(None).unwrap(), 5);
        assert_eq!(timeout_secs(Some("15")).unwrap(), 15);
        assert!(timeout_secs(Some("0")).is_err());
        assert!(timeout_secs(Some("16")).is_err());
    }
}
