//! The HTTP API of Ferrocore: AWS's REST-JSON protocol, so that the AWS CLI, boto3 and the AWS
//! SDKs work unchanged with `--endpoint-url`.
//!
//! - [`iot`]: the `iot` control plane router (registry operations, DescribeEndpoint), with the
//!   routes, member names and status codes of botocore's model.
//! - [`iot_data`]: the `iot-data` data plane router (Device Shadow REST, HTTPS publish,
//!   retained messages) over the same [`ShadowService`] and [`Broker`] as MQTT.
//! - [`sigv4`]: authenticates every request with SigV4 before any handler, and dispatches it
//!   on its credential scope's service (paths of the planes clash).
//! - [`error`]: the one table of AWS error names and statuses, and the error response.
//! - [`extract`] and [`pagination`]: request parsing that answers `InvalidRequestException`.
//!
//! ```text
//! TCP --> axum --> sigv4::dispatch (Verifier; scope service decides the plane)
//!                   iot (admin keys)          --> iot router --> Registry --> store
//!                   iotdata, iotdevicegateway --> iot_data router --> ShadowService, Broker
//!                   no route: UnknownOperationException
//! ```
//!
//! It must not hold registry rules or SQL (those are in `registry`), nor signature logic (in
//! `auth`), nor shadow or broker rules: it maps HTTP to those calls and their results back to
//! HTTP. One router per AWS service; `iot-jobs-data` will add its own here.

pub mod error;
pub mod extract;
pub mod iot;
pub mod iot_data;
pub mod pagination;
pub mod sigv4;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use ferrocore_auth::Verifier;
use ferrocore_broker::Broker;
use ferrocore_registry::Registry;
use ferrocore_shadow::ShadowService;
use tokio::net::TcpListener;

pub use error::{ApiError, ErrorCode};

/// The host names DescribeEndpoint answers with, per endpoint type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `iot:Data` (legacy) and `iot:Data-ATS`: where devices connect.
    pub data: String,
    /// `iot:CredentialProvider`.
    pub credential_provider: String,
    /// `iot:Jobs`.
    pub jobs: String,
}

impl Endpoints {
    /// Every endpoint type on one host name.
    pub fn all(host: &str) -> Endpoints {
        Endpoints {
            data: host.to_owned(),
            credential_provider: host.to_owned(),
            jobs: host.to_owned(),
        }
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    inner: Arc<StateInner>,
}

#[derive(Debug)]
struct StateInner {
    registry: Registry,
    verifier: Verifier,
    endpoints: Endpoints,
    data: Option<DataPlane>,
}

/// What the `iot-data` data plane calls: the same services MQTT clients reach.
#[derive(Debug, Clone)]
pub struct DataPlane {
    /// Device Shadow.
    pub shadows: ShadowService,
    /// The broker, for publish and the retained messages.
    pub broker: Broker,
}

impl ApiState {
    /// The state of an API over `registry`, authenticating with `verifier`, without a data
    /// plane (its routes answer `UnknownOperationException`).
    pub fn new(registry: Registry, verifier: Verifier, endpoints: Endpoints) -> ApiState {
        ApiState { inner: Arc::new(StateInner { registry, verifier, endpoints, data: None }) }
    }

    /// The state of an API with the `iot-data` data plane over `data`. The verifier's rules
    /// should accept [`sigv4::DATA_PLANE_SERVICES`] besides `iot`.
    pub fn with_data_plane(
        registry: Registry,
        verifier: Verifier,
        endpoints: Endpoints,
        data: DataPlane,
    ) -> ApiState {
        ApiState { inner: Arc::new(StateInner { registry, verifier, endpoints, data: Some(data) }) }
    }

    /// The data plane's services, if this API has one.
    pub fn data_plane(&self) -> Option<&DataPlane> {
        self.inner.data.as_ref()
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The SigV4 verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The endpoint host names.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }
}

/// The whole API: every service's router behind SigV4, and AWS's answer to unknown routes.
pub fn app(state: ApiState) -> Router {
    let control = iot::router()
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .with_state(state.clone());
    let data = iot_data::router()
        .fallback(unknown_operation)
        .method_not_allowed_fallback(iot_data::method_not_allowed)
        .with_state(state.clone());
    Router::new().fallback(sigv4::dispatch).with_state(sigv4::Planes { state, control, data })
}

async fn unknown_operation(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownOperation,
        format!("Unknown operation: {method} {}", uri.path()),
    )
}

/// Serves [`app`] on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
