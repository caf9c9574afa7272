//! AWS IoT Core limits and their answers: client ids, payload size, topic length and levels,
//! SUBSCRIBE quotas, the publish rate, reserved topics, QoS 2, keep-alive and topic aliases.
//! Each violation is answered in the protocol's terms (MQTT 5 reason codes, MQTT 3.1.1
//! disconnects) and never disturbs another client.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrocore_broker::{BrokerConfig, Profile};
use ferrocore_mqtt::{
    ConnAck, Connect, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Will,
    WillProperties,
};
use ferrocore_testkit::{RawClient, TestServer, V4, V5};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::Packet as Packet5;

const V311: ProtocolVersion = ProtocolVersion::V311;
const MQTT5: ProtocolVersion = ProtocolVersion::V5;

/// The AWS payload limit.
const PAYLOAD_LIMIT: usize = 128 * 1024;
/// Nine levels (eight `/`): one more than AWS allows.
const NINE_LEVELS: &str = "a/b/c/d/e/f/g/h/i";
/// Eight levels: the most AWS allows.
const EIGHT_LEVELS: &str = "a/b/c/d/e/f/g/h";
/// Topics a client may not publish to.
const RESERVED: [&str; 3] =
    ["$aws/things/t/shadow/update/accepted", "$aws/events/presence/connected/x", "$SYS/x"];

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

fn publish(topic: &str, qos: QoS, packet_id: u16, payload: impl Into<Bytes>) -> Packet {
    RawClient::publish_packet(topic, qos, packet_id, payload)
}

fn subscribe(packet_id: u16, filters: &[(&str, QoS)]) -> Packet {
    RawClient::subscribe_packet(packet_id, filters)
}

/// A PUBLISH with a Topic Alias property.
fn aliased(topic: &str, alias: u16, packet_id: u16, payload: &'static [u8]) -> Packet {
    let qos = if packet_id == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    let Packet::Publish(mut p) = publish(topic, qos, packet_id, Bytes::from_static(payload)) else {
        unreachable!()
    };
    p.properties.topic_alias = Some(alias);
    Packet::Publish(p)
}

/// A topic (or filter) of `len` bytes and one level.
fn long_topic(len: usize) -> String {
    "t".repeat(len)
}

/// Encodes several packets into one buffer, to be written with one call.
fn encode_all(version: ProtocolVersion, packets: impl IntoIterator<Item = Packet>) -> BytesMut {
    let mut out = BytesMut::new();
    for packet in packets {
        ferrocore_mqtt::encode(&packet, version, &mut out).unwrap();
    }
    out
}

