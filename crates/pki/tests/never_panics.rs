//! The X.509 parsers read what clients send (TLS handshakes, API requests): arbitrary bytes,
//! and valid certificates with bytes flipped, must give a value or an error, never a panic.

#![allow(clippy::unwrap_used, missing_docs)]

use ferrocore_pki::{LocalCa, ParsedCertificate};
use proptest::prelude::*;

fn exercise(certificate: &ParsedCertificate) {
    let _ = certificate.id();
    let _ = certificate.pem();
    let _ = certificate.check_validity(1_800_000_000_000);
    let _ = certificate.subject_common_name();
    let _ = certificate.policy_context();
    let _ = certificate.verify_signed_by(certificate);
}

/// One CA for every case (creating one generates a key).
fn ca() -> &'static LocalCa {
    static CA: std::sync::OnceLock<(tempfile::TempDir, LocalCa)> = std::sync::OnceLock::new();
    let (_, ca) = CA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(dir.path()).unwrap();
        (dir, ca)
    });
    ca
}

fn valid_der() -> Vec<u8> {
    let issued = ca().issue_device_keys().unwrap();
    ParsedCertificate::from_pem(&issued.certificate_pem).unwrap().der().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(certificate) = ParsedCertificate::from_der(&data) {
            exercise(&certificate);
        }
        if let Ok(text) = std::str::from_utf8(&data) {
            if let Ok(certificate) = ParsedCertificate::from_pem(text) {
                exercise(&certificate);
            }
        }
    }

    #[test]
    fn arbitrary_pem_armour_never_panics(body in "[A-Za-z0-9+/=\n]{0,400}") {
        let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        if let Ok(certificate) = ParsedCertificate::from_pem(&text) {
            exercise(&certificate);
        }
        let csr = format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n");
        let _ = ca().issue_from_csr(&csr);
    }
}

#[test]
fn a_valid_certificate_with_any_byte_changed_never_panics() {
    let der = valid_der();
    for i in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut mutated = der.clone();
            mutated[i] ^= flip;
            if let Ok(certificate) = ParsedCertificate::from_der(&mutated) {
                exercise(&certificate);
            }
        }
    }
}
