//! Certificates and CA certificates against a real store: registration with and without a
//! CA, the registration code, status rules, deletes and listings.

#![allow(clippy::unwrap_used)]

use ferrocore_pki::{LocalCa, ParsedCertificate};
use ferrocore_store::{Durability, Store, StoreConfig};

use crate::*;

fn registry(dir: &tempfile::TempDir) -> Registry {
    let config = StoreConfig {
        synchronous: Durability::Normal,
        ..StoreConfig::new(dir.path().join("r.db"))
    };
    let arns = Arns { region: "us-east-1".into(), account: "123456789012".into() };
    Registry::new(Store::open(config).unwrap(), arns)
}

/// A verification certificate for `ca` with CommonName `cn`, through a CSR.
fn verification_pem(ca: &LocalCa, cn: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    ca.issue_from_csr(&csr).unwrap()
}

fn new_ca(pem: &str, verification: Option<String>) -> NewCaCertificate {
    NewCaCertificate {
        pem: pem.to_owned(),
        verification_pem: verification,
        set_as_active: true,
        allow_auto_registration: false,
        registration_config: None,
        mode: CertificateMode::Default,
        tags: Vec::new(),
    }
}

#[tokio::test]
async fn a_ca_with_a_verification_certificate_registers_and_signs_devices() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let ca = LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
    let code = registry.get_registration_code().await.unwrap();
    assert_eq!(registry.get_registration_code().await.unwrap(), code, "the code is kept");

    let wrong = verification_pem(&ca, "not the code");
    let err = registry
        .register_ca_certificate(new_ca(ca.certificate_pem(), Some(wrong)))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::RegistrationCodeValidation(_)), "{err:?}");
    let err =
        registry.register_ca_certificate(new_ca(ca.certificate_pem(), None)).await.unwrap_err();
    assert!(matches!(err, RegistryError::InvalidRequest(_)), "{err:?}");

    let registered = registry
        .register_ca_certificate(new_ca(ca.certificate_pem(), Some(verification_pem(&ca, &code))))
        .await
        .unwrap();
    assert_eq!(registered.id, ca.certificate().id());
    assert_eq!(registered.status, CaCertificateStatus::Active);
    let again = registry
        .register_ca_certificate(new_ca(ca.certificate_pem(), Some(verification_pem(&ca, &code))))
        .await
        .unwrap_err();
    assert!(
        matches!(again, RegistryError::AlreadyExists { ref resource_id, .. } if *resource_id == registered.id)
    );

    let device = ca.issue_device_keys().unwrap();
    let cert = registry
        .register_certificate(&device.certificate_pem, None, CertificateStatus::Active)
        .await
        .unwrap();
    assert_eq!(cert.ca_certificate_id.as_deref(), Some(registered.id.as_str()));
    assert_eq!(cert.id, ParsedCertificate::from_pem(&device.certificate_pem).unwrap().id());
    assert_eq!(registry.describe_certificate(&cert.id).unwrap(), cert);
    let by_ca = registry.list_certificates(Some(&registered.id), None, 10, true).unwrap();
    assert_eq!(by_ca.items.len(), 1);

    // A CA with registered certificates cannot be deleted, even inactive.
    let err = registry.delete_ca_certificate(&registered.id).await.unwrap_err();
    assert!(matches!(err, RegistryError::CertificateState(_)), "{err:?}");
    let update = CaCertificateUpdate {
        new_status: Some(CaCertificateStatus::Inactive),
        ..CaCertificateUpdate::default()
    };
    registry.update_ca_certificate(&registered.id, update).await.unwrap();
    let err = registry.delete_ca_certificate(&registered.id).await.unwrap_err();
    assert!(matches!(err, RegistryError::CertificateState(_)), "{err:?}");
    // An inactive CA cannot take new ACTIVE certificates.
    let other = ca.issue_device_keys().unwrap();
    let err = registry
        .register_certificate(&other.certificate_pem, None, CertificateStatus::Active)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::CertificateState(_)), "{err:?}");

    registry.update_certificate(&cert.id, CertificateStatus::Inactive).await.unwrap();
    registry.delete_certificate(&cert.id, false).await.unwrap();
    registry.delete_ca_certificate(&registered.id).await.unwrap();
    assert!(matches!(
        registry.describe_ca_certificate(&registered.id),
        Err(RegistryError::NotFound(_))
    ));
}

