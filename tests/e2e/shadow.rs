//! The Device Shadow service over MQTT: devices and apps (rumqttc, MQTT 3.1.1) publish
//! requests on `$aws/things/{thing}/shadow[/name/{shadow}]/{get,update,delete}` and receive the
//! answers the service publishes through the broker.

use std::collections::BTreeSet;

use ferrocore_shadow::ShadowId;
use ferrocore_testkit::{TestServer, V4};
use rumqttc::QoS;
use serde_json::{Value, json};

const Q1: QoS = QoS::AtLeastOnce;

fn prefix(thing: &str) -> String {
    format!("$aws/things/{thing}/shadow")
}

async fn subscribe_all(client: &mut V4, filters: &[String]) {
    for filter in filters {
        client.subscribe(filter, Q1).await;
    }
}

async fn send(client: &V4, topic: &str, payload: impl Into<Vec<u8>>) {
    client.client.publish(topic, Q1, false, payload.into()).await.unwrap();
}

/// The next PUBLISH, as topic and JSON.
async fn next(client: &mut V4) -> (String, Value) {
    let publish = client.publish().await;
    let body = serde_json::from_slice(&publish.payload)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", publish.topic));
    (publish.topic, body)
}

/// Sends `payload` to `{prefix}/{op}` and returns the answer on `{prefix}/{op}/#`.
async fn call(client: &mut V4, prefix: &str, op: &str, payload: Value) -> (String, Value) {
    send(client, &format!("{prefix}/{op}"), payload.to_string()).await;
    next(client).await
}

#[tokio::test]
async fn update_then_get() {
    let server = TestServer::start().await;
    let p = prefix("lamp-1");
    let mut device = server.v4("lamp-1").await;
    subscribe_all(&mut device, &[format!("{p}/update/accepted"), format!("{p}/get/+")]).await;
    let body = json!({"state": {"reported": {"on": true, "level": 3}}, "clientToken": "t-1"});
    let (topic, accepted) = call(&mut device, &p, "update", body).await;
    assert_eq!(topic, format!("{p}/update/accepted"));
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["clientToken"], "t-1");
    assert_eq!(accepted["state"], json!({"reported": {"on": true, "level": 3}}));
    let stamp = accepted["timestamp"].as_u64().unwrap();
    assert!(stamp > 1_600_000_000 && stamp < 10_000_000_000, "epoch seconds: {stamp}");
    assert_eq!(accepted["metadata"]["reported"]["on"]["timestamp"], stamp);

    let (topic, doc) = call(&mut device, &p, "get", json!({"clientToken": "g"})).await;
    assert_eq!(topic, format!("{p}/get/accepted"));
    assert_eq!(doc["state"], json!({"reported": {"on": true, "level": 3}}));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["clientToken"], "g");
    // An empty get payload works too.
    send(&device, &format!("{p}/get"), "").await;
    let (_, doc) = next(&mut device).await;
    assert_eq!(doc["version"], 1);
    assert!(doc.get("clientToken").is_none());
}

