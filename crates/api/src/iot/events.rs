//! Registry event configurations: DescribeEventConfigurations (`GET /event-configurations`)
//! and UpdateEventConfigurations (`PATCH /event-configurations`), which choose the event types
//! the registry publishes on `$aws/events/...`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::timestamp;
use crate::ApiState;
use crate::error::ApiError;
use crate::extract::AwsJson;

/// `Configuration`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct ConfigurationDto {
    #[serde(rename = "Enabled", default)]
    enabled: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeEventConfigurationsResponse {
    event_configurations: BTreeMap<&'static str, ConfigurationDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_date: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateEventConfigurationsRequest {
    #[serde(default)]
    event_configurations: BTreeMap<String, ConfigurationDto>,
}

/// `GET /event-configurations`.
pub(crate) async fn describe(
    State(state): State<ApiState>,
) -> Result<Json<DescribeEventConfigurationsResponse>, ApiError> {
    let config = state.registry().event_configurations()?;
    Ok(Json(DescribeEventConfigurationsResponse {
        event_configurations: config
            .enabled
            .iter()
            .map(|(t, on)| (t.as_str(), ConfigurationDto { enabled: Some(*on) }))
            .collect(),
        creation_date: config.creation_ms.map(timestamp),
        last_modified_date: config.last_modified_ms.map(timestamp),
    }))
}

/// `PATCH /event-configurations`. A configuration without `Enabled` disables its type.
pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<UpdateEventConfigurationsRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let changes = request
        .event_configurations
        .into_iter()
        .map(|(name, config)| (name, config.enabled.unwrap_or(false)))
        .collect();
    state.registry().update_event_configurations(changes).await?;
    Ok(super::empty())
}
