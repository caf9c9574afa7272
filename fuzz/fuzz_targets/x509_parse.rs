//! Feeds arbitrary bytes to the X.509 parsers that read what clients send: a certificate's DER
//! (a TLS handshake, RegisterCertificate), PEM text (the API), and a CSR
//! (CreateCertificateFromCsr, issued by a throwaway local CA). None may panic, and whatever
//! parses must answer every question the gateway and the registry ask of it.

#![no_main]

use std::sync::OnceLock;

use ferrocore_pki::{LocalCa, ParsedCertificate};
use libfuzzer_sys::fuzz_target;

fn ca() -> &'static LocalCa {
    static CA: OnceLock<(tempfile::TempDir, LocalCa)> = OnceLock::new();
    let (_, ca) = CA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = LocalCa::load_or_create(dir.path()).expect("a local CA");
        (dir, ca)
    });
    ca
}

fn exercise(certificate: &ParsedCertificate) {
    let _ = certificate.id();
    let _ = certificate.pem();
    let _ = certificate.check_validity(1_800_000_000_000);
    let _ = certificate.is_ca();
    let _ = certificate.subject_common_name();
    let _ = certificate.policy_context();
    let _ = certificate.verify_signed_by(certificate);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(certificate) = ParsedCertificate::from_der(data) {
        exercise(&certificate);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(certificate) = ParsedCertificate::from_pem(text) {
            exercise(&certificate);
        }
        let _ = ca().issue_from_csr(text);
    }
});
