//! MQTT over WebSocket: `GET /mqtt` presigned with SigV4 (`iotdevicegateway`) by the AWS SDK's
//! signer, subprotocol `mqtt`, MQTT bytes in binary frames, on the plain API listener and the
//! HTTPS listener, with rumqttc TCP clients on the other side.

use std::time::{Duration, SystemTime};

use ferrocore_mqtt::{Packet, ProtocolVersion, QoS, ReasonCode};
use ferrocore_testkit::ws::{self, Presign, WsClient, presigned_path};
use ferrocore_testkit::{RawClient, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, Message};

/// The HTTP status a refused upgrade got.
fn refused_status(result: Result<WsClient, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the upgrade should have been refused"),
    }
}

fn publish_of(packet: Option<Packet>) -> ferrocore_mqtt::Publish {
    match packet {
        Some(Packet::Publish(publish)) => publish,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[tokio::test]
async fn publish_and_subscribe_both_ways_with_a_tcp_client() {
    let server = TestServer::start().await;
    let mut device = server.ws_connected(ProtocolVersion::V311, "ws-device").await;
    device.send(&RawClient::subscribe_packet(1, &[("to/ws", QoS::AtLeastOnce)])).await;
    assert!(matches!(device.recv().await, Some(Packet::SubAck(_))));

    let mut tcp = server.v4("tcp-client").await;
    tcp.subscribe("from/ws", rumqttc::QoS::AtLeastOnce).await;

    // WebSocket -> TCP, QoS 1: acknowledged, delivered.
    device.send(&RawClient::publish_packet("from/ws", QoS::AtLeastOnce, 7, "over ws")).await;
    match device.recv().await {
        Some(Packet::PubAck(ack)) => assert_eq!(ack.packet_id, 7),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let received = tcp.publish().await;
    assert_eq!(received.topic, "from/ws");
    assert_eq!(&received.payload[..], b"over ws");

    // TCP -> WebSocket.
    tcp.client.publish("to/ws", rumqttc::QoS::AtLeastOnce, false, "over tcp").await.unwrap();
    let publish = publish_of(device.recv().await);
    assert_eq!(publish.topic, "to/ws");
    assert_eq!(&publish.payload[..], b"over tcp");
    assert_eq!(publish.qos, QoS::AtLeastOnce);
}

#[tokio::test]
async fn packets_may_span_frames_and_share_them() {
    let server = TestServer::start().await;
    let mut device = ws::connect(&server, &server.ws_path(), Some("mqtt")).await.unwrap();
    device.set_version(ProtocolVersion::V5);
    let bytes = device.encode(&[
        RawClient::connect_packet(ProtocolVersion::V5, "split", 60),
        RawClient::subscribe_packet(1, &[("s/t", QoS::AtMostOnce)]),
        Packet::PingReq,
    ]);
    // One byte per frame for the first few bytes (the CONNECT's header is cut), then the rest
    // of the CONNECT with the SUBSCRIBE and the PINGREQ in a single frame.
    for byte in &bytes[..5] {
        device.send_frame(std::slice::from_ref(byte)).await;
    }
    device.send_frame(&bytes[5..]).await;
    match device.recv().await {
        Some(Packet::ConnAck(connack)) => assert_eq!(connack.code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert!(matches!(device.recv().await, Some(Packet::SubAck(_))));
    assert!(matches!(device.recv().await, Some(Packet::PingResp)));

    // A WebSocket ping is answered by a pong.
    device.ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), device.ws.next()).await.unwrap();
    assert!(matches!(pong, Some(Ok(Message::Pong(data))) if &data[..] == b"hi"));

    // A message for the subscription arrives in the WebSocket client's frames.
    let tcp = server.v4("publisher").await;
    tcp.client.publish("s/t", rumqttc::QoS::AtMostOnce, false, "x").await.unwrap();
    assert_eq!(publish_of(device.recv().await).topic, "s/t");
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_refused_before_the_upgrade() {
    let server = TestServer::start().await;
    let path = server.ws_path();
    let at = path.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = path.clone();
    let first = if &path[at..=at] == "0" { "1" } else { "0" };
    tampered.replace_range(at..=at, first);
    assert_eq!(refused_status(ws::connect(&server, &tampered, Some("mqtt")).await), 403);
    assert_eq!(refused_status(ws::connect(&server, "/mqtt", Some("mqtt")).await), 403);
    let wrong_secret = Presign { secret: "not-the-secret".into(), ..Presign::default() };
    let path = presigned_path(&server.api_addr.to_string(), &wrong_secret);
    assert_eq!(refused_status(ws::connect(&server, &path, Some("mqtt")).await), 403);
    // A URL signed for another host does not verify either.
    let path = presigned_path("example.com", &Presign::default());
    assert_eq!(refused_status(ws::connect(&server, &path, Some("mqtt")).await), 403);
}

#[tokio::test]
async fn an_expired_presigned_url_is_refused() {
    let server = TestServer::start().await;
    let expired = Presign {
        time: SystemTime::now() - Duration::from_secs(2 * 3600),
        expires: Duration::from_secs(3600),
        ..Presign::default()
    };
    let path = presigned_path(&server.api_addr.to_string(), &expired);
    assert_eq!(refused_status(ws::connect(&server, &path, Some("mqtt")).await), 403);
    // Still valid: signed two hours ago for a day.
    let valid = Presign { expires: Duration::from_secs(86_400), ..expired };
    let path = presigned_path(&server.api_addr.to_string(), &valid);
    ws::connect(&server, &path, Some("mqtt")).await.unwrap();
}

#[tokio::test]
async fn a_session_token_appended_after_the_signature_is_accepted() {
    let server = TestServer::start().await;
    let presign = Presign {
        session_token: Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+test=".into()),
        ..Presign::default()
    };
    let path = presigned_path(&server.api_addr.to_string(), &presign);
    let signature = path.find("X-Amz-Signature=").unwrap();
    assert!(path.find("X-Amz-Security-Token=").unwrap() > signature, "{path}");
    let mut device = ws::connect(&server, &path, Some("mqtt")).await.unwrap();
    device.connect_ok(ProtocolVersion::V5, "with-token").await;
}

#[tokio::test]
async fn the_mqtt_subprotocol_is_required() {
    let server = TestServer::start().await;
    assert_eq!(refused_status(ws::connect(&server, &server.ws_path(), None).await), 400);
    assert_eq!(refused_status(ws::connect(&server, &server.ws_path(), Some("wamp")).await), 400);
}

#[tokio::test]
async fn data_plane_keys_connect_and_a_keys_policy_limits_it() {
    let server = TestServer::start().await;
    let presign_for = |key: &ferrocore_auth::AccessKey| Presign {
        access_key_id: key.id.clone(),
        secret: key.secret.clone(),
        ..Presign::default()
    };
    // A data-plane key without a policy may use the whole data plane.
    let open = server.keys().create(false).await.unwrap();
    let path = presigned_path(&server.api_addr.to_string(), &presign_for(&open));
    let mut client = ws::connect(&server, &path, Some("mqtt")).await.unwrap();
    client.connect_ok(ProtocolVersion::V5, "open-key").await;
    // A key given an IoT policy is held to it.
    let policy = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:000000000000:client/${iot:ClientId}" },
        { "Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:000000000000:topic/ws/*" }
    ]});
    server
        .iot_client()
        .create_policy()
        .policy_name("ws-only")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let limited = server.keys().create_with_policy("ws-only").await.unwrap();
    let path = presigned_path(&server.api_addr.to_string(), &presign_for(&limited));
    let mut client = ws::connect(&server, &path, Some("mqtt")).await.unwrap();
    client.connect_ok(ProtocolVersion::V5, "limited").await;
    for (id, topic, reason) in
        [(1, "ws/a", ReasonCode::Success), (2, "elsewhere", ReasonCode::NotAuthorized)]
    {
        client.send(&RawClient::publish_packet(topic, QoS::AtLeastOnce, id, &b"x"[..])).await;
        match client.recv().await {
            Some(Packet::PubAck(ack)) => assert_eq!((ack.packet_id, ack.reason), (id, reason)),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
    // A key whose policy does not exist is refused before the upgrade.
    let dangling = server.keys().create_with_policy("no-such-policy").await.unwrap();
    let path = presigned_path(&server.api_addr.to_string(), &presign_for(&dangling));
    assert_eq!(refused_status(ws::connect(&server, &path, Some("mqtt")).await), 403);
}

#[tokio::test]
async fn a_text_frame_ends_the_connection() {
    let server = TestServer::start().await;
    let mut device = server.ws_connected(ProtocolVersion::V5, "texter").await;
    device.ws.send(Message::Text("PINGREQ".into())).await.unwrap();
    assert_eq!(device.recv().await, None, "the server closes");
    // The session is gone with the connection.
    ferrocore_testkit::eventually("the session to end", || {
        server.broker().client_info("texter").is_none()
    })
    .await;
}

#[tokio::test]
async fn mqtt_over_wss_on_the_https_listener() {
    let server = TestServer::start().await;
    let authority = format!("localhost:{}", server.https_addr.port());
    let path = presigned_path(&authority, &Presign::default());
    let mut device = ws::connect_tls(&server, &path, Some("mqtt")).await.unwrap();
    device.connect_ok(ProtocolVersion::V5, "wss-device").await;
    device.send(&RawClient::subscribe_packet(1, &[("secure/#", QoS::AtLeastOnce)])).await;
    assert!(matches!(device.recv().await, Some(Packet::SubAck(_))));
    let tcp = server.v4("tcp-publisher").await;
    tcp.client.publish("secure/a", rumqttc::QoS::AtLeastOnce, false, "tls").await.unwrap();
    assert_eq!(&publish_of(device.recv().await).payload[..], b"tls");
    // A bad signature is refused there too.
    let bad = Presign { secret: "wrong".into(), ..Presign::default() };
    let path = presigned_path(&authority, &bad);
    assert_eq!(refused_status(ws::connect_tls(&server, &path, Some("mqtt")).await), 403);
}

#[tokio::test]
async fn websocket_clients_are_announced_like_tcp_clients() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("$aws/events/presence/+/ws-life", rumqttc::QoS::AtLeastOnce).await;
    let mut device = server.ws_connected(ProtocolVersion::V311, "ws-life").await;
    let connected = watcher.publish().await;
    assert_eq!(connected.topic, "$aws/events/presence/connected/ws-life");
    let event: serde_json::Value = serde_json::from_slice(&connected.payload).unwrap();
    assert_eq!(event["ipAddress"], "127.0.0.1", "the WebSocket's peer address");
    device.send(&Packet::Disconnect(ferrocore_mqtt::Disconnect::new(ReasonCode::Success))).await;
    let disconnected = watcher.publish().await;
    assert_eq!(disconnected.topic, "$aws/events/presence/disconnected/ws-life");
    let event: serde_json::Value = serde_json::from_slice(&disconnected.payload).unwrap();
    assert_eq!(event["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
}
