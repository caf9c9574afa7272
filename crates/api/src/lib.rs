//! The HTTP API of Ferrocore: AWS's REST-JSON protocol, so that the AWS CLI, boto3 and the AWS
//! SDKs work unchanged with `--endpoint-url`.
//!
//! - [`iot`]: the `iot` control plane router (registry operations, DescribeEndpoint), with the
//!   routes, member names and status codes of botocore's model.
//! - [`iot_data`]: the `iot-data` data plane router (Device Shadow REST, HTTPS publish,
//!   retained messages, connection APIs, MQTT over WebSocket on `GET /mqtt`) over the same
//!   [`ShadowService`] and [`Broker`] as MQTT.
//! - [`sigv4`]: authenticates every request with SigV4 before any handler, and dispatches it
//!   on its credential scope's service (paths of the planes clash).
//! - [`error`]: the one table of AWS error names and statuses, and the error response.
//! - [`extract`] and [`pagination`]: request parsing that answers `InvalidRequestException`.
//!
//! ```text
//! TCP --> axum --> sigv4::dispatch (Verifier; scope service decides the plane)
//!                   iot (admin keys)          --> iot router --> Registry --> store
//!                   iotdata, iotdevicegateway --> iot_data router --> ShadowService, Broker
//!                                                  GET /mqtt (WebSocket) --> gateway connection task
//!                   no route: UnknownOperationException
//! ```
//!
//! It must not hold registry rules or SQL (those are in `registry`), nor signature logic (in
//! `auth`), nor shadow or broker rules: it maps HTTP to those calls and their results back to
//! HTTP. One router per AWS service; `iot-jobs-data` will add its own here.

pub mod authorize;
pub mod error;
pub mod extract;
pub mod incoming;
pub mod iot;
pub mod iot_data;
pub mod pagination;
pub mod sigv4;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use ferrocore_auth::Verifier;
use ferrocore_broker::Broker;
use ferrocore_pki::LocalCa;
use ferrocore_registry::Registry;
use ferrocore_rules::RulesEngine;
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

#[derive(Debug, Clone)]
struct StateInner {
    registry: Registry,
    verifier: Verifier,
    endpoints: Endpoints,
    data: Option<DataPlane>,
    rules: Option<RulesEngine>,
    local_ca: Option<Arc<LocalCa>>,
    mqtt: Option<ferrocore_gateway::Listeners>,
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
        ApiState {
            inner: Arc::new(StateInner {
                registry,
                verifier,
                endpoints,
                data: None,
                rules: None,
                local_ca: None,
                mqtt: None,
            }),
        }
    }

    /// The state of an API with the `iot-data` data plane over `data`. The verifier's rules
    /// should accept [`sigv4::DATA_PLANE_SERVICES`] besides `iot`.
    pub fn with_data_plane(
        registry: Registry,
        verifier: Verifier,
        endpoints: Endpoints,
        data: DataPlane,
    ) -> ApiState {
        ApiState {
            inner: Arc::new(StateInner {
                registry,
                verifier,
                endpoints,
                data: Some(data),
                rules: None,
                local_ca: None,
                mqtt: None,
            }),
        }
    }

    /// The same state with the rules engine, which the topic rule routes call (without it
    /// they answer `ServiceUnavailableException`).
    pub fn with_rules(self, rules: RulesEngine) -> ApiState {
        let mut inner = (*self.inner).clone();
        inner.rules = Some(rules);
        ApiState { inner: Arc::new(inner) }
    }

    /// The rules engine, if this API has one.
    pub fn rules(&self) -> Option<&RulesEngine> {
        self.inner.rules.as_ref()
    }

    /// The same state with Ferrocore's local CA, which issues the certificates of
    /// CreateKeysAndCertificate and CreateCertificateFromCsr (without it they answer
    /// `ServiceUnavailableException`).
    pub fn with_local_ca(self, ca: Arc<LocalCa>) -> ApiState {
        let mut inner = (*self.inner).clone();
        inner.local_ca = Some(ca);
        ApiState { inner: Arc::new(inner) }
    }

    /// The same state with MQTT over WebSocket (`GET /mqtt` on the data plane): upgraded
    /// connections run as the gateway's connection tasks of `listeners` (without it the route
    /// answers `UnknownOperationException`).
    pub fn with_mqtt_over_websocket(self, listeners: ferrocore_gateway::Listeners) -> ApiState {
        let mut inner = (*self.inner).clone();
        inner.mqtt = Some(listeners);
        ApiState { inner: Arc::new(inner) }
    }

    /// What MQTT over WebSocket connections run with, if this API serves them.
    pub fn mqtt_listeners(&self) -> Option<&ferrocore_gateway::Listeners> {
        self.inner.mqtt.as_ref()
    }

    /// The local CA, if this API has one.
    pub fn local_ca(&self) -> Option<&Arc<LocalCa>> {
        self.inner.local_ca.as_ref()
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
    let mut router = Router::new();
    // The CA certificate devices must trust, without authentication (it is public).
    if let Some(ca) = state.local_ca() {
        let pem = ca.certificate_pem().to_owned();
        router = router.route(
            CA_PEM_PATH,
            axum::routing::get(move || async move {
                ([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], pem)
            }),
        );
    }
    router.fallback(sigv4::dispatch).with_state(sigv4::Planes { state, control, data })
}

/// Where the local CA's certificate is served, without authentication.
pub const CA_PEM_PATH: &str = "/ca.pem";

async fn unknown_operation(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownOperation,
        format!("Unknown operation: {method} {}", uri.path()),
    )
}

/// Serves [`app`] on the HTTPS connections the gateway hands over until `shutdown` resolves.
pub async fn serve_incoming(
    incoming: incoming::Incoming,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // The peer (address and device certificate) reaches the dispatch and the handlers.
    let app = app(state).into_make_service_with_connect_info::<incoming::Peer>();
    axum::serve(incoming.tap_io(|_| {}), app).with_graceful_shutdown(shutdown).await
}

/// Serves [`app`] on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address reaches handlers (MQTT over WebSocket reports it as the client's).
    let app = app(state).into_make_service_with_connect_info::<incoming::Peer>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
