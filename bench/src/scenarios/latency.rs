//! Latency: one publisher at a fixed rate, one subscriber measuring end-to-end delay.
//!
//! Every millisecond the publisher writes the messages that are due by then in one batch,
//! each stamped with the nanoseconds since the run's epoch (an `Instant` shared by both tasks)
//! taken as it is encoded. The subscriber subtracts the stamp from the time of the read that
//! brought the message. Messages sent during the warm-up are not recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ferrocore_mqtt::QoS;
use tokio::io::AsyncWriteExt;

use super::{
    Config, Counters, OnPublish, drain_frames, join_all, report_cpu, subscriber, unexpected,
};
use crate::client::Client;
use crate::stats::{Report, percentile};
use crate::sysinfo::Span;
use crate::wire::{self, PUBACK, PublishTemplate, PublishView};

/// The latency topic.
const TOPIC: &str = "bench/latency";

/// Runs the latency scenario.
pub(crate) async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();

    let mut sub = cfg.connect("s", 0).await?;
    sub.subscribe(TOPIC, cfg.qos).await?;
    let publisher = cfg.connect("p", 0).await?;
    let template = PublishTemplate::new(TOPIC, cfg.qos, cfg.payload, cfg.target.version)?;
    let window = cfg.window_for(&publisher);

    let recorder = Recorder {
        record_from: (epoch.elapsed() + cfg.warmup).as_nanos() as u64,
        samples: Vec::with_capacity((cfg.rate * cfg.duration.as_secs().max(1)) as usize + 1024),
    };
    let sub_task = tokio::spawn(subscriber(sub, counters.clone(), done.clone(), epoch, recorder));
    let pub_task = tokio::spawn(rate_publisher(
        publisher,
        template,
        cfg.rate,
        window,
        epoch,
        counters.clone(),
        stop.clone(),
    ));

    tokio::time::sleep(cfg.warmup).await;
    let (s0, r0) = (cfg.probe.sample(), Counters::get(&counters.received));
    tokio::time::sleep(cfg.duration).await;
    let (s1, r1) = (cfg.probe.sample(), Counters::get(&counters.received));
    let rss = cfg.probe.broker_rss();
    stop.store(true, Ordering::Relaxed);
    join_all(report, "publisher", vec![pub_task], Duration::from_secs(60)).await;

    let qos1 = cfg.qos != QoS::AtMostOnce;
    let sent = Counters::get(&counters.sent);
    let expected = if qos1 { Counters::get(&counters.acked) } else { sent };
    super::wait_for_deliveries(
        || Counters::get(&counters.received),
        expected,
        Duration::from_secs(if qos1 { 10 } else { 2 }),
        Duration::from_secs(60),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let mut recorders =
        join_all(report, "subscriber", vec![sub_task], Duration::from_secs(10)).await;
    let received = Counters::get(&counters.received);
    let mut samples = recorders.pop().map(|r| r.samples).unwrap_or_default();
    samples.sort_unstable();

    let span = Span::between(&s0, &s1);
    let delivered = r1 - r0;
    let us = |ns: u64| ns as f64 / 1000.0;
    report.set("rate", cfg.rate);
    report.set("msgs_per_sec", delivered as f64 / span.seconds);
    report.set("measured_s", span.seconds);
    report.set("samples", samples.len());
    report.set("p50_us", us(percentile(&samples, 50.0)));
    report.set("p90_us", us(percentile(&samples, 90.0)));
    report.set("p99_us", us(percentile(&samples, 99.0)));
    report.set("p999_us", us(percentile(&samples, 99.9)));
    report.set("max_us", us(samples.last().copied().unwrap_or(0)));
    report.set("sent", sent);
    report.set("expected", expected);
    report.set("deliveries", received);
    let lost = expected.saturating_sub(received);
    report.set("lost", lost);
    report.set("duplicates", received.saturating_sub(expected));
    report_cpu(report, &span, delivered);
    report.set("rss_bytes", rss);
    if qos1 && lost > 0 {
        report.fail(format!("{lost} acknowledged QoS 1 deliveries lost"));
    }
    if samples.is_empty() {
        report.fail("no latency samples were recorded");
    }
    Ok(())
}

/// Records the delay of every message sent after the warm-up.
#[derive(Debug)]
struct Recorder {
    /// Stamps below this were sent during the warm-up.
    record_from: u64,
    /// Delays in nanoseconds.
    samples: Vec<u64>,
}

impl OnPublish for Recorder {
    fn on_publish(&mut self, view: &PublishView<'_>, now_ns: u64) {
        let Some(stamp) = view.payload.get(..8) else { return };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(stamp);
        let sent_at = u64::from_le_bytes(bytes);
        if sent_at >= self.record_from {
            self.samples.push(now_ns.saturating_sub(sent_at));
        }
    }
}

/// Publishes `rate` messages per second in 1 ms batches until `stop`, then (QoS 1) waits for
/// the outstanding PUBACKs.
async fn rate_publisher(
    mut client: Client,
    template: PublishTemplate,
    rate: u64,
    window: usize,
    epoch: Instant,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let qos1 = !template.is_qos0();
    let version = client.version;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let (mut seq, mut inflight, mut packet_id) = (0u64, 0usize, 0u16);
    let mut last_ack = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) {
                    if inflight == 0 {
                        break;
                    }
                    if last_ack.elapsed() > Duration::from_secs(30) {
                        bail!("no PUBACK for 30 s ({inflight} in flight)");
                    }
                    continue;
                }
                let due = (start.elapsed().as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
                let mut n = due.saturating_sub(seq) as usize;
                if qos1 {
                    n = n.min(window - inflight);
                }
                if n == 0 {
                    continue;
                }
                out.clear();
                for _ in 0..n {
                    packet_id = packet_id.checked_add(1).unwrap_or(1);
                    let stamp = epoch.elapsed().as_nanos() as u64;
                    template.push(&mut out, packet_id, &stamp.to_le_bytes());
                }
                seq += n as u64;
                client.writer.write_all(&out).await.context("publishing")?;
                counters.sent.fetch_add(n as u64, Ordering::Relaxed);
                if qos1 {
                    inflight += n;
                }
            }
            read = client.read(), if qos1 && inflight > 0 => {
                read?;
                let mut acked = 0usize;
                drain_frames(&mut client, |first, body| {
                    if first >> 4 == PUBACK {
                        let (_, ok) = wire::puback_id(body)?;
                        if !ok {
                            bail!("the broker refused a QoS 1 publish");
                        }
                        acked += 1;
                        Ok(())
                    } else if first >> 4 == 13 {
                        Ok(())
                    } else {
                        Err(unexpected(first, body, version))
                    }
                })?;
                inflight = inflight.saturating_sub(acked);
                counters.acked.fetch_add(acked as u64, Ordering::Relaxed);
                last_ack = Instant::now();
            }
        }
    }
    client.disconnect().await
}
