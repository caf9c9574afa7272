//! Publish/subscribe: wildcards, `$` topics, overlapping subscriptions, QoS 0 and 1, both
//! protocol versions.

use bytes::Bytes;
use ferrocore_testkit::TestServer;
use rumqttc::QoS;
use rumqttc::v5::mqttbytes::QoS as QoS5;

#[tokio::test]
async fn v311_qos0_and_qos1_round_trip() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("a/b", QoS::AtLeastOnce).await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("a/b", QoS::AtMostOnce, false, "zero").await.unwrap();
    let got = sub.publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("a/b", &b"zero"[..], QoS::AtMostOnce)
    );
    publisher.client.publish("a/b", QoS::AtLeastOnce, false, "one").await.unwrap();
    let got = sub.publish().await;
    assert_eq!((&got.payload[..], got.qos, got.retain), (&b"one"[..], QoS::AtLeastOnce, false));
}

#[tokio::test]
async fn v5_and_v311_clients_exchange_messages() {
    let server = TestServer::start().await;
    let mut sub5 = server.v5("sub5").await;
    sub5.subscribe("x/#", QoS5::AtLeastOnce).await;
    let mut sub4 = server.v4("sub4").await;
    sub4.subscribe("x/+", QoS::AtLeastOnce).await;
    let pub4 = server.v4("pub4").await;
    pub4.client.publish("x/1", QoS::AtLeastOnce, false, "from v4").await.unwrap();
    assert_eq!(&sub5.publish().await.payload[..], b"from v4");
    assert_eq!(&sub4.publish().await.payload[..], b"from v4");
    let pub5 = server.v5("pub5").await;
    pub5.client.publish("x/2", QoS5::AtLeastOnce, false, Bytes::from("from v5")).await.unwrap();
    assert_eq!(&sub4.publish().await.payload[..], b"from v5");
    assert_eq!(&sub5.publish().await.payload[..], b"from v5");
}

#[tokio::test]
async fn wildcards_match_levels_and_hash_matches_the_parent() {
    let server = TestServer::start().await;
    let mut plus = server.v4("plus").await;
    plus.subscribe("s/+/t", QoS::AtMostOnce).await;
    let mut hash = server.v4("hash").await;
    hash.subscribe("s/#", QoS::AtMostOnce).await;
    let publisher = server.v4("pub").await;
    for topic in ["s/1/t", "s/1/u", "s", "s/1/t/x"] {
        publisher.client.publish(topic, QoS::AtMostOnce, false, topic).await.unwrap();
    }
    assert_eq!(plus.publish().await.topic, "s/1/t");
    plus.no_publish().await;
    let mut topics = Vec::new();
    for _ in 0..4 {
        topics.push(hash.publish().await.topic);
    }
    assert_eq!(topics, ["s/1/t", "s/1/u", "s", "s/1/t/x"]);
}

#[tokio::test]
async fn leading_wildcards_do_not_match_dollar_topics() {
    let server = TestServer::start().await;
    let mut all = server.v4("all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let mut shadow = server.v4("shadow").await;
    shadow.subscribe("$aws/things/+/shadow/#", QoS::AtMostOnce).await;
    let publisher = server.v4("pub").await;
    publisher
        .client
        .publish("$aws/things/t1/shadow/update", QoS::AtMostOnce, false, "{}")
        .await
        .unwrap();
    assert_eq!(shadow.publish().await.topic, "$aws/things/t1/shadow/update");
    all.no_publish().await;
}

#[tokio::test]
async fn overlapping_subscriptions_deliver_once_at_the_highest_qos() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("o/#", QoS::AtMostOnce).await;
    sub.subscribe("o/+", QoS::AtLeastOnce).await;
    sub.subscribe("o/x", QoS::AtMostOnce).await;
    let publisher = server.v4("pub").await;
    publisher.client.publish("o/x", QoS::AtLeastOnce, false, "once").await.unwrap();
    let got = sub.publish().await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    sub.no_publish().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("u/1", QoS::AtMostOnce).await;
    sub.client.unsubscribe("u/1").await.unwrap();
    loop {
        if let ferrocore_testkit::rumqtt::Seen::Packet(rumqttc::Packet::UnsubAck(_)) =
            sub.next().await
        {
            break;
        }
    }
    let publisher = server.v4("pub").await;
    publisher.client.publish("u/1", QoS::AtMostOnce, false, "x").await.unwrap();
    sub.no_publish().await;
}
