//! Broker throughput with 0, 1 and 10 topic rules (each a simple WHERE and a republish), in
//! process: an internal client publishes QoS 0 JSON messages to `bench/in`, the rules engine
//! evaluates every rule on each and republishes to `bench/out/{rule}`, and a sink counts what
//! arrives. With 0 rules the sink subscribes to `bench/in` itself, which is the broker alone.
//!
//! `cargo bench -p ferrocore-bench --bench rules` prints one line per rule count: messages
//! published per second, and rule outputs delivered per second. Publishing is paced in batches
//! (each waits for the sink to catch up), so no queue overflows and nothing is dropped.

#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore_broker::{Broker, BrokerConfig, InternalClient, Message};
use ferrocore_mqtt::{QoS, TopicName};
use ferrocore_rules::{RulesConfig, RulesEngine};
use ferrocore_store::{Store, StoreConfig};

const MESSAGES: usize = 50_000;
const BATCH: usize = 500;

async fn run(rules: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        path: dir.path().join("bench.db"),
        synchronous: ferrocore_store::Durability::Normal,
        ..StoreConfig::default()
    })
    .unwrap();
    let broker = Broker::new(BrokerConfig::default(), None);
    let config = RulesConfig { s3_dir: dir.path().join("s3"), ..RulesConfig::default() };
    let engine = RulesEngine::start(&broker, store.clone(), None, config);
    for i in 0..rules {
        let payload = serde_json::json!({
            "sql": "SELECT * FROM 'bench/in' WHERE n >= 0",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"roleArn": "arn:aws:iam::000000000000:role/r", "topic": format!("bench/out/{i}")}}],
        });
        engine.create_rule(&format!("r{i}"), &payload).await.unwrap();
    }
    let sink = InternalClient::new(&broker, "sink");
    let filter = if rules == 0 { "bench/in" } else { "bench/out/#" };
    sink.subscribe(filter, QoS::AtMostOnce).unwrap();
    let publisher = InternalClient::new(&broker, "publisher");
    let topic = TopicName::new("bench/in").unwrap();
    let per_message = rules.max(1);
    let mut received = 0usize;
    let started = Instant::now();
    for batch in 0..MESSAGES / BATCH {
        for i in 0..BATCH {
            let payload = Bytes::from(format!("{{\"n\": {}, \"v\": \"x\"}}", batch * BATCH + i));
            publisher.publish(Message::new(topic.clone(), payload, QoS::AtMostOnce, false));
        }
        let expected = (batch + 1) * BATCH * per_message;
        while received < expected {
            match tokio::time::timeout(Duration::from_secs(10), sink.recv()).await {
                Ok(_) => received += 1,
                Err(_) => panic!("only {received} of {expected} outputs arrived"),
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    engine.stop().await;
    let _ = tokio::task::spawn_blocking(move || store.close()).await;
    #[allow(clippy::cast_precision_loss)]
    let rates = (MESSAGES as f64 / elapsed, received as f64 / elapsed);
    rates
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // `cargo test --benches` runs bench targets with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for rules in [0, 1, 10] {
        let (messages, outputs) = runtime.block_on(run(rules));
        println!(
            "rules/throughput/{rules:>2} rules: {messages:>10.0} messages/s published, {outputs:>10.0} outputs/s delivered"
        );
    }
}
