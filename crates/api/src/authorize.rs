//! Authorization of data-plane requests by who sent them.
//!
//! An access key (SigV4) may use the whole data plane unless it was given an IoT policy
//! (`ferrocore keys create --data-plane --policy NAME`), which then decides as for a device;
//! the dispatch already keeps data-plane keys off the control plane. A device that authenticated
//! with its X.509 certificate on the HTTPS port (no SigV4, as AWS IoT Core's port 8443) is held
//! to its IoT policies: `iot:Publish` (and `iot:RetainPublish`) on `topic/{topic}` for Publish,
//! `iot:GetThingShadow`, `iot:UpdateThingShadow`, `iot:DeleteThingShadow` on
//! `thing/{thing}[/{shadow}]`, `iot:ListNamedShadowsForThing` on `thing/{thing}`,
//! `iot:GetRetainedMessage` on `topic/{topic}` and `iot:ListRetainedMessages` on `*`, against
//! the policies of the certificate and of its things' groups. The connection APIs and MQTT over
//! WebSocket are IAM operations on AWS: a certificate may not call them.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ferrocore_auth::Principal;
use ferrocore_gateway::Registered;
use ferrocore_policy::{Action, Arns, Context, PolicyDocument, Request};
use ferrocore_registry::RegistryError;

use crate::ApiState;
use crate::error::{ApiError, ErrorCode};

/// The device certificate of a request that came without SigV4 over a TLS connection that
/// presented one (a request extension, beside [`Principal::Certificate`]).
#[derive(Debug, Clone)]
pub struct DeviceIdentity(pub Arc<Registered>);

/// Who sent a request, as the dispatch authenticated it (an extractor that never fails).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    principal: Option<Principal>,
    device: Option<DeviceIdentity>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Caller {
            principal: parts.extensions.get::<Principal>().cloned(),
            device: parts.extensions.get::<DeviceIdentity>().cloned(),
        })
    }
}

impl Caller {
    /// Who the caller is, as the rules engine's `principal()` reports it.
    pub(crate) fn name(&self) -> Option<Arc<str>> {
        match self.principal.as_ref()? {
            Principal::AccessKey { id, .. } | Principal::Certificate { id, .. } => {
                Some(Arc::from(id.as_str()))
            }
            _ => None,
        }
    }

    /// Refuses a device certificate: the operation is for access keys only.
    pub(crate) fn access_key_only(&self, operation: &str) -> Result<(), ApiError> {
        match &self.device {
            None => Ok(()),
            Some(DeviceIdentity(device)) => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("Certificate {} may not call {operation}: sign it with SigV4", device.id),
            )),
        }
    }

    /// Whether the caller may perform `action` on `resource`: the part of the ARN after
    /// `arn:aws:iot:{region}:{account}:`, or `*`.
    pub(crate) fn check(
        &self,
        state: &ApiState,
        action: Action,
        resource: &str,
    ) -> Result<(), ApiError> {
        let registry = state.registry();
        let (who, policies, context) = match (&self.device, &self.principal) {
            (Some(DeviceIdentity(device)), _) => {
                let context = Context {
                    certificate: Some(device.context.clone()),
                    secure_transport: Some(true),
                    ..Context::default()
                };
                (
                    format!("Certificate {}", device.id),
                    registry.effective_policies(&device.arn),
                    context,
                )
            }
            (None, Some(Principal::AccessKey { id, policy: Some(policy), .. })) => {
                let policies = registry.policies_by_name(std::slice::from_ref(policy));
                (format!("Access key {id}"), policies, Context::default())
            }
            // Other access keys: the whole data plane (see the module documentation).
            _ => return Ok(()),
        };
        let policies = match policies {
            Ok(policies) => policies,
            // A key's policy that was deleted grants nothing.
            Err(RegistryError::NotFound(_)) => Vec::new(),
            Err(error) => {
                tracing::error!(%who, %error, "cannot read the policies");
                return Err(ApiError::new(ErrorCode::InternalFailure, "cannot read the policies"));
            }
        };
        let documents: Vec<&PolicyDocument> =
            policies.iter().map(|p| p.document.as_ref()).collect();
        let arns = Arns::new(&registry.arns().region, &registry.arns().account);
        let arn =
            if resource == "*" { "*".to_owned() } else { format!("{}{resource}", arns.prefix()) };
        if ferrocore_policy::evaluate(&documents, &Request::new(action, arn), &context).allowed {
            return Ok(());
        }
        tracing::info!(%who, action = action.name(), resource, "data-plane request denied");
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("{who} is not authorized to perform {} on {resource}", action.name()),
        ))
    }
}

/// The shadow resource `thing/{thing}` or `thing/{thing}/{shadow}`.
pub(crate) fn shadow_resource(thing: &str, shadow: Option<&str>) -> String {
    match shadow {
        Some(shadow) => format!("thing/{thing}/{shadow}"),
        None => format!("thing/{thing}"),
    }
}
