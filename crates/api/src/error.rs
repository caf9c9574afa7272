//! The AWS error catalogue of the HTTP API: one table ([`ERROR_TABLE`]) gives every error its
//! AWS name and HTTP status, and [`ApiError`] turns into the response the SDKs parse: status,
//! `x-amzn-ErrorType: <Name>` and a JSON body `{"message": ...}`.
//!
//! Statuses are those of botocore's `iot` and `iot-data` models (the names they share have the
//! same status in both); the authentication errors (which the models do not list) are those
//! AWS's front end answers, 403 for all but an unknown route.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocore_auth::AuthError;
use ferrocore_auth::sigv4::Failure;
use ferrocore_registry::RegistryError;
use ferrocore_rules::RulesError;

/// Every error the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request breaks the model's or the registry's rules.
    InvalidRequest,
    /// A named resource does not exist.
    ResourceNotFound,
    /// A resource of that name exists, differently configured.
    ResourceAlreadyExists,
    /// `expectedVersion` is stale.
    VersionConflict,
    /// The resource is in use.
    DeleteConflict,
    /// A quota would be exceeded.
    LimitExceeded,
    /// Too many requests.
    Throttling,
    /// Not allowed.
    Unauthorized,
    /// A bug or a store failure.
    InternalFailure,
    /// Not available now.
    ServiceUnavailable,
    /// No signature.
    MissingAuthenticationToken,
    /// A signature with parts missing.
    IncompleteSignature,
    /// A signature that does not verify, or is out of time or scope.
    InvalidSignature,
    /// An unknown or revoked access key.
    UnrecognizedClient,
    /// A key that may not call this API.
    AccessDenied,
    /// No such route.
    UnknownOperation,
    /// iot-data: the shadow's `version` is stale.
    Conflict,
    /// iot-data: a payload or document over the size limit.
    RequestEntityTooLarge,
    /// iot-data: a shadow document that is not UTF-8 JSON.
    UnsupportedDocumentEncoding,
    /// iot-data: the route exists, not with this method.
    MethodNotAllowed,
    /// iot-data: the caller may not do this (a reserved topic, say).
    Forbidden,
    /// A topic rule's SQL does not parse.
    SqlParse,
    /// A change that conflicts with the resource's state (topic rules, destinations).
    ConflictingResourceUpdate,
    /// A policy document that is not a valid AWS IoT policy.
    MalformedPolicy,
    /// A policy already has five versions.
    VersionsLimitExceeded,
    /// A certificate is malformed, expired, not yet valid, or not signed as required.
    CertificateValidation,
    /// The certificate's status does not allow the operation.
    CertificateState,
    /// Several registered CA certificates could have signed the certificate.
    CertificateConflict,
    /// The verification certificate does not carry the registration code.
    RegistrationCodeValidation,
    /// iot-data: SendDirectMessage's receiver did not acknowledge in time.
    GatewayTimeout,
}

/// The table: each error, its AWS name and its HTTP status. A test keeps names and codes
/// unique and every variant present.
pub const ERROR_TABLE: &[(ErrorCode, &str, u16)] = &[
    (ErrorCode::InvalidRequest, "InvalidRequestException", 400),
    (ErrorCode::ResourceNotFound, "ResourceNotFoundException", 404),
    (ErrorCode::ResourceAlreadyExists, "ResourceAlreadyExistsException", 409),
    (ErrorCode::VersionConflict, "VersionConflictException", 409),
    (ErrorCode::DeleteConflict, "DeleteConflictException", 409),
    (ErrorCode::LimitExceeded, "LimitExceededException", 410),
    (ErrorCode::Throttling, "ThrottlingException", 400),
    (ErrorCode::Unauthorized, "UnauthorizedException", 401),
    (ErrorCode::InternalFailure, "InternalFailureException", 500),
    (ErrorCode::ServiceUnavailable, "ServiceUnavailableException", 503),
    (ErrorCode::MissingAuthenticationToken, "MissingAuthenticationTokenException", 403),
    (ErrorCode::IncompleteSignature, "IncompleteSignatureException", 403),
    (ErrorCode::InvalidSignature, "InvalidSignatureException", 403),
    (ErrorCode::UnrecognizedClient, "UnrecognizedClientException", 403),
    (ErrorCode::AccessDenied, "AccessDeniedException", 403),
    (ErrorCode::UnknownOperation, "UnknownOperationException", 404),
    (ErrorCode::Conflict, "ConflictException", 409),
    (ErrorCode::RequestEntityTooLarge, "RequestEntityTooLargeException", 413),
    (ErrorCode::UnsupportedDocumentEncoding, "UnsupportedDocumentEncodingException", 415),
    (ErrorCode::MethodNotAllowed, "MethodNotAllowedException", 405),
    (ErrorCode::Forbidden, "ForbiddenException", 403),
    (ErrorCode::SqlParse, "SqlParseException", 400),
    (ErrorCode::ConflictingResourceUpdate, "ConflictingResourceUpdateException", 409),
    (ErrorCode::MalformedPolicy, "MalformedPolicyException", 400),
    (ErrorCode::VersionsLimitExceeded, "VersionsLimitExceededException", 409),
    (ErrorCode::CertificateValidation, "CertificateValidationException", 400),
    (ErrorCode::CertificateState, "CertificateStateException", 406),
    (ErrorCode::CertificateConflict, "CertificateConflictException", 409),
    (ErrorCode::RegistrationCodeValidation, "RegistrationCodeValidationException", 400),
    (ErrorCode::GatewayTimeout, "GatewayTimeoutException", 504),
];

