//! Publish over HTTPS: `POST /topics/{topic}`, body = payload, with the MQTT 5 properties in
//! query parameters (`qos`, `retain`, `contentType`, `responseTopic`, `messageExpiry`) and
//! headers (`x-amz-mqtt5-user-properties`: base64 of a JSON array of one-pair objects;
//! `x-amz-mqtt5-payload-format-indicator`; `x-amz-mqtt5-correlation-data`: base64). The
//! message goes through [`Broker::publish`] under the rules MQTT clients follow.
//!
//! [`Broker::publish`]: ferrocore_broker::Broker::publish

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrocore_broker::limits::{check_topic, client_may_publish};
use ferrocore_broker::{BrokerConfig, Message, now_ms};
use ferrocore_mqtt::{PublishProperties, QoS, TopicName};
use ferrocore_policy::Action;
use serde::Deserialize;

use super::data;
use crate::ApiState;
use crate::authorize::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{AwsPath, AwsQuery};

/// Publish's query parameters, kept as text to answer precisely when one does not parse.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PublishQuery {
    qos: Option<String>,
    retain: Option<String>,
    content_type: Option<String>,
    response_topic: Option<String>,
    message_expiry: Option<String>,
}

/// `POST /topics/{topic}`.
pub(super) async fn publish(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(topic): AwsPath<String>,
    AwsQuery(query): AwsQuery<PublishQuery>,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let data = data(&state)?;
    let config = data.broker.config();
    let topic = topic_name(config, &topic)?;
    let qos = match query.qos.as_deref() {
        None | Some("0") => QoS::AtMostOnce,
        Some("1") => QoS::AtLeastOnce,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'qos' failed to satisfy constraint: Member must have value between 0 and 1"
            )));
        }
    };
    let retain = match query.retain.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!("Invalid value for 'retain': '{other}'")));
        }
    };
    if !client_may_publish(config, topic.as_str()) || (retain && topic.is_system()) {
        tracing::info!(topic = topic.as_str(), "HTTPS publish to a reserved topic refused");
        return Err(ApiError::new(ErrorCode::Forbidden, "Forbidden"));
    }
    let resource = format!("topic/{}", topic.as_str());
    caller.check(&state, Action::Publish, &resource)?;
    if retain {
        caller.check(&state, Action::RetainPublish, &resource)?;
    }
    check_payload(config, &payload)?;
    let properties = properties(
        query.content_type.as_deref(),
        query.response_topic.as_deref(),
        &headers,
        &payload,
    )?;
    let expires_at_ms = match query.message_expiry.as_deref() {
        None => None,
        Some(text) => {
            let seconds = text.parse::<u32>().map_err(|_| {
                ApiError::invalid(format!("Invalid value for 'messageExpiry': '{text}'"))
            })?;
            Some(now_ms() + u64::from(seconds) * 1000)
        }
    };
    let message = Message {
        topic,
        payload,
        qos: data.broker.grant(qos),
        retain,
        properties,
        publisher: None::<Arc<str>>,
        principal: caller.name(),
        source_ip: None,
        expires_at_ms,
        templates: Default::default(),
    };
    let published = data.broker.publish(message, now_ms());
    // Answer once the stored copies (retained, persistent sessions) are durable.
    if let Some(commit) = published.commit
        && let Err(error) = commit.wait().await
    {
        tracing::error!(%error, "HTTPS publish not stored");
        return Err(ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred"));
    }
    Ok(axum::Json(serde_json::json!({
        "message": "OK",
        "traceId": uuid::Uuid::new_v4().to_string(),
    })))
}

