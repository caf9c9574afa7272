//! Topic rules (CreateTopicRule, ReplaceTopicRule, GetTopicRule, ListTopicRules,
//! EnableTopicRule, DisableTopicRule, DeleteTopicRule) and topic rule destinations
//! (Create/Get/List/Update/Delete/ConfirmTopicRuleDestination) over the rules engine.

use axum::Json;
use axum::extract::State;
use ferrocore_rules::{Destination, RulesEngine, StoredRule};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

fn engine(state: &ApiState) -> Result<&RulesEngine, ApiError> {
    state.rules().ok_or_else(|| {
        ApiError::new(ErrorCode::ServiceUnavailable, "The rules engine is not running")
    })
}

fn page_size(max_results: Option<i64>, max: i64, default: usize) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(n) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// CreateTopicRule: the body is the `TopicRulePayload` itself (the `x-amz-tagging` header is
/// accepted; rule tags are not stored).
pub(crate) async fn create(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(payload): AwsJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.create_rule(&name, &payload).await?;
    Ok(super::empty())
}

/// ReplaceTopicRule.
pub(crate) async fn replace(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(payload): AwsJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.replace_rule(&name, &payload).await?;
    Ok(super::empty())
}

fn rule_json(rule: &StoredRule) -> serde_json::Value {
    let mut out = json!({
        "ruleName": rule.name,
        "sql": rule.sql,
        "createdAt": super::timestamp(rule.created_ms),
        "ruleDisabled": rule.disabled,
        "actions": rule.payload.get("actions").cloned().unwrap_or_else(|| json!([])),
    });
    for member in ["description", "awsIotSqlVersion", "errorAction"] {
        if let Some(value) = rule.payload.get(member).filter(|v| !v.is_null()) {
            out[member] = value.clone();
        }
    }
    out
}

/// GetTopicRule.
pub(crate) async fn get(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rule = engine(&state)?.get_rule(&name)?;
    Ok(Json(json!({ "ruleArn": rule.arn, "rule": rule_json(&rule) })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListRulesQuery {
    topic: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    rule_disabled: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleListItem {
    rule_arn: String,
    rule_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_pattern: Option<String>,
    created_at: f64,
    rule_disabled: bool,
}

/// ListTopicRules.
pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListRulesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = page_size(query.max_results, 10_000, 1000)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page = engine(&state)?.list_rules(
        query.topic.as_deref().filter(|t| !t.is_empty()),
        query.rule_disabled,
        after.as_deref(),
        limit,
    )?;
    let rules: Vec<RuleListItem> = page
        .items
        .into_iter()
        .map(|r| RuleListItem {
            rule_arn: r.arn,
            rule_name: r.name,
            topic_pattern: r.topic_pattern,
            created_at: super::timestamp(r.created_ms),
            rule_disabled: r.disabled,
        })
        .collect();
    let mut out = json!({ "rules": rules });
    if let Some(next) = page.next {
        out["nextToken"] = pagination::encode(&next).into();
    }
    Ok(Json(out))
}

/// EnableTopicRule.
pub(crate) async fn enable(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.set_rule_disabled(&name, false).await?;
    Ok(super::empty())
}

/// DisableTopicRule.
pub(crate) async fn disable(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.set_rule_disabled(&name, true).await?;
    Ok(super::empty())
}

/// DeleteTopicRule.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.delete_rule(&name).await?;
    Ok(super::empty())
}

fn destination_json(d: &Destination, summary: bool) -> serde_json::Value {
    let url_member = if summary { "httpUrlSummary" } else { "httpUrlProperties" };
    let mut out = json!({
        "arn": d.arn,
        "status": d.status.as_str(),
        "createdAt": super::timestamp(d.created_ms),
        "lastUpdatedAt": super::timestamp(d.updated_ms),
        url_member: { "confirmationUrl": d.url },
    });
    if let Some(reason) = &d.status_reason {
        out["statusReason"] = reason.clone().into();
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateDestinationRequest {
    destination_configuration: Option<DestinationConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationConfiguration {
    http_url_configuration: Option<HttpUrlConfiguration>,
    vpc_configuration: Option<serde_json::Value>,
    #[serde(rename = "influxDBConfiguration")]
    influx_db_configuration: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpUrlConfiguration {
    confirmation_url: Option<String>,
}

/// CreateTopicRuleDestination (HTTP URL destinations only).
pub(crate) async fn create_destination(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<CreateDestinationRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let config = body
        .destination_configuration
        .ok_or_else(|| ApiError::invalid("destinationConfiguration is required"))?;
    if config.vpc_configuration.is_some() || config.influx_db_configuration.is_some() {
        return Err(ApiError::invalid(
            "Only httpUrlConfiguration destinations are supported by Ferrocore",
        ));
    }
    let url = config
        .http_url_configuration
        .and_then(|h| h.confirmation_url)
        .ok_or_else(|| ApiError::invalid("httpUrlConfiguration.confirmationUrl is required"))?;
    let destination = engine(&state)?.create_destination(&url).await?;
    Ok(Json(json!({ "topicRuleDestination": destination_json(&destination, false) })))
}

/// GetTopicRuleDestination.
pub(crate) async fn get_destination(
    State(state): State<ApiState>,
    AwsPath(arn): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let destination = engine(&state)?.get_destination(&arn)?;
    Ok(Json(json!({ "topicRuleDestination": destination_json(&destination, false) })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListDestinationsQuery {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListTopicRuleDestinations.
pub(crate) async fn list_destinations(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListDestinationsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = page_size(query.max_results, 1000, 100)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page = engine(&state)?.list_destinations(after.as_deref(), limit)?;
    let summaries: Vec<serde_json::Value> =
        page.items.iter().map(|d| destination_json(d, true)).collect();
    let mut out = json!({ "destinationSummaries": summaries });
    if let Some(next) = page.next {
        out["nextToken"] = pagination::encode(&next).into();
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateDestinationRequest {
    arn: Option<String>,
    status: Option<String>,
}

/// UpdateTopicRuleDestination.
pub(crate) async fn update_destination(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<UpdateDestinationRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let arn = body.arn.ok_or_else(|| ApiError::invalid("arn is required"))?;
    let status = body.status.ok_or_else(|| ApiError::invalid("status is required"))?;
    engine(&state)?.update_destination(&arn, &status).await?;
    Ok(super::empty())
}

/// DeleteTopicRuleDestination.
pub(crate) async fn delete_destination(
    State(state): State<ApiState>,
    AwsPath(arn): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.delete_destination(&arn).await?;
    Ok(super::empty())
}

/// ConfirmTopicRuleDestination.
pub(crate) async fn confirm_destination(
    State(state): State<ApiState>,
    AwsPath(token): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    engine(&state)?.confirm_destination(&token).await?;
    Ok(super::empty())
}
