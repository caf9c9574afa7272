//! CreateThingGroup, DescribeThingGroup, UpdateThingGroup, DeleteThingGroup, ListThingGroups,
//! AddThingToThingGroup, RemoveThingFromThingGroup, UpdateThingGroupsForThing,
//! ListThingsInThingGroup, ListThingGroupsForThing.

use axum::Json;
use axum::extract::State;
use ferrocore_registry::{
    Attributes, GroupListFilter, GroupRef, NewThingGroup, ResourceKind, ThingGroupUpdate,
};
use serde::{Deserialize, Serialize};

use super::tags::TagDto;
use super::things::AttributePayload;
use super::timestamp;
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// `ThingGroupProperties` as received.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupPropertiesIn {
    thing_group_description: Option<String>,
    attribute_payload: Option<AttributePayload>,
}

/// `AttributePayload` as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributePayloadOut {
    attributes: Attributes,
}

/// `ThingGroupProperties` as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupPropertiesOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_group_description: Option<String>,
    attribute_payload: AttributePayloadOut,
}

/// `GroupNameAndArn`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupNameAndArn {
    group_name: String,
    group_arn: String,
}

impl From<GroupRef> for GroupNameAndArn {
    fn from(group: GroupRef) -> Self {
        GroupNameAndArn { group_name: group.name, group_arn: group.arn }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingGroupRequest {
    parent_group_name: Option<String>,
    #[serde(default)]
    thing_group_properties: ThingGroupPropertiesIn,
    #[serde(default)]
    tags: Vec<TagDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingGroupResponse {
    thing_group_name: String,
    thing_group_arn: String,
    thing_group_id: String,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<CreateThingGroupRequest>,
) -> Result<Json<CreateThingGroupResponse>, ApiError> {
    let properties = body.thing_group_properties;
    let group = state
        .registry()
        .create_thing_group(NewThingGroup {
            name,
            parent: body.parent_group_name,
            description: properties.thing_group_description,
            attributes: properties.attribute_payload.and_then(|p| p.attributes).unwrap_or_default(),
            tags: body.tags.into_iter().map(Into::into).collect(),
        })
        .await?;
    Ok(Json(CreateThingGroupResponse {
        thing_group_name: group.name,
        thing_group_arn: group.arn,
        thing_group_id: group.id,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_group_name: Option<String>,
    root_to_parent_thing_groups: Vec<GroupNameAndArn>,
    creation_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeThingGroupResponse {
    thing_group_name: String,
    thing_group_id: String,
    thing_group_arn: String,
    version: i64,
    thing_group_properties: ThingGroupPropertiesOut,
    thing_group_metadata: ThingGroupMetadata,
}

pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<DescribeThingGroupResponse>, ApiError> {
    let group = state.registry().describe_thing_group(&name)?;
    Ok(Json(DescribeThingGroupResponse {
        thing_group_name: group.name,
        thing_group_id: group.id,
        thing_group_arn: group.arn,
        version: group.version,
        thing_group_properties: ThingGroupPropertiesOut {
            thing_group_description: group.description,
            attribute_payload: AttributePayloadOut { attributes: group.attributes },
        },
        thing_group_metadata: ThingGroupMetadata {
            parent_group_name: group.parent,
            root_to_parent_thing_groups: group.root_to_parent.into_iter().map(Into::into).collect(),
            creation_date: timestamp(group.creation_ms),
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingGroupRequest {
    thing_group_properties: Option<ThingGroupPropertiesIn>,
    expected_version: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UpdateThingGroupResponse {
    version: i64,
}

pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<UpdateThingGroupRequest>,
) -> Result<Json<UpdateThingGroupResponse>, ApiError> {
    let properties = body
        .thing_group_properties
        .ok_or_else(|| ApiError::invalid("thingGroupProperties is required"))?;
    let attributes = properties.attribute_payload.and_then(|p| {
        let merge = p.merge.unwrap_or(false);
        p.attributes.map(|a| (a, merge))
    });
    let version = state
        .registry()
        .update_thing_group(ThingGroupUpdate {
            name,
            description: properties.thing_group_description,
            attributes,
            expected_version: body.expected_version,
        })
        .await?;
    Ok(Json(UpdateThingGroupResponse { version }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteThingGroupQuery {
    expected_version: Option<i64>,
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteThingGroupQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_thing_group(&name, query.expected_version).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingGroupsQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
    parent_group: Option<String>,
    name_prefix_filter: Option<String>,
    recursive: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingGroupsResponse {
    thing_groups: Vec<GroupNameAndArn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingGroupsQuery>,
) -> Result<Json<ListThingGroupsResponse>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let filter = GroupListFilter {
        parent: query.parent_group,
        name_prefix: query.name_prefix_filter,
        recursive: query.recursive,
    };
    let page = state.registry().list_thing_groups(&filter, after.as_deref(), limit)?;
    Ok(Json(ListThingGroupsResponse {
        thing_groups: page.items.into_iter().map(Into::into).collect(),
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}

/// A name given directly or through an ARN of `kind`; `member` names them in messages.
fn resolve(
    state: &ApiState,
    name: Option<String>,
    arn: Option<String>,
    kind: ResourceKind,
    member: &str,
) -> Result<String, ApiError> {
    if let Some(name) = name {
        return Ok(name);
    }
    let Some(arn) = arn else {
        return Err(ApiError::invalid(format!("Either {member}Name or {member}Arn is required")));
    };
    match state.registry().arns().parse(&arn)? {
        (found, name) if found == kind => Ok(name),
        _ => Err(ApiError::invalid(format!("{arn} is not a valid {member}Arn"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MembershipRequest {
    thing_group_name: Option<String>,
    thing_group_arn: Option<String>,
    thing_name: Option<String>,
    thing_arn: Option<String>,
}

impl MembershipRequest {
    fn names(self, state: &ApiState) -> Result<(String, String), ApiError> {
        let group = resolve(
            state,
            self.thing_group_name,
            self.thing_group_arn,
            ResourceKind::ThingGroup,
            "thingGroup",
        )?;
        let thing = resolve(state, self.thing_name, self.thing_arn, ResourceKind::Thing, "thing")?;
        Ok((group, thing))
    }
}

pub(crate) async fn add_thing(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<MembershipRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (group, thing) = body.names(&state)?;
    state.registry().add_thing_to_group(&group, &thing).await?;
    Ok(super::empty())
}

pub(crate) async fn remove_thing(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<MembershipRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (group, thing) = body.names(&state)?;
    state.registry().remove_thing_from_group(&group, &thing).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingGroupsForThingRequest {
    thing_name: Option<String>,
    #[serde(default)]
    thing_groups_to_add: Vec<String>,
    #[serde(default)]
    thing_groups_to_remove: Vec<String>,
}

pub(crate) async fn update_for_thing(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<UpdateThingGroupsForThingRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let thing = body.thing_name.ok_or_else(|| ApiError::invalid("thingName is required"))?;
    state
        .registry()
        .update_groups_for_thing(&thing, body.thing_groups_to_add, body.thing_groups_to_remove)
        .await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsInGroupQuery {
    recursive: Option<bool>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsInGroupResponse {
    things: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_things(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListThingsInGroupQuery>,
) -> Result<Json<ListThingsInGroupResponse>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page = state.registry().list_things_in_group(
        &name,
        query.recursive.unwrap_or(false),
        after.as_deref(),
        limit,
    )?;
    Ok(Json(ListThingsInGroupResponse {
        things: page.items,
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub(crate) async fn list_for_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<PageQuery>,
) -> Result<Json<ListThingGroupsResponse>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page = state.registry().list_groups_for_thing(&name, after.as_deref(), limit)?;
    Ok(Json(ListThingGroupsResponse {
        thing_groups: page.items.into_iter().map(Into::into).collect(),
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}
