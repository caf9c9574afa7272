//! The connection APIs of `iot-data`: GetConnection, DeleteConnection, ListSubscriptions and
//! SendDirectMessage, with MQTT clients (rumqttc, and the raw client where a client must not
//! acknowledge) on the other side.
//!
//! The locked `aws-sdk-iotdataplane` (1.74) predates these operations, and the releases that
//! have them need a newer Rust than the workspace's; so the requests are signed by the SDK's
//! own signer (`raw_signed`, signing name `iotdata`) and shaped as botocore's model says.

use ferrocore_mqtt::{Packet, ProtocolVersion};
use ferrocore_testkit::{TestServer, http};
use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, Packet as P5};
use rumqttc::{LastWill, QoS};
use serde_json::Value;

async fn call(server: &TestServer, method: &str, target: &str, body: &[u8]) -> http::Response {
    server.raw_signed("iotdata", method, target, body).await
}

/// Asserts an AWS error: status and `x-amzn-ErrorType`.
fn assert_error(response: &http::Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", String::from_utf8_lossy(&response.body));
    let error_type = response.header("x-amzn-errortype").unwrap_or_default();
    assert!(error_type.starts_with(code), "{error_type} is not {code}");
}

fn ok_json(response: &http::Response) -> Value {
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

#[tokio::test]
async fn get_connection_of_connected_offline_and_unknown_clients() {
    let server = TestServer::start().await;
    let mut options = server.v4_options("persistent-1");
    options.set_clean_session(false);
    let device = ferrocore_testkit::V4::connect(options).await;
    let body = ok_json(&call(&server, "GET", "/connections/persistent-1", b"").await);
    assert_eq!(body["clientId"], "persistent-1");
    assert_eq!(body["connected"], true);
    assert_eq!(body["cleanSession"], false);
    assert!(body["sessionExpiry"].as_u64().unwrap() > 0);
    assert!(body["connectedSince"].as_u64().unwrap() > 1_600_000_000_000, "epoch ms");
    assert!(body.get("disconnectedSince").is_none());
    assert_eq!(body["keepAliveDuration"], 60, "the client's keep-alive");
    assert!(body.get("sourceIp").is_none(), "socket information only when asked for");
    let with_socket =
        call(&server, "GET", "/connections/persistent-1?includeSocketInformation=true", b"").await;
    let body = ok_json(&with_socket);
    assert_eq!(body["sourceIp"], "127.0.0.1");
    assert!(body["sourcePort"].as_u64().unwrap() > 0);

    let clean = server.v4("clean-1").await;
    let body = ok_json(&call(&server, "GET", "/connections/clean-1", b"").await);
    assert_eq!(body["cleanSession"], true);
    assert_eq!(body["sessionExpiry"], 0);

    // Offline with a persistent session: known, not connected.
    drop(device);
    ferrocore_testkit::eventually("the client to go offline", || {
        server.broker().client_info("persistent-1").is_some_and(|info| !info.connected)
    })
    .await;
    let body = ok_json(&call(&server, "GET", "/connections/persistent-1", b"").await);
    assert_eq!(body["connected"], false);
    assert!(body["disconnectedSince"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(body.get("connectedSince").is_none());

    // A clean session ends with its connection.
    drop(clean);
    ferrocore_testkit::eventually("the clean session to end", || {
        server.broker().client_info("clean-1").is_none()
    })
    .await;
    let response = call(&server, "GET", "/connections/clean-1", b"").await;
    assert_error(&response, 404, "ResourceNotFoundException");
    let response = call(&server, "GET", "/connections/never-seen", b"").await;
    assert_error(&response, 404, "ResourceNotFoundException");
    let response = call(&server, "GET", "/connections/%24aws", b"").await;
    assert_error(&response, 400, "InvalidRequestException");
    let response = call(&server, "GET", "/connections/x?includeSocketInformation=maybe", b"").await;
    assert_error(&response, 400, "InvalidRequestException");
}

#[tokio::test]
async fn list_subscriptions_in_pages_with_their_qos() {
    let server = TestServer::start().await;
    let mut device = server.v4("lister").await;
    device.subscribe("b/+/c", QoS::AtLeastOnce).await;
    device.subscribe("a/#", QoS::AtMostOnce).await;
    device.subscribe("c", QoS::AtLeastOnce).await;

    let all = ok_json(&call(&server, "GET", "/connections/lister/subscriptions", b"").await);
    assert_eq!(
        all["subscriptions"],
        serde_json::json!([
            {"topicFilter": "a/#", "qos": 0},
            {"topicFilter": "b/+/c", "qos": 1},
            {"topicFilter": "c", "qos": 1},
        ])
    );
    assert!(all.get("nextToken").is_none());

    let first =
        ok_json(&call(&server, "GET", "/connections/lister/subscriptions?maxResults=2", b"").await);
    assert_eq!(first["subscriptions"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().unwrap();
    let target = format!("/connections/lister/subscriptions?maxResults=2&nextToken={token}");
    let second = ok_json(&call(&server, "GET", &target, b"").await);
    assert_eq!(second["subscriptions"], serde_json::json!([{"topicFilter": "c", "qos": 1}]));
    assert!(second.get("nextToken").is_none());

    for bad in ["maxResults=0", "maxResults=201", "nextToken=%21%21"] {
        let target = format!("/connections/lister/subscriptions?{bad}");
        assert_error(&call(&server, "GET", &target, b"").await, 400, "InvalidRequestException");
    }
    let response = call(&server, "GET", "/connections/nobody/subscriptions", b"").await;
    assert_error(&response, 404, "ResourceNotFoundException");
}

#[tokio::test]
async fn delete_connection_disconnects_with_api_initiated_disconnect() {
    let server = TestServer::start().await;
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("$aws/events/presence/disconnected/+", QoS::AtLeastOnce).await;
    let mut device = server.v5("doomed-5").await;

    let response = call(&server, "DELETE", "/connections/doomed-5", b"").await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let (seen, error) = device.closed().await;
    let told = seen.iter().any(|p| {
        matches!(p, P5::Disconnect(d) if d.reason_code == DisconnectReasonCode::AdministrativeAction)
    });
    // rumqttc reports a server's DISCONNECT as the error that ends its event loop.
    assert!(
        told || error.contains("AdministrativeAction"),
        "the MQTT 5 client is told 0x98: {seen:?} {error}"
    );
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/presence/disconnected/doomed-5");
    let event: Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(event["disconnectReason"], "API_INITIATED_DISCONNECT");
    assert_eq!(event["clientInitiatedDisconnect"], false);

    // Gone (a clean session), so a second delete finds nothing.
    let response = call(&server, "DELETE", "/connections/doomed-5", b"").await;
    assert_error(&response, 404, "ResourceNotFoundException");
    let response = call(&server, "DELETE", "/connections/x?cleanSession=sometimes", b"").await;
    assert_error(&response, 400, "InvalidRequestException");
}

#[tokio::test]
async fn delete_connection_publishes_the_will_unless_prevented() {
    let server = TestServer::start().await;
    let mut listener = server.v4("will-listener").await;
    listener.subscribe("wills/#", QoS::AtLeastOnce).await;
    let mut options = server.v4_options("with-will");
    options.set_last_will(LastWill::new("wills/sent", "gone", QoS::AtLeastOnce, false));
    let mut sends = ferrocore_testkit::V4::connect(options).await;
    let mut options = server.v4_options("will-kept");
    options.set_last_will(LastWill::new("wills/prevented", "gone", QoS::AtLeastOnce, false));
    let mut prevents = ferrocore_testkit::V4::connect(options).await;

    let response =
        call(&server, "DELETE", "/connections/will-kept?preventWillMessage=true", b"").await;
    assert_eq!(response.status, 200);
    prevents.closed().await;
    listener.no_publish().await;

    let response =
        call(&server, "DELETE", "/connections/with-will?preventWillMessage=false", b"").await;
    assert_eq!(response.status, 200);
    sends.closed().await;
    let will = listener.publish().await;
    assert_eq!(will.topic, "wills/sent");
}

#[tokio::test]
async fn delete_connection_keeps_or_clears_a_persistent_session() {
    let server = TestServer::start().await;
    let persistent = || {
        let mut options = server.v4_options("keeper");
        options.set_clean_session(false);
        options
    };
    let mut device = ferrocore_testkit::V4::connect(persistent()).await;
    device.subscribe("kept/topic", QoS::AtLeastOnce).await;

    // cleanSession=false (the default): the session stays, offline, with its subscriptions.
    let response = call(&server, "DELETE", "/connections/keeper?cleanSession=false", b"").await;
    assert_eq!(response.status, 200);
    device.closed().await;
    let body = ok_json(&call(&server, "GET", "/connections/keeper", b"").await);
    assert_eq!(body["connected"], false);
    let subscriptions =
        ok_json(&call(&server, "GET", "/connections/keeper/subscriptions", b"").await);
    assert_eq!(subscriptions["subscriptions"][0]["topicFilter"], "kept/topic");

    // Back, then deleted with cleanSession=true: the session is gone.
    let mut device = ferrocore_testkit::V4::connect(persistent()).await;
    assert!(matches!(&device.connack, rumqttc::Packet::ConnAck(c) if c.session_present));
    let response = call(&server, "DELETE", "/connections/keeper?cleanSession=true", b"").await;
    assert_eq!(response.status, 200);
    device.closed().await;
    let response = call(&server, "GET", "/connections/keeper", b"").await;
    assert_error(&response, 404, "ResourceNotFoundException");
    let device = ferrocore_testkit::V4::connect(persistent()).await;
    assert!(matches!(&device.connack, rumqttc::Packet::ConnAck(c) if !c.session_present));
    let subscriptions =
        ok_json(&call(&server, "GET", "/connections/keeper/subscriptions", b"").await);
    assert_eq!(subscriptions["subscriptions"], serde_json::json!([]));
}

#[tokio::test]
async fn send_direct_message_reaches_only_that_client_without_a_subscription() {
    let server = TestServer::start().await;
    let mut target = server.v5("direct-target").await;
    let mut bystander = server.v4("bystander").await;
    bystander.subscribe("direct/#", QoS::AtLeastOnce).await;

    let response = call(
        &server,
        "POST",
        "/connections/direct-target/messages?topic=direct%2Fcmd&contentType=text%2Fplain&responseTopic=direct%2Freply",
        b"reboot",
    )
    .await;
    let body = ok_json(&response);
    assert_eq!(body["message"], "OK");
    assert!(!body["traceId"].as_str().unwrap().is_empty());
    let publish = target.publish().await;
    assert_eq!(&publish.topic[..], b"direct/cmd");
    assert_eq!(&publish.payload[..], b"reboot");
    assert_eq!(publish.qos, rumqttc::v5::mqttbytes::QoS::AtMostOnce, "QoS 0 without confirmation");
    let properties = publish.properties.expect("MQTT 5 properties");
    assert_eq!(properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(properties.response_topic.as_deref(), Some("direct/reply"));
    bystander.no_publish().await;

    // With confirmation: QoS 1, answered once the client acknowledged it.
    let response = call(
        &server,
        "POST",
        "/connections/direct-target/messages?topic=direct%2Fconfirmed&confirmation=true&timeout=5",
        b"ack me",
    )
    .await;
    assert_eq!(ok_json(&response)["message"], "OK");
    let publish = target.publish().await;
    assert_eq!(&publish.topic[..], b"direct/confirmed");
    assert_eq!(publish.qos, rumqttc::v5::mqttbytes::QoS::AtLeastOnce);

    let response = call(&server, "POST", "/connections/nobody/messages?topic=a", b"x").await;
    assert_error(&response, 404, "ResourceNotFoundException");
    for bad in ["", "?topic=a%2F%23", "?topic=a&timeout=16", "?topic=a&confirmation=yes"] {
        let target = format!("/connections/direct-target/messages{bad}");
        assert_error(&call(&server, "POST", &target, b"x").await, 400, "InvalidRequestException");
    }
    let big = vec![b'x'; 128 * 1024 + 1];
    let response = call(&server, "POST", "/connections/direct-target/messages?topic=a", &big).await;
    assert_error(&response, 413, "RequestEntityTooLargeException");
}

#[tokio::test]
async fn send_direct_message_times_out_without_an_acknowledgement() {
    let server = TestServer::start().await;
    let mut silent = server.raw_connected(ProtocolVersion::V311, "silent").await;
    let started = std::time::Instant::now();
    let response = call(
        &server,
        "POST",
        "/connections/silent/messages?topic=direct%2Fwait&confirmation=true&timeout=1",
        b"no ack",
    )
    .await;
    assert_error(&response, 504, "GatewayTimeoutException");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    match silent.recv().await {
        Some(Packet::Publish(publish)) => {
            assert_eq!(publish.topic, "direct/wait");
            assert_eq!(publish.qos, ferrocore_mqtt::QoS::AtLeastOnce);
        }
        other => panic!("expected the PUBLISH, got {other:?}"),
    }
    // A raw client that acknowledges in time gets its confirmation.
    let mut prompt = server.raw_connected(ProtocolVersion::V311, "prompt").await;
    let server_ref = &server;
    let request = async move {
        call(
            server_ref,
            "POST",
            "/connections/prompt/messages?topic=direct%2Fok&confirmation=true",
            b"ack",
        )
        .await
    };
    let ack = async {
        match prompt.recv().await {
            Some(Packet::Publish(publish)) => {
                prompt
                    .send(&Packet::PubAck(ferrocore_mqtt::PubAck::success(publish.packet_id)))
                    .await;
            }
            other => panic!("expected the PUBLISH, got {other:?}"),
        }
    };
    let (response, ()) = tokio::join!(request, ack);
    assert_eq!(ok_json(&response)["message"], "OK");
}

#[tokio::test]
async fn send_direct_message_carries_the_mqtt5_headers_and_3_1_1_receivers_lose_them() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let server = TestServer::start().await;
    let mut v5 = server.v5("props-5").await;
    let mut v4 = server.v4("props-4").await;
    let user_properties = STANDARD.encode(r#"[{"deviceName":"alpha"},{"deviceCnt":"45"}]"#);
    let correlation = STANDARD.encode([9u8, 8, 7]);
    let headers = [
        ("x-amz-mqtt5-user-properties", user_properties.as_str()),
        ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
        ("x-amz-mqtt5-correlation-data", correlation.as_str()),
    ];
    for client in ["props-5", "props-4"] {
        let target = format!("/connections/{client}/messages?topic=direct%2Fprops");
        let response =
            server.raw_signed_with_headers("iotdata", "POST", &target, &headers, b"{}").await;
        assert_eq!(ok_json(&response)["message"], "OK");
    }
    let publish = v5.publish().await;
    let properties = publish.properties.expect("MQTT 5 properties");
    assert_eq!(
        properties.user_properties,
        [("deviceName".to_owned(), "alpha".to_owned()), ("deviceCnt".to_owned(), "45".to_owned())]
    );
    assert_eq!(properties.payload_format_indicator, Some(1));
    assert_eq!(properties.correlation_data.as_deref(), Some(&[9u8, 8, 7][..]));
    let publish = v4.publish().await;
    assert_eq!(publish.topic, "direct/props");
    assert_eq!(&publish.payload[..], b"{}");

    let bad = [("x-amz-mqtt5-payload-format-indicator", "SOMETIMES")];
    let response = server
        .raw_signed_with_headers(
            "iotdata",
            "POST",
            "/connections/props-5/messages?topic=a",
            &bad,
            b"",
        )
        .await;
    assert_error(&response, 400, "InvalidRequestException");
}
