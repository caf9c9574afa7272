//! CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, CreatePolicyVersion, GetPolicyVersion,
//! ListPolicyVersions, SetDefaultPolicyVersion, DeletePolicyVersion, AttachPolicy, DetachPolicy,
//! ListAttachedPolicies, ListTargetsForPolicy, GetEffectivePolicies, and the deprecated
//! AttachPrincipalPolicy, DetachPrincipalPolicy, ListPrincipalPolicies, ListPolicyPrincipals
//! (the same attachments). TestAuthorization is in [`super::authorization`].

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrocore_registry::{Page, PolicyRef, PolicyVersion, Tag};
use serde::{Deserialize, Serialize};

use super::principals::required_header;
use super::tags::TagDto;
use super::timestamp;
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// The most items per page (`PageSize`: 1..250).
const MAX_PAGE_SIZE: i64 = 250;

const MARKER_TAG: &str = "fcm1:";

/// `pageSize` in 1..=250, or the default.
fn page_size(page_size: Option<i64>) -> Result<usize, ApiError> {
    match page_size {
        None => Ok(pagination::DEFAULT_MAX_RESULTS),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => {
            Ok(usize::try_from(n).unwrap_or(pagination::DEFAULT_MAX_RESULTS))
        }
        Some(n) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and {MAX_PAGE_SIZE}"
        ))),
    }
}

/// A `Marker` (standard base64, as the model's pattern says) that resumes after `key`.
fn encode_marker(key: &str) -> String {
    STANDARD.encode(format!("{MARKER_TAG}{key}"))
}

/// The key a marker resumes after.
fn decode_marker(marker: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(marker) = marker.filter(|m| !m.is_empty()) else { return Ok(None) };
    STANDARD
        .decode(marker)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(MARKER_TAG).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| ApiError::invalid("The marker is not valid"))
}

/// `Policy`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyDto {
    pub(crate) policy_name: String,
    pub(crate) policy_arn: String,
}

impl From<PolicyRef> for PolicyDto {
    fn from(policy: PolicyRef) -> Self {
        PolicyDto { policy_name: policy.name, policy_arn: policy.arn }
    }
}

/// A page of policies as the marker-paginated listings return it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PoliciesPage {
    policies: Vec<PolicyDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

impl From<Page<PolicyRef>> for PoliciesPage {
    fn from(page: Page<PolicyRef>) -> Self {
        PoliciesPage {
            policies: page.items.into_iter().map(PolicyDto::from).collect(),
            next_marker: page.next.as_deref().map(encode_marker),
        }
    }
}

