//! What each action does with a matching message: republish (WHERE, templates, `SELECT *`
//! with additions, MQTT 5 headers), HTTP (through a confirmed destination), S3 (a file), the
//! error action, and Basic Ingest.

use aws_sdk_iot::types::{Action, MqttHeaders, RepublishAction, UserProperty};
use base64::Engine;
use ferrocore_testkit::{TestServer, eventually};
use rumqttc::QoS;

use crate::support::{Endpoint, confirmed_destination, create, http, payload, republish, s3};

#[tokio::test]
async fn republish_applies_where_select_additions_and_topic_templates() {
    let server = TestServer::start().await;
    create(
        &server,
        "temps",
        payload(
            "SELECT *, topic(2) AS room, clientid() AS device FROM 'sensors/+/temp' WHERE celsius > 20",
            vec![republish("out/${topic(2)}/${celsius}")],
        ),
    )
    .await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("out/#", QoS::AtLeastOnce).await;
    let publisher = server.v4("dev1").await;
    publisher
        .client
        .publish("sensors/kitchen/temp", QoS::AtLeastOnce, false, r#"{"celsius": 18}"#)
        .await
        .unwrap();
    publisher
        .client
        .publish("sensors/kitchen/temp", QoS::AtLeastOnce, false, r#"{"celsius": 25}"#)
        .await
        .unwrap();
    let got = sub.publish().await;
    assert_eq!(got.topic, "out/kitchen/25", "the cold reading was dropped by WHERE");
    let body: serde_json::Value = serde_json::from_slice(&got.payload).unwrap();
    assert_eq!(body, serde_json::json!({"celsius": 25, "room": "kitchen", "device": "dev1"}));
    sub.no_publish().await;
    // A topic outside the FROM filter does not fire.
    publisher
        .client
        .publish("sensors/kitchen/humidity", QoS::AtLeastOnce, false, r#"{"celsius": 30}"#)
        .await
        .unwrap();
    sub.no_publish().await;
}

#[tokio::test]
async fn republish_sets_mqtt5_headers() {
    let server = TestServer::start().await;
    let headers = MqttHeaders::builder()
        .payload_format_indicator("UTF8_DATA")
        .content_type("application/json")
        .response_topic("replies/${topic(2)}")
        .correlation_data(base64::engine::general_purpose::STANDARD.encode("corr-1"))
        .message_expiry("120")
        .user_properties(UserProperty::builder().key("source").value("${topic()}").build().unwrap())
        .build();
    let action = Action::builder()
        .republish(
            RepublishAction::builder()
                .role_arn("arn:aws:iam::000000000000:role/rules")
                .topic("with-headers")
                .qos(1)
                .headers(headers)
                .build()
                .unwrap(),
        )
        .build();
    create(&server, "headers", payload("SELECT * FROM 'h/+'", vec![action])).await;
    let mut sub = server.v5("sub5").await;
    sub.subscribe("with-headers", rumqttc::v5::mqttbytes::QoS::AtLeastOnce).await;
    let publisher = server.v4("p").await;
    publisher.client.publish("h/x", QoS::AtLeastOnce, false, r#"{"a":1}"#).await.unwrap();
    let got = sub.publish().await;
    let props = got.properties.unwrap();
    assert_eq!(props.payload_format_indicator, Some(1));
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.response_topic.as_deref(), Some("replies/x"));
    assert_eq!(props.correlation_data.as_deref(), Some(&b"corr-1"[..]));
    assert!(props.message_expiry_interval.is_some_and(|s| s <= 120 && s > 100));
    assert_eq!(props.user_properties, vec![("source".to_owned(), "h/x".to_owned())]);
}

#[tokio::test]
async fn http_action_posts_to_a_confirmed_destination() {
    let server = TestServer::start().await;
    let mut endpoint = Endpoint::start().await;
    let hook = endpoint.url("/hook");
    confirmed_destination(&server, &mut endpoint, &hook).await;
    let url = format!("{hook}/${{topic(2)}}");
    create(&server, "to_http", payload("SELECT temp FROM 'devices/+/data'", vec![http(&url)]))
        .await;
    let publisher = server.v4("p").await;
    publisher
        .client
        .publish("devices/d7/data", QoS::AtLeastOnce, false, r#"{"temp": 3, "x": 1}"#)
        .await
        .unwrap();
    let request = endpoint.next().await;
    assert_eq!(request.path, "/hook/d7");
    assert_eq!(request.headers.get("x-topic").unwrap(), "devices/d7/data");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, serde_json::json!({"temp": 3}));
}

#[tokio::test]
async fn s3_action_writes_an_object_file() {
    let buckets = tempfile::tempdir().unwrap();
    let dir = buckets.path().to_owned();
    let server = TestServer::start_with(|config| config.rules.s3_dir = Some(dir)).await;
    create(
        &server,
        "archive",
        payload("SELECT * FROM 'logs/#'", vec![s3("my-bucket", "${topic(2)}/${n}.json")]),
    )
    .await;
    let publisher = server.v4("p").await;
    publisher.client.publish("logs/pump", QoS::AtLeastOnce, false, r#"{"n": 42}"#).await.unwrap();
    let file = buckets.path().join("my-bucket/pump/42.json");
    eventually("the S3 object", || file.exists()).await;
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, serde_json::json!({"n": 42}));
}

#[tokio::test]
async fn error_action_receives_the_failure_when_the_endpoint_is_down() {
    let server = TestServer::start_with(|config| config.rules.retries = 0).await;
    let mut endpoint = Endpoint::start().await;
    let url = endpoint.url("/down");
    confirmed_destination(&server, &mut endpoint, &url).await;
    let rule = aws_sdk_iot::types::TopicRulePayload::builder()
        .sql("SELECT * FROM 'alarms/+'")
        .aws_iot_sql_version("2016-03-23")
        .actions(http(&url))
        .error_action(republish("rule-errors"))
        .build()
        .unwrap();
    create(&server, "fragile", rule).await;
    endpoint.stop().await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("rule-errors", QoS::AtLeastOnce).await;
    let publisher = server.v4("dev9").await;
    publisher.client.publish("alarms/a1", QoS::AtLeastOnce, false, "hello").await.unwrap();
    let got = sub.publish().await;
    let error: serde_json::Value = serde_json::from_slice(&got.payload).unwrap();
    assert_eq!(error["ruleName"], "fragile");
    assert_eq!(error["topic"], "alarms/a1");
    assert_eq!(error["clientId"], "dev9");
    assert_eq!(error["base64OriginalPayload"], "aGVsbG8=");
    assert!(error["cloudwatchTraceId"].as_str().is_some_and(|t| !t.is_empty()));
    let failure = &error["failures"][0];
    assert_eq!(failure["failedAction"], "HttpAction");
    assert_eq!(failure["failedResource"], url.as_str());
    assert!(failure["errorMessage"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn basic_ingest_reaches_only_its_rule() {
    let server = TestServer::start().await;
    create(
        &server,
        "ingest",
        payload("SELECT *, topic() AS t FROM 'unused/filter'", vec![republish("ingested")]),
    )
    .await;
    create(&server, "other", payload("SELECT * FROM 'unused/other'", vec![republish("other-out")]))
        .await;
    let mut out = server.v4("out").await;
    out.subscribe("ingested", QoS::AtLeastOnce).await;
    let mut other = server.v4("other").await;
    other.subscribe("other-out", QoS::AtLeastOnce).await;
    let mut snoop = server.v4("snoop").await;
    snoop.client.subscribe("$aws/rules/ingest/#", QoS::AtLeastOnce).await.unwrap();
    let publisher = server.v4("p").await;
    publisher
        .client
        .publish("$aws/rules/ingest/dev/a", QoS::AtLeastOnce, false, r#"{"v":1}"#)
        .await
        .unwrap();
    let got = out.publish().await;
    let body: serde_json::Value = serde_json::from_slice(&got.payload).unwrap();
    assert_eq!(body, serde_json::json!({"v": 1, "t": "dev/a"}), "topic() without the prefix");
    snoop.no_publish().await;
    other.no_publish().await;
}

#[tokio::test]
async fn a_full_action_queue_drops_to_the_error_action_without_blocking() {
    let server = TestServer::start_with(|config| {
        config.rules.queue_size = 1;
        config.rules.retries = 0;
    })
    .await;
    // The endpoint holds every request for 2 s: the HTTP action's queue fills at once.
    let mut endpoint = Endpoint::start_with_delay(std::time::Duration::from_secs(2)).await;
    let url = endpoint.url("/slow");
    confirmed_destination(&server, &mut endpoint, &url).await;
    let rule = aws_sdk_iot::types::TopicRulePayload::builder()
        .sql("SELECT * FROM 'burst/+'")
        .actions(http(&url))
        .actions(republish("burst-out"))
        .error_action(republish("burst-errors"))
        .build()
        .unwrap();
    create(&server, "burst", rule).await;
    let mut out = server.v4("out").await;
    out.subscribe("burst-out", QoS::AtLeastOnce).await;
    let mut errors = server.v4("errors").await;
    errors.subscribe("burst-errors", QoS::AtLeastOnce).await;
    let publisher = server.v4("p").await;
    for i in 0..30 {
        publisher
            .client
            .publish("burst/x", QoS::AtLeastOnce, false, format!("m{i}"))
            .await
            .unwrap();
    }
    // The republish action, the broker and other clients keep going meanwhile.
    for i in 0..30 {
        assert_eq!(out.publish().await.payload, format!("m{i}"));
    }
    let got = errors.publish().await;
    let error: serde_json::Value = serde_json::from_slice(&got.payload).unwrap();
    assert_eq!(error["failures"][0]["failedAction"], "HttpAction");
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(message.contains("queue is full"), "{message}");
    assert!(server.server().rules().stats().overflow > 0);
}

#[tokio::test]
async fn principal_and_sourceip_come_from_the_publishing_device() {
    let server = TestServer::start().await;
    create(
        &server,
        "who",
        payload(
            "SELECT principal() AS principal, clientid() AS client, sourceip() AS ip FROM 'who/+'",
            vec![republish("seen")],
        ),
    )
    .await;
    let iot = server.iot_client();
    let made = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
    let allow_all = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}"#;
    iot.create_policy().policy_name("all").policy_document(allow_all).send().await.unwrap();
    iot.attach_policy()
        .policy_name("all")
        .target(made.certificate_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut sub = server.v4("watcher").await;
    sub.subscribe("seen", QoS::AtLeastOnce).await;
    let device = ferrocore_testkit::V4::connect(server.v4_tls_options(
        "sensor-9",
        made.certificate_pem().unwrap(),
        made.key_pair().unwrap().private_key().unwrap(),
    ))
    .await;
    device.client.publish("who/a", QoS::AtLeastOnce, false, "{}").await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sub.publish().await.payload).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "principal": made.certificate_id().unwrap(),
            "client": "sensor-9",
            "ip": "127.0.0.1"
        })
    );
}
