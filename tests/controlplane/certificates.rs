//! Device certificates through the SDK: CreateKeysAndCertificate, CreateCertificateFromCsr,
//! RegisterCertificateWithoutCA, DescribeCertificate, UpdateCertificate, DeleteCertificate,
//! ListCertificates, with every error the model lists for them.

use aws_sdk_iot::types::CertificateStatus;
use ferrocore_pki::ParsedCertificate;
use ferrocore_testkit::TestServer;
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::error_of;

/// A self-signed certificate (not a CA) with `cn`, valid from `from` to `to`.
pub(crate) fn self_signed(cn: &str, from: OffsetDateTime, to: OffsetDateTime) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = from;
    params.not_after = to;
    params.self_signed(&key).unwrap().pem()
}

pub(crate) fn valid_self_signed(cn: &str) -> String {
    let now = OffsetDateTime::now_utc();
    self_signed(cn, now - Duration::hours(1), now + Duration::days(365))
}

#[tokio::test]
async fn create_keys_and_certificate_issues_from_the_local_ca() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let created = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
    let pem = created.certificate_pem().unwrap();
    let cert = ParsedCertificate::from_pem(pem).unwrap();
    let id = created.certificate_id().unwrap();
    assert_eq!(id, hex::encode(Sha256::digest(cert.der())));
    assert_eq!(
        created.certificate_arn().unwrap(),
        format!("arn:aws:iot:us-east-1:000000000000:cert/{id}")
    );
    // Signed by the CA whose certificate the server keeps in its data directory.
    let ca_pem = std::fs::read_to_string(server.dir.path().join("ca.pem")).unwrap();
    cert.verify_signed_by(&ParsedCertificate::from_pem(&ca_pem).unwrap()).unwrap();
    assert_eq!(cert.subject_common_name().as_deref(), Some("AWS IoT Certificate"));
    // The key pair is the certificate's.
    let keys = created.key_pair().unwrap();
    let private = KeyPair::from_pem(keys.private_key().unwrap()).unwrap();
    assert_eq!(private.subject_public_key_info(), cert.public_key_der());
    assert!(keys.public_key().unwrap().contains("BEGIN PUBLIC KEY"));

    let described = iot.describe_certificate().certificate_id(id).send().await.unwrap();
    let d = described.certificate_description().unwrap();
    assert_eq!(d.status(), Some(&CertificateStatus::Active));
    assert_eq!(d.certificate_pem(), Some(pem));
    assert_eq!(d.owned_by(), Some("000000000000"));
    assert_eq!(d.ca_certificate_id(), None);
    assert_eq!(d.customer_version(), Some(1));
    assert!(d.generation_id().is_some());
    assert_eq!(d.certificate_mode().map(|m| m.as_str()), Some("DEFAULT"));
    let validity = d.validity().unwrap();
    assert_eq!(validity.not_before().unwrap().secs() * 1000, cert.not_before_ms());
    assert_eq!(validity.not_after().unwrap().secs() * 1000, cert.not_after_ms());

    // Without setAsActive the certificate is INACTIVE.
    let inactive = iot.create_keys_and_certificate().send().await.unwrap();
    let d = iot
        .describe_certificate()
        .certificate_id(inactive.certificate_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(d.certificate_description().unwrap().status(), Some(&CertificateStatus::Inactive));
}

#[tokio::test]
async fn create_certificate_from_csr_keeps_key_and_subject() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "sensor-42");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let created = iot
        .create_certificate_from_csr()
        .certificate_signing_request(csr)
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let cert = ParsedCertificate::from_pem(created.certificate_pem().unwrap()).unwrap();
    assert_eq!(created.certificate_id(), Some(cert.id()));
    assert_eq!(cert.subject_common_name().as_deref(), Some("sensor-42"));
    assert_eq!(cert.public_key_der(), key.subject_public_key_info());
    cert.verify_signed_by(server.server().local_ca().certificate()).unwrap();
    let d = iot.describe_certificate().certificate_id(cert.id()).send().await.unwrap();
    assert_eq!(d.certificate_description().unwrap().status(), Some(&CertificateStatus::Active));

    let (code, status, message) = error_of(
        iot.create_certificate_from_csr().certificate_signing_request("not a csr").send().await,
    );
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400), "{message}");
    assert!(message.contains("CERTIFICATE REQUEST"), "{message}");
}

#[tokio::test]
async fn register_without_ca_validates_the_certificate() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let pem = valid_self_signed("device");
    let registered = iot
        .register_certificate_without_ca()
        .certificate_pem(&pem)
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let id = registered.certificate_id().unwrap();
    assert_eq!(id, ParsedCertificate::from_pem(&pem).unwrap().id());
    let d = iot.describe_certificate().certificate_id(id).send().await.unwrap();
    let d = d.certificate_description().unwrap();
    assert_eq!(d.status(), Some(&CertificateStatus::Active));
    assert_eq!(d.certificate_mode().map(|m| m.as_str()), Some("SNI_ONLY"));

    // The same certificate again: already exists, naming it.
    let (code, status, message) =
        error_of(iot.register_certificate_without_ca().certificate_pem(&pem).send().await);
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));
    assert!(message.contains(id), "{message}");

    for (bad, needle) in [
        ("garbage".to_owned(), "BEGIN CERTIFICATE"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "could not be parsed",
        ),
    ] {
        let (code, status, message) =
            error_of(iot.register_certificate_without_ca().certificate_pem(bad).send().await);
        assert_eq!((code.as_str(), status), ("CertificateValidationException", 400));
        assert!(message.contains(needle), "{message}");
    }
    let now = OffsetDateTime::now_utc();
    let expired = self_signed("old", now - Duration::days(30), now - Duration::days(1));
    let (code, status, message) =
        error_of(iot.register_certificate_without_ca().certificate_pem(expired).send().await);
    assert_eq!((code.as_str(), status), ("CertificateValidationException", 400));
    assert!(message.contains("expired"), "{message}");
    let future = self_signed("new", now + Duration::days(1), now + Duration::days(30));
    let (code, status, message) =
        error_of(iot.register_certificate_without_ca().certificate_pem(future).send().await);
    assert_eq!((code.as_str(), status), ("CertificateValidationException", 400));
    assert!(message.contains("not yet valid"), "{message}");
    let (code, status, _) = error_of(
        iot.register_certificate_without_ca()
            .certificate_pem(valid_self_signed("x"))
            .status(CertificateStatus::PendingTransfer)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
}

