//! Retained messages over REST: GetRetainedMessage (`GET /retainedMessage/{topic}`: topic,
//! payload as a base64 blob, qos, lastModifiedTime in epoch milliseconds, userProperties as
//! the base64 of a JSON array of one-pair objects) and ListRetainedMessages
//! (`GET /retainedMessage?maxResults=&nextToken=`: summaries with `payloadSize`).

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrocore_broker::broker::RetainedEntry;
use ferrocore_broker::now_ms;
use ferrocore_mqtt::QoS;
use ferrocore_policy::Action;
use serde::Deserialize;
use serde_json::{Value, json};

use super::data;
use crate::authorize::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// `maxResults` of ListRetainedMessages: 1..200 (`MaxResults`).
const MAX_RESULTS: i64 = 200;
/// Results per page when `maxResults` is absent.
const DEFAULT_MAX_RESULTS: usize = 50;

/// `GET /retainedMessage/{topic}`.
pub(super) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    AwsPath(topic): AwsPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.check(&state, Action::GetRetainedMessage, &format!("topic/{topic}"))?;
    let data = data(&state)?;
    let entry = data.broker.retained_entry(&topic, now_ms()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("No retained message exists for topic: {topic}"),
        )
    })?;
    let message = &entry.message;
    let mut body = json!({
        "topic": message.topic.as_str(),
        "payload": STANDARD.encode(&message.payload),
        "qos": qos(message.qos),
        "lastModifiedTime": entry.modified_ms,
    });
    let user_properties = &message.properties.user_properties;
    if !user_properties.is_empty() {
        let array: Vec<Value> = user_properties.iter().map(|(k, v)| json!({ k: v })).collect();
        body["userProperties"] = STANDARD.encode(Value::Array(array).to_string()).into();
    }
    Ok(axum::Json(body))
}

/// ListRetainedMessages's query.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// `GET /retainedMessage`.
pub(super) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.check(&state, Action::ListRetainedMessages, "*")?;
    let data = data(&state)?;
    let limit = match query.max_results {
        None => DEFAULT_MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => {
            usize::try_from(n).unwrap_or(DEFAULT_MAX_RESULTS)
        }
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
            )));
        }
    };
    let after = pagination::decode(query.next_token.as_deref())?;
    let mut page = data.broker.retained_page(after.as_deref(), limit + 1, now_ms());
    let next_token = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|entry| pagination::encode(entry.message.topic.as_str()))
    } else {
        None
    };
    let summaries: Vec<Value> = page.iter().map(summary).collect();
    let mut body = json!({ "retainedTopics": summaries });
    if let Some(token) = next_token {
        body["nextToken"] = token.into();
    }
    Ok(axum::Json(body))
}

fn summary(entry: &RetainedEntry) -> Value {
    json!({
        "topic": entry.message.topic.as_str(),
        "payloadSize": entry.message.payload.len(),
        "qos": qos(entry.message.qos),
        "lastModifiedTime": entry.modified_ms,
    })
}

fn qos(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}