/// The CONNACK a raw client gets for `connect`.
async fn connack_for(server: &TestServer, connect: Packet) -> (RawClient, ConnAck) {
    let mut client = server.raw().await;
    match client.handshake(connect).await {
        Packet::ConnAck(ack) => (client, ack),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

/// Asserts the next packet is a PUBACK for `packet_id` with `reason`.
async fn expect_puback(client: &mut RawClient, packet_id: u16, reason: ReasonCode) {
    match client.recv().await {
        Some(Packet::PubAck(ack)) => {
            assert_eq!((ack.packet_id, ack.reason), (packet_id, reason), "PUBACK {ack:?}");
        }
        other => panic!("expected PUBACK {packet_id} {reason:?}, got {other:?}"),
    }
}

/// Asserts the next packet is a SUBACK for `packet_id` with exactly `reasons`.
async fn expect_suback(client: &mut RawClient, packet_id: u16, reasons: &[ReasonCode]) {
    match client.recv().await {
        Some(Packet::SubAck(ack)) => {
            assert_eq!(ack.packet_id, packet_id, "SUBACK {ack:?}");
            assert_eq!(ack.reasons, reasons, "SUBACK reason codes");
        }
        other => panic!("expected SUBACK {packet_id}, got {other:?}"),
    }
}

/// Asserts the next packet is a PUBLISH and returns it.
async fn expect_publish(client: &mut RawClient) -> Publish {
    match client.recv().await {
        Some(Packet::Publish(p)) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Asserts the server sends exactly one DISCONNECT with `code` and closes the connection.
async fn expect_disconnect(client: &mut RawClient, code: ReasonCode) {
    let packets = client.until_closed().await;
    match packets.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason, code, "DISCONNECT reason code"),
        other => panic!("expected DISCONNECT {code:?} then close, got {other:?}"),
    }
}

/// Asserts the server closes the connection without sending anything more.
async fn expect_closed_silently(client: &mut RawClient) {
    let packets = client.until_closed().await;
    assert!(packets.is_empty(), "expected the connection to close silently, got {packets:?}");
}

/// Asserts the connection still works: PINGREQ is answered with PINGRESP.
async fn expect_open(client: &mut RawClient) {
    client.send(&Packet::PingReq).await;
    assert_eq!(client.recv().await, Some(Packet::PingResp), "connection should stay open");
}

/// An MQTT 5 rumqttc client that accepts packets up to 1 MiB.
async fn big_v5(server: &TestServer, client_id: &str) -> V5 {
    let mut options = server.v5_options(client_id);
    options.set_max_packet_size(Some(1 << 20));
    V5::connect(options).await
}

/// An MQTT 3.1.1 rumqttc client that accepts and sends packets up to 1 MiB.
async fn big_v4(server: &TestServer, client_id: &str) -> V4 {
    let mut options = server.v4_options(client_id);
    options.set_max_packet_size(1 << 20, 1 << 20);
    V4::connect(options).await
}

fn v5_connack(client: &V5) -> &rumqttc::v5::mqttbytes::v5::ConnAck {
    match &client.connack {
        Packet5::ConnAck(ack) => ack,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

/// A server with the `mqtt` profile's broker settings.
async fn mqtt_profile_server() -> TestServer {
    TestServer::start_with(|config| config.broker = BrokerConfig::for_profile(Profile::Mqtt)).await
}

// ----------------------------------------------------------------------------------------------
// Client identifiers
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_id_over_128_bytes_is_refused_with_0x85_v5() {
    let server = TestServer::start().await;
    let (mut client, ack) =
        connack_for(&server, RawClient::connect_packet(MQTT5, &"c".repeat(129), 60)).await;
    assert_eq!(ack.code, ReasonCode::ClientIdentifierNotValid);
    assert!(!ack.session_present);
    expect_closed_silently(&mut client).await;

    // rumqttc sees the same refusal.
    let (_client, mut events, _task) = V5::start(server.v5_options(&"d".repeat(129)));
    match events.recv().await {
        Some(ferrocore_testkit::rumqtt::Seen::Closed(error)) => assert_eq!(
            error,
            format!(
                "Connection refused, return code: `{:?}`",
                rumqttc::v5::mqttbytes::v5::ConnectReturnCode::ClientIdentifierNotValid
            )
        ),
        other => panic!("expected a refused connection, got {other:?}"),
    }

    // Exactly 128 bytes is allowed.
    server.raw_connected(MQTT5, &"c".repeat(128)).await;
}

#[tokio::test]
async fn client_id_over_128_bytes_is_refused_with_return_code_2_v311() {
    let server = TestServer::start().await;
    let (mut client, ack) =
        connack_for(&server, RawClient::connect_packet(V311, &"c".repeat(129), 60)).await;
    // The 3.1.1 decoder maps return code 2 (and nothing else) to this reason.
    assert_eq!(ack.code, ReasonCode::ClientIdentifierNotValid);
    expect_closed_silently(&mut client).await;

    let (_client, mut events, _task) = V4::start(server.v4_options(&"d".repeat(129)));
    match events.recv().await {
        Some(ferrocore_testkit::rumqtt::Seen::Closed(error)) => assert_eq!(
            error,
            format!(
                "Connection refused, return code: `{:?}`",
                rumqttc::ConnectReturnCode::BadClientId
            )
        ),
        other => panic!("expected a refused connection, got {other:?}"),
    }

    server.raw_connected(V311, &"c".repeat(128)).await;
}

#[tokio::test]
async fn empty_client_id_v5_is_assigned_an_identifier_and_can_publish_and_subscribe() {
    let server = TestServer::start().await;
    let mut client = server.v5("").await;
    let ack = v5_connack(&client);
    assert_eq!(ack.code, rumqttc::v5::mqttbytes::v5::ConnectReturnCode::Success);
    let assigned = ack
        .properties
        .as_ref()
        .and_then(|p| p.assigned_client_identifier.clone())
        .expect("CONNACK should carry an Assigned Client Identifier");
    assert!(!assigned.is_empty() && assigned.len() <= 128, "assigned id {assigned:?}");

    client.subscribe("empty/v5", QoS5::AtLeastOnce).await;
    client.client.publish("empty/v5", QoS5::AtLeastOnce, false, Bytes::from("hi")).await.unwrap();
    let got = client.publish().await;
    assert_eq!((&got.topic[..], &got.payload[..]), (&b"empty/v5"[..], &b"hi"[..]));
}

#[tokio::test]
async fn empty_client_id_v311_with_clean_session_is_accepted() {
    let server = TestServer::start().await;
    let mut client = server.v4("").await;
    match &client.connack {
        rumqttc::Packet::ConnAck(ack) => {
            assert_eq!(ack.code, rumqttc::ConnectReturnCode::Success);
            assert!(!ack.session_present);
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    client.subscribe("empty/v4", rumqttc::QoS::AtLeastOnce).await;
    client.client.publish("empty/v4", rumqttc::QoS::AtLeastOnce, false, "hi").await.unwrap();
    let got = client.publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("empty/v4", &b"hi"[..]));
}

#[tokio::test]
async fn empty_client_id_v311_without_clean_session_is_refused_with_return_code_2() {
    let server = TestServer::start().await;
    let Packet::Connect(mut connect) = RawClient::connect_packet(V311, "", 60) else {
        unreachable!()
    };
    connect.clean_start = false;
    let (mut client, ack) = connack_for(&server, Packet::Connect(connect)).await;
    assert_eq!(ack.code, ReasonCode::ClientIdentifierNotValid);
    assert!(!ack.session_present);
    expect_closed_silently(&mut client).await;
}

// ----------------------------------------------------------------------------------------------
// Payload size
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn payload_of_exactly_128_kib_is_delivered() {
    let server = TestServer::start().await;
    let mut sub5 = big_v5(&server, "sub5").await;
    sub5.subscribe("big/#", QoS5::AtLeastOnce).await;
    let mut sub4 = big_v4(&server, "sub4").await;
    sub4.subscribe("big/#", rumqttc::QoS::AtLeastOnce).await;

    let payload = Bytes::from(vec![0xA5; PAYLOAD_LIMIT]);
    let mut pub5 = server.raw_connected(MQTT5, "pub5").await;
    pub5.send(&publish("big/5", QoS::AtLeastOnce, 1, payload.clone())).await;
    expect_puback(&mut pub5, 1, ReasonCode::Success).await;
    let mut pub4 = server.raw_connected(V311, "pub4").await;
    pub4.send(&publish("big/4", QoS::AtLeastOnce, 1, payload.clone())).await;
    expect_puback(&mut pub4, 1, ReasonCode::Success).await;

    for topic in ["big/5", "big/4"] {
        let got = sub5.publish().await;
        assert_eq!((&got.topic[..], got.payload.len()), (topic.as_bytes(), PAYLOAD_LIMIT));
        assert_eq!(got.payload, payload);
        let got = sub4.publish().await;
        assert_eq!((got.topic.as_str(), got.payload.len()), (topic, PAYLOAD_LIMIT));
    }
}

#[tokio::test]
async fn payload_over_128_kib_disconnects_v5_with_0x95_and_spares_other_clients() {
    let server = TestServer::start().await;
    let mut sub = big_v5(&server, "sub").await;
    sub.subscribe("big/#", QoS5::AtLeastOnce).await;
    let mut bystander = server.raw_connected(MQTT5, "bystander").await;

    let mut offender = server.raw_connected(MQTT5, "offender").await;
    let payload = Bytes::from(vec![0x5A; PAYLOAD_LIMIT + 1]);
    offender.send(&publish("big/too", QoS::AtLeastOnce, 1, payload)).await;
    expect_disconnect(&mut offender, ReasonCode::PacketTooLarge).await;

    // The others are untouched: the bystander publishes, the subscriber receives that (and
    // never the oversize message).
    bystander.send(&publish("big/after", QoS::AtLeastOnce, 1, "still here")).await;
    expect_puback(&mut bystander, 1, ReasonCode::Success).await;
    let got = sub.publish().await;
    assert_eq!((&got.topic[..], &got.payload[..]), (&b"big/after"[..], &b"still here"[..]));
    assert!(sub.still_open(Duration::from_millis(50)).await);
    expect_open(&mut bystander).await;
}

#[tokio::test]
async fn payload_over_128_kib_closes_v311_connection_and_spares_other_clients() {
    let server = TestServer::start().await;
    let mut sub = big_v4(&server, "sub").await;
    sub.subscribe("big/#", rumqttc::QoS::AtLeastOnce).await;
    let mut bystander = server.raw_connected(V311, "bystander").await;

    let mut offender = server.raw_connected(V311, "offender").await;
    let payload = Bytes::from(vec![0x5A; PAYLOAD_LIMIT + 1]);
    offender.send(&publish("big/too", QoS::AtMostOnce, 0, payload)).await;
    expect_closed_silently(&mut offender).await;

    bystander.send(&publish("big/after", QoS::AtLeastOnce, 1, "still here")).await;
    expect_puback(&mut bystander, 1, ReasonCode::Success).await;
    let got = sub.publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("big/after", &b"still here"[..]));
    expect_open(&mut bystander).await;
}

// ----------------------------------------------------------------------------------------------
// Topic length and levels (PUBLISH)
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn topic_over_256_bytes_gets_puback_0x90_v5_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "long").await;
    client.send(&publish(&long_topic(257), QoS::AtLeastOnce, 1, "x")).await;
    expect_puback(&mut client, 1, ReasonCode::TopicNameInvalid).await;
    client.send(&publish(&long_topic(256), QoS::AtLeastOnce, 2, "x")).await;
    expect_puback(&mut client, 2, ReasonCode::Success).await;
    expect_open(&mut client).await;
}

#[tokio::test]
async fn topic_over_8_levels_gets_puback_0x90_v5_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "deep").await;
    client.send(&publish(NINE_LEVELS, QoS::AtLeastOnce, 1, "x")).await;
    expect_puback(&mut client, 1, ReasonCode::TopicNameInvalid).await;
    client.send(&publish(EIGHT_LEVELS, QoS::AtLeastOnce, 2, "x")).await;
    expect_puback(&mut client, 2, ReasonCode::Success).await;
    expect_open(&mut client).await;
}

