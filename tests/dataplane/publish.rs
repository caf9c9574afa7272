//! HTTPS publish (`POST /topics/{topic}`): delivery to MQTT subscribers with the MQTT 5
//! properties of the query and headers, and the rules MQTT clients follow.

use aws_sdk_iotdataplane::primitives::Blob;
use aws_sdk_iotdataplane::types::PayloadFormatIndicator;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrocore_testkit::TestServer;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use serde_json::json;

use crate::error_of;

#[tokio::test]
async fn a_publish_reaches_mqtt5_subscribers_with_its_properties() {
    let server = TestServer::start().await;
    let mut sub = server.v5("sub5").await;
    sub.subscribe("sensors/+/temp", QoS5::AtLeastOnce).await;

    server
        .iot_data_client()
        .publish()
        .topic("sensors/kitchen/temp")
        .qos(1)
        .payload(Blob::new(r#"{"celsius":21.5}"#))
        .content_type("application/json")
        .response_topic("sensors/kitchen/reply")
        .correlation_data(STANDARD.encode([1u8, 2, 3]))
        .user_properties(r#"[{"site":"home"},{"floor":"1"},{"site":"lab"}]"#)
        .payload_format_indicator(PayloadFormatIndicator::Utf8Data)
        .message_expiry(3600)
        .send()
        .await
        .unwrap();

    let publish = sub.publish().await;
    assert_eq!(&publish.topic[..], b"sensors/kitchen/temp");
    assert_eq!(&publish.payload[..], br#"{"celsius":21.5}"#);
    assert_eq!(publish.qos, QoS5::AtLeastOnce);
    assert!(!publish.retain);
    let properties = publish.properties.expect("MQTT 5 properties");
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.response_topic.as_deref(), Some("sensors/kitchen/reply"));
    assert_eq!(properties.correlation_data.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(properties.payload_format_indicator, Some(1));
    assert_eq!(
        properties.user_properties,
        [
            ("site".to_owned(), "home".to_owned()),
            ("floor".to_owned(), "1".to_owned()),
            ("site".to_owned(), "lab".to_owned()),
        ]
    );
    let expiry = properties.message_expiry_interval.expect("message expiry");
    assert!((3590..=3600).contains(&expiry), "{expiry}");
}

#[tokio::test]
async fn a_publish_reaches_mqtt311_subscribers_at_the_lower_qos() {
    let server = TestServer::start().await;
    let mut sub = server.v4("sub4").await;
    sub.subscribe("a/#", rumqttc::QoS::AtMostOnce).await;
    let data = server.iot_data_client();
    // The topic is one URI label: its slashes are percent-encoded by the SDK.
    data.publish().topic("a/b/c").qos(1).payload(Blob::new("x")).send().await.unwrap();
    let publish = sub.publish().await;
    assert_eq!(publish.topic, "a/b/c");
    assert_eq!(&publish.payload[..], b"x");
    assert_eq!(publish.qos, rumqttc::QoS::AtMostOnce);
    // No payload is an empty message; QoS 0 is the default.
    data.publish().topic("a/empty").send().await.unwrap();
    let publish = sub.publish().await;
    assert_eq!(publish.topic, "a/empty");
    assert!(publish.payload.is_empty());

    // A raw request with the slashes unencoded reaches the same topic, and AWS's answer.
    let response = server.raw_signed("iotdata", "POST", "/topics/a/raw?qos=1", b"y").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["message"], "OK");
    assert!(response.json()["traceId"].is_string());
    assert_eq!(sub.publish().await.topic, "a/raw");
}

#[tokio::test]
async fn reserved_topics_limits_and_bad_parameters_are_refused() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    let mut options = server.v4_options("watcher");
    options.set_max_packet_size(256 * 1024, 256 * 1024);
    let mut sub = ferrocore_testkit::V4::connect(options).await;
    sub.subscribe("#", rumqttc::QoS::AtMostOnce).await;

    for topic in
        ["$aws/events/presence/connected/x", "$SYS/x", "$aws/things/t/shadow/update/accepted"]
    {
        let (code, status, _) =
            error_of(data.publish().topic(topic).payload(Blob::new("{}")).send().await);
        assert_eq!((code.as_str(), status), ("ForbiddenException", 403), "{topic}");
    }
    // Retained publishes to `$` topics are refused even where publishing is allowed.
    let (code, _, _) = error_of(
        data.publish()
            .topic("$aws/things/t/shadow/update")
            .retain(true)
            .payload(Blob::new("{}"))
            .send()
            .await,
    );
    assert_eq!(code, "ForbiddenException");

    let limit = server.broker().config().max_payload_size;
    let (code, status, _) = error_of(
        data.publish().topic("big").payload(Blob::new(vec![b'x'; limit + 1])).send().await,
    );
    assert_eq!((code.as_str(), status), ("RequestEntityTooLargeException", 413));
    data.publish().topic("big").payload(Blob::new(vec![b'x'; limit])).send().await.unwrap();
    assert_eq!(sub.publish().await.payload.len(), limit);

    let (code, status, _) = error_of(data.publish().topic("q").qos(2).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, _, _) = error_of(data.publish().topic("l/".repeat(8)).send().await);
    assert_eq!(code, "InvalidRequestException", "more than 8 levels");
    let (code, _, _) = error_of(data.publish().topic("wild/+").send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) =
        error_of(data.publish().topic("ok").user_properties("not json").send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(
        data.publish()
            .topic("ok")
            .payload(Blob::new(vec![0xff]))
            .payload_format_indicator(PayloadFormatIndicator::Utf8Data)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(data.publish().topic("ok").correlation_data("%%%").send().await);
    assert_eq!(code, "InvalidRequestException");
    let response = server.raw_signed("iotdata", "POST", "/topics/ok?retain=maybe", b"").await;
    assert_eq!(response.status, 400);
    let response = server.raw_signed("iotdata", "GET", "/topics/ok", b"").await;
    assert_eq!(response.header("x-amzn-errortype"), Some("MethodNotAllowedException"));
    // Nothing refused was delivered.
    sub.no_publish().await;
}

#[tokio::test]
async fn a_publish_to_a_shadow_request_topic_updates_the_shadow() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    data.publish()
        .topic("$aws/things/fan/shadow/update")
        .qos(1)
        .payload(Blob::new(json!({"state": {"reported": {"speed": 3}}}).to_string()))
        .send()
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..100 {
        if let Ok(out) = data.get_thing_shadow().thing_name("fan").send().await {
            last = out.payload;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let full: serde_json::Value =
        serde_json::from_slice(last.expect("the shadow").as_ref()).unwrap();
    assert_eq!(full["state"]["reported"]["speed"], 3);
}
