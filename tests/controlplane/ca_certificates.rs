//! CA certificates through the SDK: GetRegistrationCode, DeleteRegistrationCode,
//! RegisterCACertificate (with a verification certificate, or SNI_ONLY), RegisterCertificate
//! against registered CAs, DescribeCACertificate, UpdateCACertificate, DeleteCACertificate,
//! ListCACertificates, ListCertificatesByCA, with their errors.

use aws_sdk_iot::types::{
    AutoRegistrationStatus, CaCertificateStatus, CertificateMode, CertificateStatus,
    RegistrationConfig,
};
use ferrocore_pki::ParsedCertificate;
use ferrocore_testkit::TestServer;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::certificates::valid_self_signed;
use crate::error_of;

/// A test CA: its certificate and what signs with its key.
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(cn: &str, serial: u8) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[serial]));
    params
}

impl TestCa {
    fn new(cn: &str) -> TestCa {
        TestCa::with_key(cn, KeyPair::generate().unwrap(), 1)
    }

    fn with_key(cn: &str, key: KeyPair, serial: u8) -> TestCa {
        let pem = ca_params(cn, serial).self_signed(&key).unwrap().pem();
        let issuer = Issuer::from_ca_cert_pem(&pem, key).unwrap();
        TestCa { pem, issuer }
    }

    /// A certificate with subject CommonName `cn` signed by this CA.
    fn sign(&self, cn: &str) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.signed_by(&KeyPair::generate().unwrap(), &self.issuer).unwrap().pem()
    }
}

async fn code(iot: &aws_sdk_iot::Client) -> String {
    iot.get_registration_code().send().await.unwrap().registration_code().unwrap().to_owned()
}

#[tokio::test]
async fn the_registration_code_is_kept_until_deleted() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let first = code(&iot).await;
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(code(&iot).await, first);
    iot.delete_registration_code().send().await.unwrap();
    let second = code(&iot).await;
    assert_ne!(second, first);
}