#[tokio::test]
async fn topic_over_limits_at_qos0_is_dropped_v5_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("#", QoS5::AtMostOnce).await;
    let mut client = server.raw_connected(MQTT5, "pub").await;
    client.send(&publish(NINE_LEVELS, QoS::AtMostOnce, 0, "deep")).await;
    client.send(&publish(&long_topic(257), QoS::AtMostOnce, 0, "long")).await;
    client.send(&publish("ok/after", QoS::AtMostOnce, 0, "after")).await;
    expect_open(&mut client).await;
    // Messages from one connection arrive in order: the first one delivered is the valid one.
    let got = sub.publish().await;
    assert_eq!((&got.topic[..], &got.payload[..]), (&b"ok/after"[..], &b"after"[..]));
}

#[tokio::test]
async fn topic_over_limits_closes_v311_connection() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("#", rumqttc::QoS::AtMostOnce).await;
    for (i, topic) in [NINE_LEVELS.to_owned(), long_topic(257)].iter().enumerate() {
        let mut client = server.raw_connected(V311, &format!("v3-{i}")).await;
        client.send(&publish(topic, QoS::AtLeastOnce, 1, "x")).await;
        expect_closed_silently(&mut client).await;
    }
    let mut client = server.raw_connected(V311, "v3-ok").await;
    client.send(&publish(EIGHT_LEVELS, QoS::AtLeastOnce, 1, "ok")).await;
    expect_puback(&mut client, 1, ReasonCode::Success).await;
    assert_eq!(sub.publish().await.topic, EIGHT_LEVELS);
}