#[tokio::test]
async fn certificates_of_unregistered_cas_are_refused_and_without_ca_they_register() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let ca = LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
    let device = ca.issue_device_keys().unwrap();
    let err = registry
        .register_certificate(&device.certificate_pem, None, CertificateStatus::Active)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::CertificateValidation(_)), "{err:?}");
    let err = registry
        .register_certificate(
            &device.certificate_pem,
            Some(ca.certificate_pem()),
            CertificateStatus::Active,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::CertificateValidation(_)), "{err:?}");
    let cert = registry
        .register_certificate_without_ca(&device.certificate_pem, CertificateStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(cert.mode, CertificateMode::SniOnly);
    assert_eq!(cert.ca_certificate_id, None);
    let err = registry
        .register_certificate_without_ca(&device.certificate_pem, CertificateStatus::Active)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::AlreadyExists { .. }), "{err:?}");
    let err = registry
        .register_certificate_without_ca("garbage", CertificateStatus::Active)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::CertificateValidation(_)), "{err:?}");
}

#[tokio::test]
async fn status_changes_notify_and_revoked_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let ca = LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
    let mut changes = registry.subscribe();
    let cert = registry
        .register_issued_certificate(&ca.issue_device_keys().unwrap().certificate_pem, true)
        .await
        .unwrap();
    assert_eq!(cert.status, CertificateStatus::Active);
    let err = registry.delete_certificate(&cert.id, true).await.unwrap_err();
    assert!(matches!(err, RegistryError::CertificateState(_)), "{err:?}");
    let epoch = registry.epoch();
    registry.update_certificate(&cert.id, CertificateStatus::Revoked).await.unwrap();
    assert!(registry.epoch() > epoch);
    assert_eq!(changes.recv().await.unwrap(), Change::Certificate { id: cert.id.clone() });
    let err = registry.update_certificate(&cert.id, CertificateStatus::Active).await.unwrap_err();
    assert!(matches!(err, RegistryError::CertificateState(_)), "{err:?}");
    let described = registry.describe_certificate(&cert.id).unwrap();
    assert_eq!(described.status, CertificateStatus::Revoked);
    assert_eq!(described.customer_version, 2);
    assert_ne!(described.generation_id, cert.generation_id);
    assert!(matches!(
        registry.update_certificate(&"0".repeat(64), CertificateStatus::Active).await,
        Err(RegistryError::NotFound(_))
    ));
    registry.delete_certificate(&cert.id, false).await.unwrap();
    assert_eq!(changes.recv().await.unwrap(), Change::Certificate { id: cert.id.clone() });
}

#[tokio::test]
async fn listings_page_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let ca = LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let pem = ca.issue_device_keys().unwrap().certificate_pem;
        ids.push(registry.register_issued_certificate(&pem, false).await.unwrap().id);
    }
    for ascending in [true, false] {
        let mut seen = Vec::new();
        let mut marker = None;
        loop {
            let page = registry.list_certificates(None, marker.as_deref(), 2, ascending).unwrap();
            seen.extend(page.items.iter().map(|c| (c.created_ms, c.id.clone())));
            marker = page.next;
            if marker.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 5);
        let mut sorted = seen.clone();
        sorted.sort();
        if !ascending {
            sorted.reverse();
        }
        assert_eq!(seen, sorted);
    }
    assert!(registry.list_certificates(None, Some("bad"), 2, true).is_err());
}