/// The MQTT 5 properties of a request (Publish, SendDirectMessage): `contentType` and
/// `responseTopic` from its query, the rest from its headers.
pub(super) fn properties(
    content_type: Option<&str>,
    response_topic: Option<&str>,
    headers: &HeaderMap,
    payload: &[u8],
) -> Result<PublishProperties, ApiError> {
    let mut properties = PublishProperties::default();
    if let Some(content_type) = content_type {
        properties.content_type = Some(content_type.to_owned());
    }
    if let Some(response_topic) = response_topic {
        TopicName::new(response_topic).map_err(|error| {
            ApiError::invalid(format!("Invalid responseTopic '{response_topic}': {error}"))
        })?;
        properties.response_topic = Some(response_topic.to_owned());
    }
    if let Some(value) = header(headers, "x-amz-mqtt5-payload-format-indicator")? {
        properties.payload_format_indicator = match value {
            "UNSPECIFIED_BYTES" => Some(0),
            "UTF8_DATA" => {
                if std::str::from_utf8(payload).is_err() {
                    return Err(ApiError::invalid(
                        "The payload is not UTF-8 but payloadFormatIndicator is UTF8_DATA",
                    ));
                }
                Some(1)
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid value for 'payloadFormatIndicator': '{other}'"
                )));
            }
        };
    }
    if let Some(value) = header(headers, "x-amz-mqtt5-correlation-data")? {
        let bytes = STANDARD
            .decode(value)
            .map_err(|_| ApiError::invalid("correlationData must be base64-encoded"))?;
        properties.correlation_data = Some(bytes.into());
    }
    if let Some(value) = header(headers, "x-amz-mqtt5-user-properties")? {
        properties.user_properties = user_properties(value)?;
    }
    Ok(properties)
}

/// A header's value as text, if present.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| ApiError::invalid(format!("Invalid header {name}")))
        })
        .transpose()
}

/// `x-amz-mqtt5-user-properties`: base64 (as the SDKs send it) or plain JSON of an array of
/// objects, each of string values: `[{"k":"v"},{"k2":"v2"}]`. Order is kept, and so are
/// repeated keys.
pub(super) fn user_properties(value: &str) -> Result<Vec<(String, String)>, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "userProperties must be a JSON array of objects with string values, such as [{\"k\":\"v\"}]",
        )
    };
    let json = match STANDARD.decode(value.trim()) {
        Ok(bytes) => bytes,
        Err(_) => value.as_bytes().to_vec(),
    };
    let array: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&json).map_err(|_| invalid())?;
    let mut pairs = Vec::new();
    for object in array {
        for (key, value) in object {
            match value {
                serde_json::Value::String(value) => pairs.push((key, value)),
                _ => return Err(invalid()),
            }
        }
    }
    Ok(pairs)
}

/// The topic an HTTPS request names, valid and within the broker's limits, as MQTT clients'.
pub(super) fn topic_name(config: &BrokerConfig, topic: &str) -> Result<TopicName, ApiError> {
    let name = TopicName::new(topic)
        .map_err(|error| ApiError::invalid(format!("Invalid topic name '{topic}': {error}")))?;
    check_topic(config, name.as_str())
        .map_err(|error| ApiError::invalid(format!("Invalid topic name: {error}")))?;
    Ok(name)
}

/// Refuses a payload over the broker's limit with 413, as AWS does.
pub(super) fn check_payload(config: &BrokerConfig, payload: &[u8]) -> Result<(), ApiError> {
    if payload.len() > config.max_payload_size {
        return Err(ApiError::new(
            ErrorCode::RequestEntityTooLarge,
            format!(
                "The payload exceeds the maximum size allowed ({} bytes)",
                config.max_payload_size
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_are_base64_or_plain_json_arrays_of_pairs() {
        let json = r#"[{"a":"1"},{"b":"2"},{"a":"3"}]"#;
        let expected = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned()),
        ];
        assert_eq!(user_properties(&STANDARD.encode(json)).unwrap(), expected);
        assert_eq!(user_properties(json).unwrap(), expected);
        assert!(user_properties(&STANDARD.encode(r#"[{"a":1}]"#)).is_err());
        assert!(user_properties("not json").is_err());
    }
}
