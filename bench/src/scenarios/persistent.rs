//! Persistent sessions: K subscribers make QoS 1 subscriptions with a persistent session
//! (clean session 0) and go offline; publishers send M acknowledged QoS 1 messages to each
//! subscriber's topic; the subscribers come back and drain their queues. Every message carries
//! its sequence number, so a loss is exact: any acknowledged message not delivered fails the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ferrocore_mqtt::QoS;

use super::{Config, Counters, OnPublish, PublisherPlan, join_all, publisher, subscriber};
use crate::client::{BIG_READ_BUFFER, Client};
use crate::stats::Report;
use crate::sysinfo::Span;
use crate::wire::{PublishTemplate, PublishView};

/// The topic of subscriber `i`.
fn topic(i: usize) -> String {
    format!("bench/persist/{i}")
}

/// Which sequence numbers arrived.
#[derive(Debug)]
pub(crate) struct SeqTracker {
    seen: Vec<bool>,
    /// Distinct sequence numbers received.
    pub(crate) unique: u64,
    /// Deliveries of a sequence number already received.
    pub(crate) duplicates: u64,
    /// Deliveries with a sequence number out of range.
    pub(crate) foreign: u64,
}

impl SeqTracker {
    /// A tracker for sequence numbers `0..m`.
    pub(crate) fn new(m: u64) -> SeqTracker {
        SeqTracker { seen: vec![false; m as usize], unique: 0, duplicates: 0, foreign: 0 }
    }

    /// Records sequence number `seq`.
    pub(crate) fn record(&mut self, seq: u64) {
        match self.seen.get_mut(seq as usize) {
            Some(seen) if *seen => self.duplicates += 1,
            Some(seen) => {
                *seen = true;
                self.unique += 1;
            }
            None => self.foreign += 1,
        }
    }

    /// Sequence numbers never received.
    pub(crate) fn missing(&self) -> u64 {
        self.seen.len() as u64 - self.unique
    }
}

impl OnPublish for SeqTracker {
    fn on_publish(&mut self, view: &PublishView<'_>, _: u64) {
        match view.payload.get(..8) {
            Some(stamp) => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(stamp);
                self.record(u64::from_le_bytes(bytes));
            }
            None => self.foreign += 1,
        }
    }
}

/// Runs the persistent-session scenario.
pub(crate) async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let k = cfg.clients.max(1);
    let m = cfg.messages.max(1);
    let target = &cfg.target;
    let connect = |i: usize, clean: bool| {
        let id = cfg.client_id("persist", i);
        async move {
            Client::connect(target, &id, clean, None, BIG_READ_BUFFER)
                .await
                .with_context(|| format!("connecting persistent subscriber {i}"))
        }
    };

    // Start from no session, make a persistent one with its subscription, go offline.
    for i in 0..k {
        connect(i, true).await?.disconnect().await?;
        let mut client = connect(i, false).await?;
        client.subscribe(&topic(i), QoS::AtLeastOnce).await?;
        client.disconnect_and_wait(Duration::from_secs(5)).await?;
    }

    // Publish M acknowledged messages to every topic.
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut pubs = Vec::new();
    for i in 0..k {
        let client = cfg.connect("p", i).await?;
        let plan = PublisherPlan {
            template: PublishTemplate::new(
                &topic(i),
                QoS::AtLeastOnce,
                cfg.payload,
                target.version,
            )?,
            window: cfg.window_for(&client),
            limit: Some(m),
            pacing: None,
        };
        pubs.push((client, plan));
    }
    let s0 = cfg.probe.sample();
    let tasks = pubs
        .into_iter()
        .map(|(c, plan)| tokio::spawn(publisher(c, plan, counters.clone(), stop.clone())))
        .collect();
    join_all(report, "publisher", tasks, Duration::from_secs(600)).await;
    let s1 = cfg.probe.sample();
    let acked = Counters::get(&counters.acked);
    let refused = Counters::get(&counters.refused);
    let rss_queued = cfg.probe.broker_rss();

    // Come back and drain.
    let done = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let s2 = cfg.probe.sample();
    let mut subs = Vec::new();
    for i in 0..k {
        let client = connect(i, false).await?;
        if !client.session_present {
            report.fail(format!("subscriber {i} reconnected without its session"));
        }
        subs.push(tokio::spawn(subscriber(
            client,
            counters.clone(),
            done.clone(),
            epoch,
            SeqTracker::new(m),
        )));
    }
    super::wait_for_deliveries(
        || Counters::get(&counters.received),
        acked,
        Duration::from_secs(10),
        Duration::from_secs(600),
    )
    .await;
    let s3 = cfg.probe.sample();
    done.store(true, Ordering::Relaxed);
    let trackers = join_all(report, "subscriber", subs, Duration::from_secs(10)).await;
    if trackers.len() < k {
        report.fail("a subscriber failed; its deliveries are unknown");
    }

    // Leave no session behind.
    for i in 0..k {
        if let Ok(client) = connect(i, true).await {
            let _ = client.disconnect().await;
        }
    }

    let unique: u64 = trackers.iter().map(|t| t.unique).sum();
    let missing: u64 = trackers.iter().map(SeqTracker::missing).sum();
    let duplicates: u64 = trackers.iter().map(|t| t.duplicates).sum();
    let foreign: u64 = trackers.iter().map(|t| t.foreign).sum();
    let publish = Span::between(&s0, &s1);
    let drain = Span::between(&s2, &s3);
    let total = k as u64 * m;
    report.set("messages_per_topic", m);
    report.set("sent", Counters::get(&counters.sent));
    report.set("acked", acked);
    report.set("refused", refused);
    report.set("publish_s", publish.seconds);
    report.set("publish_rate", acked as f64 / publish.seconds);
    report.set("drain_s", drain.seconds);
    report.set("drain_rate", unique as f64 / drain.seconds);
    report.set("msgs_per_sec", acked as f64 / publish.seconds);
    report.set("deliveries", Counters::get(&counters.received));
    report.set("unique_deliveries", unique);
    // Every message was acknowledged unless refused: what is missing was acknowledged.
    let lost = missing.saturating_sub(refused);
    report.set("lost", lost);
    report.set("duplicates", duplicates);
    report.set("foreign", foreign);
    report.set("broker_cpu_s", publish.broker_cpu.zip(drain.broker_cpu).map(|(a, b)| a + b));
    report.set("bench_cpu_s", publish.bench_cpu + drain.bench_cpu);
    report.set("publish_broker_cpu_us_per_msg", publish.broker_cpu.map(|c| c * 1e6 / total as f64));
    report.set("drain_broker_cpu_us_per_msg", drain.broker_cpu.map(|c| c * 1e6 / total as f64));
    report.set(
        "cpu_us_per_msg",
        publish.broker_cpu.zip(drain.broker_cpu).map(|(a, b)| (a + b) * 1e6 / total as f64),
    );
    report.set("rss_bytes", rss_queued);
    if lost > 0 {
        report.fail(format!("{lost} acknowledged QoS 1 messages lost"));
    }
    if refused > 0 {
        report.fail(format!("{refused} QoS 1 publishes refused by the broker"));
    }
    if acked + refused < total {
        report.fail(format!("only {} of {total} publishes were answered", acked + refused));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_counts_unique_duplicate_and_missing() {
        let mut t = SeqTracker::new(5);
        for seq in [0, 1, 1, 4, 9] {
            t.record(seq);
        }
        assert_eq!((t.unique, t.duplicates, t.foreign, t.missing()), (3, 1, 1, 2));
    }
}
