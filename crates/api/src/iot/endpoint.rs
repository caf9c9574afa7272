//! DescribeEndpoint: Ferrocore's own host names per endpoint type.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::ApiError;
use crate::extract::AwsQuery;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeEndpointQuery {
    endpoint_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeEndpointResponse {
    endpoint_address: String,
}

pub(crate) async fn describe(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<DescribeEndpointQuery>,
) -> Result<Json<DescribeEndpointResponse>, ApiError> {
    let endpoints = state.endpoints();
    // Without a type AWS answers with the legacy `iot:Data` endpoint.
    let address = match query.endpoint_type.as_deref().unwrap_or("iot:Data") {
        "iot:Data" | "iot:Data-ATS" => &endpoints.data,
        "iot:CredentialProvider" => &endpoints.credential_provider,
        "iot:Jobs" => &endpoints.jobs,
        other => {
            return Err(ApiError::invalid(format!(
                "Endpoint type {other} is not valid: use iot:Data, iot:Data-ATS, iot:CredentialProvider or iot:Jobs"
            )));
        }
    };
    Ok(Json(DescribeEndpointResponse { endpoint_address: address.clone() }))
}