#[tokio::test]
async fn aws_rules_prefix_does_not_count_towards_topic_levels() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "ingest").await;
    client.send(&publish("$aws/rules/r/a/b/c/d/e/f/g/h", QoS::AtLeastOnce, 1, "x")).await;
    expect_puback(&mut client, 1, ReasonCode::Success).await;
    client.send(&publish("$aws/rules/r/a/b/c/d/e/f/g/h/i", QoS::AtLeastOnce, 2, "x")).await;
    expect_puback(&mut client, 2, ReasonCode::TopicNameInvalid).await;
    expect_open(&mut client).await;
}

// ----------------------------------------------------------------------------------------------
// SUBSCRIBE limits
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn subscribe_filter_over_limits_gets_suback_0x8f_v5_for_that_filter_only() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "sub").await;
    let long = long_topic(257);
    client
        .send(&subscribe(
            1,
            &[
                ("ok/1", QoS::AtLeastOnce),
                (NINE_LEVELS, QoS::AtLeastOnce),
                (&long, QoS::AtLeastOnce),
                ("a/b/c/d/e/f/g/h/#", QoS::AtMostOnce),
                ("a/b/c/d/e/f/g/#", QoS::AtMostOnce),
            ],
        ))
        .await;
    expect_suback(
        &mut client,
        1,
        &[
            ReasonCode::GrantedQoS1,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::Success,
        ],
    )
    .await;
    // The granted filters work.
    client.send(&publish("ok/1", QoS::AtMostOnce, 0, "granted")).await;
    let got = expect_publish(&mut client).await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("ok/1", &b"granted"[..]));
}

#[tokio::test]
async fn subscribe_filter_over_limits_closes_v311_connection() {
    let server = TestServer::start().await;
    for (i, filter) in [NINE_LEVELS.to_owned(), long_topic(257)].iter().enumerate() {
        let mut client = server.raw_connected(V311, &format!("v3-{i}")).await;
        client.send(&subscribe(1, &[("ok/1", QoS::AtLeastOnce), (filter, QoS::AtLeastOnce)])).await;
        expect_closed_silently(&mut client).await;
    }
    let mut client = server.raw_connected(V311, "v3-ok").await;
    client.send(&subscribe(1, &[(EIGHT_LEVELS, QoS::AtLeastOnce)])).await;
    expect_suback(&mut client, 1, &[ReasonCode::GrantedQoS1]).await;
}

fn filters(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}/{i}")).collect()
}

fn with_qos(filters: &[String], qos: QoS) -> Vec<(&str, QoS)> {
    filters.iter().map(|f| (f.as_str(), qos)).collect()
}

#[tokio::test]
async fn more_than_8_filters_in_one_subscribe_disconnects_v5_with_0x97() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "many").await;
    client.send(&subscribe(1, &with_qos(&filters("f", 0..8), QoS::AtLeastOnce))).await;
    expect_suback(&mut client, 1, &[ReasonCode::GrantedQoS1; 8]).await;
    client.send(&subscribe(2, &with_qos(&filters("g", 0..9), QoS::AtLeastOnce))).await;
    expect_disconnect(&mut client, ReasonCode::QuotaExceeded).await;
}

#[tokio::test]
async fn more_than_8_filters_in_one_subscribe_closes_v311_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(V311, "many").await;
    client.send(&subscribe(1, &with_qos(&filters("f", 0..8), QoS::AtLeastOnce))).await;
    expect_suback(&mut client, 1, &[ReasonCode::GrantedQoS1; 8]).await;
    client.send(&subscribe(2, &with_qos(&filters("g", 0..9), QoS::AtLeastOnce))).await;
    expect_closed_silently(&mut client).await;
}

/// Subscribes to `s/0` .. `s/49` in SUBSCRIBEs of at most 8 filters, all granted.
async fn subscribe_50(client: &mut RawClient) {
    let all = filters("s", 0..50);
    for (i, chunk) in all.chunks(8).enumerate() {
        let packet_id = u16::try_from(i + 1).unwrap();
        client.send(&subscribe(packet_id, &with_qos(chunk, QoS::AtLeastOnce))).await;
        let granted = vec![ReasonCode::GrantedQoS1; chunk.len()];
        expect_suback(client, packet_id, &granted).await;
    }
}

#[tokio::test]
async fn the_51st_subscription_gets_suback_0x97_v5() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "fifty").await;
    subscribe_50(&mut client).await;
    // Replacing an existing subscription does not add one; new ones are over the quota.
    client
        .send(&subscribe(
            100,
            &[("s/0", QoS::AtMostOnce), ("s/50", QoS::AtLeastOnce), ("s/51", QoS::AtLeastOnce)],
        ))
        .await;
    expect_suback(
        &mut client,
        100,
        &[ReasonCode::Success, ReasonCode::QuotaExceeded, ReasonCode::QuotaExceeded],
    )
    .await;
    expect_open(&mut client).await;
}

#[tokio::test]
async fn the_51st_subscription_closes_v311_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(V311, "fifty").await;
    subscribe_50(&mut client).await;
    client.send(&subscribe(100, &[("s/50", QoS::AtLeastOnce)])).await;
    expect_closed_silently(&mut client).await;
}

#[tokio::test]
async fn mqtt_profile_allows_60_subscriptions() {
    let server = mqtt_profile_server().await;
    let mut client = server.raw_connected(MQTT5, "sixty").await;
    let all = filters("s", 0..60);
    client.send(&subscribe(1, &with_qos(&all, QoS::AtLeastOnce))).await;
    expect_suback(&mut client, 1, &[ReasonCode::GrantedQoS1; 60]).await;
    let mut v3 = server.raw_connected(V311, "sixty-v3").await;
    v3.send(&subscribe(1, &with_qos(&all, QoS::AtLeastOnce))).await;
    expect_suback(&mut v3, 1, &[ReasonCode::GrantedQoS1; 60]).await;
}

