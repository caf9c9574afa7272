//! MQTT 5 features passed through or honoured by the broker: properties, message expiry,
//! No Local, subscription identifiers, shared subscriptions, maximum packet size, and the
//! server's DISCONNECT at shutdown.

use std::time::Duration;

use bytes::Bytes;
use ferrocore_mqtt::{
    Packet, ProtocolVersion, Publish, PublishProperties as FProps, QoS as Q, ReasonCode, Subscribe,
    SubscribeProperties as FSubProps, SubscriptionOptions,
};
use ferrocore_testkit::{RawClient, TestServer, V5, eventually};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, PublishProperties, SubscribeProperties};

fn properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: None,
        topic_alias: None,
        response_topic: Some("replies/1".into()),
        correlation_data: Some(Bytes::from_static(b"corr-42")),
        user_properties: vec![("k1".into(), "v1".into()), ("k1".into(), "v2".into())],
        subscription_identifiers: Vec::new(),
        content_type: Some("application/json".into()),
    }
}

#[tokio::test]
async fn publish_properties_pass_through_to_v5_subscribers() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub").await;
    sub.subscribe("props/#", QoS::AtLeastOnce).await;
    let publisher = server.v5("pub").await;
    publisher
        .client
        .publish_with_properties("props/a", QoS::AtLeastOnce, false, "{}", properties())
        .await
        .unwrap();
    let got = sub.publish().await;
    let p = got.properties.expect("properties arrive");
    assert_eq!(p.payload_format_indicator, Some(1));
    assert_eq!(p.response_topic.as_deref(), Some("replies/1"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"corr-42"[..]));
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(p.user_properties, properties().user_properties, "order and duplicates kept");
}

#[tokio::test]
async fn v311_subscribers_get_the_payload_without_properties() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub4").await;
    sub.subscribe("props/#", rumqttc::QoS::AtLeastOnce).await;
    let publisher = server.v5("pub").await;
    publisher
        .client
        .publish_with_properties("props/a", QoS::AtLeastOnce, false, "{}", properties())
        .await
        .unwrap();
    assert_eq!(&sub.publish().await.payload[..], b"{}");
}

#[tokio::test]
async fn expired_messages_are_not_delivered_from_an_offline_queue() {
    let server = TestServer::start().await;
    let mut options = server.v5_options("sleepy");
    options.set_clean_start(false);
    options.set_session_expiry_interval(Some(600));
    let mut sub = V5::connect(options.clone()).await;
    sub.subscribe("exp/#", QoS::AtLeastOnce).await;
    sub.client.disconnect().await.unwrap();
    sub.closed().await;
    eventually("offline", || server.broker().connected_count() == 0).await;

    let publisher = server.v5("pub").await;
    let short = PublishProperties { message_expiry_interval: Some(1), ..properties() };
    let long = PublishProperties { message_expiry_interval: Some(100), ..properties() };
    publisher
        .client
        .publish_with_properties("exp/short", QoS::AtLeastOnce, false, "s", short)
        .await
        .unwrap();
    publisher
        .client
        .publish_with_properties("exp/long", QoS::AtLeastOnce, false, "l", long)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let mut sub = V5::connect(options).await;
    let got = sub.publish().await;
    assert_eq!(&got.topic[..], b"exp/long");
    let left = got.properties.and_then(|p| p.message_expiry_interval).expect("expiry forwarded");
    assert!(left <= 98 && left > 90, "the interval left is forwarded, got {left}");
    sub.no_publish().await;
}

#[tokio::test]
async fn no_local_suppresses_a_clients_own_messages() {
    let server = TestServer::start().await;
    let mut client = server.v5("echo").await;
    let filter = Filter { nolocal: true, ..Filter::new("nl/1", QoS::AtMostOnce) };
    client.client.subscribe_many([filter]).await.unwrap();
    client.suback().await;
    client.client.publish("nl/1", QoS::AtMostOnce, false, "mine").await.unwrap();
    client.no_publish().await;
    let other = server.v5("other").await;
    other.client.publish("nl/1", QoS::AtMostOnce, false, "theirs").await.unwrap();
    assert_eq!(&client.publish().await.payload[..], b"theirs");
}

#[tokio::test]
async fn subscription_identifiers_are_sent_with_matching_deliveries() {
    let server = TestServer::start().await;
    let mut sub = server.v5("ids").await;
    let with_id = |id| SubscribeProperties { id: Some(id), user_properties: Vec::new() };
    sub.client.subscribe_with_properties("ids/+", QoS::AtMostOnce, with_id(7)).await.unwrap();
    sub.suback().await;
    sub.client.subscribe_with_properties("ids/#", QoS::AtMostOnce, with_id(9)).await.unwrap();
    sub.suback().await;
    let publisher = server.v5("pub").await;
    publisher.client.publish("ids/x", QoS::AtMostOnce, false, "x").await.unwrap();
    let got = sub.publish().await;
    let mut ids = got.properties.unwrap().subscription_identifiers;
    ids.sort_unstable();
    assert_eq!(ids, vec![7, 9], "one delivery carrying both identifiers");
    sub.no_publish().await;
}

