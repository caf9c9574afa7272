//! Devices over TLS with X.509 certificates made by the control plane, authorized by IoT
//! policies on every CONNECT, PUBLISH, SUBSCRIBE and delivery.

use std::time::Duration;

use aws_sdk_iot::types::CertificateStatus;
use ferrocore_testkit::{Device, QUIET, TestServer, V4, V5, tls};
use rumqttc::v5::mqttbytes::v5::{Packet as P5, PubAckReason, SubscribeReasonCode as Sub5};
use rumqttc::{Packet as P4, QoS, SubscribeReasonCode as Sub4};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn device(server: &TestServer, policy_name: &str, policy: serde_json::Value) -> Device {
    server.device(policy_name, &policy).await
}

fn policy(statements: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

const ARN: &str = "arn:aws:iot:us-east-1:000000000000";

/// Connect as `dev-*`, publish and receive on `dev/*`, subscribe to `dev/*` filters.
fn dev_policy() -> serde_json::Value {
    policy(serde_json::json!([
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/dev-*") },
        { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": format!("{ARN}:topic/dev/*") },
        { "Effect": "Allow", "Action": "iot:Subscribe", "Resource": format!("{ARN}:topicfilter/dev/*") },
        { "Effect": "Deny", "Action": "iot:Receive", "Resource": format!("{ARN}:topic/dev/secret") }
    ]))
}

async fn v4(server: &TestServer, client_id: &str, device: &Device) -> V4 {
    V4::connect(server.v4_tls_options(client_id, &device.cert, &device.key)).await
}

async fn v5(server: &TestServer, client_id: &str, device: &Device) -> V5 {
    V5::connect(server.v5_tls_options(client_id, &device.cert, &device.key)).await
}

/// The error that ended a client that was refused at CONNECT.
async fn v4_refused(server: &TestServer, client_id: &str, cert: &str, key: &str) -> String {
    let (_client, mut events, _task) = V4::start(server.v4_tls_options(client_id, cert, key));
    match tokio::time::timeout(ferrocore_testkit::WAIT, events.recv()).await.unwrap() {
        Some(ferrocore_testkit::rumqtt::Seen::Closed(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_device_connects_over_tls_and_pubsubs_within_its_policy() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let mut sub = v4(&server, "dev-sub", &device).await;
    sub.subscribe("dev/+", QoS::AtLeastOnce).await;
    let publisher = v4(&server, "dev-pub", &device).await;
    publisher.client.publish("dev/a", QoS::AtLeastOnce, false, "hello").await.unwrap();
    let got = sub.publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("dev/a", &b"hello"[..]));
}

#[tokio::test]
async fn connect_outside_the_policy_is_refused_not_authorized() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let error = v4_refused(&server, "intruder", &device.cert, &device.key).await;
    assert!(error.contains("NotAuthorized"), "{error}");
    let (_client, mut events, _task) =
        V5::start(server.v5_tls_options("intruder", &device.cert, &device.key));
    match tokio::time::timeout(ferrocore_testkit::WAIT, events.recv()).await.unwrap() {
        Some(ferrocore_testkit::rumqtt::Seen::Closed(error)) => {
            assert!(error.contains("NotAuthorized"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn denied_publish_subscribe_and_receive() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    // MQTT 5: PUBACK 0x87 for a topic outside the policy; the connection stays.
    let mut c5 = v5(&server, "dev-5", &device).await;
    c5.client
        .publish("other/a", rumqttc::v5::mqttbytes::QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    loop {
        if let ferrocore_testkit::rumqtt::Seen::Packet(P5::PubAck(ack)) = c5.next().await {
            assert_eq!(ack.reason, PubAckReason::NotAuthorized);
            break;
        }
    }
    // SUBACK: each filter on its own.
    c5.client
        .subscribe_many([
            rumqttc::v5::mqttbytes::v5::Filter::new(
                "dev/#",
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            ),
            rumqttc::v5::mqttbytes::v5::Filter::new(
                "other/#",
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        c5.suback().await,
        vec![Sub5::Success(rumqttc::v5::mqttbytes::QoS::AtLeastOnce), Sub5::NotAuthorized]
    );
    // Receive: dev/secret is denied, so it is silently not delivered; dev/open arrives.
    let mut c4 = v4(&server, "dev-4", &device).await;
    c4.client.publish("dev/secret", QoS::AtLeastOnce, false, "s").await.unwrap();
    c4.client.publish("dev/open", QoS::AtLeastOnce, false, "o").await.unwrap();
    let got = c5.publish().await;
    assert_eq!(got.topic, "dev/open");
    c5.no_publish().await;
    // MQTT 3.1.1: a subscription outside the policy gets 0x80; a publish outside it closes
    // the connection, as AWS does.
    c4.client.subscribe("other/+", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(c4.suback().await, vec![Sub4::Failure]);
    c4.client.publish("other/a", QoS::AtLeastOnce, false, "x").await.unwrap();
    c4.closed().await;
}

#[tokio::test]
async fn retained_publish_needs_retain_publish() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let mut c5 = v5(&server, "dev-r", &device).await;
    c5.client.publish("dev/r", rumqttc::v5::mqttbytes::QoS::AtLeastOnce, true, "x").await.unwrap();
    loop {
        if let ferrocore_testkit::rumqtt::Seen::Packet(P5::PubAck(ack)) = c5.next().await {
            assert_eq!(ack.reason, PubAckReason::NotAuthorized);
            break;
        }
    }
    assert!(server.server().broker().retained("dev/r").is_none());
}

#[tokio::test]
async fn policy_variables_confine_a_device_to_its_own_thing() {
    let server = TestServer::start().await;
    let thing_policy = policy(serde_json::json!([
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/${{iot:Connection.Thing.ThingName}}") },
        { "Effect": "Allow", "Action": "iot:Publish", "Resource": format!("{ARN}:topic/things/${{iot:Connection.Thing.ThingName}}/*") }
    ]));
    let device = device(&server, "own-thing", thing_policy).await;
    let iot = server.iot_client();
    for thing in ["sensor-1", "sensor-2"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
    }
    iot.attach_thing_principal()
        .thing_name("sensor-1")
        .principal(&device.arn)
        .send()
        .await
        .unwrap();
    // Not attached: no thing variables, so nothing is allowed.
    let error = v4_refused(&server, "sensor-2", &device.cert, &device.key).await;
    assert!(error.contains("NotAuthorized"), "{error}");
    let mut c5 = v5(&server, "sensor-1", &device).await;
    for (topic, allowed) in [("things/sensor-1/t", true), ("things/sensor-2/t", false)] {
        c5.client
            .publish(topic, rumqttc::v5::mqttbytes::QoS::AtLeastOnce, false, "x")
            .await
            .unwrap();
        loop {
            if let ferrocore_testkit::rumqtt::Seen::Packet(P5::PubAck(ack)) = c5.next().await {
                let expected =
                    if allowed { PubAckReason::Success } else { PubAckReason::NotAuthorized };
                assert_eq!(ack.reason, expected, "{topic}");
                break;
            }
        }
    }
}

#[tokio::test]
async fn policies_of_the_things_groups_and_their_ancestors_apply() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let made = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
    let (cert, key) =
        (made.certificate_pem().unwrap(), made.key_pair().unwrap().private_key().unwrap());
    let arn = made.certificate_arn().unwrap();
    iot.create_thing_group().thing_group_name("fleet").send().await.unwrap();
    iot.create_thing_group()
        .thing_group_name("floor-1")
        .parent_group_name("fleet")
        .send()
        .await
        .unwrap();
    iot.create_thing().thing_name("lamp").send().await.unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_name("floor-1")
        .thing_name("lamp")
        .send()
        .await
        .unwrap();
    iot.attach_thing_principal().thing_name("lamp").principal(arn).send().await.unwrap();
    let error = v4_refused(&server, "lamp", cert, key).await;
    assert!(error.contains("NotAuthorized"), "no policy yet: {error}");
    let fleet = policy(serde_json::json!([
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/${{iot:Connection.Thing.ThingName}}") }
    ]));
    iot.create_policy()
        .policy_name("fleet")
        .policy_document(fleet.to_string())
        .send()
        .await
        .unwrap();
    let group_arn = iot.describe_thing_group().thing_group_name("fleet").send().await.unwrap();
    iot.attach_policy()
        .policy_name("fleet")
        .target(group_arn.thing_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    V4::connect(server.v4_tls_options("lamp", cert, key)).await;
}

#[tokio::test]
async fn a_policy_change_applies_to_the_next_operation_of_a_live_connection() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let mut c5 = v5(&server, "dev-live", &device).await;
    let publish_reason = |c5: &mut V5| {
        let client = c5.client.clone();
        async move {
            client
                .publish("dev/x", rumqttc::v5::mqttbytes::QoS::AtLeastOnce, false, "x")
                .await
                .unwrap();
        }
    };
    publish_reason(&mut c5).await;
    assert_eq!(next_puback(&mut c5).await, PubAckReason::Success);
    let iot = server.iot_client();
    let deny = policy(serde_json::json!([
        { "Effect": "Deny", "Action": "iot:Publish", "Resource": format!("{ARN}:topic/dev/x") }
    ]));
    iot.create_policy()
        .policy_name("deny-x")
        .policy_document(deny.to_string())
        .send()
        .await
        .unwrap();
    iot.attach_policy().policy_name("deny-x").target(&device.arn).send().await.unwrap();
    publish_reason(&mut c5).await;
    assert_eq!(next_puback(&mut c5).await, PubAckReason::NotAuthorized);
    iot.detach_policy().policy_name("deny-x").target(&device.arn).send().await.unwrap();
    publish_reason(&mut c5).await;
    assert_eq!(next_puback(&mut c5).await, PubAckReason::Success);
}

async fn next_puback(c5: &mut V5) -> PubAckReason {
    loop {
        if let ferrocore_testkit::rumqtt::Seen::Packet(P5::PubAck(ack)) = c5.next().await {
            return ack.reason;
        }
    }
}

#[tokio::test]
async fn revoking_or_deactivating_a_certificate_closes_its_connections() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let iot = server.iot_client();
    let mut c1 = v4(&server, "dev-1", &device).await;
    let mut c2 = v5(&server, "dev-2", &device).await;
    assert!(c1.still_open(QUIET).await);
    iot.update_certificate()
        .certificate_id(&device.id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    c1.closed().await;
    let (seen, error) = c2.closed().await;
    let told = seen.iter().any(|p| matches!(p, P5::Disconnect(d) if d.reason_code == rumqttc::v5::mqttbytes::v5::DisconnectReasonCode::NotAuthorized));
    assert!(
        told || error.contains("NotAuthorized"),
        "MQTT 5 clients are told why: {seen:?} {error}"
    );
    let error = v4_refused(&server, "dev-1", &device.cert, &device.key).await;
    assert!(error.contains("NotAuthorized"), "{error}");
    // Active again: it may connect again. Revoked: it may not, for good.
    iot.update_certificate()
        .certificate_id(&device.id)
        .new_status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let mut c3 = v4(&server, "dev-3", &device).await;
    iot.update_certificate()
        .certificate_id(&device.id)
        .new_status(CertificateStatus::Revoked)
        .send()
        .await
        .unwrap();
    c3.closed().await;
}

#[tokio::test]
async fn a_certificate_of_an_unregistered_ca_is_refused() {
    let server = TestServer::start().await;
    // A CA nobody registered, and a device certificate it signed.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["rogue".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let _ = ca;
    let error = v4_refused(&server, "dev-rogue", &cert.pem(), &key.serialize_pem()).await;
    assert!(error.contains("NotAuthorized"), "{error}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let server = TestServer::start().await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["short-lived".to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::seconds(2);
    let cert = params.self_signed(&key).unwrap();
    let iot = server.iot_client();
    let registered = iot
        .register_certificate_without_ca()
        .certificate_pem(cert.pem())
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let arn = registered.certificate_arn().unwrap();
    let allow_all =
        policy(serde_json::json!([{ "Effect": "Allow", "Action": "iot:*", "Resource": "*" }]));
    iot.create_policy()
        .policy_name("all")
        .policy_document(allow_all.to_string())
        .send()
        .await
        .unwrap();
    iot.attach_policy().policy_name("all").target(arn).send().await.unwrap();
    // Valid now: it connects.
    V4::connect(server.v4_tls_options("c", &cert.pem(), &key.serialize_pem())).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let error = v4_refused(&server, "c", &cert.pem(), &key.serialize_pem()).await;
    assert!(error.contains("NotAuthorized"), "{error}");
}

#[tokio::test]
async fn plain_tcp_to_the_tls_port_gets_no_mqtt() {
    let server = TestServer::start().await;
    let mut socket = tokio::net::TcpStream::connect(server.mqtts_addr).await.unwrap();
    // An MQTT 3.1.1 CONNECT: the server expects a TLS ClientHello and closes.
    let connect = [0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'c'];
    socket.write_all(&connect).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(ferrocore_testkit::WAIT, socket.read(&mut buf)).await.unwrap();
    // Closed, or a TLS alert record (content type 21): never a CONNACK (0x20).
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => assert_eq!(buf[0], 21, "unexpected reply {:?}", &buf[..n]),
    }
}

#[tokio::test]
async fn alpn_x_amzn_mqtt_ca_on_the_https_port_speaks_mqtt() {
    let server = TestServer::start().await;
    let device = device(&server, "dev", dev_policy()).await;
    let config = tls::client_config(
        &server.ca_pem(),
        Some((&device.cert, &device.key)),
        &[b"x-amzn-mqtt-ca"],
    );
    let mut options = rumqttc::MqttOptions::new("dev-443", "127.0.0.1", server.https_addr.port());
    options.set_transport(tls::transport(config));
    let mut client = V4::connect(options).await;
    client.subscribe("dev/443", QoS::AtLeastOnce).await;
    client.client.publish("dev/443", QoS::AtLeastOnce, false, "x").await.unwrap();
    assert_eq!(client.publish().await.topic, "dev/443");
    let _ = P4::PingResp;
}

#[tokio::test]
async fn the_plain_listener_applies_its_configured_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-policy.json");
    let local = policy(serde_json::json!([
        { "Effect": "Allow", "Action": ["iot:Connect", "iot:Subscribe", "iot:Receive"], "Resource": "*" },
        { "Effect": "Allow", "Action": "iot:Publish", "Resource": format!("{ARN}:topic/open/*") }
    ]));
    std::fs::write(&file, local.to_string()).unwrap();
    let server = TestServer::start_with(|config| config.tls.mqtt_policy_file = Some(file)).await;
    let mut c5 = server.v5("local").await;
    for (topic, expected) in
        [("open/a", PubAckReason::Success), ("closed/a", PubAckReason::NotAuthorized)]
    {
        c5.client
            .publish(topic, rumqttc::v5::mqttbytes::QoS::AtLeastOnce, false, "x")
            .await
            .unwrap();
        assert_eq!(next_puback(&mut c5).await, expected, "{topic}");
    }
}

#[tokio::test]
async fn the_ca_certificate_is_served_without_authentication() {
    let server = TestServer::start().await;
    let response =
        ferrocore_testkit::http::request(server.api_addr, "GET", "/ca.pem", &[], b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(String::from_utf8(response.body).unwrap(), server.ca_pem());
    let on_disk = std::fs::read_to_string(server.dir.path().join("ca.pem")).unwrap();
    assert_eq!(on_disk, server.ca_pem());
}

#[tokio::test]
async fn the_control_plane_answers_over_https_on_the_mqtt_alpn_port() {
    let server = TestServer::start().await;
    // The SDK connects to https://localhost:{port}, verifying the server certificate issued
    // by the local CA, and offers no MQTT ALPN: it gets the AWS API.
    let iot = server.iot_client_https();
    iot.create_thing().thing_name("over-tls").send().await.unwrap();
    let thing = iot.describe_thing().thing_name("over-tls").send().await.unwrap();
    assert_eq!(thing.thing_name(), Some("over-tls"));
}

#[tokio::test]
async fn a_device_of_a_registered_ca_connects_until_the_ca_is_deactivated() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    // An operator's CA, registered with a verification certificate.
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Acme Devices CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let signed = |cn: &str| {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    let code = iot.get_registration_code().send().await.unwrap();
    let (verification, _) = signed(code.registration_code().unwrap());
    let ca = iot
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .verification_certificate(verification)
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let (cert, key) = signed("acme-device-7");
    let registered = iot
        .register_certificate()
        .certificate_pem(&cert)
        .ca_certificate_pem(&ca_pem)
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    // A policy using the certificate's subject: the client id must be its common name.
    let by_subject = policy(serde_json::json!([
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": format!("{ARN}:client/${{iot:Certificate.Subject.CommonName}}") }
    ]));
    iot.create_policy()
        .policy_name("cn")
        .policy_document(by_subject.to_string())
        .send()
        .await
        .unwrap();
    iot.attach_policy()
        .policy_name("cn")
        .target(registered.certificate_arn().unwrap())
        .send()
        .await
        .unwrap();
    let error = v4_refused(&server, "someone-else", &cert, &key).await;
    assert!(error.contains("NotAuthorized"), "{error}");
    let mut client = V4::connect(server.v4_tls_options("acme-device-7", &cert, &key)).await;
    iot.update_ca_certificate()
        .certificate_id(ca.certificate_id().unwrap())
        .new_status(aws_sdk_iot::types::CaCertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    client.closed().await;
    let error = v4_refused(&server, "acme-device-7", &cert, &key).await;
    assert!(error.contains("NotAuthorized"), "{error}");
}