// ----------------------------------------------------------------------------------------------
// Publish rate
// ----------------------------------------------------------------------------------------------

/// Reads `count` PUBACKs and returns their reason codes by packet id (1-based ids).
async fn read_pubacks(client: &mut RawClient, count: usize) -> Vec<(u16, ReasonCode)> {
    let mut acks = Vec::with_capacity(count);
    for _ in 0..count {
        match client.recv().await {
            Some(Packet::PubAck(PubAck { packet_id, reason, .. })) => {
                acks.push((packet_id, reason))
            }
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
    acks
}

/// The most publishes a bucket of `rate` per second can allow in `elapsed`, starting full.
fn rate_bound(rate: u32, elapsed: Duration) -> usize {
    let refill = (elapsed.as_secs_f64() * f64::from(rate)).ceil();
    rate as usize + refill as usize
}

#[tokio::test]
async fn publishing_over_the_rate_limit_gets_puback_0x97_v5() {
    let server = TestServer::start_with(|config| config.broker.max_publishes_per_second = 5).await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("rate/#", QoS5::AtMostOnce).await;
    let mut client = server.raw_connected(MQTT5, "fast").await;

    let started = Instant::now();
    let burst =
        (1..=20u16).map(|id| publish("rate/x", QoS::AtLeastOnce, id, id.to_string().into_bytes()));
    client.send_bytes(&encode_all(MQTT5, burst)).await;
    let acks = read_pubacks(&mut client, 20).await;
    let elapsed = started.elapsed();

    let ids: Vec<u16> = acks.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>(), "PUBACKs in order");
    let accepted: Vec<u16> =
        acks.iter().filter(|(_, r)| *r == ReasonCode::Success).map(|(id, _)| *id).collect();
    for (id, reason) in &acks {
        assert!(
            matches!(reason, ReasonCode::Success | ReasonCode::QuotaExceeded),
            "PUBACK {id}: {reason:?}"
        );
    }
    // The bucket starts full: the first five pass; then only what refilled meanwhile.
    assert_eq!(&accepted[..5], &[1, 2, 3, 4, 5], "acks: {acks:?}");
    assert!(
        accepted.len() <= rate_bound(5, elapsed),
        "{} accepted in {elapsed:?}: {acks:?}",
        accepted.len()
    );
    assert!(acks.iter().any(|(_, r)| *r == ReasonCode::QuotaExceeded), "acks: {acks:?}");
    expect_open(&mut client).await;

    // The bucket refills: after 400 ms (two tokens) a publish passes again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    client.send(&publish("rate/marker", QoS::AtLeastOnce, 21, "marker")).await;
    expect_puback(&mut client, 21, ReasonCode::Success).await;

    // Only the accepted publishes were delivered.
    let mut delivered = Vec::new();
    loop {
        let got = sub.publish().await;
        if &got.topic[..] == b"rate/marker" {
            break;
        }
        delivered.push(String::from_utf8(got.payload.to_vec()).unwrap().parse::<u16>().unwrap());
    }
    assert_eq!(delivered, accepted);
}

#[tokio::test]
async fn default_rate_limit_refuses_part_of_a_burst_of_150_v5() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "burst").await;
    let started = Instant::now();
    // Two bursts, each within the Receive Maximum of 100 the server announces.
    let first = (1..=100u16).map(|id| publish("burst/x", QoS::AtLeastOnce, id, "x"));
    client.send_bytes(&encode_all(MQTT5, first)).await;
    let mut acks = read_pubacks(&mut client, 100).await;
    let second = (101..=150u16).map(|id| publish("burst/x", QoS::AtLeastOnce, id, "x"));
    client.send_bytes(&encode_all(MQTT5, second)).await;
    acks.extend(read_pubacks(&mut client, 50).await);
    let elapsed = started.elapsed();

    let accepted = acks.iter().filter(|(_, r)| *r == ReasonCode::Success).count();
    let refused = acks.iter().filter(|(_, r)| *r == ReasonCode::QuotaExceeded).count();
    assert_eq!(accepted + refused, 150, "acks: {acks:?}");
    assert!(acks[..100].iter().all(|(_, r)| *r == ReasonCode::Success), "first 100: {acks:?}");
    assert!(accepted <= rate_bound(100, elapsed), "{accepted} accepted in {elapsed:?}");
    if elapsed < Duration::from_millis(450) {
        // Less than 45 tokens can have refilled: some of the last 50 are refused.
        assert!(refused >= 1, "nothing refused in {elapsed:?}");
    }
    expect_open(&mut client).await;
}

#[tokio::test]
async fn publishing_over_the_rate_limit_disconnects_v311() {
    let server = TestServer::start_with(|config| config.broker.max_publishes_per_second = 5).await;
    let mut client = server.raw_connected(V311, "fast").await;
    let started = Instant::now();
    let burst = (1..=20u16).map(|id| publish("rate/x", QoS::AtLeastOnce, id, "x"));
    client.send_bytes(&encode_all(V311, burst)).await;
    let packets = client.until_closed().await;
    let elapsed = started.elapsed();
    let acked: Vec<u16> = packets
        .iter()
        .map(|p| match p {
            Packet::PubAck(ack) if ack.reason == ReasonCode::Success => ack.packet_id,
            other => panic!("expected only PUBACKs before the close, got {other:?}"),
        })
        .collect();
    assert!(acked.len() >= 5 && acked.len() <= rate_bound(5, elapsed), "acked {acked:?}");
    assert_eq!(acked, (1..=u16::try_from(acked.len()).unwrap()).collect::<Vec<_>>());
}

