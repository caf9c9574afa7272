//! Retained messages: store, replace, delete by empty payload, deliver on subscribe.

use ferrocore_mqtt::{
    Packet, ProtocolVersion, QoS as Q, RetainHandling, Subscribe, SubscribeProperties,
    SubscriptionOptions,
};
use ferrocore_testkit::{RawClient, TestServer, eventually};
use rumqttc::QoS;

#[tokio::test]
async fn retained_message_is_delivered_on_subscribe_with_retain_set() {
    let server = TestServer::start().await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("cfg/fw", QoS::AtLeastOnce, true, "v1").await.unwrap();
    eventually("retained stored", || server.broker().retained_count() == 1).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("cfg/fw", QoS::AtLeastOnce).await;
    let got = sub.publish().await;
    assert!(got.retain);
    assert_eq!(&got.payload[..], b"v1");
    // Live deliveries have RETAIN=0.
    publisher.client.publish("cfg/fw", QoS::AtLeastOnce, true, "v2").await.unwrap();
    let live = sub.publish().await;
    assert!(!live.retain);
    assert_eq!(&live.payload[..], b"v2");
}

#[tokio::test]
async fn a_new_retained_message_replaces_the_old_and_wildcards_see_it() {
    let server = TestServer::start().await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("r/a", QoS::AtLeastOnce, true, "1").await.unwrap();
    publisher.client.publish("r/a", QoS::AtLeastOnce, true, "2").await.unwrap();
    publisher.client.publish("r/b", QoS::AtLeastOnce, true, "3").await.unwrap();
    eventually("two retained", || {
        server.broker().retained_count() == 2
            && server.broker().retained("r/a").is_some_and(|m| &m.payload[..] == b"2")
    })
    .await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("r/+", QoS::AtMostOnce).await;
    let mut got = [sub.publish().await, sub.publish().await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(&got[0].payload[..], b"2");
    assert_eq!(&got[1].payload[..], b"3");
    sub.no_publish().await;
}

#[tokio::test]
async fn an_empty_retained_payload_deletes_it() {
    let server = TestServer::start().await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("d/1", QoS::AtLeastOnce, true, "x").await.unwrap();
    eventually("stored", || server.broker().retained_count() == 1).await;
    let mut live = server.v4("live").await;
    live.subscribe("d/1", QoS::AtMostOnce).await;
    assert_eq!(&live.publish().await.payload[..], b"x");
    publisher.client.publish("d/1", QoS::AtLeastOnce, true, "").await.unwrap();
    // The empty message is still delivered to live subscribers.
    assert!(live.publish().await.payload.is_empty());
    eventually("deleted", || server.broker().retained_count() == 0).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("d/1", QoS::AtMostOnce).await;
    sub.no_publish().await;
}

#[tokio::test]
async fn retained_delivery_uses_the_lower_of_message_and_subscription_qos() {
    let server = TestServer::start().await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("q/1", QoS::AtLeastOnce, true, "x").await.unwrap();
    eventually("stored", || server.broker().retained_count() == 1).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("q/1", QoS::AtMostOnce).await;
    assert_eq!(sub.publish().await.qos, QoS::AtMostOnce);
}

async fn raw_subscribe(raw: &mut RawClient, id: u16, filter: &str, options: SubscriptionOptions) {
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        filters: vec![(filter.into(), options)],
        properties: SubscribeProperties::default(),
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
}

#[tokio::test]
async fn v5_retain_handling_and_retain_as_published() {
    let server = TestServer::start().await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("h/1", QoS::AtMostOnce, true, "kept").await.unwrap();
    eventually("stored", || server.broker().retained_count() == 1).await;
    let mut raw = server.raw().await;
    raw.handshake(RawClient::connect_packet(ProtocolVersion::V5, "rh", 60)).await;

    let never = SubscriptionOptions {
        qos: Q::AtMostOnce,
        retain_handling: RetainHandling::DoNotSend,
        ..Default::default()
    };
    raw_subscribe(&mut raw, 1, "h/1", never).await;
    assert!(raw.try_recv().await.is_none(), "retain handling 2 sends nothing");

    let if_new = SubscriptionOptions { retain_handling: RetainHandling::SendIfNew, ..never };
    raw_subscribe(&mut raw, 2, "h/+", if_new).await;
    assert!(matches!(raw.recv().await, Some(Packet::Publish(p)) if p.retain));
    raw_subscribe(&mut raw, 3, "h/+", if_new).await;
    assert!(raw.try_recv().await.is_none(), "retain handling 1: not for an existing subscription");

    let rap = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..never
    };
    raw_subscribe(&mut raw, 4, "h/#", rap).await;
    publisher.client.publish("h/1", QoS::AtMostOnce, true, "live").await.unwrap();
    let Some(Packet::Publish(p)) = raw.recv().await else { panic!() };
    assert!(p.retain, "retain as published keeps RETAIN on live delivery");
}