#[tokio::test]
async fn a_ca_registers_with_a_verification_certificate_and_its_certificates_follow() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let ca = TestCa::new("Acme Root");
    let registration_code = code(&iot).await;
    let registered = iot
        .register_ca_certificate()
        .ca_certificate(&ca.pem)
        .verification_certificate(ca.sign(&registration_code))
        .set_as_active(true)
        .allow_auto_registration(true)
        .registration_config(
            RegistrationConfig::builder()
                .template_body("{}")
                .role_arn("arn:aws:iam::000000000000:role/r")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ca_id = registered.certificate_id().unwrap();
    assert_eq!(ca_id, ParsedCertificate::from_pem(&ca.pem).unwrap().id());
    assert_eq!(
        registered.certificate_arn().unwrap(),
        format!("arn:aws:iot:us-east-1:000000000000:cacert/{ca_id}")
    );
    let described = iot.describe_ca_certificate().certificate_id(ca_id).send().await.unwrap();
    let d = described.certificate_description().unwrap();
    assert_eq!(d.status(), Some(&CaCertificateStatus::Active));
    assert_eq!(d.auto_registration_status(), Some(&AutoRegistrationStatus::Enable));
    assert_eq!(d.certificate_mode(), Some(&CertificateMode::Default));
    assert_eq!(d.owned_by(), Some("000000000000"));
    assert_eq!(described.registration_config().unwrap().template_body(), Some("{}"));

    // Registering it again: already exists.
    let (code_, status, message) = error_of(
        iot.register_ca_certificate()
            .ca_certificate(&ca.pem)
            .verification_certificate(ca.sign(&registration_code))
            .send()
            .await,
    );
    assert_eq!((code_.as_str(), status), ("ResourceAlreadyExistsException", 409));
    assert!(message.contains(ca_id), "{message}");

    // A device certificate it signed registers, found by issuer (or named).
    let device = ca.sign("device-1");
    // `setAsActive` is deprecated in the model but still honoured.
    #[allow(deprecated)]
    let cert = iot
        .register_certificate()
        .certificate_pem(&device)
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let cert_id = cert.certificate_id().unwrap();
    let d = iot.describe_certificate().certificate_id(cert_id).send().await.unwrap();
    let d = d.certificate_description().unwrap();
    assert_eq!(d.ca_certificate_id(), Some(ca_id));
    assert_eq!(d.status(), Some(&CertificateStatus::Active));
    let named = iot
        .register_certificate()
        .certificate_pem(ca.sign("device-2"))
        .ca_certificate_pem(&ca.pem)
        .status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let by_ca = iot
        .list_certificates_by_ca()
        .ca_certificate_id(ca_id)
        .ascending_order(true)
        .send()
        .await
        .unwrap();
    let listed: Vec<&str> =
        by_ca.certificates().iter().filter_map(|c| c.certificate_id()).collect();
    assert_eq!(listed, [cert_id, named.certificate_id().unwrap()]);
    let page =
        iot.list_certificates_by_ca().ca_certificate_id(ca_id).page_size(1).send().await.unwrap();
    assert_eq!(page.certificates().len(), 1);
    assert!(page.next_marker().is_some());
    let cas = iot.list_ca_certificates().send().await.unwrap();
    assert_eq!(cas.certificates().len(), 1);
    assert_eq!(cas.certificates()[0].certificate_id(), Some(ca_id));
    assert_eq!(cas.certificates()[0].status(), Some(&CaCertificateStatus::Active));

    // Deleting the CA: refused while ACTIVE, then while it has certificates.
    let (c, s, _) = error_of(iot.delete_ca_certificate().certificate_id(ca_id).send().await);
    assert_eq!((c.as_str(), s), ("CertificateStateException", 406));
    iot.update_ca_certificate()
        .certificate_id(ca_id)
        .new_status(CaCertificateStatus::Inactive)
        .new_auto_registration_status(AutoRegistrationStatus::Disable)
        .send()
        .await
        .unwrap();
    let d = iot.describe_ca_certificate().certificate_id(ca_id).send().await.unwrap();
    let d = d.certificate_description().unwrap();
    assert_eq!(d.status(), Some(&CaCertificateStatus::Inactive));
    assert_eq!(d.auto_registration_status(), Some(&AutoRegistrationStatus::Disable));
    assert_eq!(d.customer_version(), Some(2));
    // An INACTIVE CA's certificates cannot be registered ACTIVE.
    let (c, s, _) = error_of(
        iot.register_certificate()
            .certificate_pem(ca.sign("device-3"))
            .status(CertificateStatus::Active)
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("CertificateStateException", 406));
    let (c, s, message) = error_of(iot.delete_ca_certificate().certificate_id(ca_id).send().await);
    assert_eq!((c.as_str(), s), ("CertificateStateException", 406));
    assert!(message.contains("registered certificate"), "{message}");
    iot.update_certificate()
        .certificate_id(cert_id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    for id in [cert_id, named.certificate_id().unwrap()] {
        iot.delete_certificate().certificate_id(id).send().await.unwrap();
    }
    iot.delete_ca_certificate().certificate_id(ca_id).send().await.unwrap();
    let (c, s, _) = error_of(iot.describe_ca_certificate().certificate_id(ca_id).send().await);
    assert_eq!((c.as_str(), s), ("ResourceNotFoundException", 404));
    let (c, s, _) = error_of(iot.delete_ca_certificate().certificate_id(ca_id).send().await);
    assert_eq!((c.as_str(), s), ("ResourceNotFoundException", 404));
}

#[tokio::test]
async fn bad_ca_registrations_get_the_models_errors() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let ca = TestCa::new("Checked Root");
    let other = TestCa::new("Other Root");
    let registration_code = code(&iot).await;

    // The verification certificate's CN is not the registration code.
    let (c, s, message) = error_of(
        iot.register_ca_certificate()
            .ca_certificate(&ca.pem)
            .verification_certificate(ca.sign("something else"))
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("RegistrationCodeValidationException", 400), "{message}");
    // Signed by another CA.
    let (c, s, message) = error_of(
        iot.register_ca_certificate()
            .ca_certificate(&ca.pem)
            .verification_certificate(other.sign(&registration_code))
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("CertificateValidationException", 400));
    assert!(message.contains("not signed by the CA"), "{message}");
    // Not a CA certificate.
    let (c, s, message) = error_of(
        iot.register_ca_certificate()
            .ca_certificate(valid_self_signed("leaf"))
            .certificate_mode(CertificateMode::SniOnly)
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("CertificateValidationException", 400));
    assert!(message.contains("not a CA"), "{message}");
    // Malformed.
    let (c, s, _) = error_of(iot.register_ca_certificate().ca_certificate("nonsense").send().await);
    assert_eq!((c.as_str(), s), ("CertificateValidationException", 400));
    // DEFAULT mode without a verification certificate.
    let (c, s, _) = error_of(iot.register_ca_certificate().ca_certificate(&ca.pem).send().await);
    assert_eq!((c.as_str(), s), ("InvalidRequestException", 400));
    // SNI_ONLY needs none; it registers INACTIVE without setAsActive.
    let sni = iot
        .register_ca_certificate()
        .ca_certificate(&ca.pem)
        .certificate_mode(CertificateMode::SniOnly)
        .send()
        .await
        .unwrap();
    let d = iot
        .describe_ca_certificate()
        .certificate_id(sni.certificate_id().unwrap())
        .send()
        .await
        .unwrap();
    let d = d.certificate_description().unwrap();
    assert_eq!(d.status(), Some(&CaCertificateStatus::Inactive));
    assert_eq!(d.certificate_mode(), Some(&CertificateMode::SniOnly));
    assert_eq!(d.auto_registration_status(), Some(&AutoRegistrationStatus::Disable));

    // Updates: a bad status and a missing CA.
    let missing = "f".repeat(64);
    let (c, s, _) = error_of(
        iot.update_ca_certificate()
            .certificate_id(&missing)
            .new_status(CaCertificateStatus::Active)
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("ResourceNotFoundException", 404));
    let (c, s, _) = error_of(
        iot.update_ca_certificate()
            .certificate_id(sni.certificate_id().unwrap())
            .new_status(CaCertificateStatus::from("REVOKED"))
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("InvalidRequestException", 400));
}

