//! TagResource, UntagResource, ListTagsForResource.

use axum::Json;
use axum::extract::State;
use ferrocore_registry::Tag;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsQuery};
use crate::{ApiState, pagination};

/// `Tag`: the model spells its members `Key` and `Value`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct TagDto {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
}

impl From<TagDto> for Tag {
    fn from(dto: TagDto) -> Self {
        Tag { key: dto.key, value: dto.value.unwrap_or_default() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceRequest {
    resource_arn: String,
    tags: Vec<TagDto>,
}

pub(crate) async fn tag(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<TagResourceRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tags = body.tags.into_iter().map(Tag::from).collect();
    state.registry().tag_resource(&body.resource_arn, tags).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceRequest {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<UntagResourceRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().untag_resource(&body.resource_arn, body.tag_keys).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTagsQuery {
    resource_arn: Option<String>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTagsResponse {
    tags: Vec<TagDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListTagsQuery>,
) -> Result<Json<ListTagsResponse>, ApiError> {
    let arn = query.resource_arn.ok_or_else(|| ApiError::invalid("resourceArn is required"))?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page =
        state.registry().list_tags(&arn, after.as_deref(), pagination::DEFAULT_MAX_RESULTS)?;
    Ok(Json(ListTagsResponse {
        tags: page.items.into_iter().map(|t| TagDto { key: t.key, value: Some(t.value) }).collect(),
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}
