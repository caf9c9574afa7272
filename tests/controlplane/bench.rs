//! Throughput of CreateThing and DescribeThing through the AWS SDK on the embedded store
//! (ignored by default; numbers go to BENCHMARKS.md):
//!
//! ```sh
//! cargo test -p ferrocore-tests --test controlplane -- --ignored --nocapture bench
//! ```
//!
//! Bounded: a fixed number of requests from a fixed number of concurrent clients, to 127.0.0.1.

use std::time::Instant;

use ferrocore_testkit::TestServer;

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn bench_create_and_describe_thing() {
    for durability in [ferrocore_server::Durability::Full, ferrocore_server::Durability::Normal] {
        let server = TestServer::start_with(|c| c.durability = durability).await;
        let total = CLIENTS * PER_CLIENT;

        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let iot = server.iot_client();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    iot.create_thing().thing_name(format!("t-{c}-{i}")).send().await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let create = started.elapsed();

        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let iot = server.iot_client();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    iot.describe_thing().thing_name(format!("t-{c}-{i}")).send().await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let describe = started.elapsed();
        let stats = server.server().store().stats();
        println!(
            "durability={durability:?} clients={CLIENTS} requests={total}: CreateThing {:.0} req/s ({:.2} ms avg latency), DescribeThing {:.0} req/s ({:.2} ms); store commits={} largest_batch={}",
            total as f64 / create.as_secs_f64(),
            create.as_secs_f64() * 1000.0 * CLIENTS as f64 / total as f64,
            total as f64 / describe.as_secs_f64(),
            describe.as_secs_f64() * 1000.0 * CLIENTS as f64 / total as f64,
            stats.commits,
            stats.largest_batch,
        );
        server.stop().await;
    }
}