// ----------------------------------------------------------------------------------------------
// Reserved topics
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn publishing_to_a_reserved_topic_gets_puback_0x87_v5_and_is_not_delivered() {
    // Lifecycle events are real publications on `$aws/events/...`; off here so that the
    // subscriber of `$aws/#` sees only what the client published.
    let server = TestServer::start_with(|c| c.broker.lifecycle_events = false).await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("$aws/#", QoS5::AtMostOnce).await;
    sub.subscribe("$SYS/#", QoS5::AtMostOnce).await;
    let mut client = server.raw_connected(MQTT5, "pub").await;
    for (i, topic) in RESERVED.iter().enumerate() {
        let packet_id = u16::try_from(i + 1).unwrap();
        client.send(&publish(topic, QoS::AtLeastOnce, packet_id, "nope")).await;
        expect_puback(&mut client, packet_id, ReasonCode::NotAuthorized).await;
    }
    client.send(&publish("$aws/things/t/shadow/update", QoS::AtLeastOnce, 9, "{}")).await;
    expect_puback(&mut client, 9, ReasonCode::Success).await;
    let got = sub.publish().await;
    assert_eq!(&got.topic[..], b"$aws/things/t/shadow/update");
    expect_open(&mut client).await;
}

#[tokio::test]
async fn publishing_to_a_reserved_topic_closes_v311_connection() {
    let server = TestServer::start().await;
    for (i, topic) in RESERVED.iter().enumerate() {
        let mut client = server.raw_connected(V311, &format!("v3-{i}")).await;
        client.send(&publish(topic, QoS::AtMostOnce, 0, "nope")).await;
        expect_closed_silently(&mut client).await;
    }
}

#[tokio::test]
async fn shadow_update_is_publishable_and_delivered() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("$aws/things/+/shadow/update", rumqttc::QoS::AtLeastOnce).await;
    let publisher = server.v4("thing").await;
    publisher
        .client
        .publish("$aws/things/t/shadow/update", rumqttc::QoS::AtLeastOnce, false, "{\"state\":{}}")
        .await
        .unwrap();
    let got = sub.publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("$aws/things/t/shadow/update", &b"{\"state\":{}}"[..])
    );
    let publisher5 = server.v5("thing5").await;
    publisher5
        .client
        .publish("$aws/things/t5/shadow/update", QoS5::AtLeastOnce, false, Bytes::from("{}"))
        .await
        .unwrap();
    assert_eq!(sub.publish().await.topic, "$aws/things/t5/shadow/update");
}

#[tokio::test]
async fn retained_publish_to_a_dollar_topic_is_refused_with_0x87() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("$aws/things/+/shadow/update", QoS5::AtMostOnce).await;
    let mut client = server.raw_connected(MQTT5, "pub").await;
    let Packet::Publish(mut retained) =
        publish("$aws/things/t/shadow/update", QoS::AtLeastOnce, 1, "retained")
    else {
        unreachable!()
    };
    retained.retain = true;
    client.send(&Packet::Publish(retained)).await;
    expect_puback(&mut client, 1, ReasonCode::NotAuthorized).await;
    client.send(&publish("$aws/things/t/shadow/update", QoS::AtLeastOnce, 2, "live")).await;
    expect_puback(&mut client, 2, ReasonCode::Success).await;
    let got = sub.publish().await;
    assert_eq!((&got.payload[..], got.retain), (&b"live"[..], false));

    // Nothing was retained.
    let mut late = server.v5("late").await;
    late.subscribe("$aws/things/+/shadow/update", QoS5::AtMostOnce).await;
    late.no_publish().await;
}

#[tokio::test]
async fn reserved_topics_are_publishable_when_enforcement_is_off() {
    let server =
        TestServer::start_with(|config| config.broker.enforce_reserved_topics = false).await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("$SYS/#", QoS5::AtMostOnce).await;
    let mut client = server.raw_connected(MQTT5, "pub").await;
    client.send(&publish("$SYS/x", QoS::AtLeastOnce, 1, "allowed")).await;
    expect_puback(&mut client, 1, ReasonCode::Success).await;
    let got = sub.publish().await;
    assert_eq!((&got.topic[..], &got.payload[..]), (&b"$SYS/x"[..], &b"allowed"[..]));
}

// ----------------------------------------------------------------------------------------------
// QoS 2
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn v5_connack_announces_maximum_qos_1() {
    let server = TestServer::start().await;
    let client = server.v5("c").await;
    let props = v5_connack(&client).properties.clone().expect("CONNACK properties");
    assert_eq!(props.max_qos, Some(1));
    // With QoS 2 on, the property is absent (which means QoS 2).
    let server = mqtt_profile_server().await;
    let client = server.v5("c").await;
    let props = v5_connack(&client).properties.clone().expect("CONNACK properties");
    assert_eq!(props.max_qos, None);
}

#[tokio::test]
async fn qos2_subscribe_is_granted_qos1_v5() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "sub").await;
    client.send(&subscribe(1, &[("q/2", QoS::ExactlyOnce)])).await;
    expect_suback(&mut client, 1, &[ReasonCode::GrantedQoS1]).await;
    let mut rumq = server.v5("rumq").await;
    rumq.client.subscribe("q/2", QoS5::ExactlyOnce).await.unwrap();
    assert_eq!(
        rumq.suback().await,
        [rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(QoS5::AtLeastOnce)]
    );
}

