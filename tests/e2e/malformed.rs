//! Malformed and unexpected input, written as raw bytes: the server answers an MQTT 5 client
//! with the DISCONNECT reason code the specification asks for, closes an MQTT 3.1.1 client
//! without a word, and keeps serving everyone else.

use std::time::Duration;

use bytes::BytesMut;
use ferrocore_mqtt::{Packet, ProtocolVersion, ReasonCode};
use ferrocore_testkit::{RawClient, TestServer};

const V311: ProtocolVersion = ProtocolVersion::V311;
const MQTT5: ProtocolVersion = ProtocolVersion::V5;

/// CONNECT with protocol name `name`, level `level`, clean session, keep-alive 60 and client
/// id "c" (no properties: the server stops reading at the level).
fn connect_bytes(name: &[u8; 4], level: u8) -> Vec<u8> {
    let mut bytes = vec![0x10, 13, 0, 4];
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&[level, 0x02, 0, 60, 0, 1, b'c']);
    bytes
}

/// Asserts the server sends exactly one DISCONNECT with `code` and closes the connection.
async fn expect_disconnect(client: &mut RawClient, code: ReasonCode) {
    let packets = client.until_closed().await;
    match packets.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason, code, "DISCONNECT reason code"),
        other => panic!("expected DISCONNECT {code:?} then close, got {other:?}"),
    }
}

/// Asserts the server closes the connection without sending anything.
async fn expect_closed_silently(client: &mut RawClient) {
    let packets = client.until_closed().await;
    assert!(packets.is_empty(), "expected the connection to close silently, got {packets:?}");
}

/// Connects an MQTT 5 raw client, sends `bytes` and expects DISCONNECT `code` then close.
async fn v5_answers(server: &TestServer, bytes: &[u8], code: ReasonCode) {
    let mut client = server.raw_connected(MQTT5, "bad").await;
    client.send_bytes(bytes).await;
    expect_disconnect(&mut client, code).await;
}

/// A fresh well-behaved client can still connect, subscribe and publish.
async fn assert_still_serving(server: &TestServer) {
    let mut client = server.v4("healthy").await;
    client.subscribe("health/check", rumqttc::QoS::AtLeastOnce).await;
    client.client.publish("health/check", rumqttc::QoS::AtLeastOnce, false, "ok").await.unwrap();
    let got = client.publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("health/check", &b"ok"[..]));
}

