//! CA certificates and the registration code: GetRegistrationCode, DeleteRegistrationCode,
//! RegisterCACertificate, DescribeCACertificate, UpdateCACertificate, DeleteCACertificate,
//! ListCACertificates.

use axum::Json;
use axum::extract::State;
use ferrocore_registry::{
    AutoRegistrationStatus, CaCertificateStatus, CaCertificateUpdate, CertificateMode,
    NewCaCertificate, RegistrationConfig,
};
use serde::{Deserialize, Serialize};

use super::certificates::{
    ListQuery, ValidityDto, check_pem, decode_marker, encode_marker, page_size,
};
use super::tags::TagDto;
use super::timestamp;
use crate::ApiState;
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationCodeResponse {
    registration_code: String,
}

/// `GET /registrationcode`.
pub(crate) async fn get_registration_code(
    State(state): State<ApiState>,
) -> Result<Json<RegistrationCodeResponse>, ApiError> {
    let registration_code = state.registry().get_registration_code().await?;
    Ok(Json(RegistrationCodeResponse { registration_code }))
}

/// `DELETE /registrationcode`.
pub(crate) async fn delete_registration_code(
    State(state): State<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_registration_code().await?;
    Ok(super::empty())
}

/// `RegistrationConfig`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationConfigDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    template_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_name: Option<String>,
}

impl From<RegistrationConfigDto> for RegistrationConfig {
    fn from(dto: RegistrationConfigDto) -> Self {
        RegistrationConfig {
            template_body: dto.template_body,
            role_arn: dto.role_arn,
            template_name: dto.template_name,
        }
    }
}

impl From<RegistrationConfig> for RegistrationConfigDto {
    fn from(config: RegistrationConfig) -> Self {
        RegistrationConfigDto {
            template_body: config.template_body,
            role_arn: config.role_arn,
            template_name: config.template_name,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCaQuery {
    set_as_active: Option<bool>,
    allow_auto_registration: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCaRequest {
    ca_certificate: Option<String>,
    verification_certificate: Option<String>,
    registration_config: Option<RegistrationConfigDto>,
    #[serde(default)]
    tags: Vec<TagDto>,
    certificate_mode: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCaResponse {
    certificate_arn: String,
    certificate_id: String,
}

/// `POST /cacertificate?setAsActive=&allowAutoRegistration=`.
pub(crate) async fn register(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<RegisterCaQuery>,
    AwsJson(body): AwsJson<RegisterCaRequest>,
) -> Result<Json<RegisterCaResponse>, ApiError> {
    let pem = body.ca_certificate.unwrap_or_default();
    check_pem("caCertificate", &pem)?;
    if let Some(verification) = &body.verification_certificate {
        check_pem("verificationCertificate", verification)?;
    }
    let mode = body
        .certificate_mode
        .as_deref()
        .map(CertificateMode::parse)
        .transpose()?
        .unwrap_or(CertificateMode::Default);
    let ca = state
        .registry()
        .register_ca_certificate(NewCaCertificate {
            pem,
            verification_pem: body.verification_certificate,
            set_as_active: query.set_as_active.unwrap_or(false),
            allow_auto_registration: query.allow_auto_registration.unwrap_or(false),
            registration_config: body.registration_config.map(Into::into),
            mode,
            tags: body.tags.into_iter().map(Into::into).collect(),
        })
        .await?;
    Ok(Json(RegisterCaResponse { certificate_arn: ca.arn, certificate_id: ca.id }))
}

/// `CACertificateDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CaDescriptionDto {
    certificate_arn: String,
    certificate_id: String,
    status: &'static str,
    certificate_pem: String,
    owned_by: String,
    creation_date: f64,
    auto_registration_status: &'static str,
    last_modified_date: f64,
    customer_version: i64,
    generation_id: String,
    validity: ValidityDto,
    certificate_mode: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeCaResponse {
    certificate_description: CaDescriptionDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_config: Option<RegistrationConfigDto>,
}

/// `GET /cacertificate/{caCertificateId}`.
pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<DescribeCaResponse>, ApiError> {
    let ca = state.registry().describe_ca_certificate(&id)?;
    Ok(Json(DescribeCaResponse {
        certificate_description: CaDescriptionDto {
            certificate_arn: ca.arn,
            certificate_id: ca.id,
            status: ca.status.as_str(),
            certificate_pem: ca.pem,
            owned_by: ca.owned_by,
            creation_date: timestamp(ca.created_ms),
            auto_registration_status: ca.auto_registration.as_str(),
            last_modified_date: timestamp(ca.updated_ms),
            customer_version: ca.customer_version,
            generation_id: ca.generation_id,
            validity: ValidityDto {
                not_before: timestamp(ca.not_before_ms),
                not_after: timestamp(ca.not_after_ms),
            },
            certificate_mode: ca.mode.as_str(),
        },
        registration_config: ca.registration_config.map(Into::into),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCaQuery {
    new_status: Option<String>,
    new_auto_registration_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCaRequest {
    registration_config: Option<RegistrationConfigDto>,
    remove_auto_registration: Option<bool>,
}

/// `PUT /cacertificate/{caCertificateId}?newStatus=&newAutoRegistrationStatus=`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<UpdateCaQuery>,
    AwsJson(body): AwsJson<UpdateCaRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let update = CaCertificateUpdate {
        new_status: query.new_status.as_deref().map(CaCertificateStatus::parse).transpose()?,
        new_auto_registration: query
            .new_auto_registration_status
            .as_deref()
            .map(AutoRegistrationStatus::parse)
            .transpose()?,
        registration_config: body.registration_config.map(Into::into),
        remove_auto_registration: body.remove_auto_registration.unwrap_or(false),
    };
    state.registry().update_ca_certificate(&id, update).await?;
    Ok(super::empty())
}

/// `DELETE /cacertificate/{caCertificateId}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_ca_certificate(&id).await?;
    Ok(super::empty())
}

/// `CACertificate` (a list item).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CaDto {
    certificate_arn: String,
    certificate_id: String,
    status: &'static str,
    creation_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListCasResponse {
    certificates: Vec<CaDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// `GET /cacertificates`: newest first unless `isAscendingOrder=true`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListCasResponse>, ApiError> {
    let limit = page_size(query.page_size)?;
    let marker = decode_marker(query.marker.as_deref())?;
    let ascending = query.is_ascending_order.unwrap_or(false);
    let page = state.registry().list_ca_certificates(
        query.template_name.as_deref(),
        marker.as_deref(),
        limit,
        ascending,
    )?;
    Ok(Json(ListCasResponse {
        certificates: page
            .items
            .into_iter()
            .map(|ca| CaDto {
                certificate_arn: ca.arn,
                certificate_id: ca.id,
                status: ca.status.as_str(),
                creation_date: timestamp(ca.created_ms),
            })
            .collect(),
        next_marker: page.next.as_deref().map(encode_marker),
    }))
}