/// `policyDocument`, required.
fn document(document: Option<String>) -> Result<String, ApiError> {
    document.ok_or_else(|| {
        ApiError::invalid(
            "1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null",
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyRequest {
    policy_document: Option<String>,
    #[serde(default)]
    tags: Vec<TagDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyResponse {
    policy_name: String,
    policy_arn: String,
    policy_document: String,
    policy_version_id: String,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<CreatePolicyRequest>,
) -> Result<Json<CreatePolicyResponse>, ApiError> {
    let text = document(body.policy_document)?;
    let tags = body.tags.into_iter().map(Tag::from).collect();
    let policy = state.registry().create_policy(&name, &text, tags).await?;
    Ok(Json(CreatePolicyResponse {
        policy_name: policy.name,
        policy_arn: policy.arn,
        policy_document: policy.document,
        policy_version_id: policy.default_version,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetPolicyResponse {
    policy_name: String,
    policy_arn: String,
    policy_document: String,
    default_version_id: String,
    creation_date: f64,
    last_modified_date: f64,
    generation_id: String,
}

pub(crate) async fn get(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<GetPolicyResponse>, ApiError> {
    let policy = state.registry().get_policy(&name)?;
    Ok(Json(GetPolicyResponse {
        policy_name: policy.name,
        policy_arn: policy.arn,
        policy_document: policy.document,
        default_version_id: policy.default_version,
        creation_date: timestamp(policy.created_ms),
        last_modified_date: timestamp(policy.updated_ms),
        generation_id: policy.generation,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPoliciesQuery {
    marker: Option<String>,
    page_size: Option<i64>,
    is_ascending_order: Option<bool>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListPoliciesQuery>,
) -> Result<Json<PoliciesPage>, ApiError> {
    let limit = page_size(query.page_size)?;
    let after = decode_marker(query.marker.as_deref())?;
    let descending = query.is_ascending_order == Some(false);
    let page = state.registry().list_policies(after.as_deref(), limit, descending)?;
    Ok(Json(page.into()))
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_policy(&name).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyVersionRequest {
    policy_document: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyVersionQuery {
    set_as_default: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyVersionResponse {
    policy_arn: String,
    policy_document: String,
    policy_version_id: String,
    is_default_version: bool,
}

pub(crate) async fn create_version(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<CreatePolicyVersionQuery>,
    AwsJson(body): AwsJson<CreatePolicyVersionRequest>,
) -> Result<Json<CreatePolicyVersionResponse>, ApiError> {
    let text = document(body.policy_document)?;
    let set_as_default = query.set_as_default.unwrap_or(false);
    let version = state.registry().create_policy_version(&name, &text, set_as_default).await?;
    Ok(Json(CreatePolicyVersionResponse {
        policy_arn: version.policy_arn,
        policy_document: version.document,
        policy_version_id: version.version_id,
        is_default_version: version.is_default,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetPolicyVersionResponse {
    policy_arn: String,
    policy_name: String,
    policy_document: String,
    policy_version_id: String,
    is_default_version: bool,
    creation_date: f64,
    last_modified_date: f64,
    generation_id: String,
}

pub(crate) async fn get_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<GetPolicyVersionResponse>, ApiError> {
    let version = state.registry().get_policy_version(&name, &version)?;
    Ok(Json(GetPolicyVersionResponse {
        policy_arn: version.policy_arn,
        policy_name: version.policy_name,
        policy_document: version.document,
        policy_version_id: version.version_id,
        is_default_version: version.is_default,
        creation_date: timestamp(version.created_ms),
        last_modified_date: timestamp(version.updated_ms),
        generation_id: version.generation,
    }))
}

/// `PolicyVersion`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyVersionDto {
    version_id: String,
    is_default_version: bool,
    create_date: f64,
}

impl From<PolicyVersion> for PolicyVersionDto {
    fn from(version: PolicyVersion) -> Self {
        PolicyVersionDto {
            version_id: version.version_id,
            is_default_version: version.is_default,
            create_date: timestamp(version.created_ms),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPolicyVersionsResponse {
    policy_versions: Vec<PolicyVersionDto>,
}

pub(crate) async fn list_versions(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<ListPolicyVersionsResponse>, ApiError> {
    let versions = state.registry().list_policy_versions(&name)?;
    Ok(Json(ListPolicyVersionsResponse {
        policy_versions: versions.into_iter().map(PolicyVersionDto::from).collect(),
    }))
}

pub(crate) async fn set_default_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().set_default_policy_version(&name, &version).await?;
    Ok(super::empty())
}

pub(crate) async fn delete_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_policy_version(&name, &version).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TargetRequest {
    target: Option<String>,
}

fn target(body: TargetRequest) -> Result<String, ApiError> {
    body.target.ok_or_else(|| {
        ApiError::invalid(
            "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null",
        )
    })
}

pub(crate) async fn attach(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<TargetRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().attach_policy(&name, &target(body)?).await?;
    Ok(super::empty())
}

pub(crate) async fn detach(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(body): AwsJson<TargetRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().detach_policy(&name, &target(body)?).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListAttachedQuery {
    recursive: Option<bool>,
    marker: Option<String>,
    page_size: Option<i64>,
}

pub(crate) async fn list_attached(
    State(state): State<ApiState>,
    AwsPath(target): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListAttachedQuery>,
) -> Result<Json<PoliciesPage>, ApiError> {
    let limit = page_size(query.page_size)?;
    let after = decode_marker(query.marker.as_deref())?;
    let recursive = query.recursive.unwrap_or(false);
    let page =
        state.registry().list_attached_policies(&target, recursive, after.as_deref(), limit)?;
    Ok(Json(page.into()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MarkerQuery {
    marker: Option<String>,
    page_size: Option<i64>,
    is_ascending_order: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTargetsResponse {
    targets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub(crate) async fn list_targets(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<MarkerQuery>,
) -> Result<Json<ListTargetsResponse>, ApiError> {
    let limit = page_size(query.page_size)?;
    let after = decode_marker(query.marker.as_deref())?;
    let page = state.registry().list_targets_for_policy(&name, after.as_deref(), limit)?;
    Ok(Json(ListTargetsResponse {
        next_marker: page.next.as_deref().map(encode_marker),
        targets: page.items,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EffectivePoliciesRequest {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EffectivePoliciesQuery {
    thing_name: Option<String>,
}

/// `EffectivePolicy`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EffectivePolicyDto {
    policy_name: String,
    policy_arn: String,
    policy_document: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EffectivePoliciesResponse {
    effective_policies: Vec<EffectivePolicyDto>,
}

/// Checks a request's principal: a registered certificate's ARN.
pub(crate) fn check_principal(
    state: &ApiState,
    principal: Option<&str>,
    cognito_pool: Option<&str>,
) -> Result<(), ApiError> {
    if cognito_pool.is_some() {
        return Err(ApiError::invalid("Amazon Cognito identities are not supported"));
    }
    if let Some(principal) = principal {
        if !state.registry().principal_exists(principal)? {
            return Err(ApiError::new(
                crate::ErrorCode::ResourceNotFound,
                format!("The principal {principal} does not exist"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn effective(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<EffectivePoliciesQuery>,
    AwsJson(body): AwsJson<EffectivePoliciesRequest>,
) -> Result<Json<EffectivePoliciesResponse>, ApiError> {
    check_principal(&state, body.principal.as_deref(), body.cognito_identity_pool_id.as_deref())?;
    if body.principal.is_none() && query.thing_name.is_none() {
        return Err(ApiError::invalid("Either principal or thingName must be given"));
    }
    let policies = state
        .registry()
        .effective_policies_for(body.principal.as_deref(), query.thing_name.as_deref())?;
    Ok(Json(EffectivePoliciesResponse {
        effective_policies: policies
            .into_iter()
            .map(|p| EffectivePolicyDto {
                policy_name: p.name,
                policy_arn: p.arn,
                policy_document: p.text,
            })
            .collect(),
    }))
}

/// AttachPrincipalPolicy (deprecated): AttachPolicy with the principal as target.
pub(crate) async fn attach_principal(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let principal = required_header(&headers, "x-amzn-iot-principal", "principal")?;
    state.registry().attach_policy(&name, &principal).await?;
    Ok(super::empty())
}

/// DetachPrincipalPolicy (deprecated): DetachPolicy with the principal as target.
pub(crate) async fn detach_principal(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let principal = required_header(&headers, "x-amzn-iot-principal", "principal")?;
    if !state.registry().policy_exists(&name)? {
        return Err(ApiError::new(
            crate::ErrorCode::ResourceNotFound,
            format!("Policy not found (name={name})"),
        ));
    }
    state.registry().detach_policy(&name, &principal).await?;
    Ok(super::empty())
}

/// ListPrincipalPolicies (deprecated): ListAttachedPolicies of the principal.
pub(crate) async fn list_principal_policies(
    State(state): State<ApiState>,
    headers: HeaderMap,
    AwsQuery(query): AwsQuery<MarkerQuery>,
) -> Result<Json<PoliciesPage>, ApiError> {
    let principal = required_header(&headers, "x-amzn-iot-principal", "principal")?;
    let limit = page_size(query.page_size)?;
    let after = decode_marker(query.marker.as_deref())?;
    let _ = query.is_ascending_order;
    let page =
        state.registry().list_attached_policies(&principal, false, after.as_deref(), limit)?;
    Ok(Json(page.into()))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPolicyPrincipalsResponse {
    principals: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// ListPolicyPrincipals (deprecated): ListTargetsForPolicy.
pub(crate) async fn list_policy_principals(
    State(state): State<ApiState>,
    headers: HeaderMap,
    AwsQuery(query): AwsQuery<MarkerQuery>,
) -> Result<Json<ListPolicyPrincipalsResponse>, ApiError> {
    let name = required_header(&headers, "x-amzn-iot-policy", "policyName")?;
    let limit = page_size(query.page_size)?;
    let after = decode_marker(query.marker.as_deref())?;
    let page = state.registry().list_targets_for_policy(&name, after.as_deref(), limit)?;
    Ok(Json(ListPolicyPrincipalsResponse {
        next_marker: page.next.as_deref().map(encode_marker),
        principals: page.items,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_standard_base64_and_round_trip() {
        let marker = encode_marker("policy-1");
        assert!(marker.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        assert_eq!(decode_marker(Some(&marker)).unwrap().as_deref(), Some("policy-1"));
        assert_eq!(decode_marker(None).unwrap(), None);
        assert!(decode_marker(Some("!!")).is_err());
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(251)).is_err());
        assert_eq!(page_size(Some(250)).unwrap(), 250);
    }
}