#[tokio::test]
async fn status_transitions_follow_aws_and_revoked_is_final() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let created = iot.create_keys_and_certificate().send().await.unwrap();
    let id = created.certificate_id().unwrap();
    let status_of = || async {
        iot.describe_certificate()
            .certificate_id(id)
            .send()
            .await
            .unwrap()
            .certificate_description()
            .unwrap()
            .status()
            .cloned()
            .unwrap()
    };
    iot.update_certificate()
        .certificate_id(id)
        .new_status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(status_of().await, CertificateStatus::Active);
    iot.update_certificate()
        .certificate_id(id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(status_of().await, CertificateStatus::Inactive);
    for not_settable in [CertificateStatus::PendingTransfer, CertificateStatus::PendingActivation] {
        let (code, status, _) = error_of(
            iot.update_certificate().certificate_id(id).new_status(not_settable).send().await,
        );
        assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    }
    iot.update_certificate()
        .certificate_id(id)
        .new_status(CertificateStatus::Revoked)
        .send()
        .await
        .unwrap();
    let (code, status, message) = error_of(
        iot.update_certificate()
            .certificate_id(id)
            .new_status(CertificateStatus::Active)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("CertificateStateException", 406));
    assert!(message.contains("revoked"), "{message}");
    assert_eq!(status_of().await, CertificateStatus::Revoked);

    let missing = "0".repeat(64);
    let (code, status, _) = error_of(
        iot.update_certificate()
            .certificate_id(&missing)
            .new_status(CertificateStatus::Active)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, status, _) =
        error_of(iot.describe_certificate().certificate_id(&missing).send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, status, _) =
        error_of(iot.describe_certificate().certificate_id("short").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
}

#[tokio::test]
async fn delete_is_refused_while_active_or_attached() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let created = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
    let id = created.certificate_id().unwrap();
    let arn = created.certificate_arn().unwrap();
    let (code, status, _) = error_of(iot.delete_certificate().certificate_id(id).send().await);
    assert_eq!((code.as_str(), status), ("CertificateStateException", 406));
    iot.update_certificate()
        .certificate_id(id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();

    // A policy attached: refused, unless forceDelete.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    iot.create_policy().policy_name("p").policy_document(policy).send().await.unwrap();
    iot.attach_policy().policy_name("p").target(arn).send().await.unwrap();
    let (code, status, _) = error_of(iot.delete_certificate().certificate_id(id).send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflictException", 409));

    // A thing attached: refused even with forceDelete.
    iot.create_thing().thing_name("t").send().await.unwrap();
    iot.attach_thing_principal().thing_name("t").principal(arn).send().await.unwrap();
    let (code, status, _) =
        error_of(iot.delete_certificate().certificate_id(id).force_delete(true).send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflictException", 409));
    iot.detach_thing_principal().thing_name("t").principal(arn).send().await.unwrap();

    iot.delete_certificate().certificate_id(id).force_delete(true).send().await.unwrap();
    let (code, status, _) = error_of(iot.describe_certificate().certificate_id(id).send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let targets = iot.list_targets_for_policy().policy_name("p").send().await.unwrap();
    assert!(targets.targets().is_empty(), "forceDelete detached the policy");
    let (code, status, _) = error_of(iot.delete_certificate().certificate_id(id).send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));

    // An inactive certificate with nothing attached deletes.
    let other = iot.create_keys_and_certificate().send().await.unwrap();
    iot.delete_certificate().certificate_id(other.certificate_id().unwrap()).send().await.unwrap();
}

#[tokio::test]
async fn list_certificates_pages_in_both_orders() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let created = iot.create_keys_and_certificate().send().await.unwrap();
        ids.push(created.certificate_id().unwrap().to_owned());
    }
    for ascending in [true, false] {
        let mut seen: Vec<(i64, String)> = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = iot
                .list_certificates()
                .page_size(2)
                .ascending_order(ascending)
                .set_marker(marker.clone())
                .send()
                .await
                .unwrap();
            pages += 1;
            for c in page.certificates() {
                assert_eq!(c.status(), Some(&CertificateStatus::Inactive));
                let created = c.creation_date().unwrap();
                // Epoch seconds as a float: round to the millisecond the server stored.
                let ms = (created.as_secs_f64() * 1000.0).round() as i64;
                seen.push((ms, c.certificate_id().unwrap().to_owned()));
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3);
        let mut sorted = seen.clone();
        sorted.sort();
        if !ascending {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "ascending={ascending}");
        let mut got: Vec<String> = seen.into_iter().map(|(_, id)| id).collect();
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);
    }
    let (code, status, _) = error_of(iot.list_certificates().page_size(0).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, status, _) =
        error_of(iot.list_certificates().marker("bm90IGEgbWFya2Vy").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
}