#[tokio::test]
async fn delta_reaches_the_device_and_answers_come_in_order() {
    let server = TestServer::start().await;
    let p = prefix("heater");
    let mut device = server.v4("heater").await;
    subscribe_all(&mut device, &[format!("{p}/update/delta")]).await;
    let mut watcher = server.v4("watcher").await;
    // Not `update/#`: that matches the request topic `update` itself.
    let answers = ["accepted", "delta", "documents"].map(|t| format!("{p}/update/{t}"));
    subscribe_all(&mut watcher, &answers).await;
    let mut app = server.v4("app").await;
    subscribe_all(&mut app, &[format!("{p}/update/accepted")]).await;

    // The device reports; no delta yet (nothing desired).
    send(
        &device,
        &format!("{p}/update"),
        json!({"state": {"reported": {"temp": 18, "mode": "eco"}}}).to_string(),
    )
    .await;
    let (topic, _) = next(&mut app).await;
    assert_eq!(topic, format!("{p}/update/accepted"));
    let topics: Vec<String> = vec![next(&mut watcher).await.0, next(&mut watcher).await.0];
    assert_eq!(topics, [format!("{p}/update/accepted"), format!("{p}/update/documents")]);

    // The app asks for 21 degrees: accepted, then delta, then documents.
    let ask = json!({"state": {"desired": {"temp": 21, "mode": "eco"}}, "clientToken": "ask"});
    send(&app, &format!("{p}/update"), ask.to_string()).await;
    let (_, accepted) = next(&mut app).await;
    assert_eq!(accepted["version"], 2);
    let (topic, delta) = next(&mut device).await;
    assert_eq!(topic, format!("{p}/update/delta"));
    assert_eq!(delta["state"], json!({"temp": 21}));
    assert_eq!(delta["version"], 2);
    assert_eq!(delta["clientToken"], "ask");
    assert!(delta["metadata"]["temp"]["timestamp"].is_u64());
    let order: Vec<String> =
        [next(&mut watcher).await, next(&mut watcher).await, next(&mut watcher).await]
            .into_iter()
            .map(|(topic, body)| {
                assert_eq!(body.get("version").or(body["current"].get("version")), Some(&json!(2)));
                topic
            })
            .collect();
    assert_eq!(
        order,
        [
            format!("{p}/update/accepted"),
            format!("{p}/update/delta"),
            format!("{p}/update/documents")
        ]
    );

    // The device catches up: the delta is gone.
    send(&device, &format!("{p}/update"), json!({"state": {"reported": {"temp": 21}}}).to_string())
        .await;
    device.no_publish().await;
    let mut getter = server.v4("getter").await;
    subscribe_all(&mut getter, &[format!("{p}/get/accepted")]).await;
    let (_, doc) = call(&mut getter, &p, "get", json!({})).await;
    assert!(doc["state"].get("delta").is_none(), "{doc}");
    assert_eq!(doc["version"], 3);
}

#[tokio::test]
async fn documents_carry_previous_and_current() {
    let server = TestServer::start().await;
    let p = prefix("doc-thing");
    let mut client = server.v4("doc-client").await;
    subscribe_all(&mut client, &[format!("{p}/update/documents")]).await;
    send(&client, &format!("{p}/update"), json!({"state": {"desired": {"a": 1}}}).to_string())
        .await;
    let (_, first) = next(&mut client).await;
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["current"]["state"], json!({"desired": {"a": 1}}));
    assert_eq!(first["current"]["version"], 1);
    let body = json!({"state": {"desired": {"a": null, "b": [1, 2]}, "reported": {"a": 1}}, "clientToken": "d2"});
    send(&client, &format!("{p}/update"), body.to_string()).await;
    let (_, second) = next(&mut client).await;
    assert_eq!(second["previous"]["state"], json!({"desired": {"a": 1}}));
    assert_eq!(second["previous"]["version"], 1);
    assert_eq!(second["current"]["state"], json!({"desired": {"b": [1, 2]}, "reported": {"a": 1}}));
    assert_eq!(second["current"]["version"], 2);
    assert!(second["current"]["metadata"]["desired"]["b"]["timestamp"].is_u64());
    assert_eq!(second["clientToken"], "d2");
    assert!(second["timestamp"].is_u64());
}

