//! Device Shadow over REST: GetThingShadow, UpdateThingShadow, DeleteThingShadow (classic and
//! named) and ListNamedShadowsForThing, sharing one code path with the MQTT shadow topics.

use aws_sdk_iotdataplane::primitives::Blob;
use ferrocore_testkit::TestServer;
use rumqttc::QoS;
use serde_json::{Value, json};

use crate::error_of;

fn doc(blob: Option<Blob>) -> Value {
    serde_json::from_slice(blob.unwrap().as_ref()).unwrap()
}

fn body(value: Value) -> Blob {
    Blob::new(value.to_string())
}

#[tokio::test]
async fn update_get_delete_the_classic_shadow() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    let accepted = data
        .update_thing_shadow()
        .thing_name("lamp")
        .payload(body(json!({"state": {"desired": {"on": true}}, "clientToken": "c1"})))
        .send()
        .await
        .unwrap();
    let accepted = doc(accepted.payload);
    assert_eq!(accepted["state"]["desired"]["on"], true);
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["clientToken"], "c1");
    assert!(accepted["metadata"]["desired"]["on"]["timestamp"].is_u64());

    let full = doc(data.get_thing_shadow().thing_name("lamp").send().await.unwrap().payload);
    assert_eq!(full["state"]["desired"]["on"], true);
    assert_eq!(full["state"]["delta"]["on"], true);
    assert_eq!(full["version"], 1);

    let deleted =
        doc(Some(data.delete_thing_shadow().thing_name("lamp").send().await.unwrap().payload));
    assert_eq!(deleted["version"], 1);
    assert!(deleted["timestamp"].is_u64());

    let (code, status, message) = error_of(data.get_thing_shadow().thing_name("lamp").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    assert!(message.contains("lamp"), "{message}");
    let (code, status, _) = error_of(data.delete_thing_shadow().thing_name("lamp").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
}

#[tokio::test]
async fn named_shadows_are_separate_and_listed() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    data.update_thing_shadow()
        .thing_name("pump")
        .payload(body(json!({"state": {"reported": {"rpm": 1}}})))
        .send()
        .await
        .unwrap();
    for name in ["config", "alarms", "firmware"] {
        data.update_thing_shadow()
            .thing_name("pump")
            .shadow_name(name)
            .payload(body(json!({"state": {"reported": {"name": name}}})))
            .send()
            .await
            .unwrap();
    }
    let named = doc(data
        .get_thing_shadow()
        .thing_name("pump")
        .shadow_name("config")
        .send()
        .await
        .unwrap()
        .payload);
    assert_eq!(named["state"]["reported"], json!({"name": "config"}));
    let classic = doc(data.get_thing_shadow().thing_name("pump").send().await.unwrap().payload);
    assert_eq!(classic["state"]["reported"], json!({"rpm": 1}));

    let all = data.list_named_shadows_for_thing().thing_name("pump").send().await.unwrap();
    assert_eq!(all.results(), ["alarms", "config", "firmware"], "classic not listed");
    assert!(all.next_token().is_none());
    assert!(all.timestamp() > 0);

    let first =
        data.list_named_shadows_for_thing().thing_name("pump").page_size(2).send().await.unwrap();
    assert_eq!(first.results(), ["alarms", "config"]);
    let second = data
        .list_named_shadows_for_thing()
        .thing_name("pump")
        .page_size(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.results(), ["firmware"]);
    assert!(second.next_token().is_none());

    data.delete_thing_shadow().thing_name("pump").shadow_name("alarms").send().await.unwrap();
    let after = data.list_named_shadows_for_thing().thing_name("pump").send().await.unwrap();
    assert_eq!(after.results(), ["config", "firmware"]);
    let none = data.list_named_shadows_for_thing().thing_name("nobody").send().await.unwrap();
    assert!(none.results().is_empty());
}

