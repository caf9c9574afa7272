//! Retained messages over REST: GetRetainedMessage and ListRetainedMessages, for messages
//! retained by MQTT clients and by HTTPS publish.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_iotdataplane::primitives::Blob;
use ferrocore_testkit::TestServer;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::error_of;

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

#[tokio::test]
async fn a_retained_message_reads_back_with_its_properties() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    let before = now_ms();
    let device = server.v5("dev").await;
    let properties = PublishProperties {
        user_properties: vec![("fw".into(), "1.2".into()), ("fw".into(), "1.3".into())],
        ..Default::default()
    };
    device
        .client
        .publish_with_properties(
            "config/fw",
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            true,
            "v1.2.3",
            properties,
        )
        .await
        .unwrap();
    let mut found = None;
    for _ in 0..100 {
        if let Ok(out) = data.get_retained_message().topic("config/fw").send().await {
            found = Some(out);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out = found.expect("the retained message");
    assert_eq!(out.topic(), Some("config/fw"));
    assert_eq!(out.payload().unwrap().as_ref(), b"v1.2.3");
    assert_eq!(out.qos(), 1);
    assert!(
        (before..=now_ms()).contains(&out.last_modified_time()),
        "{}",
        out.last_modified_time()
    );
    let user: serde_json::Value =
        serde_json::from_slice(out.user_properties().unwrap().as_ref()).unwrap();
    assert_eq!(user, serde_json::json!([{"fw": "1.2"}, {"fw": "1.3"}]));

    // An HTTPS retained publish replaces it; an empty one deletes it.
    data.publish().topic("config/fw").retain(true).payload(Blob::new("v2")).send().await.unwrap();
    let out = data.get_retained_message().topic("config/fw").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), b"v2");
    assert_eq!(out.qos(), 0);
    assert!(out.user_properties().is_none());
    data.publish().topic("config/fw").retain(true).send().await.unwrap();
    let (code, status, _) = error_of(data.get_retained_message().topic("config/fw").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, _, _) = error_of(data.get_retained_message().topic("never/retained").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn retained_messages_list_in_pages() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    for (topic, payload) in [("r/c", "333"), ("r/a", "1"), ("r/b", "22")] {
        data.publish()
            .topic(topic)
            .qos(1)
            .retain(true)
            .payload(Blob::new(payload))
            .send()
            .await
            .unwrap();
    }
    // Not retained: not listed.
    data.publish().topic("r/live").payload(Blob::new("x")).send().await.unwrap();

    let all = data.list_retained_messages().send().await.unwrap();
    let summary: Vec<(String, i64, i64)> = all
        .retained_topics()
        .iter()
        .map(|s| (s.topic().unwrap().to_owned(), s.payload_size(), s.qos() as i64))
        .collect();
    assert_eq!(
        summary,
        [("r/a".to_owned(), 1, 1), ("r/b".to_owned(), 2, 1), ("r/c".to_owned(), 3, 1)]
    );
    assert!(all.retained_topics().iter().all(|s| s.last_modified_time() > 0));
    assert!(all.next_token().is_none());

    let first = data.list_retained_messages().max_results(2).send().await.unwrap();
    assert_eq!(first.retained_topics().len(), 2);
    let second = data
        .list_retained_messages()
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let topics: Vec<&str> = second.retained_topics().iter().filter_map(|s| s.topic()).collect();
    assert_eq!(topics, ["r/c"]);
    assert!(second.next_token().is_none());

    // The paginator walks every page.
    let pages: Vec<_> = data
        .list_retained_messages()
        .max_results(1)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.retained_topics().len()).sum::<usize>(), 3);

    let (code, status, _) = error_of(data.list_retained_messages().max_results(201).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, _, _) = error_of(data.list_retained_messages().next_token("garbage!").send().await);
    assert_eq!(code, "InvalidRequestException");
    let response = server.raw_signed("iotdata", "DELETE", "/retainedMessage/r/a", b"").await;
    assert_eq!(response.header("x-amzn-errortype"), Some("MethodNotAllowedException"));
}

#[tokio::test]
async fn retained_messages_keep_their_time_across_a_restart() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    data.publish()
        .topic("keep/me")
        .qos(1)
        .retain(true)
        .payload(Blob::new("v"))
        .send()
        .await
        .unwrap();
    let before = data.get_retained_message().topic("keep/me").send().await.unwrap();
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let after =
        server.iot_data_client().get_retained_message().topic("keep/me").send().await.unwrap();
    assert_eq!(after.payload().unwrap().as_ref(), b"v");
    assert_eq!(after.last_modified_time(), before.last_modified_time());
}
