//! Device certificates: CreateKeysAndCertificate, CreateCertificateFromCsr,
//! RegisterCertificate, RegisterCertificateWithoutCA, DescribeCertificate, UpdateCertificate,
//! DeleteCertificate, ListCertificates, ListCertificatesByCA.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrocore_registry::{Certificate, CertificateStatus, Page};
use serde::{Deserialize, Serialize};

use super::timestamp;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{AwsJson, AwsPath, AwsQuery};
use crate::{ApiState, pagination};

/// The most items per page (`PageSize`: 1..250).
const MAX_PAGE_SIZE: i64 = 250;
/// The longest `CertificatePem` (the model's `max`).
const MAX_PEM: usize = 65536;
/// The longest `CertificateSigningRequest`.
const MAX_CSR: usize = 4096;
const MARKER_TAG: &str = "fcc1:";

/// `pageSize` in 1..=250, or the default.
pub(crate) fn page_size(page_size: Option<i64>) -> Result<usize, ApiError> {
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

/// A `Marker` (standard base64, as the model's pattern says) for the registry's position.
pub(crate) fn encode_marker(key: &str) -> String {
    STANDARD.encode(format!("{MARKER_TAG}{key}"))
}

/// The registry position a marker holds.
pub(crate) fn decode_marker(marker: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(marker) = marker.filter(|m| !m.is_empty()) else { return Ok(None) };
    STANDARD
        .decode(marker)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(MARKER_TAG).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| ApiError::invalid("The marker is not valid"))
}

/// Checks a required PEM member's length.
pub(crate) fn check_pem(member: &str, pem: &str) -> Result<(), ApiError> {
    if pem.is_empty() || pem.len() > MAX_PEM {
        return Err(ApiError::invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_PEM}"
        )));
    }
    Ok(())
}

