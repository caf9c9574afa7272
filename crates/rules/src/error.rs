//! [`RulesError`]: every way a rules operation fails, each meant for one AWS error (the `api`
//! crate's table maps them).

use ferrocore_store::{StoreError, rusqlite};

/// Why a rules operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The input breaks a rule of the model or of the engine (`InvalidRequestException`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The rule's SQL does not parse (`SqlParseException`); the message names the position.
    #[error("{0}")]
    SqlParse(String),
    /// No rule of that name. AWS answers `UnauthorizedException` for a rule it cannot find.
    #[error("{0}")]
    RuleNotFound(String),
    /// No topic rule destination of that ARN or confirmation token.
    #[error("{0}")]
    DestinationNotFound(String),
    /// A resource of that name already exists (`ResourceAlreadyExistsException`).
    #[error("{message}")]
    AlreadyExists {
        /// What is wrong.
        message: String,
        /// The existing resource's id (the rule name, or the destination's ARN).
        resource_id: String,
        /// The existing resource's ARN.
        resource_arn: String,
    },
    /// The change conflicts with the resource's state (`ConflictingResourceUpdateException`).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for RulesError {
    fn from(error: StoreError) -> Self {
        RulesError::Store(error.to_string())
    }
}

impl From<rusqlite::Error> for RulesError {
    fn from(error: rusqlite::Error) -> Self {
        RulesError::Store(error.to_string())
    }
}

/// Shorthand for [`RulesError::InvalidRequest`].
pub(crate) fn invalid(message: impl Into<String>) -> RulesError {
    RulesError::InvalidRequest(message.into())
}
