//! TLS for the device gateway: the rustls server configuration (TLS 1.2 and 1.3 only, the
//! `ring` provider), and the client-certificate verifier that asks devices for a certificate.
//!
//! The verifier checks only that the client holds the private key of the certificate it
//! presents (the handshake signature). Whether that certificate may connect (registered,
//! ACTIVE, its CA ACTIVE, within its validity) is decided after the handshake from the
//! registry, as AWS IoT Core does, so that the refusal names the certificate id in a log line
//! and reaches the client as an MQTT "not authorized".

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

/// The ALPN protocol name AWS IoT Core uses for MQTT with a client certificate on port 443.
pub const ALPN_MQTT: &[u8] = b"x-amzn-mqtt-ca";
/// HTTP/1.1's ALPN protocol name.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate chain PEM holds no certificate, or does not parse.
    #[error("server certificate: {0}")]
    Certificate(String),
    /// The private key PEM holds no key, or does not parse.
    #[error("server private key: {0}")]
    Key(String),
    /// rustls refused the configuration (a key that does not match the certificate, say).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Whether a listener asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every client must present one (MQTT over TLS, port 8883).
    Required,
    /// Clients may present one (the HTTPS port, where SigV4 requests come without one and
    /// MQTT with ALPN `x-amzn-mqtt-ca` needs one).
    Optional,
}

/// A server configuration for `cert_chain_pem` (leaf first) and `key_pem`, offering `alpn`.
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no CERTIFICATE block in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Key(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(DeviceCertificates {
        algorithms: provider.signature_verification_algorithms,
        mandatory: client_auth == ClientAuth::Required,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The verifier: any certificate whose key signed the handshake; registration is checked
/// after the handshake.
#[derive(Debug)]
struct DeviceCertificates {
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl ClientCertVerifier for DeviceCertificates {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a client then presents whatever certificate it has (RFC 8446 4.2.4), and
        // device certificates come from many CAs, or none registered.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The certificate is judged against the registry once the handshake is done; its
        // signature over the handshake (below) proves the client holds its key.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The provider every TLS piece of the gateway uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
