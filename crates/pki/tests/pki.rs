//! The crate's public API: parsing, ids, validity, signatures, CSRs, the policy-variable view,
//! and the local CA on disk.

#![allow(clippy::unwrap_used)]

use ferrocore_pki::{LocalCa, ParsedCertificate, PkiError, now_ms};
use ferrocore_policy::context::{AltNameKind, DnAttribute};
use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

const RSA_KEY: &str = include_str!("rsa-test-key.pem");

fn self_signed(params: CertificateParams) -> (String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap().pem(), key)
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
}

#[test]
fn pem_and_der_round_trip_and_the_id_is_the_sha256_of_the_der() {
    let (pem, _) = self_signed(ca_params("round trip"));
    let parsed = ParsedCertificate::from_pem(&pem).unwrap();
    assert_eq!(parsed.id(), hex::encode(Sha256::digest(parsed.der())));
    assert_eq!(parsed.id().len(), 64);
    assert_eq!(ParsedCertificate::from_pem(&parsed.pem()).unwrap(), parsed);
    assert_eq!(ParsedCertificate::from_der(parsed.der()).unwrap(), parsed);
    assert!(parsed.is_ca());
    assert_eq!(parsed.subject_common_name().as_deref(), Some("round trip"));
}

#[test]
fn malformed_input_gets_clear_errors() {
    let err = ParsedCertificate::from_pem("hello").unwrap_err();
    assert!(matches!(err, PkiError::MalformedPem(_)), "{err:?}");
    assert!(err.to_string().contains("no '-----BEGIN CERTIFICATE-----' block"), "{err}");
    let bad_der = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        ParsedCertificate::from_pem(bad_der).unwrap_err(),
        PkiError::MalformedCertificate(_)
    ));
    let (a, _) = self_signed(ca_params("a"));
    let (b, _) = self_signed(ca_params("b"));
    let err = ParsedCertificate::from_pem(&format!("{a}{b}")).unwrap_err();
    assert!(err.to_string().contains("more than one"), "{err}");
    assert!(ParsedCertificate::from_der(&[0x30, 0x03, 1, 2, 3]).is_err());
}

#[test]
fn expired_and_not_yet_valid_certificates_are_detected_with_dates() {
    let now = OffsetDateTime::now_utc();
    let mut params = ca_params("old");
    params.not_before = now - Duration::days(10);
    params.not_after = now - Duration::days(1);
    let expired = ParsedCertificate::from_pem(&self_signed(params).0).unwrap();
    let err = expired.check_validity(now_ms()).unwrap_err();
    assert!(matches!(err, PkiError::Expired { .. }), "{err:?}");
    let year = (now - Duration::days(1)).year().to_string();
    assert!(err.to_string().contains(&year), "{err}");

    let mut params = ca_params("future");
    params.not_before = now + Duration::days(1);
    params.not_after = now + Duration::days(10);
    let future = ParsedCertificate::from_pem(&self_signed(params).0).unwrap();
    assert!(matches!(future.check_validity(now_ms()), Err(PkiError::NotYetValid { .. })));
    assert!(future.check_validity(future.not_before_ms() + 1000).is_ok());
}

#[test]
fn verify_signed_by_checks_the_name_and_the_signature() {
    let (ca_pem, ca_key) = self_signed(ca_params("Issuer"));
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["device.example".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let ca = ParsedCertificate::from_pem(&ca_pem).unwrap();
    let leaf = ParsedCertificate::from_pem(&leaf.pem()).unwrap();
    assert!(!leaf.is_ca());
    leaf.verify_signed_by(&ca).unwrap();
    // Another CA of the same name but another key: the signature fails.
    let (impostor, _) = self_signed(ca_params("Issuer"));
    let impostor = ParsedCertificate::from_pem(&impostor).unwrap();
    let err = leaf.verify_signed_by(&impostor).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
    // Another name: the names differ.
    let (other, _) = self_signed(ca_params("Other"));
    let err = leaf.verify_signed_by(&ParsedCertificate::from_pem(&other).unwrap()).unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
}

#[test]
fn policy_context_names_subject_issuer_serial_and_alt_names() {
    let (ca_pem, ca_key) = self_signed(ca_params("Context CA"));
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "bulb");
    params.distinguished_name.push(DnType::CountryName, "US");
    params.distinguished_name.push(DnType::OrganizationName, "IoT Devices");
    params.distinguished_name.push(DnType::OrganizationalUnitName, "LightBulb");
    params.distinguished_name.push(DnType::StateOrProvinceName, "NY");
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x12, 0x34]));
    params.subject_alt_names = vec![
        SanType::DnsName("bulb.example".try_into().unwrap()),
        SanType::IpAddress("10.0.0.7".parse().unwrap()),
        SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
        SanType::URI("urn:bulb:1".try_into().unwrap()),
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let context = ParsedCertificate::from_pem(&cert.pem()).unwrap().policy_context();
    assert_eq!(context.serial_number.as_deref(), Some("1234"));
    assert_eq!(context.subject.get(DnAttribute::CommonName), ["bulb"]);
    assert_eq!(context.subject.get(DnAttribute::Country), ["US"]);
    assert_eq!(context.subject.get(DnAttribute::Organization), ["IoT Devices"]);
    assert_eq!(context.subject.get(DnAttribute::OrganizationalUnit), ["LightBulb"]);
    assert_eq!(context.subject.get(DnAttribute::State), ["NY"]);
    assert_eq!(context.issuer.get(DnAttribute::CommonName), ["Context CA"]);
    assert_eq!(context.subject_alt_names.get(AltNameKind::DnsName), ["bulb.example"]);
    assert_eq!(context.subject_alt_names.get(AltNameKind::IpAddress), ["10.0.0.7"]);
    assert_eq!(context.subject_alt_names.get(AltNameKind::Rfc822Name), ["ops@example.com"]);
    assert_eq!(
        context.subject_alt_names.get(AltNameKind::UniformResourceIdentifier),
        ["urn:bulb:1"]
    );
    assert!(context.issuer_alt_names.values.is_empty());
}

