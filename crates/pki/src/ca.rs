//! [`LocalCa`]: Ferrocore's own root certificate authority, kept in the data directory as
//! `ca.key` (PKCS#8 PEM, mode 0600) and `ca.pem`. It issues device certificates (with a new
//! key pair, or for a CSR) and the TLS server certificate.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use crate::{ParsedCertificate, PkiError, names};

/// The CA's private key file in the data directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// The CA's certificate file in the data directory.
pub const CA_CERT_FILE: &str = "ca.pem";

/// How long the local CA's certificate is valid.
const CA_VALIDITY: Duration = Duration::days(3653);
/// How long a server certificate is valid.
const SERVER_VALIDITY: Duration = Duration::days(397);
/// Issued certificates are valid from an hour ago, for clocks that lag.
const BACKDATE: Duration = Duration::hours(1);
/// AWS IoT's certificates for devices are valid until 2049-12-31T23:59:59Z.
const DEVICE_NOT_AFTER_UNIX_S: i64 = 2_524_607_999;
/// The subject CommonName AWS puts in the device certificates it issues.
const DEVICE_COMMON_NAME: &str = "AWS IoT Certificate";

/// A new key pair and the certificate the local CA issued for it (CreateKeysAndCertificate).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKeys {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The public key (SubjectPublicKeyInfo), PEM.
    pub public_key_pem: String,
    /// The private key (PKCS#8), PEM. Never stored.
    pub private_key_pem: String,
}

impl fmt::Debug for IssuedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKeys")
            .field("certificate_pem", &self.certificate_pem)
            .field("public_key_pem", &self.public_key_pem)
            .field("private_key_pem", &"[elided]")
            .finish()
    }
}

/// Ferrocore's own root CA.
pub struct LocalCa {
    certificate: ParsedCertificate,
    certificate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCa")
            .field("id", &self.certificate.id())
            .field("subject", &self.certificate.subject_common_name())
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA from `dir` (`ca.key`, `ca.pem`), creating what is missing: a new ECDSA
    /// P-256 key (written atomically, mode 0600) and a self-signed certificate valid for 10
    /// years. The directory is created if needed.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa, PkiError> {
        fs::create_dir_all(dir).map_err(|e| files_error(dir, e))?;
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        let key = match fs::read_to_string(&key_path) {
            Ok(text) => KeyPair::from_pem(&text).map_err(|e| PkiError::CaFiles {
                path: key_path.display().to_string(),
                message: format!("not a usable private key: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate()?;
                write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                tracing::info!(path = %key_path.display(), "created the local CA's key");
                key
            }
            Err(e) => return Err(files_error(&key_path, e)),
        };
        let certificate_pem = match fs::read_to_string(&cert_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = self_signed_ca(&key)?;
                write_atomically(&cert_path, pem.as_bytes(), 0o644)?;
                tracing::info!(path = %cert_path.display(), "created the local CA's certificate");
                pem
            }
            Err(e) => return Err(files_error(&cert_path, e)),
        };
        let corrupt =
            |message: String| PkiError::CaFiles { path: cert_path.display().to_string(), message };
        let certificate =
            ParsedCertificate::from_pem(&certificate_pem).map_err(|e| corrupt(e.to_string()))?;
        if certificate.public_key_der() != key.subject_public_key_info().as_slice() {
            return Err(corrupt(format!("the certificate is not for the key in {CA_KEY_FILE}")));
        }
        if !certificate.is_ca() {
            return Err(corrupt("the certificate is not a CA certificate".into()));
        }
        let issuer =
            Issuer::from_ca_cert_pem(&certificate_pem, key).map_err(|e| corrupt(e.to_string()))?;
        Ok(LocalCa { certificate, certificate_pem, issuer })
    }

    /// The CA's certificate.
    pub fn certificate(&self) -> &ParsedCertificate {
        &self.certificate
    }

