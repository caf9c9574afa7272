//! Persistent sessions, session present, takeover, redelivery and expiry.

use std::time::Duration;

use ferrocore_mqtt::{
    Packet, ProtocolVersion, PubAck, QoS as Q, ReasonCode, Subscribe, SubscribeProperties,
    SubscriptionOptions,
};
use ferrocore_testkit::rumqtt::Seen;
use ferrocore_testkit::{RawClient, TestServer, V4, V5, eventually};
use rumqttc::QoS;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet as P5};

fn session_present_v4(client: &V4) -> bool {
    match &client.connack {
        rumqttc::Packet::ConnAck(ack) => ack.session_present,
        other => panic!("not a CONNACK: {other:?}"),
    }
}

fn session_present_v5(client: &V5) -> bool {
    match &client.connack {
        P5::ConnAck(ack) => ack.session_present,
        other => panic!("not a CONNACK: {other:?}"),
    }
}

async fn persistent_v4(server: &TestServer, id: &str) -> V4 {
    let mut options = server.v4_options(id);
    options.set_clean_session(false);
    V4::connect(options).await
}

#[tokio::test]
async fn v311_persistent_session_queues_qos1_but_not_qos0_while_offline() {
    let server = TestServer::start().await;
    let mut sub = persistent_v4(&server, "device").await;
    assert!(!session_present_v4(&sub));
    sub.subscribe("p/#", QoS::AtLeastOnce).await;
    sub.client.disconnect().await.unwrap();
    sub.closed().await;
    eventually("the session to go offline", || server.broker().connected_count() == 0).await;

    let publisher = server.v4("pub").await;
    publisher.client.publish("p/0", QoS::AtMostOnce, false, "qos0").await.unwrap();
    for i in 1..=3 {
        publisher.client.publish(format!("p/{i}"), QoS::AtLeastOnce, false, "qos1").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut sub = persistent_v4(&server, "device").await;
    assert!(session_present_v4(&sub), "the session was resumed");
    let mut topics = Vec::new();
    for _ in 0..3 {
        let p = sub.publish().await;
        assert_eq!(p.qos, QoS::AtLeastOnce);
        topics.push(p.topic);
    }
    assert_eq!(topics, ["p/1", "p/2", "p/3"]);
    sub.no_publish().await;
}

#[tokio::test]
async fn clean_session_discards_the_stored_session() {
    let server = TestServer::start().await;
    let mut sub = persistent_v4(&server, "device").await;
    sub.subscribe("c/1", QoS::AtLeastOnce).await;
    sub.client.disconnect().await.unwrap();
    sub.closed().await;
    eventually("offline", || server.broker().connected_count() == 0).await;
    let mut clean = server.v4("device").await;
    assert!(!session_present_v4(&clean));
    let publisher = server.v4("pub").await;
    publisher.client.publish("c/1", QoS::AtLeastOnce, false, "x").await.unwrap();
    clean.no_publish().await;
}

#[tokio::test]
async fn v5_session_expiry_interval_keeps_then_ends_the_session() {
    let server = TestServer::start_with(|c| c.session_sweep_interval = 1).await;
    let mut options = server.v5_options("v5dev");
    options.set_clean_start(false);
    options.set_session_expiry_interval(Some(2));
    let mut sub = V5::connect(options.clone()).await;
    sub.subscribe("e/1", QoS5::AtLeastOnce).await;
    sub.client.disconnect().await.unwrap();
    sub.closed().await;
    eventually("offline", || server.broker().connected_count() == 0).await;
    let publisher = server.v5("pub").await;
    publisher.client.publish("e/1", QoS5::AtLeastOnce, false, "kept").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Within the interval the session and its message are there.
    let mut sub = V5::connect(options.clone()).await;
    assert!(session_present_v5(&sub));
    assert_eq!(&sub.publish().await.payload[..], b"kept");
    sub.client.disconnect().await.unwrap();
    sub.closed().await;

    // After it, the session is gone.
    eventually("the session to expire", || server.broker().session_count() == 1).await;
    let sub = V5::connect(options).await;
    assert!(!session_present_v5(&sub));
}

#[tokio::test]
async fn v5_session_expiry_zero_ends_the_session_at_disconnect() {
    let server = TestServer::start().await;
    let mut options = server.v5_options("short");
    options.set_clean_start(false);
    options.set_session_expiry_interval(None);
    let mut sub = V5::connect(options.clone()).await;
    sub.subscribe("z/1", QoS5::AtLeastOnce).await;
    sub.client.disconnect().await.unwrap();
    sub.closed().await;
    eventually("the session to end", || server.broker().session_count() == 0).await;
    let sub = V5::connect(options).await;
    assert!(!session_present_v5(&sub));
}

#[tokio::test]
async fn unacknowledged_qos1_is_redelivered_with_dup_on_reconnect() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let mut connect = RawClient::connect_packet(ProtocolVersion::V311, "redeliver", 60);
    if let Packet::Connect(c) = &mut connect {
        c.clean_start = false;
    }
    raw.handshake(connect.clone()).await;
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![(
            "r/1".into(),
            SubscriptionOptions { qos: Q::AtLeastOnce, ..Default::default() },
        )],
        properties: SubscribeProperties::default(),
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    let publisher = server.v4("pub").await;
    publisher.client.publish("r/1", QoS::AtLeastOnce, false, "needs ack").await.unwrap();
    let Some(Packet::Publish(first)) = raw.recv().await else { panic!("no delivery") };
    assert!(!first.dup);
    drop(raw); // gone without PUBACK

    eventually("offline", || server.broker().connected_count() == 1).await;
    let mut raw = server.raw().await;
    let Packet::ConnAck(ack) = raw.handshake(connect).await else { panic!("no CONNACK") };
    assert!(ack.session_present);
    let Some(Packet::Publish(again)) = raw.recv().await else { panic!("no redelivery") };
    assert!(again.dup, "redelivery sets DUP");
    assert_eq!(again.packet_id, first.packet_id);
    assert_eq!(&again.payload[..], b"needs ack");
    raw.send(&Packet::PubAck(PubAck::success(again.packet_id))).await;
    assert!(raw.try_recv().await.is_none(), "acknowledged: not sent again");
}