#[test]
fn the_local_ca_is_created_once_with_a_private_key_of_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalCa::load_or_create(dir.path()).unwrap();
    let second = LocalCa::load_or_create(dir.path()).unwrap();
    assert_eq!(first.certificate(), second.certificate());
    assert_eq!(
        first.certificate_pem(),
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap()
    );
    assert!(first.certificate().is_ca());
    let cn = first.certificate().subject_common_name().unwrap();
    assert!(cn.starts_with("Ferrocore Local CA"), "{cn}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ten_years = 3650 * 24 * 3600 * 1000_i64;
    let cert = first.certificate();
    assert!(cert.not_after_ms() - cert.not_before_ms() >= ten_years);
    // A ca.pem for another key is refused.
    std::fs::remove_file(dir.path().join("ca.key")).unwrap();
    let err = LocalCa::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, PkiError::CaFiles { .. }), "{err:?}");
}

#[test]
fn device_keys_are_issued_by_the_local_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let keys = ca.issue_device_keys().unwrap();
    let cert = ParsedCertificate::from_pem(&keys.certificate_pem).unwrap();
    cert.verify_signed_by(ca.certificate()).unwrap();
    cert.check_validity(now_ms()).unwrap();
    assert!(!cert.is_ca());
    assert_eq!(cert.subject_common_name().as_deref(), Some("AWS IoT Certificate"));
    assert!(cert.not_after_ms() > now_ms() + 20 * 365 * 24 * 3600 * 1000);
    let key = KeyPair::from_pem(&keys.private_key_pem).unwrap();
    assert_eq!(cert.public_key_der(), rcgen::PublicKeyData::subject_public_key_info(&key));
    let public = rcgen::SubjectPublicKeyInfo::from_pem(&keys.public_key_pem).unwrap();
    assert_eq!(rcgen::PublicKeyData::subject_public_key_info(&public), cert.public_key_der());
    // Serials are random.
    let other =
        ParsedCertificate::from_pem(&ca.issue_device_keys().unwrap().certificate_pem).unwrap();
    assert_ne!(other.policy_context().serial_number, cert.policy_context().serial_number);
}

fn csr_for(key: &KeyPair, cn: &str) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, "Acme");
    params.serialize_request(key).unwrap().pem().unwrap()
}

#[test]
fn csrs_with_ecdsa_and_rsa_keys_are_signed_keeping_key_and_subject() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let ec = KeyPair::generate().unwrap();
    let rsa = KeyPair::from_pem(RSA_KEY).unwrap();
    for (key, cn) in [(&ec, "ec-device"), (&rsa, "rsa-device")] {
        let pem = ca.issue_from_csr(&csr_for(key, cn)).unwrap();
        let cert = ParsedCertificate::from_pem(&pem).unwrap();
        cert.verify_signed_by(ca.certificate()).unwrap();
        assert_eq!(
            cert.public_key_der(),
            rcgen::PublicKeyData::subject_public_key_info(key),
            "{cn}"
        );
        assert_eq!(cert.subject_common_name().as_deref(), Some(cn));
        assert_eq!(cert.policy_context().subject.get(DnAttribute::Organization), ["Acme"]);
    }
}

#[test]
fn bad_csrs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    assert!(matches!(ca.issue_from_csr("nope"), Err(PkiError::InvalidCsr(_))));
    let csr = csr_for(&KeyPair::generate().unwrap(), "x");
    // Flip one byte of the signature (near the end of the DER).
    let block = pem::parse(&csr).unwrap();
    let mut der = block.contents().to_vec();
    let last = der.len() - 3;
    der[last] ^= 0x01;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
    let err = ca.issue_from_csr(&tampered).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
    // A certificate is not a CSR.
    assert!(ca.issue_from_csr(ca.certificate_pem()).is_err());
}

#[test]
fn server_certificates_name_dns_names_and_ip_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let (pem, key) = ca.issue_server(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = ParsedCertificate::from_pem(&pem).unwrap();
    cert.verify_signed_by(ca.certificate()).unwrap();
    let context = cert.policy_context();
    assert_eq!(context.subject_alt_names.get(AltNameKind::DnsName), ["localhost"]);
    assert_eq!(context.subject_alt_names.get(AltNameKind::IpAddress), ["127.0.0.1"]);
    assert_eq!(
        rcgen::PublicKeyData::subject_public_key_info(&KeyPair::from_pem(&key).unwrap()),
        cert.public_key_der()
    );
    assert!(ca.issue_server(&["bad name\u{0}".into()]).is_err());
}
