//! Throughput of durable shadow updates over REST (UpdateThingShadow through
//! `aws-sdk-iotdataplane`) on the embedded store (ignored by default; numbers go to
//! BENCHMARKS.md beside the MQTT shadow scenario of `ferrocore-bench`):
//!
//! ```sh
//! cargo test --release -p ferrocore-tests --test dataplane -- --ignored --nocapture bench
//! ```
//!
//! Bounded: a fixed number of updates from a fixed number of concurrent clients (each its own
//! thing, one request in flight), to 127.0.0.1. Every update is acknowledged only once it is
//! durable in the store.

use std::time::Instant;

use aws_sdk_iotdataplane::primitives::Blob;
use ferrocore_testkit::TestServer;

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn bench_rest_shadow_updates() {
    for durability in [ferrocore_server::Durability::Full, ferrocore_server::Durability::Normal] {
        let server = TestServer::start_with(|c| c.durability = durability).await;
        let total = CLIENTS * PER_CLIENT;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let data = server.iot_data_client();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    let body = format!(r#"{{"state":{{"reported":{{"seq":{i},"temp":21.5}}}}}}"#);
                    data.update_thing_shadow()
                        .thing_name(format!("bench-{c}"))
                        .payload(Blob::new(body))
                        .send()
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        let last =
            server.iot_data_client().get_thing_shadow().thing_name("bench-0").send().await.unwrap();
        let document: serde_json::Value =
            serde_json::from_slice(last.payload().unwrap().as_ref()).unwrap();
        assert_eq!(document["version"], PER_CLIENT, "every update was applied once");
        let stats = server.server().store().stats();
        println!(
            "durability={durability:?} clients={CLIENTS} updates={total}: UpdateThingShadow {:.0} req/s ({:.2} ms avg latency); store commits={} largest_batch={}",
            total as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1000.0 * CLIENTS as f64 / total as f64,
            stats.commits,
            stats.largest_batch,
        );
        server.stop().await;
    }
}
