//! Throughput scenarios: p2p (N pairs on distinct topics), fan-in (N publishers, one wildcard
//! subscriber) and fan-out (one publisher, N subscribers of one topic).
//!
//! Deliveries are counted over the measured window (after the warm-up); after it the
//! publishers stop, QoS 1 publishers wait for their last PUBACKs, and the subscribers drain
//! what the broker still holds, so that every message sent can be accounted for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use ferrocore_mqtt::QoS;

use super::{
    Config, Counters, Pacing, PublisherPlan, SeqSeen, join_all, publisher, report_cpu, subscriber,
};
use crate::stats::Report;
use crate::sysinfo::Span;
use crate::wire::PublishTemplate;

/// The three shapes of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Publisher `i` to subscriber `i` on `bench/p2p/{i}`.
    P2p,
    /// Publishers on `bench/fanin/{i}`, one subscriber on `bench/fanin/+`.
    FanIn,
    /// One publisher on `bench/fanout`, N subscribers of it.
    FanOut,
}

/// Who publishes and subscribes where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topology {
    /// One topic per publisher.
    pub(crate) publishers: Vec<String>,
    /// One filter per subscriber.
    pub(crate) subscribers: Vec<String>,
    /// Deliveries each published message makes.
    pub(crate) copies: u64,
}

impl Topology {
    /// The subscribers that receive publisher `p`'s messages.
    pub(crate) fn receivers(&self, p: usize) -> Vec<usize> {
        if self.copies > 1 {
            (0..self.subscribers.len()).collect()
        } else if self.subscribers.len() == 1 {
            vec![0]
        } else {
            vec![p]
        }
    }
}

/// The topology of `shape` with `n` clients (pairs, publishers or subscribers).
pub(crate) fn topology(shape: Shape, n: usize) -> Topology {
    let n = n.max(1);
    match shape {
        Shape::P2p => {
            let topics: Vec<String> = (0..n).map(|i| format!("bench/p2p/{i}")).collect();
            Topology { publishers: topics.clone(), subscribers: topics, copies: 1 }
        }
        Shape::FanIn => Topology {
            publishers: (0..n).map(|i| format!("bench/fanin/{i}")).collect(),
            subscribers: vec!["bench/fanin/+".to_owned()],
            copies: 1,
        },
        Shape::FanOut => Topology {
            publishers: vec!["bench/fanout".to_owned()],
            subscribers: vec!["bench/fanout".to_owned(); n],
            copies: n as u64,
        },
    }
}

/// Runs one throughput scenario.
pub(crate) async fn run(cfg: &Config, shape: Shape, report: &mut Report) -> Result<()> {
    let topo = topology(shape, cfg.clients);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();

    let pacing = (cfg.qos == QoS::AtMostOnce && cfg.qos0_budget > 0).then(|| {
        let receivers = (0..topo.publishers.len()).map(|p| topo.receivers(p)).collect();
        Arc::new(Pacing::new(receivers, topo.subscribers.len(), cfg.qos0_budget))
    });

    // Subscribers first, so that nothing published is missed.
    let mut subs = Vec::new();
    for (i, filter) in topo.subscribers.iter().enumerate() {
        let mut client = cfg.connect("s", i).await?;
        client.subscribe(filter, cfg.qos).await?;
        subs.push(client);
    }
    let mut pubs = Vec::new();
    for (i, topic) in topo.publishers.iter().enumerate() {
        let client = cfg.connect("p", i).await?;
        let plan = PublisherPlan {
            template: PublishTemplate::new(topic, cfg.qos, cfg.payload, cfg.target.version)?,
            window: cfg.window_for(&client),
            limit: None,
            pacing: pacing.clone().map(|p| (i, p)),
        };
        pubs.push((client, plan));
    }
    let sub_tasks: Vec<_> = subs
        .into_iter()
        .enumerate()
        .map(|(s, c)| {
            let seen = SeqSeen::new(s, pacing.clone());
            tokio::spawn(subscriber(c, counters.clone(), done.clone(), epoch, seen))
        })
        .collect();
    let pub_tasks: Vec<_> = pubs
        .into_iter()
        .map(|(c, plan)| tokio::spawn(publisher(c, plan, counters.clone(), stop.clone())))
        .collect();

    tokio::time::sleep(cfg.warmup).await;
    let (s0, r0, p0) =
        (cfg.probe.sample(), Counters::get(&counters.received), Counters::get(&counters.sent));
    tokio::time::sleep(cfg.duration).await;
    let (s1, r1, p1) =
        (cfg.probe.sample(), Counters::get(&counters.received), Counters::get(&counters.sent));
    let rss = cfg.probe.broker_rss();
    stop.store(true, Ordering::Relaxed);

    join_all(report, "publisher", pub_tasks, Duration::from_secs(60)).await;
    let sent = Counters::get(&counters.sent);
    let acked = Counters::get(&counters.acked);
    let refused = Counters::get(&counters.refused);
    let qos1 = cfg.qos != QoS::AtMostOnce;
    let expected = if qos1 { acked } else { sent } * topo.copies;
    let idle = if qos1 { Duration::from_secs(10) } else { Duration::from_secs(2) };
    super::wait_for_deliveries(
        || Counters::get(&counters.received),
        expected,
        idle,
        Duration::from_secs(60),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    join_all(report, "subscriber", sub_tasks, Duration::from_secs(10)).await;
    let received = Counters::get(&counters.received);

    let span = Span::between(&s0, &s1);
    let delivered = r1 - r0;
    report.set("msgs_per_sec", delivered as f64 / span.seconds);
    report.set("sent_per_sec", (p1 - p0) as f64 / span.seconds);
    report.set("measured_s", span.seconds);
    report.set("measured_deliveries", delivered);
    report.set("sent", sent);
    if qos1 {
        report.set("acked", acked);
        report.set("refused", refused);
    }
    report.set("expected", expected);
    report.set("deliveries", received);
    let lost = expected.saturating_sub(received);
    report.set("lost", lost);
    report.set("pacing_stalls", Counters::get(&counters.pacing_stalls));
    report.set("duplicates", received.saturating_sub(expected));
    report.set("loss_pct", if expected > 0 { lost as f64 * 100.0 / expected as f64 } else { 0.0 });
    report_cpu(report, &span, delivered);
    report.set("rss_bytes", rss);
    if qos1 && lost > 0 {
        report.fail(format!("{lost} acknowledged QoS 1 deliveries lost"));
    }
    if refused > 0 {
        report.fail(format!("{refused} QoS 1 publishes refused by the broker"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_have_the_documented_topics() {
        let p2p = topology(Shape::P2p, 3);
        assert_eq!(p2p.publishers, ["bench/p2p/0", "bench/p2p/1", "bench/p2p/2"]);
        assert_eq!(p2p.subscribers, p2p.publishers);
        assert_eq!(p2p.copies, 1);

        let fanin = topology(Shape::FanIn, 64);
        assert_eq!(
            (fanin.publishers.len(), fanin.subscribers.as_slice()),
            (64, &["bench/fanin/+".to_owned()][..])
        );
        assert!(
            fanin.publishers.iter().all(|t| ferrocore_mqtt::topic::matches("bench/fanin/+", t))
        );

        let fanout = topology(Shape::FanOut, 64);
        assert_eq!((fanout.publishers.len(), fanout.subscribers.len(), fanout.copies), (1, 64, 64));
        assert_eq!(topology(Shape::P2p, 0).publishers.len(), 1);
        assert_eq!(
            (p2p.receivers(2), fanin.receivers(5), fanout.receivers(0).len()),
            (vec![2], vec![0], 64)
        );
    }
}
