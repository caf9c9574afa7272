//! [`Verifier`]: SigV4 with the key store, for one endpoint's rules. The only I/O is the key
//! lookup on the store's read connection.

use std::time::SystemTime;

use crate::Principal;
use crate::keys::{KeyError, KeyStatus, KeyStore};
use crate::sigv4::{self, Rules, SigV4Error};

/// Why a request was not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The signature is missing, malformed, wrong, out of time or from an unknown key.
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    /// The key store could not be read.
    #[error("cannot read the access keys: {0}")]
    Keys(#[from] KeyError),
}

/// Verifies SigV4 requests against the stored access keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeyStore,
    rules: Rules,
}

impl Verifier {
    /// A verifier of requests to an endpoint with `rules`, with keys from `keys`.
    pub fn new(keys: KeyStore, rules: Rules) -> Verifier {
        Verifier { keys, rules }
    }

    /// The endpoint's rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Authenticates `request` at `now`. Refusals are logged (never with a secret).
    pub fn verify(
        &self,
        request: &sigv4::Request<'_>,
        now: SystemTime,
    ) -> Result<Principal, AuthError> {
        let mut lookup_error = None;
        let outcome = sigv4::verify(request, &self.rules, now, |id| match self.keys.get(id) {
            Ok(Some(key)) if key.status == KeyStatus::Active => Some(key),
            Ok(_) => None,
            Err(error) => {
                lookup_error = Some(error);
                None
            }
        });
        if let Some(error) = lookup_error {
            tracing::error!(%error, "access key lookup failed");
            return Err(AuthError::Keys(error));
        }
        match outcome {
            Ok(signed) => Ok(Principal::AccessKey {
                id: signed.access_key_id,
                admin: signed.key.admin,
                policy: signed.key.policy.clone(),
            }),
            Err(error) => {
                tracing::warn!(
                    method = request.method,
                    path = request.path,
                    reason = %error,
                    "request signature refused"
                );
                Err(AuthError::Signature(error))
            }
        }
    }
}