#[tokio::test]
async fn certificates_of_unregistered_or_ambiguous_cas_are_refused() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let unregistered = TestCa::new("Unknown Root");
    let (c, s, message) =
        error_of(iot.register_certificate().certificate_pem(unregistered.sign("d")).send().await);
    assert_eq!((c.as_str(), s), ("CertificateValidationException", 400));
    assert!(message.contains("not signed by any registered CA"), "{message}");
    let (c, s, message) = error_of(
        iot.register_certificate()
            .certificate_pem(unregistered.sign("d"))
            .ca_certificate_pem(&unregistered.pem)
            .send()
            .await,
    );
    assert_eq!((c.as_str(), s), ("CertificateValidationException", 400));
    assert!(message.contains("not registered"), "{message}");

    // Two registered CA certificates with the same subject and key: the issuer is ambiguous.
    let key_pem = KeyPair::generate().unwrap().serialize_pem();
    let first = TestCa::with_key("Twin Root", KeyPair::from_pem(&key_pem).unwrap(), 1);
    let second = TestCa::with_key("Twin Root", KeyPair::from_pem(&key_pem).unwrap(), 2);
    let registration_code = code(&iot).await;
    for ca in [&first, &second] {
        iot.register_ca_certificate()
            .ca_certificate(&ca.pem)
            .verification_certificate(ca.sign(&registration_code))
            .set_as_active(true)
            .send()
            .await
            .unwrap();
    }
    let device = first.sign("twin-device");
    let (c, s, _) = error_of(iot.register_certificate().certificate_pem(&device).send().await);
    assert_eq!((c.as_str(), s), ("CertificateConflictException", 409));
    let registered = iot
        .register_certificate()
        .certificate_pem(&device)
        .ca_certificate_pem(&second.pem)
        .send()
        .await
        .unwrap();
    let d = iot
        .describe_certificate()
        .certificate_id(registered.certificate_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.certificate_description().unwrap().ca_certificate_id(),
        Some(ParsedCertificate::from_pem(&second.pem).unwrap().id())
    );
    assert_eq!(d.certificate_description().unwrap().status(), Some(&CertificateStatus::Inactive));
}