#[tokio::test]
async fn shared_subscriptions_deliver_each_message_to_one_member() {
    let server = TestServer::start().await;
    let mut a = server.v5("a").await;
    a.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    let mut b = server.v5("b").await;
    b.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    let mut plain = server.v5("plain").await;
    plain.subscribe("jobs/+", QoS::AtLeastOnce).await;
    let publisher = server.v5("pub").await;
    for i in 0..10 {
        publisher.client.publish(format!("jobs/{i}"), QoS::AtLeastOnce, false, "w").await.unwrap();
    }
    for _ in 0..10 {
        plain.publish().await;
    }
    let (mut got_a, mut got_b) = (0, 0);
    for _ in 0..5 {
        a.publish().await;
        got_a += 1;
        b.publish().await;
        got_b += 1;
    }
    a.no_publish().await;
    b.no_publish().await;
    assert_eq!((got_a, got_b), (5, 5), "round robin over the group");
}

#[tokio::test]
async fn shared_subscriptions_get_no_retained_messages() {
    let server = TestServer::start().await;
    let publisher = server.v5("pub").await;
    publisher.client.publish("sr/1", QoS::AtLeastOnce, true, "kept").await.unwrap();
    eventually("retained", || server.broker().retained_count() == 1).await;
    let mut member = server.v5("member").await;
    member.subscribe("$share/g/sr/1", QoS::AtLeastOnce).await;
    member.no_publish().await;
}

#[tokio::test]
async fn messages_larger_than_the_clients_maximum_packet_size_are_not_sent() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let mut connect = RawClient::connect_packet(ProtocolVersion::V5, "small", 60);
    if let Packet::Connect(c) = &mut connect {
        c.properties.maximum_packet_size = Some(100);
    }
    raw.handshake(connect).await;
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![(
            "mp/#".into(),
            SubscriptionOptions { qos: Q::AtLeastOnce, ..Default::default() },
        )],
        properties: FSubProps::default(),
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    let publisher = server.v5("pub").await;
    publisher.client.publish("mp/big", QoS::AtLeastOnce, false, vec![b'x'; 200]).await.unwrap();
    publisher.client.publish("mp/small", QoS::AtLeastOnce, false, "ok").await.unwrap();
    let Some(Packet::Publish(p)) = raw.recv().await else { panic!("expected the small message") };
    assert_eq!(p.topic, "mp/small");
}

#[tokio::test]
async fn connack_announces_the_server_limits() {
    let server = TestServer::start().await;
    let mut raw = server.raw().await;
    let Packet::ConnAck(ack) =
        raw.handshake(RawClient::connect_packet(ProtocolVersion::V5, "c", 60)).await
    else {
        panic!("no CONNACK")
    };
    assert_eq!(ack.code, ReasonCode::Success);
    let p = ack.properties;
    assert_eq!(p.maximum_qos, Some(1));
    assert_eq!(p.receive_maximum, Some(100));
    assert_eq!(p.topic_alias_maximum, Some(8));
    assert!(p.maximum_packet_size.is_some_and(|m| m >= 128 * 1024));
    assert_eq!(p.server_keep_alive, None, "60 s is within AWS's range");
}

#[tokio::test]
async fn response_topic_and_correlation_data_allow_request_response() {
    let server = TestServer::start().await;
    let mut responder = server.raw().await;
    responder.handshake(RawClient::connect_packet(ProtocolVersion::V5, "responder", 60)).await;
    responder
        .send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("req/#".into(), SubscriptionOptions::default())],
            properties: FSubProps::default(),
        }))
        .await;
    assert!(matches!(responder.recv().await, Some(Packet::SubAck(_))));
    let mut requester = server.v5("requester").await;
    requester.subscribe("replies/1", QoS::AtMostOnce).await;
    requester
        .client
        .publish_with_properties("req/time", QoS::AtMostOnce, false, "?", properties())
        .await
        .unwrap();
    let Some(Packet::Publish(request)) = responder.recv().await else { panic!() };
    let reply_to = request.properties.response_topic.clone().unwrap();
    let correlation = request.properties.correlation_data.clone();
    responder
        .send(&Packet::Publish(Publish {
            dup: false,
            qos: Q::AtMostOnce,
            retain: false,
            topic: reply_to,
            packet_id: 0,
            payload: Bytes::from_static(b"noon"),
            properties: FProps { correlation_data: correlation, ..FProps::default() },
        }))
        .await;
    let reply = requester.publish().await;
    assert_eq!(&reply.payload[..], b"noon");
    assert_eq!(reply.properties.unwrap().correlation_data.as_deref(), Some(&b"corr-42"[..]));
}

#[tokio::test]
async fn graceful_stop_tells_v5_clients_the_server_is_shutting_down() {
    let server = TestServer::start().await;
    let mut client = server.v5("bye").await;
    let stopping = tokio::spawn(server.stop());
    let (_, error) = client.closed().await;
    assert!(error.contains("ServerShuttingDown"), "{error}");
    stopping.await.unwrap();
}