#[tokio::test]
async fn a_second_connection_with_the_same_client_id_takes_over() {
    let server = TestServer::start().await;
    let mut first = server.v5("twin").await;
    let second = server.v5("twin").await;
    // rumqttc reports the server's DISCONNECT as the error that ends its event loop.
    let (_, error) = first.closed().await;
    assert!(error.contains("SessionTakenOver"), "the first connection is told why: {error}");
    match &second.connack {
        P5::ConnAck(ack) => assert_eq!(ack.code, ConnectReturnCode::Success),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.broker().connected_count(), 1);
}

#[tokio::test]
async fn takeover_of_a_v311_persistent_session_keeps_its_subscriptions() {
    let server = TestServer::start().await;
    let mut first = persistent_v4(&server, "dev").await;
    first.subscribe("t/1", QoS::AtLeastOnce).await;
    let mut second = persistent_v4(&server, "dev").await;
    assert!(session_present_v4(&second));
    assert!(matches!(first.next().await, Seen::Closed(_)));
    let publisher = server.v4("pub").await;
    publisher.client.publish("t/1", QoS::AtLeastOnce, false, "x").await.unwrap();
    assert_eq!(second.publish().await.topic, "t/1");
}

#[tokio::test]
async fn v5_receive_maximum_limits_deliveries_in_flight() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let mut connect = RawClient::connect_packet(ProtocolVersion::V5, "slow", 60);
    if let Packet::Connect(c) = &mut connect {
        c.properties.receive_maximum = Some(2);
    }
    raw.handshake(connect).await;
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![(
            "w/1".into(),
            SubscriptionOptions { qos: Q::AtLeastOnce, ..Default::default() },
        )],
        properties: SubscribeProperties::default(),
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    let publisher = server.v4("pub").await;
    for i in 0..5 {
        publisher.client.publish("w/1", QoS::AtLeastOnce, false, format!("{i}")).await.unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        let Some(Packet::Publish(p)) = raw.recv().await else { panic!() };
        ids.push(p.packet_id);
    }
    assert!(raw.try_recv().await.is_none(), "a third delivery waits for an acknowledgement");
    raw.send(&Packet::PubAck(PubAck::success(ids[0]))).await;
    let Some(Packet::Publish(third)) = raw.recv().await else { panic!() };
    assert_eq!(&third.payload[..], b"2");
    assert_eq!(ReasonCode::Success, ReasonCode::Success);
}

#[tokio::test]
async fn takeover_sends_session_taken_over_to_the_first_v5_connection() {
    let server = TestServer::start().await;
    let mut first = server.raw().await;
    first.handshake(RawClient::connect_packet(ProtocolVersion::V5, "twin", 60)).await;
    let _second = server.v5("twin").await;
    let packets = first.until_closed().await;
    assert!(
        matches!(&packets[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver),
        "{packets:?}"
    );
}