#[tokio::test]
async fn first_packet_other_than_connect_closes_without_connack() {
    let server = TestServer::start().await;
    // PINGREQ, then a PUBLISH, each as the first packet of a connection.
    for bytes in [&[0xC0, 0x00][..], &[0x30, 0x03, 0x00, 0x01, b'a'][..]] {
        let mut client = server.raw().await;
        client.send_bytes(bytes).await;
        expect_closed_silently(&mut client).await;
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn unsupported_protocol_level_gets_connack_return_code_1() {
    let server = TestServer::start().await;
    for level in [3, 6] {
        let mut client = server.raw().await;
        // The answer is in MQTT 3.1.1 form (a v5 CONNACK would not decode as 3.1.1).
        client.set_version(V311);
        client.send_bytes(&connect_bytes(b"MQTT", level)).await;
        let packets = client.until_closed().await;
        match packets.as_slice() {
            [Packet::ConnAck(ack)] => {
                // Return code 1 is the only one the 3.1.1 decoder maps to this reason.
                assert_eq!(ack.code, ReasonCode::UnsupportedProtocolVersion, "level {level}");
                assert!(!ack.session_present);
            }
            other => panic!("level {level}: expected CONNACK 1 then close, got {other:?}"),
        }
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn wrong_protocol_name_closes_the_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    client.set_version(V311);
    client.send_bytes(&connect_bytes(b"MQTX", 4)).await;
    let packets = client.until_closed().await;
    match packets.as_slice() {
        [] => {}
        [Packet::ConnAck(ack)] => assert_eq!(ack.code, ReasonCode::UnsupportedProtocolVersion),
        other => panic!("expected a close (or CONNACK 1 then close), got {other:?}"),
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn remaining_length_of_five_bytes_disconnects_with_0x81() {
    let server = TestServer::start().await;
    v5_answers(&server, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn reserved_fixed_header_flags_disconnect_with_0x81() {
    let server = TestServer::start().await;
    // SUBSCRIBE with flags 0 instead of 2: packet id 1, no properties, filter "a", QoS 1.
    let bytes = [0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x01];
    v5_answers(&server, &bytes, ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn publish_with_qos_3_disconnects_with_0x81() {
    let server = TestServer::start().await;
    // Topic "a", packet id 1, no properties.
    let bytes = [0x36, 0x06, 0x00, 0x01, b'a', 0x00, 0x01, 0x00];
    v5_answers(&server, &bytes, ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn publish_topic_with_a_wildcard_disconnects_with_0x90() {
    let server = TestServer::start().await;
    for topic in [b'+', b'#'] {
        // QoS 0, topic "a/+" or "a/#", no properties, payload "x".
        let bytes = [0x30, 0x07, 0x00, 0x03, b'a', b'/', topic, 0x00, b'x'];
        v5_answers(&server, &bytes, ReasonCode::TopicNameInvalid).await;
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn invalid_utf8_in_a_topic_disconnects_with_0x81() {
    let server = TestServer::start().await;
    // Topic 0xC3 0x28 (an invalid two-byte sequence), no properties.
    let bytes = [0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00];
    v5_answers(&server, &bytes, ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn subscribe_without_filters_disconnects_with_0x81() {
    let server = TestServer::start().await;
    // Packet id 1, no properties, no filter.
    v5_answers(&server, &[0x82, 0x03, 0x00, 0x01, 0x00], ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn qos1_publish_with_packet_id_0_disconnects_with_0x81() {
    let server = TestServer::start().await;
    // Topic "a", packet id 0, no properties, payload "x".
    let bytes = [0x32, 0x07, 0x00, 0x01, b'a', 0x00, 0x00, 0x00, b'x'];
    v5_answers(&server, &bytes, ReasonCode::MalformedPacket).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn second_connect_disconnects_with_0x82() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "twice").await;
    client.send(&RawClient::connect_packet(MQTT5, "twice", 60)).await;
    expect_disconnect(&mut client, ReasonCode::ProtocolError).await;
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn oversize_packet_is_refused_from_its_header_with_0x95() {
    let server = TestServer::start().await;
    let mut client = server.raw_connected(MQTT5, "huge").await;
    // PUBLISH announcing 200 000 bytes (0xC0 0x9A 0x0C); the body is never sent.
    client.send_bytes(&[0x30, 0xC0, 0x9A, 0x0C]).await;
    let packets = tokio::time::timeout(Duration::from_secs(2), client.until_closed())
        .await
        .expect("the server should answer without waiting for the body");
    match packets.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason, ReasonCode::PacketTooLarge),
        other => panic!("expected DISCONNECT 0x95 then close, got {other:?}"),
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn packets_split_byte_by_byte_are_understood() {
    let server = TestServer::start().await;
    let mut bytes = BytesMut::new();
    ferrocore_mqtt::encode(&RawClient::connect_packet(MQTT5, "slow", 60), MQTT5, &mut bytes)
        .unwrap();
    ferrocore_mqtt::encode(&Packet::PingReq, MQTT5, &mut bytes).unwrap();
    let mut client = server.raw().await;
    client.set_version(MQTT5);
    for byte in bytes.iter() {
        client.send_bytes(&[*byte]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    match client.recv().await {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert_eq!(client.recv().await, Some(Packet::PingResp));
}

#[tokio::test]
async fn malformed_packets_close_v311_connections_without_disconnect() {
    let server = TestServer::start().await;
    let cases: [(&str, &[u8]); 8] = [
        ("remaining length of five bytes", &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("SUBSCRIBE with flags 0", &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x01]),
        ("PUBLISH QoS 3", &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]),
        ("wildcard in a topic name", &[0x30, 0x04, 0x00, 0x01, b'+', b'x']),
        ("invalid UTF-8 topic", &[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]),
        ("SUBSCRIBE without filters", &[0x82, 0x02, 0x00, 0x01]),
        ("QoS 1 packet id 0", &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00]),
        ("oversize packet", &[0x30, 0xC0, 0x9A, 0x0C]),
    ];
    for (what, bytes) in cases {
        let mut client = server.raw_connected(V311, "bad").await;
        client.send_bytes(bytes).await;
        let packets = client.until_closed().await;
        assert!(packets.is_empty(), "{what}: expected a silent close, got {packets:?}");
    }
    let mut client = server.raw_connected(V311, "twice").await;
    client.send(&RawClient::connect_packet(V311, "twice", 60)).await;
    expect_closed_silently(&mut client).await;
    assert_still_serving(&server).await;
}
