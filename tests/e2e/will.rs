//! Last will: published on non-graceful disconnects, not on a normal DISCONNECT, with delay.

use std::time::{Duration, Instant};

use ferrocore_testkit::{TestServer, V4, V5};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::{LastWill as LastWill5, LastWillProperties};
use rumqttc::{LastWill, QoS};

#[tokio::test]
async fn will_is_published_when_the_connection_is_lost() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut options = server.v4_options("doomed");
    options.set_last_will(LastWill::new("wills/doomed", "gone", QoS::AtLeastOnce, false));
    let doomed = V4::connect(options).await;
    drop(doomed); // the event loop task ends and the socket closes without DISCONNECT
    let will = watcher.publish().await;
    assert_eq!(will.topic, "wills/doomed");
    assert_eq!(&will.payload[..], b"gone");
}

#[tokio::test]
async fn will_is_not_published_after_a_normal_disconnect() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut options = server.v4_options("polite");
    options.set_last_will(LastWill::new("wills/polite", "gone", QoS::AtLeastOnce, false));
    let mut polite = V4::connect(options).await;
    polite.client.disconnect().await.unwrap();
    polite.closed().await;
    watcher.no_publish().await;
}

#[tokio::test]
async fn will_is_published_on_takeover() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut options = server.v4_options("dup");
    options.set_last_will(LastWill::new("wills/dup", "taken", QoS::AtMostOnce, false));
    let _first = V4::connect(options).await;
    let _second = server.v4("dup").await;
    assert_eq!(&watcher.publish().await.payload[..], b"taken");
}

#[tokio::test]
async fn retained_will_is_kept() {
    let server = TestServer::start().await;
    let mut options = server.v4_options("status");
    options.set_last_will(LastWill::new("status/dev", "offline", QoS::AtLeastOnce, true));
    drop(V4::connect(options).await);
    ferrocore_testkit::eventually("retained will", || server.broker().retained_count() == 1).await;
    let mut later = server.v4("later").await;
    later.subscribe("status/dev", QoS::AtMostOnce).await;
    let got = later.publish().await;
    assert!(got.retain);
    assert_eq!(&got.payload[..], b"offline");
}

#[tokio::test]
async fn v5_will_waits_for_its_delay_and_is_cancelled_by_a_reconnect() {
    let server = TestServer::start().await;
    let mut watcher = server.v5("watcher").await;
    watcher.subscribe("wills/#", QoS5::AtLeastOnce).await;
    let will_options = |id: &str| {
        let mut options = server.v5_options(id);
        options.set_clean_start(false);
        options.set_session_expiry_interval(Some(60));
        let properties = LastWillProperties {
            delay_interval: Some(1),
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: Vec::new(),
        };
        options.set_last_will(LastWill5::new(
            format!("wills/{id}"),
            "late",
            QoS5::AtLeastOnce,
            false,
            Some(properties),
        ));
        options
    };
    // Delayed will: published about a second after the loss.
    let lost = Instant::now();
    drop(V5::connect(will_options("delayed")).await);
    let will = watcher.publish().await;
    assert_eq!(&will.payload[..], b"late");
    assert!(lost.elapsed() >= Duration::from_millis(900), "the will waited for its delay");

    // A reconnect within the delay cancels it.
    drop(V5::connect(will_options("back")).await);
    let _back = V5::connect(will_options("back")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    watcher.no_publish().await;
}

#[tokio::test]
async fn v5_disconnect_with_will_message_publishes_the_will() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut raw = server.raw().await;
    let mut connect = ferrocore_testkit::RawClient::connect_packet(
        ferrocore_mqtt::ProtocolVersion::V5,
        "asks",
        60,
    );
    if let ferrocore_mqtt::Packet::Connect(c) = &mut connect {
        c.will = Some(ferrocore_mqtt::Will {
            topic: "wills/asks".into(),
            payload: bytes::Bytes::from_static(b"please"),
            qos: ferrocore_mqtt::QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        });
    }
    raw.handshake(connect).await;
    raw.send(&ferrocore_mqtt::Packet::Disconnect(ferrocore_mqtt::Disconnect::new(
        ferrocore_mqtt::ReasonCode::DisconnectWithWill,
    )))
    .await;
    assert_eq!(&watcher.publish().await.payload[..], b"please");
}