fn status(name: Option<&str>) -> Result<Option<CertificateStatus>, ApiError> {
    Ok(name.map(CertificateStatus::parse).transpose()?)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetAsActiveQuery {
    set_as_active: Option<bool>,
}

/// `KeyPair`.
#[derive(Debug, Serialize)]
pub(crate) struct KeyPairDto {
    #[serde(rename = "PublicKey")]
    public_key: String,
    #[serde(rename = "PrivateKey")]
    private_key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateKeysAndCertificateResponse {
    certificate_arn: String,
    certificate_id: String,
    certificate_pem: String,
    key_pair: KeyPairDto,
}

fn local_ca(state: &ApiState) -> Result<&ferrocore_pki::LocalCa, ApiError> {
    state.local_ca().map(|ca| &**ca).ok_or_else(|| {
        ApiError::new(ErrorCode::ServiceUnavailable, "This server has no certificate authority")
    })
}

/// `POST /keys-and-certificate?setAsActive=`: a new key pair and a certificate from the
/// local CA.
pub(crate) async fn create_keys_and_certificate(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
) -> Result<Json<CreateKeysAndCertificateResponse>, ApiError> {
    let keys = local_ca(&state)?.issue_device_keys().map_err(|e| {
        tracing::error!(error = %e, "the local CA could not issue a certificate");
        ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred")
    })?;
    let certificate = state
        .registry()
        .register_issued_certificate(&keys.certificate_pem, query.set_as_active.unwrap_or(false))
        .await?;
    Ok(Json(CreateKeysAndCertificateResponse {
        certificate_arn: certificate.arn,
        certificate_id: certificate.id,
        certificate_pem: certificate.pem,
        key_pair: KeyPairDto { public_key: keys.public_key_pem, private_key: keys.private_key_pem },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateCertificateFromCsrRequest {
    certificate_signing_request: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateCreated {
    certificate_arn: String,
    certificate_id: String,
    certificate_pem: String,
}

/// `POST /certificates?setAsActive=`: a certificate from the local CA for a CSR. A bad CSR
/// is `InvalidRequestException` (the only client error the model lists here).
pub(crate) async fn create_from_csr(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
    AwsJson(body): AwsJson<CreateCertificateFromCsrRequest>,
) -> Result<Json<CertificateCreated>, ApiError> {
    let csr = body.certificate_signing_request.unwrap_or_default();
    if csr.is_empty() || csr.len() > MAX_CSR {
        return Err(ApiError::invalid(format!(
            "1 validation error detected: Value at 'certificateSigningRequest' failed to \
             satisfy constraint: Member must have length between 1 and {MAX_CSR}"
        )));
    }
    let pem =
        local_ca(&state)?.issue_from_csr(&csr).map_err(|e| ApiError::invalid(e.to_string()))?;
    let certificate = state
        .registry()
        .register_issued_certificate(&pem, query.set_as_active.unwrap_or(false))
        .await?;
    Ok(Json(CertificateCreated {
        certificate_arn: certificate.arn,
        certificate_id: certificate.id,
        certificate_pem: certificate.pem,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCertificateRequest {
    certificate_pem: Option<String>,
    ca_certificate_pem: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateRegistered {
    certificate_arn: String,
    certificate_id: String,
}

/// `POST /certificate/register?setAsActive=`.
pub(crate) async fn register(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
    AwsJson(body): AwsJson<RegisterCertificateRequest>,
) -> Result<Json<CertificateRegistered>, ApiError> {
    let pem = body.certificate_pem.unwrap_or_default();
    check_pem("certificatePem", &pem)?;
    if let Some(ca) = &body.ca_certificate_pem {
        check_pem("caCertificatePem", ca)?;
    }
    let status = ferrocore_registry::certificate_rules::registration_status(
        status(body.status.as_deref())?,
        query.set_as_active.unwrap_or(false),
    )?;
    let certificate = state
        .registry()
        .register_certificate(&pem, body.ca_certificate_pem.as_deref(), status)
        .await?;
    Ok(Json(CertificateRegistered {
        certificate_arn: certificate.arn,
        certificate_id: certificate.id,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterWithoutCaRequest {
    certificate_pem: Option<String>,
    status: Option<String>,
}

/// `POST /certificate/register-no-ca`.
pub(crate) async fn register_without_ca(
    State(state): State<ApiState>,
    AwsJson(body): AwsJson<RegisterWithoutCaRequest>,
) -> Result<Json<CertificateRegistered>, ApiError> {
    let pem = body.certificate_pem.unwrap_or_default();
    check_pem("certificatePem", &pem)?;
    let status = ferrocore_registry::certificate_rules::registration_status(
        status(body.status.as_deref())?,
        false,
    )?;
    let certificate = state.registry().register_certificate_without_ca(&pem, status).await?;
    Ok(Json(CertificateRegistered {
        certificate_arn: certificate.arn,
        certificate_id: certificate.id,
    }))
}

/// `CertificateValidity`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidityDto {
    pub(crate) not_before: f64,
    pub(crate) not_after: f64,
}

/// `CertificateDescription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateDescriptionDto {
    certificate_arn: String,
    certificate_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_certificate_id: Option<String>,
    status: &'static str,
    certificate_pem: String,
    owned_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_owned_by: Option<String>,
    creation_date: f64,
    last_modified_date: f64,
    customer_version: i64,
    transfer_data: serde_json::Value,
    generation_id: String,
    validity: ValidityDto,
    certificate_mode: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeCertificateResponse {
    certificate_description: CertificateDescriptionDto,
}

/// `GET /certificates/{certificateId}`.
pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<DescribeCertificateResponse>, ApiError> {
    let c = state.registry().describe_certificate(&id)?;
    Ok(Json(DescribeCertificateResponse {
        certificate_description: CertificateDescriptionDto {
            certificate_arn: c.arn,
            certificate_id: c.id,
            ca_certificate_id: c.ca_certificate_id,
            status: c.status.as_str(),
            certificate_pem: c.pem,
            owned_by: c.owned_by,
            previous_owned_by: c.previous_owned_by,
            creation_date: timestamp(c.created_ms),
            last_modified_date: timestamp(c.updated_ms),
            customer_version: c.customer_version,
            transfer_data: serde_json::json!({}),
            generation_id: c.generation_id,
            validity: ValidityDto {
                not_before: timestamp(c.not_before_ms),
                not_after: timestamp(c.not_after_ms),
            },
            certificate_mode: c.mode.as_str(),
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCertificateQuery {
    new_status: Option<String>,
}

/// `PUT /certificates/{certificateId}?newStatus=`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<UpdateCertificateQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(new_status) = status(query.new_status.as_deref())? else {
        return Err(ApiError::invalid("newStatus is required"));
    };
    state.registry().update_certificate(&id, new_status).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteCertificateQuery {
    force_delete: Option<bool>,
}

/// `DELETE /certificates/{certificateId}?forceDelete=`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteCertificateQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.registry().delete_certificate(&id, query.force_delete.unwrap_or(false)).await?;
    Ok(super::empty())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    pub(crate) page_size: Option<i64>,
    pub(crate) marker: Option<String>,
    pub(crate) is_ascending_order: Option<bool>,
    pub(crate) template_name: Option<String>,
}

/// `Certificate` (a list item).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateDto {
    certificate_arn: String,
    certificate_id: String,
    status: &'static str,
    certificate_mode: &'static str,
    creation_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListCertificatesResponse {
    certificates: Vec<CertificateDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

fn list_response(page: Page<Certificate>) -> ListCertificatesResponse {
    ListCertificatesResponse {
        certificates: page
            .items
            .into_iter()
            .map(|c| CertificateDto {
                certificate_arn: c.arn,
                certificate_id: c.id,
                status: c.status.as_str(),
                certificate_mode: c.mode.as_str(),
                creation_date: timestamp(c.created_ms),
            })
            .collect(),
        next_marker: page.next.as_deref().map(encode_marker),
    }
}

/// `GET /certificates`: newest first unless `isAscendingOrder=true`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListCertificatesResponse>, ApiError> {
    let limit = page_size(query.page_size)?;
    let marker = decode_marker(query.marker.as_deref())?;
    let ascending = query.is_ascending_order.unwrap_or(false);
    let page = state.registry().list_certificates(None, marker.as_deref(), limit, ascending)?;
    Ok(Json(list_response(page)))
}

/// `GET /certificates-by-ca/{caCertificateId}`.
pub(crate) async fn list_by_ca(
    State(state): State<ApiState>,
    AwsPath(ca): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<ListCertificatesResponse>, ApiError> {
    let limit = page_size(query.page_size)?;
    let marker = decode_marker(query.marker.as_deref())?;
    let ascending = query.is_ascending_order.unwrap_or(false);
    let page =
        state.registry().list_certificates(Some(&ca), marker.as_deref(), limit, ascending)?;
    Ok(Json(list_response(page)))
}
