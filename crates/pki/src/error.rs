//! [`PkiError`]: why a certificate, a CSR or the local CA could not be used.

/// Why a certificate, a CSR or the local CA could not be used. The messages name the fault and
/// are meant for the API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The text is not the PEM the operation needs (no block, several blocks, bad base64).
    #[error("{0}")]
    MalformedPem(String),
    /// The DER is not an X.509 certificate.
    #[error("The certificate could not be parsed: {0}")]
    MalformedCertificate(String),
    /// The certificate's notAfter has passed.
    #[error("The certificate has expired: it was valid until {not_after} and it is now {now}")]
    Expired {
        /// notAfter, RFC 3339.
        not_after: String,
        /// The time of the check, RFC 3339.
        now: String,
    },
    /// The certificate's notBefore is still to come.
    #[error("The certificate is not yet valid: it is valid from {not_before} and it is now {now}")]
    NotYetValid {
        /// notBefore, RFC 3339.
        not_before: String,
        /// The time of the check, RFC 3339.
        now: String,
    },
    /// The certificate was not issued by the given issuer (names differ, or the signature does
    /// not verify with the issuer's key).
    #[error("{0}")]
    NotSignedBy(String),
    /// The certificate signing request is malformed, unsupported or its signature is wrong.
    #[error("{0}")]
    InvalidCsr(String),
    /// A host name for a server certificate is not a DNS name or an IP address.
    #[error("'{0}' is neither a DNS name nor an IP address")]
    InvalidHostName(String),
    /// Generating a key or a certificate failed.
    #[error("could not generate a key or certificate: {0}")]
    Generate(String),
    /// Reading or writing the local CA's files failed, or they are corrupt.
    #[error("local CA in {path}: {message}")]
    CaFiles {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl From<rcgen::Error> for PkiError {
    fn from(error: rcgen::Error) -> Self {
        PkiError::Generate(error.to_string())
    }
}