/// A REST update publishes `/update/delta` and `/update/documents` as an MQTT one does; its
/// accepted document is the HTTP response (the shadow service publishes `/update/accepted`
/// only for MQTT requests, see `ShadowService`).
#[tokio::test]
async fn a_rest_update_is_seen_by_mqtt_subscribers_and_an_mqtt_update_by_rest() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    let mut device = server.v4("lamp-device").await;
    device.subscribe("$aws/things/lamp/shadow/update/delta", QoS::AtLeastOnce).await;
    device.subscribe("$aws/things/lamp/shadow/update/documents", QoS::AtLeastOnce).await;

    let accepted = data
        .update_thing_shadow()
        .thing_name("lamp")
        .payload(body(json!({"state": {"desired": {"color": "red"}}, "clientToken": "app"})))
        .send()
        .await
        .unwrap();
    let accepted = doc(accepted.payload);
    assert_eq!(accepted["state"]["desired"]["color"], "red");
    assert_eq!(accepted["clientToken"], "app");
    let mut seen = std::collections::HashMap::new();
    for _ in 0..2 {
        let publish = device.publish().await;
        let topic = publish.topic.clone();
        seen.insert(topic, serde_json::from_slice::<Value>(&publish.payload).unwrap());
    }
    let delta = &seen["$aws/things/lamp/shadow/update/delta"];
    assert_eq!(delta["state"], json!({"color": "red"}));
    assert_eq!(delta["version"], 1);
    assert_eq!(delta["clientToken"], "app");
    let documents = &seen["$aws/things/lamp/shadow/update/documents"];
    assert_eq!(documents["current"]["state"]["desired"]["color"], "red");
    assert_eq!(documents["current"]["version"], 1);

    device.subscribe("$aws/things/lamp/shadow/update/accepted", QoS::AtLeastOnce).await;
    // The device reports over MQTT; REST sees it and the delta is gone.
    device
        .client
        .publish(
            "$aws/things/lamp/shadow/update",
            QoS::AtLeastOnce,
            false,
            json!({"state": {"reported": {"color": "red"}}}).to_string(),
        )
        .await
        .unwrap();
    loop {
        let publish = device.publish().await;
        if publish.topic == "$aws/things/lamp/shadow/update/accepted" {
            break;
        }
    }
    let full = doc(data.get_thing_shadow().thing_name("lamp").send().await.unwrap().payload);
    assert_eq!(full["state"]["reported"]["color"], "red");
    assert_eq!(full["version"], 2);
    assert!(full["state"].get("delta").is_none(), "{full}");
}

#[tokio::test]
async fn shadow_errors_have_the_iot_data_names_and_statuses() {
    let server = TestServer::start().await;
    let data = server.iot_data_client();
    data.update_thing_shadow()
        .thing_name("t")
        .payload(body(json!({"state": {"desired": {"a": 1}}})))
        .send()
        .await
        .unwrap();

    let (code, status, message) = error_of(
        data.update_thing_shadow()
            .thing_name("t")
            .payload(body(json!({"state": {"desired": {"a": 2}}, "version": 7})))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ConflictException", 409));
    assert_eq!(message, "Version conflict");

    let (code, status, message) = error_of(
        data.update_thing_shadow().thing_name("t").payload(Blob::new("{not json")).send().await,
    );
    assert_eq!(
        (code.as_str(), status, message.as_str()),
        ("InvalidRequestException", 400, "Invalid JSON")
    );

    let (code, status, _) = error_of(
        data.update_thing_shadow()
            .thing_name("t")
            .payload(body(json!({"nostate": 1})))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));

    let big = "x".repeat(9000);
    let (code, status, _) = error_of(
        data.update_thing_shadow()
            .thing_name("t")
            .payload(body(json!({"state": {"desired": {"big": big}}})))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("RequestEntityTooLargeException", 413));

    let (code, status, _) = error_of(
        data.update_thing_shadow()
            .thing_name("t")
            .payload(Blob::new(vec![0xff, 0xfe, b'{']))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("UnsupportedDocumentEncodingException", 415));

    let (code, status, _) = error_of(data.get_thing_shadow().thing_name("bad name!").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, status, _) =
        error_of(data.get_thing_shadow().thing_name("t").shadow_name("bad/name").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, status, _) =
        error_of(data.list_named_shadows_for_thing().thing_name("t").page_size(101).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));

    // The stored shadow is untouched by the refused updates.
    let full = doc(data.get_thing_shadow().thing_name("t").send().await.unwrap().payload);
    assert_eq!(full["version"], 1);
    assert_eq!(full["state"]["desired"], json!({"a": 1}));

    // A known route with another method.
    let response = server.raw_signed("iotdata", "PUT", "/things/t/shadow", b"{}").await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("x-amzn-errortype"), Some("MethodNotAllowedException"));
    // Shadow error bodies are AWS's error documents.
    let response = server.raw_signed("iotdata", "GET", "/things/none/shadow", b"").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["code"], 404);
}
