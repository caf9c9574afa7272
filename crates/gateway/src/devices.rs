//! Devices that authenticate with an X.509 client certificate: who they are, and what becomes
//! of their connections when their certificate changes.
//!
//! After the TLS handshake, [`Devices::authenticate`] looks the presented certificate up in the
//! registry by its id (the hex SHA-256 of its DER, as AWS IoT Core names certificates). It may
//! connect only if it is registered and ACTIVE, within its validity, and, when it was
//! registered through a CA certificate, that CA is ACTIVE too. Any other certificate gets an
//! authorizer that refuses CONNECT, with a log line naming the certificate id.
//!
//! Every accepted connection is tracked by certificate; [`Devices::watch`] follows the
//! registry's change notices and closes the connections of a certificate that is deactivated,
//! revoked or deleted, or whose CA is.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use ferrocore_broker::{CloseReason, Link};
use ferrocore_mqtt::ReasonCode;
use ferrocore_pki::ParsedCertificate;
use ferrocore_policy::{Arns, CertificateContext};
use ferrocore_registry::{CaCertificateStatus, Certificate, CertificateStatus, Change, Registry};
use parking_lot::Mutex;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::authorize::PolicyAuthorizer;

/// A device certificate that passed authentication.
#[derive(Debug)]
pub struct Registered {
    /// The certificate id.
    pub id: String,
    /// Its ARN, the principal policies are attached to.
    pub arn: String,
    /// The CA certificate it was registered through, if any.
    pub ca: Option<String>,
    /// Its fields, for the `iot:Certificate.*` policy variables.
    pub context: CertificateContext,
}

/// The registry view of device certificates, shared by every TLS listener.
#[derive(Debug, Clone)]
pub struct Devices {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    arns: Arns,
    /// Live connections by certificate id.
    tracked: Mutex<HashMap<String, Tracked>>,
}

#[derive(Debug, Default)]
struct Tracked {
    ca: Option<String>,
    links: Vec<Weak<Link>>,
}

