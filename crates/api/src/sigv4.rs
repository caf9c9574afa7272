//! Authentication and dispatch: buffers the body (the signature covers it), verifies the
//! request with the [`Verifier`](ferrocore_auth::Verifier), and hands it, with the
//! [`Principal`] as a request extension, to the router of the service its credential scope
//! names. Paths of different services clash (`/things/{thingName}/...`), so the scope, not the
//! path, decides:
//!
//! - `iot`: the control plane, admin keys only;
//! - `iotdata`, `iotdevicegateway`: the `iot-data` data plane, any active key.
//!
//! A request without SigV4 on a TLS connection whose client presented a registered device
//! certificate (the HTTPS port, as AWS IoT Core's 8443) is the data plane's, as that device
//! ([`Principal::Certificate`]); its policies are checked by the handlers
//! ([`crate::authorize`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ferrocore_auth::{Principal, sigv4};
use tower::ServiceExt;

use crate::ApiState;
use crate::authorize::DeviceIdentity;
use crate::error::{ApiError, ErrorCode};
use crate::extract::MAX_BODY;
use crate::incoming::Peer;

/// The signing names of the control plane.
pub const CONTROL_PLANE_SERVICES: &[&str] = &["iot"];
/// The signing names of the `iot-data` data plane: the model's, and the one the Shadow REST
/// documentation and the Device SDKs use.
pub const DATA_PLANE_SERVICES: &[&str] = &["iotdata", "iotdevicegateway"];

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// `iot`.
    Control,
    /// `iot-data`.
    Data,
}

impl Plane {
    /// The plane of a credential scope's service, if it is one this API serves.
    pub fn of_service(service: &str) -> Option<Plane> {
        if CONTROL_PLANE_SERVICES.contains(&service) {
            Some(Plane::Control)
        } else if DATA_PLANE_SERVICES.contains(&service) {
            Some(Plane::Data)
        } else {
            None
        }
    }
}

/// The routers a request may be dispatched to.
#[derive(Debug, Clone)]
pub(crate) struct Planes {
    pub(crate) state: ApiState,
    pub(crate) control: Router,
    pub(crate) data: Router,
}

/// Authenticates the request, then runs it through its plane's router, or answers with the
/// AWS error.
pub(crate) async fn dispatch(State(planes): State<Planes>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return ApiError::invalid(format!("Could not read the request body: {error}"))
                .into_response();
        }
    };
    // Header values that are not UTF-8 cannot have been signed by an SDK; leaving them out
    // makes a signature over them fail as a missing signed header.
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str(), value)))
        .collect();
    let signed = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &bytes,
    };
    let scope = scope_service(&parts);
    let device = match parts.extensions.get::<ConnectInfo<Peer>>() {
        Some(ConnectInfo(Peer { device: Some(device), .. })) if scope.is_none() => Some(device),
        _ => None,
    };
    let (principal, plane) = match device {
        Some(Ok(device)) => {
            let principal =
                Principal::Certificate { id: device.id.clone(), arn: device.arn.clone() };
            parts.extensions.insert(DeviceIdentity(Arc::clone(device)));
            (principal, Some(Plane::Data))
        }
        Some(Err(refusal)) => {
            tracing::info!(%refusal, path = parts.uri.path(), "HTTPS request with an unusable client certificate");
            return ApiError::new(ErrorCode::Forbidden, refusal.clone()).into_response();
        }
        None => match planes.state.verifier().verify(&signed, SystemTime::now()) {
            // The verifier accepted the scope, so it names one of the configured services.
            Ok(principal) => (principal, scope.as_deref().and_then(Plane::of_service)),
            Err(error) => return ApiError::from(error).into_response(),
        },
    };
    drop(headers);
    let router = match (plane, &principal) {
        (Some(Plane::Control), Principal::AccessKey { admin: true, .. }) => planes.control,
        (Some(Plane::Control), Principal::AccessKey { id, .. }) => {
            tracing::warn!(access_key_id = %id, path = parts.uri.path(), "control plane refused to a non-admin key");
            return ApiError::new(
                ErrorCode::AccessDenied,
                format!("User: {id} is not authorized to perform this control-plane action"),
            )
            .into_response();
        }
        (Some(Plane::Data), Principal::AccessKey { .. } | Principal::Certificate { .. }) => {
            planes.data
        }
        (None, _) => {
            return ApiError::new(ErrorCode::InvalidSignature, "Unknown credential scope service")
                .into_response();
        }
        _ => return ApiError::new(ErrorCode::AccessDenied, "Not authorized").into_response(),
    };
    parts.extensions.insert(principal);
    parts.extensions.insert(plane);
    let result: Result<Response, Infallible> =
        router.oneshot(Request::from_parts(parts, Body::from(bytes))).await;
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The service of the request's credential scope (`id/date/region/service/aws4_request`), from
/// the `Authorization` header or, failing that, the presigned `X-Amz-Credential` parameter:
/// the order in which the verifier looks.
pub fn scope_service(parts: &Parts) -> Option<String> {
    if let Some(authorization) = parts.headers.get("authorization") {
        let text = authorization.to_str().ok()?;
        let credential = text.split_once("Credential=")?.1;
        let credential = credential.split([',', ' ']).next()?;
        return credential.split('/').nth(3).map(str::to_owned);
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name != "X-Amz-Credential" {
            return None;
        }
        let value = percent_encoding::percent_decode_str(value).decode_utf8().ok()?;
        value.split('/').nth(3).map(str::to_owned)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(request: axum::http::Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn the_scope_service_comes_from_the_header_or_the_presigned_query() {
        let header = parts(
            axum::http::Request::get("/things/t/shadow")
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iotdata/aws4_request, SignedHeaders=host, Signature=00",
                )
                .body(())
                .unwrap(),
        );
        assert_eq!(scope_service(&header).as_deref(), Some("iotdata"));
        let query = parts(
            axum::http::Request::get(
                "/things?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fiot%2Faws4_request",
            )
            .body(())
            .unwrap(),
        );
        assert_eq!(scope_service(&query).as_deref(), Some("iot"));
        assert_eq!(scope_service(&parts(axum::http::Request::get("/").body(()).unwrap())), None);
    }

    #[test]
    fn planes_by_service() {
        assert_eq!(Plane::of_service("iot"), Some(Plane::Control));
        assert_eq!(Plane::of_service("iotdata"), Some(Plane::Data));
        assert_eq!(Plane::of_service("iotdevicegateway"), Some(Plane::Data));
        assert_eq!(Plane::of_service("s3"), None);
    }
}
