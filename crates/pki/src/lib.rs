//! X.509 for Ferrocore: parse and check certificates ([`ParsedCertificate`]), and Ferrocore's
//! own certificate authority ([`LocalCa`]) that issues device certificates (AWS's
//! CreateKeysAndCertificate and CreateCertificateFromCsr) and the TLS server certificate.
//!
//! It owns no state besides the CA's two files in the data directory, and knows nothing of the
//! registry, HTTP or AWS error names: [`PkiError`]'s messages are meant to be returned to an API
//! caller as they are (as `CertificateValidationException`).
//!
//! Crypto: `ring` (key generation, signing through `rcgen`, signature checks through
//! `x509-parser`'s `verify` feature).

mod ca;
mod certificate;
mod error;
mod names;

pub use ca::{CA_CERT_FILE, CA_KEY_FILE, IssuedKeys, LocalCa};
pub use certificate::ParsedCertificate;
pub use error::PkiError;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A time in milliseconds since the Unix epoch as RFC 3339 (for messages).
pub(crate) fn format_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms since the epoch"))
}