impl Devices {
    /// Devices registered in `registry`.
    pub fn new(registry: Registry) -> Devices {
        let arns = Arns::new(&registry.arns().region, &registry.arns().account);
        Devices { inner: Arc::new(Inner { registry, arns, tracked: Mutex::new(HashMap::new()) }) }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn policy_arns(&self) -> &Arns {
        &self.inner.arns
    }

    /// The authorizer for a connection that presented `der` (or nothing) in its handshake.
    pub fn authenticate(
        &self,
        der: Option<&[u8]>,
        peer: Option<std::net::SocketAddr>,
    ) -> PolicyAuthorizer {
        match self.check(der) {
            Ok(registered) => PolicyAuthorizer::device(self.clone(), Arc::new(registered), peer),
            Err(refusal) => {
                tracing::info!(?peer, %refusal, "client certificate refused");
                PolicyAuthorizer::refused(refusal.principal())
            }
        }
    }

    /// The registered certificate `der` is, if it may be used now (registered, ACTIVE, valid,
    /// its CA ACTIVE); otherwise why not, naming the certificate id.
    pub fn identify(&self, der: &[u8]) -> Result<Registered, String> {
        self.check(Some(der)).map_err(|refusal| refusal.to_string())
    }

    fn check(&self, der: Option<&[u8]>) -> Result<Registered, Refusal> {
        let der = der.ok_or(Refusal::NoCertificate)?;
        let parsed =
            ParsedCertificate::from_der(der).map_err(|e| Refusal::Unreadable(e.to_string()))?;
        let id = parsed.id().to_owned();
        let certificate = self.admissible(&id)?;
        if let Err(error) = parsed.check_validity(now_ms()) {
            return Err(Refusal::Validity(id, error.to_string()));
        }
        Ok(Registered {
            id,
            arn: certificate.arn,
            ca: certificate.ca_certificate_id,
            context: parsed.policy_context(),
        })
    }

    /// The registered certificate `id` if it is ACTIVE and so is the CA it was registered
    /// through, if any.
    fn admissible(&self, id: &str) -> Result<Certificate, Refusal> {
        let registry = &self.inner.registry;
        let certificate =
            registry.describe_certificate(id).map_err(|_| Refusal::NotRegistered(id.to_owned()))?;
        if certificate.status != CertificateStatus::Active {
            return Err(Refusal::Status(id.to_owned(), certificate.status.as_str().to_owned()));
        }
        if let Some(ca) = &certificate.ca_certificate_id {
            let active = registry
                .describe_ca_certificate(ca)
                .is_ok_and(|ca| ca.status == CaCertificateStatus::Active);
            if !active {
                return Err(Refusal::CaNotActive(id.to_owned(), ca.clone()));
            }
        }
        Ok(certificate)
    }

    /// Tracks a live connection of `certificate`, to close it if the certificate goes.
    pub(crate) fn track(&self, certificate: &Registered, link: &Arc<Link>) {
        let mut tracked = self.inner.tracked.lock();
        let entry = tracked.entry(certificate.id.clone()).or_default();
        entry.ca.clone_from(&certificate.ca);
        entry.links.retain(|l| l.strong_count() > 0);
        entry.links.push(Arc::downgrade(link));
    }

    /// Follows the registry's change notices until `shutdown`, closing the connections of
    /// certificates that may no longer connect.
    pub async fn watch(self, shutdown: CancellationToken) {
        let mut changes = self.inner.registry.subscribe();
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                () = shutdown.cancelled() => return,
            };
            match change {
                Ok(Change::Certificate { id }) => self.recheck(|cert, _| cert == id),
                Ok(Change::CaCertificate { id }) => {
                    self.recheck(|_, tracked| tracked.ca.as_deref() == Some(id.as_str()));
                }
                Ok(Change::Authorization) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "registry notices missed; checking every connection");
                    self.recheck(|_, _| true);
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Checks the tracked certificates that `which` selects again, and kicks the connections
    /// of those that fail.
    fn recheck(&self, which: impl Fn(&str, &Tracked) -> bool) {
        let candidates: Vec<String> = {
            let mut tracked = self.inner.tracked.lock();
            tracked.retain(|_, t| {
                t.links.retain(|l| l.strong_count() > 0);
                !t.links.is_empty()
            });
            tracked.iter().filter(|(id, t)| which(id, t)).map(|(id, _)| id.clone()).collect()
        };
        for id in candidates {
            let refusal = self.admissible(&id).err();
            let Some(refusal) = refusal else { continue };
            let links = self.inner.tracked.lock().remove(&id).map(|t| t.links).unwrap_or_default();
            let mut closed = 0;
            for link in links.iter().filter_map(Weak::upgrade) {
                link.kick(CloseReason::Forbidden(ReasonCode::NotAuthorized));
                closed += 1;
            }
            tracing::info!(certificate = id, %refusal, closed, "closing the connections of a certificate");
        }
    }
}

/// Why a certificate may not connect.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("the client certificate does not parse: {0}")]
    Unreadable(String),
    #[error("certificate {0} is not registered")]
    NotRegistered(String),
    #[error("certificate {0} is {1}, not ACTIVE")]
    Status(String, String),
    #[error("certificate {0} is not valid now: {1}")]
    Validity(String, String),
    #[error("certificate {0} was registered through CA certificate {1}, which is not ACTIVE")]
    CaNotActive(String, String),
}

impl Refusal {
    /// The principal to name in logs and lifecycle events.
    fn principal(&self) -> String {
        match self {
            Refusal::NoCertificate | Refusal::Unreadable(_) => "anonymous".to_owned(),
            Refusal::NotRegistered(id)
            | Refusal::Status(id, _)
            | Refusal::Validity(id, _)
            | Refusal::CaNotActive(id, _) => id.clone(),
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(ferrocore_broker::now_ms()).unwrap_or(i64::MAX)
}