#[tokio::test]
async fn qos2_subscribe_is_granted_qos1_v311() {
    let server = TestServer::start().await;
    let mut client = server.v4("sub").await;
    client.client.subscribe("q/2", rumqttc::QoS::ExactlyOnce).await.unwrap();
    assert_eq!(
        client.suback().await,
        [rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]
    );
}

#[tokio::test]
async fn qos2_publish_disconnects_v5_with_0x9b() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("q/#", QoS5::AtLeastOnce).await;
    let mut client = server.raw_connected(MQTT5, "pub").await;
    client.send(&publish("q/2", QoS::ExactlyOnce, 1, "two")).await;
    expect_disconnect(&mut client, ReasonCode::QoSNotSupported).await;
    let other = server.v5("other").await;
    other.client.publish("q/1", QoS5::AtLeastOnce, false, Bytes::from("one")).await.unwrap();
    assert_eq!(&sub.publish().await.topic[..], b"q/1", "the QoS 2 message must not be routed");
}

#[tokio::test]
async fn qos2_publish_closes_v311_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(V311, "pub").await;
    client.send(&publish("q/2", QoS::ExactlyOnce, 1, "two")).await;
    expect_closed_silently(&mut client).await;
}

#[tokio::test]
async fn qos2_is_delivered_exactly_once_with_the_mqtt_profile() {
    let server = mqtt_profile_server().await;
    let mut sub = server.raw_connected(MQTT5, "sub").await;
    sub.send(&subscribe(1, &[("q2/x", QoS::ExactlyOnce)])).await;
    expect_suback(&mut sub, 1, &[ReasonCode::GrantedQoS2]).await;
    let mut publisher = server.raw_connected(MQTT5, "pub").await;

    // First PUBLISH: PUBREC.
    publisher.send(&publish("q2/x", QoS::ExactlyOnce, 7, "first")).await;
    assert_eq!(publisher.recv().await, Some(Packet::PubRec(PubAck::success(7))));

    // The subscriber gets it at QoS 2 and completes its side of the flow.
    let got = expect_publish(&mut sub).await;
    assert_eq!((got.qos, got.dup, &got.payload[..]), (QoS::ExactlyOnce, false, &b"first"[..]));
    sub.send(&Packet::PubRec(PubAck::success(got.packet_id))).await;
    assert_eq!(sub.recv().await, Some(Packet::PubRel(PubAck::success(got.packet_id))));
    sub.send(&Packet::PubComp(PubAck::success(got.packet_id))).await;

    // A resent PUBLISH (DUP, same packet id) before PUBREL is acknowledged, not routed again.
    let Packet::Publish(mut again) = publish("q2/x", QoS::ExactlyOnce, 7, "first") else {
        unreachable!()
    };
    again.dup = true;
    publisher.send(&Packet::Publish(again)).await;
    assert_eq!(publisher.recv().await, Some(Packet::PubRec(PubAck::success(7))));
    publisher.send(&Packet::PubRel(PubAck::success(7))).await;
    assert_eq!(publisher.recv().await, Some(Packet::PubComp(PubAck::success(7))));

    // After PUBCOMP the packet id is free: the same id carries a new message.
    publisher.send(&publish("q2/x", QoS::ExactlyOnce, 7, "second")).await;
    assert_eq!(publisher.recv().await, Some(Packet::PubRec(PubAck::success(7))));
    publisher.send(&Packet::PubRel(PubAck::success(7))).await;
    assert_eq!(publisher.recv().await, Some(Packet::PubComp(PubAck::success(7))));

    let got = expect_publish(&mut sub).await;
    assert_eq!(&got.payload[..], b"second", "the first message must be delivered only once");
    sub.send(&Packet::PubRec(PubAck::success(got.packet_id))).await;
    assert_eq!(sub.recv().await, Some(Packet::PubRel(PubAck::success(got.packet_id))));
    sub.send(&Packet::PubComp(PubAck::success(got.packet_id))).await;
    assert_eq!(sub.try_recv().await, None);
}

// ----------------------------------------------------------------------------------------------
// Keep-alive
// ----------------------------------------------------------------------------------------------

async fn server_keep_alive(server: &TestServer, keep_alive: u16) -> Option<u16> {
    let (_client, ack) =
        connack_for(server, RawClient::connect_packet(MQTT5, "ka", keep_alive)).await;
    assert_eq!(ack.code, ReasonCode::Success);
    ack.properties.server_keep_alive
}

#[tokio::test]
async fn keep_alive_below_30_is_raised_to_30_and_announced_v5() {
    let server = TestServer::start().await;
    assert_eq!(server_keep_alive(&server, 5).await, Some(30));
}

#[tokio::test]
async fn keep_alive_0_or_over_1200_becomes_1200_v5() {
    let server = TestServer::start().await;
    assert_eq!(server_keep_alive(&server, 0).await, Some(1200));
    assert_eq!(server_keep_alive(&server, 4000).await, Some(1200));
}

#[tokio::test]
async fn keep_alive_within_bounds_is_kept_without_server_keep_alive_v5() {
    let server = TestServer::start().await;
    assert_eq!(server_keep_alive(&server, 60).await, None);
}

#[tokio::test]
async fn mqtt_profile_keeps_a_keep_alive_of_5() {
    let server = mqtt_profile_server().await;
    assert_eq!(server_keep_alive(&server, 5).await, None);
}

