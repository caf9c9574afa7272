//! [`RegistryError`]: every way a registry operation fails, each meant for one AWS error (the
//! `api` crate's table maps them).

use ferrocore_store::{StoreError, rusqlite};

/// Why a registry operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The input breaks a rule of the model (pattern, length, limit) or of the registry.
    #[error("{0}")]
    InvalidRequest(String),
    /// A resource the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A resource of that name exists with a different configuration.
    #[error("{message}")]
    AlreadyExists {
        /// What is wrong.
        message: String,
        /// The existing resource's id.
        resource_id: String,
        /// The existing resource's ARN.
        resource_arn: String,
    },
    /// `expectedVersion` is not the current version.
    #[error("{0}")]
    VersionConflict(String),
    /// The resource is still in use.
    #[error("{0}")]
    DeleteConflict(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// A policy document that is not a valid AWS IoT policy (the message names the fault).
    #[error("{0}")]
    MalformedPolicy(String),
    /// A policy already has the most versions it may have.
    #[error("{0}")]
    VersionsLimitExceeded(String),
    /// A certificate is malformed, expired, not yet valid, not a CA where one is needed, or not
    /// signed by the CA it must be signed by (the message says which).
    #[error("{0}")]
    CertificateValidation(String),
    /// The certificate's status does not allow the operation.
    #[error("{0}")]
    CertificateState(String),
    /// Several registered CA certificates could have signed the certificate.
    #[error("{0}")]
    CertificateConflict(String),
    /// The verification certificate does not carry the registration code.
    #[error("{0}")]
    RegistrationCodeValidation(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for RegistryError {
    fn from(error: StoreError) -> Self {
        RegistryError::Store(error.to_string())
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(error: rusqlite::Error) -> Self {
        RegistryError::Store(error.to_string())
    }
}

impl From<serde_json::Error> for RegistryError {
    fn from(error: serde_json::Error) -> Self {
        RegistryError::Store(format!("corrupt JSON in the registry: {error}"))
    }
}

/// Shorthand for [`RegistryError::InvalidRequest`].
pub(crate) fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::InvalidRequest(message.into())
}
