//! Back-pressure: a slow but live subscriber paces its publishers instead of losing messages,
//! and a stuck one cannot hold them back for long.

use std::time::{Duration, Instant};

use ferrocore_mqtt::{
    Packet, ProtocolVersion, QoS as Q, Subscribe, SubscribeProperties, SubscriptionOptions,
};
use ferrocore_testkit::{RawClient, TestServer};
use rumqttc::QoS;

const PAYLOAD: usize = 1024;

async fn slow_subscriber(server: &TestServer, filter: &str) -> RawClient {
    let mut raw = server.raw().await;
    raw.handshake(RawClient::connect_packet(ProtocolVersion::V311, "slow", 60)).await;
    raw.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![(
            filter.into(),
            SubscriptionOptions { qos: Q::AtMostOnce, ..Default::default() },
        )],
        properties: SubscribeProperties::default(),
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    raw
}

#[tokio::test]
async fn a_slow_subscriber_paces_the_publisher_instead_of_losing_messages() {
    const N: usize = 12_000; // 12 MB: more than the socket buffers hold
    let server = TestServer::start_with(|c| {
        c.broker.max_queued_messages = 100; // high-water mark 10
        c.broker.max_publishes_per_second = 0;
        c.broker.publisher_wait_ms = 5_000;
    })
    .await;
    let mut sub = slow_subscriber(&server, "bp/1").await;
    let publisher = server.v4("fast").await;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let mut payload = vec![0u8; PAYLOAD];
            payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
            publisher.client.publish("bp/1", QoS::AtMostOnce, false, payload).await.unwrap();
        }
        publisher
    });
    // Read steadily but slowly: 256 KiB, then a pause.
    let mut next = 0u64;
    while next < N as u64 {
        let Some(Packet::Publish(p)) = sub.recv().await else { panic!("subscriber closed") };
        let seq = u64::from_be_bytes(p.payload[..8].try_into().unwrap());
        assert_eq!(seq, next, "every message, in order: nothing was dropped");
        next += 1;
        if next % 256 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    sender.await.unwrap();
}

#[tokio::test]
async fn a_stuck_subscriber_holds_publishers_back_only_briefly() {
    let server = TestServer::start_with(|c| {
        c.broker.max_queued_messages = 100;
        c.broker.max_publishes_per_second = 0;
        c.broker.publisher_wait_ms = 200;
    })
    .await;
    let _stuck = slow_subscriber(&server, "bp/#").await; // never reads
    let mut other = server.v4("other").await;
    other.subscribe("bp/2", QoS::AtMostOnce).await;
    let publisher = server.v4("fast").await;
    let started = Instant::now();
    for _ in 0..12_000 {
        publisher.client.publish("bp/1", QoS::AtMostOnce, false, vec![0u8; PAYLOAD]).await.unwrap();
    }
    publisher.client.publish("bp/2", QoS::AtMostOnce, false, "after").await.unwrap();
    assert_eq!(&other.publish().await.payload[..], b"after");
    assert!(started.elapsed() < Duration::from_secs(4), "held back for {:?}", started.elapsed());
}
