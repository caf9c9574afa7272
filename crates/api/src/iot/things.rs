//! CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings.

use axum::Json;
use axum::extract::State;
use ferrocore_registry::{Attributes, NewThing, Thing, ThingFilter, ThingUpdate};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// `AttributePayload`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributePayload {
    #[serde(default)]
    pub(crate) attributes: Option<Attributes>,
    #[serde(default)]
    pub(crate) merge: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingRequest {
    thing_type_name: Option<String>,
    attribute_payload: Option<AttributePayload>,
    billing_group_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingResponse {
    thing_name: String,
    thing_arn: String,
    thing_id: String,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<CreateThingRequest>,
) -> Result<Json<CreateThingResponse>, ApiError> {
    let thing = state
        .registry()
        .create_thing(NewThing {
            name,
            type_name: body.thing_type_name,
            attributes: body.attribute_payload.and_then(|p| p.attributes).unwrap_or_default(),
            billing_group: body.billing_group_name,
        })
        .await?;
    Ok(Json(CreateThingResponse {
        thing_name: thing.name,
        thing_arn: thing.arn,
        thing_id: thing.id,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeThingResponse {
    default_client_id: String,
    thing_name: String,
    thing_id: String,
    thing_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_type_name: Option<String>,
    attributes: Attributes,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_group_name: Option<String>,
}

pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<DescribeThingResponse>, ApiError> {
    let thing = state.registry().describe_thing(&name)?;
    Ok(Json(DescribeThingResponse {
        default_client_id: thing.name.clone(),
        thing_name: thing.name,
        thing_id: thing.id,
        thing_arn: thing.arn,
        thing_type_name: thing.type_name,
        attributes: thing.attributes,
        version: thing.version,
        billing_group_name: thing.billing_group,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingRequest {
    thing_type_name: Option<String>,
    attribute_payload: Option<AttributePayload>,
    expected_version: Option<i64>,
    remove_thing_type: Option<bool>,
}

pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<UpdateThingRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let attributes = body.attribute_payload.and_then(|p| {
        let merge = p.merge.unwrap_or(false);
        p.attributes.map(|a| (a, merge))
    });
    state
        .registry()
        .update_thing(ThingUpdate {
            name,
            type_name: body.thing_type_name,
            remove_type: body.remove_thing_type.unwrap_or(false),
            attributes,
            expected_version: body.expected_version,
        })
        .await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteThingQuery {
    expected_version: Option<i64>,
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteThingQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_thing(&name, query.expected_version).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    thing_type_name: Option<String>,
    use_prefix_attribute_value: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingAttribute {
    thing_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_type_name: Option<String>,
    thing_arn: String,
    attributes: Attributes,
    version: i64,
}

impl From<Thing> for ThingAttribute {
    fn from(thing: Thing) -> Self {
        ThingAttribute {
            thing_name: thing.name,
            thing_type_name: thing.type_name,
            thing_arn: thing.arn,
            attributes: thing.attributes,
            version: thing.version,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsResponse {
    things: Vec<ThingAttribute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingsQuery>,
) -> Result<Json<ListThingsResponse>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let filter = ThingFilter {
        attribute_name: query.attribute_name,
        attribute_value: query.attribute_value,
        prefix: query.use_prefix_attribute_value.unwrap_or(false),
        type_name: query.thing_type_name,
    };
    let page = state.registry().list_things(&filter, after.as_deref(), limit)?;
    Ok(Json(ListThingsResponse {
        things: page.items.into_iter().map(ThingAttribute::from).collect(),
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}