/// CONNECT with keep-alive `keep_alive` and a QoS 1 will "gone" on `will/{client_id}`.
fn connect_with_will(version: ProtocolVersion, client_id: &str, keep_alive: u16) -> Packet {
    let Packet::Connect(connect) = RawClient::connect_packet(version, client_id, keep_alive) else {
        unreachable!()
    };
    Packet::Connect(Box::new(Connect {
        will: Some(Will {
            topic: format!("will/{client_id}"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        ..*connect
    }))
}

/// Connects a client with keep-alive 1 s and a will, sends nothing, and returns what the
/// server sent before closing and how long after CONNECT it closed.
async fn stay_silent(server: &TestServer, version: ProtocolVersion) -> (Vec<Packet>, Duration) {
    let started = Instant::now();
    let (mut client, ack) = connack_for(server, connect_with_will(version, "silent", 1)).await;
    assert_eq!(ack.code, ReasonCode::Success);
    assert_eq!(ack.properties.server_keep_alive, None);
    let packets = client.until_closed().await;
    (packets, started.elapsed())
}

fn assert_about_one_and_a_half_seconds(elapsed: Duration) {
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_millis(2500),
        "disconnected after {elapsed:?}, expected about 1.5 s"
    );
}

#[tokio::test]
async fn silent_client_is_disconnected_after_one_and_a_half_keep_alives_and_its_will_published() {
    let server = TestServer::start_with(|config| config.broker.keep_alive_min = 1).await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("will/#", QoS5::AtLeastOnce).await;
    let (packets, elapsed) = stay_silent(&server, MQTT5).await;
    match packets.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason, ReasonCode::KeepAliveTimeout),
        other => panic!("expected DISCONNECT 0x8D then close, got {other:?}"),
    }
    assert_about_one_and_a_half_seconds(elapsed);
    let will = sub.publish().await;
    assert_eq!((&will.topic[..], &will.payload[..]), (&b"will/silent"[..], &b"gone"[..]));
}

#[tokio::test]
async fn silent_v311_client_is_closed_after_one_and_a_half_keep_alives_and_its_will_published() {
    let server = TestServer::start_with(|config| config.broker.keep_alive_min = 1).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("will/#", rumqttc::QoS::AtLeastOnce).await;
    let (packets, elapsed) = stay_silent(&server, V311).await;
    assert!(packets.is_empty(), "expected a silent close, got {packets:?}");
    assert_about_one_and_a_half_seconds(elapsed);
    let will = sub.publish().await;
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("will/silent", &b"gone"[..]));
}

#[tokio::test]
async fn any_packet_restarts_the_keep_alive_timer() {
    let server = TestServer::start_with(|config| config.broker.keep_alive_min = 1).await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("will/#", QoS5::AtLeastOnce).await;
    let (mut client, ack) = connack_for(&server, connect_with_will(MQTT5, "pinging", 1)).await;
    assert_eq!(ack.code, ReasonCode::Success);
    // 2.4 s of PINGREQs every 600 ms: well past 1.5 s, never 1.5 s apart.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        expect_open(&mut client).await;
    }
    sub.no_publish().await;
}

// ----------------------------------------------------------------------------------------------
// Topic aliases (MQTT 5)
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn v5_connack_announces_topic_alias_maximum_8() {
    let server = TestServer::start().await;
    let (_client, ack) = connack_for(&server, RawClient::connect_packet(MQTT5, "c", 60)).await;
    assert_eq!(ack.properties.topic_alias_maximum, Some(8));
}

#[tokio::test]
async fn topic_alias_above_the_maximum_disconnects_with_0x94() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "alias").await;
    client.send(&aliased("alias/a", 8, 1, b"ok")).await;
    expect_puback(&mut client, 1, ReasonCode::Success).await;
    client.send(&aliased("alias/a", 9, 2, b"too high")).await;
    expect_disconnect(&mut client, ReasonCode::TopicAliasInvalid).await;
}

#[tokio::test]
async fn topic_alias_0_disconnects_with_0x94() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "alias").await;
    client.send(&aliased("alias/a", 0, 1, b"zero")).await;
    expect_disconnect(&mut client, ReasonCode::TopicAliasInvalid).await;
}

#[tokio::test]
async fn topic_alias_stands_for_the_topic_it_was_last_set_with() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("alias/#", QoS5::AtLeastOnce).await;
    let mut client = server.raw_connected(MQTT5, "alias").await;
    let steps: [(&str, &'static [u8]); 4] =
        [("alias/a", b"one"), ("", b"two"), ("alias/b", b"three"), ("", b"four")];
    for (i, (topic, payload)) in steps.iter().enumerate() {
        let packet_id = u16::try_from(i + 1).unwrap();
        client.send(&aliased(topic, 1, packet_id, payload)).await;
        expect_puback(&mut client, packet_id, ReasonCode::Success).await;
    }
    let expected: [(&[u8], &[u8]); 4] =
        [(b"alias/a", b"one"), (b"alias/a", b"two"), (b"alias/b", b"three"), (b"alias/b", b"four")];
    for (topic, payload) in expected {
        let got = sub.publish().await;
        assert_eq!((&got.topic[..], &got.payload[..]), (topic, payload));
    }
}

#[tokio::test]
async fn empty_topic_with_an_unknown_alias_disconnects_with_protocol_error() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "alias").await;
    client.send(&aliased("alias/a", 1, 1, b"set")).await;
    expect_puback(&mut client, 1, ReasonCode::Success).await;
    client.send(&aliased("", 2, 2, b"unknown")).await;
    expect_disconnect(&mut client, ReasonCode::ProtocolError).await;
}
