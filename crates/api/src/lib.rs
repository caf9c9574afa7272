//! The HTTP API of Ferrocore: AWS's REST-JSON protocol, so that the AWS CLI, boto3 and the AWS
//! SDKs work unchanged with `--endpoint-url`.
//!
//! - [`iot`]: the `iot` control plane router (registry operations, DescribeEndpoint), with the
//!   routes, member names and status codes of botocore's model.
//! - [`sigv4`]: the middleware that authenticates every request with SigV4 before any handler.
//! - [`error`]: the one table of AWS error names and statuses, and the error response.
//! - [`extract`] and [`pagination`]: request parsing that answers `InvalidRequestException`.
//!
//! ```text
//! TCP --> axum --> sigv4 middleware (Verifier, needs an admin key for `iot`)
//!                   --> iot router --> Registry --> store
//!                   --> no route: UnknownOperationException
//! ```
//!
//! It must not hold registry rules or SQL (those are in `registry`), nor signature logic (in
//! `auth`): it maps HTTP to those calls and their results back to HTTP. One router per AWS
//! service; the data planes (`iot-data`, `iot-jobs-data`) will add theirs here.

pub mod error;
pub mod extract;
pub mod iot;
pub mod pagination;
pub mod sigv4;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use ferrocore_auth::Verifier;
use ferrocore_registry::Registry;
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
}

impl ApiState {
    /// The state of an API over `registry`, authenticating with `verifier`.
    pub fn new(registry: Registry, verifier: Verifier, endpoints: Endpoints) -> ApiState {
        ApiState { inner: Arc::new(StateInner { registry, verifier, endpoints }) }
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
    iot::router()
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .layer(axum::middleware::from_fn_with_state(state.clone(), sigv4::authenticate))
        .with_state(state)
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