    /// The CA's certificate as PEM, as in `ca.pem`.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// A new ECDSA P-256 key pair and a device certificate for it (CN "AWS IoT Certificate",
    /// random serial, valid from an hour ago until 2049-12-31T23:59:59Z as AWS's are).
    pub fn issue_device_keys(&self) -> Result<IssuedKeys, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = device_params()?;
        params.distinguished_name.push(DnType::CommonName, DEVICE_COMMON_NAME);
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedKeys {
            certificate_pem: certificate.pem(),
            public_key_pem: key.public_key_pem(),
            private_key_pem: key.serialize_pem(),
        })
    }

    /// A device certificate for a PEM certificate signing request: the CSR's signature must
    /// verify; the certificate keeps the CSR's public key (RSA or ECDSA) and subject, and has
    /// the validity of [`LocalCa::issue_device_keys`]. Requested extensions are not copied.
    pub fn issue_from_csr(&self, csr_pem: &str) -> Result<String, PkiError> {
        let blocks = pem::parse_many(csr_pem)
            .map_err(|e| PkiError::InvalidCsr(format!("The CSR's PEM is malformed: {e}")))?;
        let mut requests = blocks
            .iter()
            .filter(|b| matches!(b.tag(), "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"));
        let (Some(block), None, 1) = (requests.next(), requests.next(), blocks.len()) else {
            return Err(PkiError::InvalidCsr(
                "The CSR must be exactly one PEM '-----BEGIN CERTIFICATE REQUEST-----' block"
                    .into(),
            ));
        };
        let (rest, csr) = X509CertificationRequest::from_der(block.contents())
            .map_err(|e| PkiError::InvalidCsr(format!("The CSR could not be parsed: {e}")))?;
        if !rest.is_empty() {
            return Err(PkiError::InvalidCsr("Bytes follow the CSR".into()));
        }
        csr.verify_signature().map_err(|e| {
            PkiError::InvalidCsr(format!("The CSR's signature does not verify: {e}"))
        })?;
        let info = &csr.certification_request_info;
        let public_key =
            rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw).map_err(|e| {
                PkiError::InvalidCsr(format!("The CSR's public key is not supported: {e}"))
            })?;
        let mut params = device_params()?;
        params.distinguished_name = names::rcgen_name(&info.subject)?;
        let certificate = params.signed_by(&public_key, &self.issuer)?;
        Ok(certificate.pem())
    }

    /// A TLS server certificate and its new private key (PKCS#8 PEM), for `host_names`: each
    /// becomes a subjectAltName (an IP address if it parses as one, else a DNS name); the
    /// extended key usage is serverAuth.
    pub fn issue_server(&self, host_names: &[String]) -> Result<(String, String), PkiError> {
        let key = KeyPair::generate()?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, host_names.first().map_or("Ferrocore", String::as_str));
        params.distinguished_name.push(DnType::OrganizationName, "Ferrocore");
        for name in host_names {
            let san = match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) if is_dns_name(name) => SanType::DnsName(
                    name.clone().try_into().map_err(|_| PkiError::InvalidHostName(name.clone()))?,
                ),
                Err(_) => return Err(PkiError::InvalidHostName(name.clone())),
            };
            params.subject_alt_names.push(san);
        }
        params.not_before = now - BACKDATE;
        params.not_after = now + SERVER_VALIDITY;
        params.serial_number = Some(random_serial()?);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }
}

/// Whether `name` is a DNS name (labels of letters, digits and hyphens, a leading `*.` label
/// allowed).
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Parameters of a device certificate, with an empty subject.
fn device_params() -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.not_before = OffsetDateTime::now_utc() - BACKDATE;
    params.not_after = OffsetDateTime::from_unix_timestamp(DEVICE_NOT_AFTER_UNIX_S)
        .map_err(|e| PkiError::Generate(e.to_string()))?;
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// The self-signed certificate of a new local CA, PEM.
fn self_signed_ca(key: &KeyPair) -> Result<String, PkiError> {
    let now = OffsetDateTime::now_utc();
    let mut tag = [0_u8; 4];
    SystemRandom::new().fill(&mut tag).map_err(|_| PkiError::Generate("no randomness".into()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Ferrocore Local CA {}", hex::encode(tag)));
    params.distinguished_name.push(DnType::OrganizationName, "Ferrocore");
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params.self_signed(key)?.pem())
}

/// A random positive 16-byte serial number.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0_u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Generate("no randomness for a serial number".into()))?;
    // Positive, and no leading zero byte.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, created
/// with `mode`, synced, then renamed over `path`.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename durable.
        if let Ok(dir) = fs::File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = fs::remove_file(&tmp);
        files_error(path, e)
    })
}

fn files_error(path: &Path, error: std::io::Error) -> PkiError {
    PkiError::CaFiles { path: path.display().to_string(), message: error.to_string() }
}