#[tokio::test]
async fn named_shadows_are_separate_from_the_classic_one() {
    let server = TestServer::start().await;
    let classic = prefix("robot");
    let named = format!("{classic}/name/arm");
    let mut client = server.v4("robot").await;
    subscribe_all(
        &mut client,
        &[
            format!("{named}/update/accepted"),
            format!("{named}/get/accepted"),
            format!("{classic}/get/rejected"),
        ],
    )
    .await;
    let (topic, accepted) =
        call(&mut client, &named, "update", json!({"state": {"reported": {"angle": 90}}})).await;
    assert_eq!(topic, format!("{named}/update/accepted"));
    assert_eq!(accepted["version"], 1);
    let (topic, doc) = call(&mut client, &named, "get", json!({})).await;
    assert_eq!(topic, format!("{named}/get/accepted"));
    assert_eq!(doc["state"]["reported"]["angle"], 90);
    let (topic, rejected) = call(&mut client, &classic, "get", json!({})).await;
    assert_eq!(topic, format!("{classic}/get/rejected"));
    assert_eq!(rejected["code"], 404);
    assert_eq!(rejected["message"], "No shadow exists with name: 'robot'");

    // The Rust API sees the same shadows.
    let shadows = server.server().shadows();
    let id = ShadowId::new("robot", Some("leg")).unwrap();
    shadows.update(&id, br#"{"state":{"desired":{"x":1}}}"#).await.unwrap();
    let page = shadows.list_named_shadows("robot", None, 1).await.unwrap();
    assert_eq!(page.results, ["arm"]);
    let page = shadows.list_named_shadows("robot", page.next_token.as_deref(), 1).await.unwrap();
    assert_eq!((page.results.as_slice(), page.next_token), (&["leg".to_owned()][..], None));
}

#[tokio::test]
async fn every_rejection_is_published_with_code_and_message() {
    let server = TestServer::start().await;
    let p = prefix("strict");
    let mut client = server.v4("strict").await;
    subscribe_all(
        &mut client,
        &[
            format!("{p}/update/rejected"),
            format!("{p}/get/rejected"),
            format!("{p}/delete/rejected"),
            "$aws/things/bad.name/shadow/update/rejected".to_owned(),
            format!("{p}/name/bad.shadow/get/rejected"),
        ],
    )
    .await;
    let deep = json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}});
    let big = json!({"state": {"reported": {"k": "x".repeat(9000)}}});
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (format!("{p}/update"), b"{not json".to_vec(), 400, "Invalid JSON"),
        (
            format!("{p}/update"),
            br#"{"clientToken":"c1"}"#.to_vec(),
            400,
            "Missing required node: state",
        ),
        (format!("{p}/update"), br#"{"state":[]}"#.to_vec(), 400, "State node must be an object"),
        (
            format!("{p}/update"),
            br#"{"state":{"desired":1}}"#.to_vec(),
            400,
            "Desired node must be an object",
        ),
        (
            format!("{p}/update"),
            br#"{"state":{"reported":true}}"#.to_vec(),
            400,
            "Reported node must be an object",
        ),
        (
            format!("{p}/update"),
            br#"{"state":{"x":{}}}"#.to_vec(),
            400,
            "State contains an invalid node: 'x'",
        ),
        (format!("{p}/update"), br#"{"state":{},"version":"2"}"#.to_vec(), 400, "Invalid version"),
        (
            format!("{p}/update"),
            json!({"state": {}, "clientToken": "x".repeat(65)}).to_string().into_bytes(),
            400,
            "Invalid clientToken",
        ),
        (
            format!("{p}/update"),
            deep.to_string().into_bytes(),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        (
            format!("{p}/update"),
            big.to_string().into_bytes(),
            413,
            "The payload exceeds the maximum size allowed",
        ),
        (
            format!("{p}/update"),
            b"{\"state\":{\"reported\":{\"a\":\"\xc3\x28\"}}}".to_vec(),
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        ),
        (format!("{p}/get"), Vec::new(), 404, "No shadow exists with name: 'strict'"),
        (format!("{p}/delete"), Vec::new(), 404, "No shadow exists with name: 'strict'"),
        (
            "$aws/things/bad.name/shadow/update".to_owned(),
            br#"{"state":{}}"#.to_vec(),
            400,
            "Invalid thing name",
        ),
        (format!("{p}/name/bad.shadow/get"), Vec::new(), 400, "Invalid shadow name"),
    ];
    for (topic, payload, code, message) in cases {
        send(&client, &topic, payload).await;
        let (answer, body) = next(&mut client).await;
        assert_eq!(answer, format!("{topic}/rejected"));
        assert_eq!(body["code"], code, "{topic}: {body}");
        assert_eq!(body["message"], message, "{topic}: {body}");
        assert!(body["timestamp"].is_u64());
    }
    // A valid clientToken is echoed on rejections.
    send(&client, &format!("{p}/update"), br#"{"clientToken":"c1"}"#.to_vec()).await;
    assert_eq!(next(&mut client).await.1["clientToken"], "c1");
    // Nothing was created by all of this.
    send(&client, &format!("{p}/get"), Vec::new()).await;
    assert_eq!(next(&mut client).await.1["code"], 404);
}

#[tokio::test]
async fn version_conflict_is_409() {
    let server = TestServer::start().await;
    let p = prefix("locked");
    let mut client = server.v4("locked").await;
    subscribe_all(&mut client, &[format!("{p}/update/accepted"), format!("{p}/update/rejected")])
        .await;
    let (_, accepted) =
        call(&mut client, &p, "update", json!({"state": {"desired": {"v": 1}}})).await;
    assert_eq!(accepted["version"], 1);
    let stale = json!({"state": {"desired": {"v": 2}}, "version": 7, "clientToken": "old"});
    let (topic, rejected) = call(&mut client, &p, "update", stale).await;
    assert_eq!(topic, format!("{p}/update/rejected"));
    assert_eq!(rejected["code"], 409);
    assert_eq!(rejected["message"], "Version conflict");
    assert_eq!(rejected["clientToken"], "old");
    let fresh = json!({"state": {"desired": {"v": 2}}, "version": 1});
    let (topic, accepted) = call(&mut client, &p, "update", fresh).await;
    assert_eq!(topic, format!("{p}/update/accepted"));
    assert_eq!(accepted["version"], 2);
}

#[tokio::test]
async fn delete_then_update_keeps_the_version_counter() {
    let server = TestServer::start().await;
    let p = prefix("phoenix");
    let mut client = server.v4("phoenix").await;
    subscribe_all(
        &mut client,
        &[format!("{p}/update/accepted"), format!("{p}/delete/+"), format!("{p}/get/+")],
    )
    .await;
    for v in 1..=3 {
        let (_, accepted) =
            call(&mut client, &p, "update", json!({"state": {"reported": {"v": v}}})).await;
        assert_eq!(accepted["version"], v);
    }
    let (topic, deleted) = call(&mut client, &p, "delete", json!({"clientToken": "del"})).await;
    assert_eq!(topic, format!("{p}/delete/accepted"));
    assert_eq!(deleted["version"], 3);
    assert_eq!(deleted["clientToken"], "del");
    assert!(deleted["timestamp"].is_u64());
    let (topic, _) = call(&mut client, &p, "get", json!({})).await;
    assert_eq!(topic, format!("{p}/get/rejected"));
    let (topic, _) = call(&mut client, &p, "delete", json!({})).await;
    assert_eq!(topic, format!("{p}/delete/rejected"));
    let (_, accepted) =
        call(&mut client, &p, "update", json!({"state": {"reported": {"v": 9}}})).await;
    assert_eq!(accepted["version"], 4);
    let (_, doc) = call(&mut client, &p, "get", json!({})).await;
    assert_eq!(doc["state"], json!({"reported": {"v": 9}}));
}

#[tokio::test]
async fn shadows_survive_a_restart() {
    let server = TestServer::start().await;
    let p = prefix("durable");
    {
        let mut client = server.v4("durable").await;
        subscribe_all(
            &mut client,
            &[
                format!("{p}/update/accepted"),
                format!("{p}/name/cfg/update/accepted"),
                format!("{p}/name/gone/+/accepted"),
            ],
        )
        .await;
        call(&mut client, &p, "update", json!({"state": {"desired": {"x": 1}}})).await;
        call(&mut client, &p, "update", json!({"state": {"reported": {"x": 0}}})).await;
        call(
            &mut client,
            &format!("{p}/name/cfg"),
            "update",
            json!({"state": {"reported": {"fw": "1.2"}}}),
        )
        .await;
        call(
            &mut client,
            &format!("{p}/name/gone"),
            "update",
            json!({"state": {"reported": {"a": 1}}}),
        )
        .await;
        let (topic, _) = call(&mut client, &format!("{p}/name/gone"), "delete", json!({})).await;
        assert_eq!(topic, format!("{p}/name/gone/delete/accepted"));
    }
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let mut client = server.v4("durable").await;
    subscribe_all(
        &mut client,
        &[
            format!("{p}/get/accepted"),
            format!("{p}/update/accepted"),
            format!("{p}/name/gone/update/accepted"),
        ],
    )
    .await;
    let (_, doc) = call(&mut client, &p, "get", json!({})).await;
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["state"], json!({"desired": {"x": 1}, "reported": {"x": 0}, "delta": {"x": 1}}));
    assert!(doc["metadata"]["desired"]["x"]["timestamp"].is_u64());
    let (_, accepted) =
        call(&mut client, &p, "update", json!({"state": {"reported": {"x": 1}}})).await;
    assert_eq!(accepted["version"], 3);
    // The deleted shadow's counter survived too.
    let (_, accepted) = call(
        &mut client,
        &format!("{p}/name/gone"),
        "update",
        json!({"state": {"reported": {"a": 2}}}),
    )
    .await;
    assert_eq!(accepted["version"], 2);
    let page = server.server().shadows().list_named_shadows("durable", None, 10).await.unwrap();
    assert_eq!(page.results, ["cfg", "gone"]);
}

#[tokio::test]
async fn the_rust_api_publishes_delta_and_documents() {
    let server = TestServer::start().await;
    let p = prefix("api-thing");
    let mut device = server.v4("api-thing").await;
    subscribe_all(&mut device, &[format!("{p}/update/delta"), format!("{p}/update/documents")])
        .await;
    let id = ShadowId::classic("api-thing").unwrap();
    let shadows = server.server().shadows();
    let accepted = shadows
        .update(&id, br#"{"state":{"desired":{"on":true}},"clientToken":"rest"}"#)
        .await
        .unwrap();
    let accepted: Value = serde_json::from_slice(&accepted).unwrap();
    assert_eq!(accepted["version"], 1);
    let (topic, delta) = next(&mut device).await;
    assert_eq!(topic, format!("{p}/update/delta"));
    assert_eq!(delta["state"], json!({"on": true}));
    let (topic, _) = next(&mut device).await;
    assert_eq!(topic, format!("{p}/update/documents"));
    let error = shadows.update(&id, br#"{"state":{},"version":5}"#).await.unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (409, "Version conflict"));
    device.no_publish().await;
    let doc: Value = serde_json::from_slice(&shadows.get(&id, b"").await.unwrap()).unwrap();
    assert_eq!(doc["version"], 1);
    let gone: Value = serde_json::from_slice(&shadows.delete(&id, b"").await.unwrap()).unwrap();
    assert_eq!(gone["version"], 1);
    assert_eq!(shadows.get(&id, b"").await.unwrap_err().code, 404);
}

#[tokio::test]
async fn concurrent_updates_lose_nothing_and_never_reuse_a_version() {
    const CLIENTS: usize = 8;
    const UPDATES: usize = 25;
    let server = TestServer::start().await;
    let p = prefix("busy");
    let mut observer = server.v4("observer").await;
    subscribe_all(&mut observer, &[format!("{p}/update/accepted")]).await;

    // Everyone subscribes before anyone publishes.
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let mut client = server.v4(&format!("writer-{c}")).await;
        let answers = [format!("{p}/update/accepted"), format!("{p}/update/rejected")];
        subscribe_all(&mut client, &answers).await;
        clients.push(client);
    }
    let mut tasks = Vec::new();
    for (c, mut client) in clients.into_iter().enumerate() {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            for u in 0..UPDATES {
                let body = json!({"state": {"reported": {format!("k{c}_{u}"): u}}, "clientToken": format!("{c}-{u}")});
                send(&client, &format!("{p}/update"), body.to_string()).await;
            }
            // Collect the versions of our own accepted updates (everyone's arrive here).
            let mut mine = Vec::new();
            let mut seen = 0;
            while seen < CLIENTS * UPDATES {
                let (topic, body) = next(&mut client).await;
                assert!(topic.ends_with("/accepted"), "rejected: {body}");
                seen += 1;
                if body["clientToken"].as_str().unwrap().starts_with(&format!("{c}-")) {
                    mine.push(body["version"].as_u64().unwrap());
                }
            }
            mine
        }));
    }
    let mut versions = BTreeSet::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert_eq!(mine.len(), UPDATES);
        for v in mine {
            assert!(versions.insert(v), "version {v} reused");
        }
    }
    let total = (CLIENTS * UPDATES) as u64;
    assert_eq!(versions, (1..=total).collect::<BTreeSet<u64>>());
    // Every subscriber sees the answers in version order.
    for expected in 1..=total {
        assert_eq!(next(&mut observer).await.1["version"], expected);
    }
    let mut getter = server.v4("getter").await;
    subscribe_all(&mut getter, &[format!("{p}/get/accepted")]).await;
    let (_, doc) = call(&mut getter, &p, "get", json!({})).await;
    assert_eq!(doc["version"], total);
    let reported = doc["state"]["reported"].as_object().unwrap();
    assert_eq!(reported.len(), CLIENTS * UPDATES);
    for c in 0..CLIENTS {
        for u in 0..UPDATES {
            assert_eq!(reported[&format!("k{c}_{u}")], u, "k{c}_{u}");
        }
    }
}