impl ErrorCode {
    fn entry(self) -> (&'static str, u16) {
        ERROR_TABLE
            .iter()
            .find(|(code, _, _)| *code == self)
            .map(|(_, name, status)| (*name, *status))
            // A test proves every code is in the table.
            .unwrap_or(("InternalFailureException", 500))
    }

    /// The AWS name, such as `ResourceNotFoundException`.
    pub fn name(self) -> &'static str {
        self.entry().0
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.entry().1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which error.
    pub code: ErrorCode,
    /// The message for the caller.
    pub message: String,
    /// For `ResourceAlreadyExists`: the existing resource's id and ARN.
    pub existing: Option<(String, String)>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), existing: None }
    }

    /// An `InvalidRequestException`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "message": self.message });
        if let Some((id, arn)) = self.existing {
            body["resourceId"] = id.into();
            body["resourceArn"] = arn.into();
        }
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code.name()));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::InvalidRequest(m) => ApiError::new(ErrorCode::InvalidRequest, m),
            RegistryError::NotFound(m) => ApiError::new(ErrorCode::ResourceNotFound, m),
            RegistryError::AlreadyExists { message, resource_id, resource_arn } => ApiError {
                code: ErrorCode::ResourceAlreadyExists,
                message,
                existing: Some((resource_id, resource_arn)),
            },
            RegistryError::VersionConflict(m) => ApiError::new(ErrorCode::VersionConflict, m),
            RegistryError::DeleteConflict(m) => ApiError::new(ErrorCode::DeleteConflict, m),
            RegistryError::LimitExceeded(m) => ApiError::new(ErrorCode::LimitExceeded, m),
            RegistryError::MalformedPolicy(m) => ApiError::new(ErrorCode::MalformedPolicy, m),
            RegistryError::VersionsLimitExceeded(m) => {
                ApiError::new(ErrorCode::VersionsLimitExceeded, m)
            }
            RegistryError::CertificateValidation(m) => {
                ApiError::new(ErrorCode::CertificateValidation, m)
            }
            RegistryError::CertificateState(m) => ApiError::new(ErrorCode::CertificateState, m),
            RegistryError::CertificateConflict(m) => {
                ApiError::new(ErrorCode::CertificateConflict, m)
            }
            RegistryError::RegistrationCodeValidation(m) => {
                ApiError::new(ErrorCode::RegistrationCodeValidation, m)
            }
            RegistryError::Store(detail) => {
                tracing::error!(%detail, "registry store failure");
                ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred")
            }
            other => {
                tracing::error!(error = %other, "unexpected registry error");
                ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred")
            }
        }
    }
}

