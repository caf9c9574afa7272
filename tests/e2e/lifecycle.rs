//! Lifecycle events: presence and subscription events with AWS's payload fields and
//! disconnect reasons.

use ferrocore_testkit::{TestServer, V4};
use rumqttc::QoS;
use serde_json::Value;

async fn watcher(server: &TestServer) -> V4 {
    let mut watcher = server.v4("watcher").await;
    watcher.subscribe("$aws/events/presence/+/+", QoS::AtLeastOnce).await;
    watcher.subscribe("$aws/events/subscriptions/+/+", QoS::AtLeastOnce).await;
    watcher
}

/// The next event for `client_id` (events of other clients are skipped).
async fn event(watcher: &mut V4, client_id: &str) -> (String, Value) {
    loop {
        let p = watcher.publish().await;
        if p.topic.ends_with(&format!("/{client_id}")) {
            return (p.topic, serde_json::from_slice(&p.payload).unwrap());
        }
    }
}

#[tokio::test]
async fn connect_subscribe_and_clean_disconnect_are_announced() {
    let server = TestServer::start().await;
    let mut watcher = watcher(&server).await;
    let mut device = server.v4("dev-1").await;

    let (topic, connected) = event(&mut watcher, "dev-1").await;
    assert_eq!(topic, "$aws/events/presence/connected/dev-1");
    assert_eq!(connected["clientId"], "dev-1");
    assert_eq!(connected["eventType"], "connected");
    assert_eq!(connected["ipAddress"], "127.0.0.1");
    assert!(connected["timestamp"].as_u64().unwrap() > 1_600_000_000_000, "epoch milliseconds");
    let session = connected["sessionIdentifier"].as_str().unwrap().to_owned();
    let version = connected["versionNumber"].as_u64().unwrap();

    device.subscribe("a/b", QoS::AtLeastOnce).await;
    let (topic, subscribed) = event(&mut watcher, "dev-1").await;
    assert_eq!(topic, "$aws/events/subscriptions/subscribed/dev-1");
    assert_eq!(subscribed["topics"], serde_json::json!(["a/b"]));
    assert_eq!(subscribed["sessionIdentifier"], session.as_str());

    device.client.unsubscribe("a/b").await.unwrap();
    let (topic, _) = event(&mut watcher, "dev-1").await;
    assert_eq!(topic, "$aws/events/subscriptions/unsubscribed/dev-1");

    device.client.disconnect().await.unwrap();
    let (topic, gone) = event(&mut watcher, "dev-1").await;
    assert_eq!(topic, "$aws/events/presence/disconnected/dev-1");
    assert_eq!(gone["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    assert_eq!(gone["clientInitiatedDisconnect"], true);
    assert_eq!(gone["sessionIdentifier"], session.as_str());
    assert_eq!(gone["versionNumber"].as_u64(), Some(version), "shared by connect and disconnect");

    // The next connection of the same client id has a higher version number.
    let _again = server.v4("dev-1").await;
    let (_, reconnected) = event(&mut watcher, "dev-1").await;
    assert!(reconnected["versionNumber"].as_u64().unwrap() > version);
}

#[tokio::test]
async fn lost_connections_and_takeovers_say_why() {
    let server = TestServer::start().await;
    let mut watcher = watcher(&server).await;
    drop(server.v4("lost").await);
    let _ = event(&mut watcher, "lost").await; // connected
    let (_, lost) = event(&mut watcher, "lost").await;
    assert_eq!(lost["disconnectReason"], "CONNECTION_LOST");
    assert_eq!(lost["clientInitiatedDisconnect"], false);

    let _first = server.v4("twin").await;
    let _ = event(&mut watcher, "twin").await; // first connected
    let _second = server.v4("twin").await;
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let (topic, body) = event(&mut watcher, "twin").await;
        reasons.push((topic, body["disconnectReason"].as_str().map(str::to_owned)));
    }
    assert!(
        reasons.contains(&(
            "$aws/events/presence/disconnected/twin".to_owned(),
            Some("DUPLICATE_CLIENTID".to_owned())
        )),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn lifecycle_events_can_be_turned_off() {
    let server = TestServer::start_with(|c| c.broker.lifecycle_events = false).await;
    let mut watcher = watcher(&server).await;
    let _device = server.v4("quiet").await;
    watcher.no_publish().await;
}
