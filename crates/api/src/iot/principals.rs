//! AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals(V2),
//! ListPrincipalThings(V2). The principal travels in the `x-amzn-principal` header.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use ferrocore_registry::{Page, ThingPrincipal, ThingPrincipalType};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// A header member the model requires, as text.
pub(crate) fn required_header(
    headers: &HeaderMap,
    name: &str,
    member: &str,
) -> Result<String, ApiError> {
    let value = headers.get(name).ok_or_else(|| {
        ApiError::invalid(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    value
        .to_str()
        .map(str::to_owned)
        .map_err(|_| ApiError::invalid(format!("The {name} header is not valid text")))
}

fn principal_type(value: Option<&str>) -> Result<Option<ThingPrincipalType>, ApiError> {
    value.map(ThingPrincipalType::parse).transpose().map_err(ApiError::from)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachQuery {
    thing_principal_type: Option<String>,
}

pub(crate) async fn attach(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<AttachQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let principal = required_header(&headers, "x-amzn-principal", "principal")?;
    let kind = principal_type(query.thing_principal_type.as_deref())?.unwrap_or_default();
    state.registry().attach_thing_principal(&thing, &principal, kind).await?;
    Ok(super::empty())
}

pub(crate) async fn detach(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let principal = required_header(&headers, "x-amzn-principal", "principal")?;
    state.registry().detach_thing_principal(&thing, &principal).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    next_token: Option<String>,
    max_results: Option<i64>,
    thing_principal_type: Option<String>,
}

fn next_token<T>(page: &Page<T>) -> Option<String> {
    page.next.as_deref().map(pagination::encode)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingPrincipalsResponse {
    principals: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn thing_principals(
    state: &ApiState,
    thing: &str,
    query: &ListQuery,
    typed: bool,
) -> Result<Page<ThingPrincipal>, ApiError> {
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let kind = if typed { principal_type(query.thing_principal_type.as_deref())? } else { None };
    Ok(state.registry().list_thing_principals(thing, kind, after.as_deref(), limit)?)
}

pub(crate) async fn list_for_thing(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListThingPrincipalsResponse>, ApiError> {
    let page = thing_principals(&state, &thing, &query, false)?;
    Ok(Json(ListThingPrincipalsResponse {
        next_token: next_token(&page),
        principals: page.items.into_iter().map(|p| p.principal).collect(),
    }))
}

/// `ThingPrincipalObject`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingPrincipalObject {
    principal: String,
    thing_principal_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingPrincipalsV2Response {
    thing_principal_objects: Vec<ThingPrincipalObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_for_thing_v2(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListThingPrincipalsV2Response>, ApiError> {
    let page = thing_principals(&state, &thing, &query, true)?;
    Ok(Json(ListThingPrincipalsV2Response {
        next_token: next_token(&page),
        thing_principal_objects: page
            .items
            .into_iter()
            .map(|p| ThingPrincipalObject {
                principal: p.principal,
                thing_principal_type: p.kind.as_str(),
            })
            .collect(),
    }))
}

fn principal_things(
    state: &ApiState,
    headers: &HeaderMap,
    query: &ListQuery,
    typed: bool,
) -> Result<Page<ThingPrincipal>, ApiError> {
    let principal = required_header(headers, "x-amzn-principal", "principal")?;
    let limit = pagination::page_size(query.max_results)?;
    let after = pagination::decode(query.next_token.as_deref())?;
    let kind = if typed { principal_type(query.thing_principal_type.as_deref())? } else { None };
    Ok(state.registry().list_principal_things(&principal, kind, after.as_deref(), limit)?)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPrincipalThingsResponse {
    things: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_things(
    State(state): State<ApiState>,
    headers: HeaderMap,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListPrincipalThingsResponse>, ApiError> {
    let page = principal_things(&state, &headers, &query, false)?;
    Ok(Json(ListPrincipalThingsResponse {
        next_token: next_token(&page),
        things: page.items.into_iter().map(|p| p.thing).collect(),
    }))
}

/// `PrincipalThingObject`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrincipalThingObject {
    thing_name: String,
    thing_principal_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPrincipalThingsV2Response {
    principal_thing_objects: Vec<PrincipalThingObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_things_v2(
    State(state): State<ApiState>,
    headers: HeaderMap,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListPrincipalThingsV2Response>, ApiError> {
    let page = principal_things(&state, &headers, &query, true)?;
    Ok(Json(ListPrincipalThingsV2Response {
        next_token: next_token(&page),
        principal_thing_objects: page
            .items
            .into_iter()
            .map(|p| PrincipalThingObject {
                thing_name: p.thing,
                thing_principal_type: p.kind.as_str(),
            })
            .collect(),
    }))
}
