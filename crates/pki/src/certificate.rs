//! [`ParsedCertificate`]: one X.509 certificate, parsed once and checked on demand.

use ferrocore_policy::context::CertificateContext;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::{PkiError, format_ms, names};

/// One parsed X.509 certificate. It owns its DER; the fields checks need are extracted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    der: Vec<u8>,
    id: String,
    not_before_ms: i64,
    not_after_ms: i64,
    is_ca: bool,
    public_key: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    subject_common_name: Option<String>,
    context: CertificateContext,
}

impl ParsedCertificate {
    /// Parses PEM text holding exactly one `CERTIFICATE` block.
    pub fn from_pem(pem: &str) -> Result<ParsedCertificate, PkiError> {
        let blocks = pem::parse_many(pem).map_err(|e| {
            PkiError::MalformedPem(format!("The certificate PEM is malformed: {e}"))
        })?;
        let mut certificates = blocks.iter().filter(|b| b.tag() == "CERTIFICATE");
        let Some(block) = certificates.next() else {
            return Err(PkiError::MalformedPem(
                "The certificate PEM holds no '-----BEGIN CERTIFICATE-----' block".into(),
            ));
        };
        if certificates.next().is_some() {
            return Err(PkiError::MalformedPem(
                "The certificate PEM holds more than one certificate; exactly one is expected"
                    .into(),
            ));
        }
        if let Some(other) = blocks.iter().find(|b| b.tag() != "CERTIFICATE") {
            return Err(PkiError::MalformedPem(format!(
                "The certificate PEM holds a '{}' block; only one CERTIFICATE block is expected",
                other.tag()
            )));
        }
        ParsedCertificate::from_der(block.contents())
    }

    /// Parses one DER-encoded certificate (nothing may follow it).
    pub fn from_der(der: &[u8]) -> Result<ParsedCertificate, PkiError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| PkiError::MalformedCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(PkiError::MalformedCertificate(format!(
                "{} bytes follow the certificate",
                rest.len()
            )));
        }
        let validity = cert.validity();
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| PkiError::MalformedCertificate(format!("basicConstraints: {e}")))?
            .is_some_and(|bc| bc.value.ca);
        let subject_common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let subject_alt_names = match cert.subject_alternative_name() {
            Ok(Some(san)) => names::alt_names(san.value.general_names.iter()),
            _ => Default::default(),
        };
        let issuer_alt_names = cert
            .extensions()
            .iter()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::IssuerAlternativeName(ian) => {
                    Some(names::alt_names(ian.general_names.iter()))
                }
                _ => None,
            })
            .unwrap_or_default();
        let context = CertificateContext {
            serial_number: Some(hex::encode(cert.raw_serial())),
            subject: names::distinguished_name(cert.subject()),
            issuer: names::distinguished_name(cert.issuer()),
            subject_alt_names,
            issuer_alt_names,
        };
        Ok(ParsedCertificate {
            der: der.to_vec(),
            id: hex::encode(Sha256::digest(der)),
            not_before_ms: validity.not_before.timestamp().saturating_mul(1000),
            not_after_ms: validity.not_after.timestamp().saturating_mul(1000),
            is_ca,
            public_key: cert.public_key().raw.to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            subject_common_name,
            context,
        })
    }

    /// The certificate id: lowercase hex SHA-256 of the DER (AWS's `certificateId`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM (LF line endings).
    pub fn pem(&self) -> String {
        der_to_pem("CERTIFICATE", &self.der)
    }

    /// notBefore, in milliseconds since the Unix epoch.
    pub fn not_before_ms(&self) -> i64 {
        self.not_before_ms
    }

    /// notAfter, in milliseconds since the Unix epoch.
    pub fn not_after_ms(&self) -> i64 {
        self.not_after_ms
    }

    /// Checks that `now_ms` lies within the certificate's validity period.
    pub fn check_validity(&self, now_ms: i64) -> Result<(), PkiError> {
        if now_ms < self.not_before_ms {
            return Err(PkiError::NotYetValid {
                not_before: format_ms(self.not_before_ms),
                now: format_ms(now_ms),
            });
        }
        if now_ms > self.not_after_ms {
            return Err(PkiError::Expired {
                not_after: format_ms(self.not_after_ms),
                now: format_ms(now_ms),
            });
        }
        Ok(())
    }

    /// Whether basicConstraints says CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Checks that `issuer` issued this certificate: this certificate's issuer name is
    /// `issuer`'s subject, and the signature verifies with `issuer`'s public key.
    pub fn verify_signed_by(&self, issuer: &ParsedCertificate) -> Result<(), PkiError> {
        let (_, this) = X509Certificate::from_der(&self.der)
            .map_err(|e| PkiError::MalformedCertificate(e.to_string()))?;
        let (_, other) = X509Certificate::from_der(&issuer.der)
            .map_err(|e| PkiError::MalformedCertificate(e.to_string()))?;
        let names_match = self.issuer == issuer.subject
            || this.issuer().to_string() == other.subject().to_string();
        if !names_match {
            return Err(PkiError::NotSignedBy(format!(
                "The certificate's issuer '{}' is not the subject of the issuing certificate '{}'",
                this.issuer(),
                other.subject()
            )));
        }
        this.verify_signature(Some(other.public_key())).map_err(|e| {
            PkiError::NotSignedBy(format!(
                "The certificate's signature does not verify with the key of '{}': {e}",
                other.subject()
            ))
        })
    }

    /// The SubjectPublicKeyInfo, DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    /// The subject name, DER (to find the certificate that issued another).
    pub fn subject_der(&self) -> &[u8] {
        &self.subject
    }

    /// The issuer name, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer
    }

    /// The first CommonName of the subject, if it is a string.
    pub fn subject_common_name(&self) -> Option<String> {
        self.subject_common_name.clone()
    }

    /// The values of AWS's `iot:Certificate.*` policy variables for this certificate. The
    /// serial number is lowercase hex of its bytes.
    pub fn policy_context(&self) -> CertificateContext {
        self.context.clone()
    }
}

/// DER as PEM with `tag`, LF line endings.
pub(crate) fn der_to_pem(tag: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der), config)
}