impl From<RulesError> for ApiError {
    fn from(error: RulesError) -> Self {
        match error {
            RulesError::InvalidRequest(m) | RulesError::DestinationNotFound(m) => {
                ApiError::new(ErrorCode::InvalidRequest, m)
            }
            RulesError::SqlParse(m) => ApiError::new(ErrorCode::SqlParse, m),
            // AWS answers a rule it cannot find with UnauthorizedException (the model lists
            // no ResourceNotFoundException for topic rules).
            RulesError::RuleNotFound(m) => ApiError::new(ErrorCode::Unauthorized, m),
            RulesError::AlreadyExists { message, resource_id, resource_arn } => ApiError {
                code: ErrorCode::ResourceAlreadyExists,
                message,
                existing: Some((resource_id, resource_arn)),
            },
            RulesError::Conflict(m) => ApiError::new(ErrorCode::ConflictingResourceUpdate, m),
            other => {
                tracing::error!(error = %other, "rules engine failure");
                ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred")
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Signature(error) => {
                let code = match error.failure() {
                    Failure::MissingAuthenticationToken => ErrorCode::MissingAuthenticationToken,
                    Failure::IncompleteSignature => ErrorCode::IncompleteSignature,
                    Failure::InvalidSignature => ErrorCode::InvalidSignature,
                    Failure::UnrecognizedClient => ErrorCode::UnrecognizedClient,
                };
                ApiError::new(code, error.to_string())
            }
            AuthError::Keys(_) => {
                ApiError::new(ErrorCode::InternalFailure, "An internal failure occurred")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every variant; the match makes the compiler flag a variant missing here.
    fn all() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let every = [
            InvalidRequest,
            ResourceNotFound,
            ResourceAlreadyExists,
            VersionConflict,
            DeleteConflict,
            LimitExceeded,
            Throttling,
            Unauthorized,
            InternalFailure,
            ServiceUnavailable,
            MissingAuthenticationToken,
            IncompleteSignature,
            InvalidSignature,
            UnrecognizedClient,
            AccessDenied,
            UnknownOperation,
            Conflict,
            RequestEntityTooLarge,
            UnsupportedDocumentEncoding,
            MethodNotAllowed,
            Forbidden,
            SqlParse,
            ConflictingResourceUpdate,
            MalformedPolicy,
            VersionsLimitExceeded,
            CertificateValidation,
            CertificateState,
            CertificateConflict,
            RegistrationCodeValidation,
            GatewayTimeout,
        ];
        for code in every {
            match code {
                InvalidRequest
                | ResourceNotFound
                | ResourceAlreadyExists
                | VersionConflict
                | DeleteConflict
                | LimitExceeded
                | Throttling
                | Unauthorized
                | InternalFailure
                | ServiceUnavailable
                | MissingAuthenticationToken
                | IncompleteSignature
                | InvalidSignature
                | UnrecognizedClient
                | AccessDenied
                | UnknownOperation
                | Conflict
                | RequestEntityTooLarge
                | UnsupportedDocumentEncoding
                | MethodNotAllowed
                | Forbidden
                | SqlParse
                | ConflictingResourceUpdate
                | MalformedPolicy
                | VersionsLimitExceeded
                | CertificateValidation
                | CertificateState
                | CertificateConflict
                | RegistrationCodeValidation
                | GatewayTimeout => {}
            }
        }
        every.to_vec()
    }

    #[test]
    fn the_table_has_every_code_once_and_no_duplicate_names() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for (code, name, status) in ERROR_TABLE {
            assert!(codes.insert(*code), "{code:?} twice");
            assert!(names.insert(*name), "{name} twice");
            assert!(name.ends_with("Exception"), "{name}");
            assert!(StatusCode::from_u16(*status).is_ok(), "{status}");
        }
        for code in all() {
            assert!(codes.contains(&code), "{code:?} missing from the table");
        }
        assert_eq!(codes.len(), all().len());
    }

    #[test]
    fn statuses_follow_the_iot_model() {
        assert_eq!(ErrorCode::InvalidRequest.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::ResourceNotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(ErrorCode::VersionConflict.status(), StatusCode::CONFLICT);
        assert_eq!(ErrorCode::LimitExceeded.status().as_u16(), 410);
        assert_eq!(ErrorCode::Unauthorized.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn responses_carry_the_error_type_header_and_a_message() {
        let error = ApiError {
            code: ErrorCode::ResourceAlreadyExists,
            message: "Thing t already exists".into(),
            existing: Some(("id-1".into(), "arn:x".into())),
        };
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()["x-amzn-ErrorType"], "ResourceAlreadyExistsException");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["message"], "Thing t already exists");
        assert_eq!(json["resourceId"], "id-1");
        assert_eq!(json["resourceArn"], "arn:x");
    }
}
