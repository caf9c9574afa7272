//! CreateThingType, DescribeThingType, UpdateThingType, DeprecateThingType, DeleteThingType,
//! ListThingTypes.

use axum::Json;
use axum::extract::State;
use ferrocore_registry::{NewThingType, PropagatingAttribute, ThingType, ThingTypeProperties};
use serde::{Deserialize, Serialize};

use super::tags::TagDto;
use super::timestamp;
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// `PropagatingAttribute`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PropagatingAttributeDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_property_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_attribute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_attribute: Option<String>,
}

/// `Mqtt5Configuration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mqtt5ConfigurationDto {
    #[serde(default)]
    propagating_attributes: Vec<PropagatingAttributeDto>,
}

/// `ThingTypeProperties`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypePropertiesDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_type_description: Option<String>,
    #[serde(default)]
    searchable_attributes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mqtt5_configuration: Option<Mqtt5ConfigurationDto>,
}

impl From<ThingTypePropertiesDto> for ThingTypeProperties {
    fn from(dto: ThingTypePropertiesDto) -> Self {
        ThingTypeProperties {
            description: dto.thing_type_description,
            searchable_attributes: dto.searchable_attributes,
            propagating_attributes: dto.mqtt5_configuration.map(|c| {
                c.propagating_attributes
                    .into_iter()
                    .map(|a| PropagatingAttribute {
                        user_property_key: a.user_property_key,
                        thing_attribute: a.thing_attribute,
                        connection_attribute: a.connection_attribute,
                    })
                    .collect()
            }),
        }
    }
}

impl From<ThingTypeProperties> for ThingTypePropertiesDto {
    fn from(properties: ThingTypeProperties) -> Self {
        ThingTypePropertiesDto {
            thing_type_description: properties.description,
            searchable_attributes: properties.searchable_attributes,
            mqtt5_configuration: properties.propagating_attributes.map(|list| {
                Mqtt5ConfigurationDto {
                    propagating_attributes: list
                        .into_iter()
                        .map(|a| PropagatingAttributeDto {
                            user_property_key: a.user_property_key,
                            thing_attribute: a.thing_attribute,
                            connection_attribute: a.connection_attribute,
                        })
                        .collect(),
                }
            }),
        }
    }
}

/// `ThingTypeMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypeMetadataDto {
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecation_date: Option<f64>,
    creation_date: f64,
}

fn metadata(thing_type: &ThingType) -> ThingTypeMetadataDto {
    ThingTypeMetadataDto {
        deprecated: thing_type.deprecated,
        deprecation_date: thing_type.deprecation_ms.map(timestamp),
        creation_date: timestamp(thing_type.creation_ms),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingTypeRequest {
    #[serde(default)]
    thing_type_properties: ThingTypePropertiesDto,
    #[serde(default)]
    tags: Vec<TagDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingTypeResponse {
    thing_type_name: String,
    thing_type_arn: String,
    thing_type_id: String,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<CreateThingTypeRequest>,
) -> Result<Json<CreateThingTypeResponse>, ApiError> {
    let created = state
        .registry()
        .create_thing_type(NewThingType {
            name,
            properties: body.thing_type_properties.into(),
            tags: body.tags.into_iter().map(Into::into).collect(),
        })
        .await?;
    Ok(Json(CreateThingTypeResponse {
        thing_type_name: created.name,
        thing_type_arn: created.arn,
        thing_type_id: created.id,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeThingTypeResponse {
    thing_type_name: String,
    thing_type_id: String,
    thing_type_arn: String,
    thing_type_properties: ThingTypePropertiesDto,
    thing_type_metadata: ThingTypeMetadataDto,
}

pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<DescribeThingTypeResponse>, ApiError> {
    let thing_type = state.registry().describe_thing_type(&name)?;
    let thing_type_metadata = metadata(&thing_type);
    Ok(Json(DescribeThingTypeResponse {
        thing_type_name: thing_type.name,
        thing_type_id: thing_type.id,
        thing_type_arn: thing_type.arn,
        thing_type_properties: thing_type.properties.into(),
        thing_type_metadata,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingTypeRequest {
    #[serde(default)]
    thing_type_properties: ThingTypePropertiesDto,
}

pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<UpdateThingTypeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().update_thing_type(&name, body.thing_type_properties.into()).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeprecateThingTypeRequest {
    undo_deprecate: Option<bool>,
}

pub(crate) async fn deprecate(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<DeprecateThingTypeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().deprecate_thing_type(&name, body.undo_deprecate.unwrap_or(false)).await?;
    Ok(super::empty())
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_thing_type(&name).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingTypesQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
    thing_type_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypeDefinition {
    thing_type_name: String,
    thing_type_arn: String,
    thing_type_properties: ThingTypePropertiesDto,
    thing_type_metadata: ThingTypeMetadataDto,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingTypesResponse {
    thing_types: Vec<ThingTypeDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingTypesQuery>,
) -> Result<Json<ListThingTypesResponse>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let page = state.registry().list_thing_types(
        query.thing_type_name.as_deref(),
        after.as_deref(),
        limit,
    )?;
    Ok(Json(ListThingTypesResponse {
        thing_types: page
            .items
            .into_iter()
            .map(|t| {
                let thing_type_metadata = metadata(&t);
                ThingTypeDefinition {
                    thing_type_name: t.name,
                    thing_type_arn: t.arn,
                    thing_type_properties: t.properties.into(),
                    thing_type_metadata,
                }
            })
            .collect(),
        next_token: page.next.as_deref().map(pagination::encode),
    }))
}
