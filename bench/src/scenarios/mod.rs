//! The scenarios, and the publisher and subscriber loops they share.
//!
//! Publishers write many pre-encoded PUBLISH packets per `write` call: at QoS 0 the same
//! prebuilt batch as fast as TCP accepts it, at QoS 1 as many as the window of unacknowledged
//! packets allows. Subscribers read up to [`BIG_READ_BUFFER`] bytes at a time, parse every
//! whole frame in the buffer, and answer all QoS 1 deliveries of one read with one write of
//! PUBACKs.

pub(crate) mod conns;
pub(crate) mod latency;
pub(crate) mod persistent;
pub(crate) mod shadow;
pub(crate) mod throughput;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use ferrocore_mqtt::{Decoder, Packet, ProtocolVersion, QoS};
use tokio::io::AsyncWriteExt;

use crate::client::{BIG_READ_BUFFER, Client, Target};
use crate::stats::Report;
use crate::sysinfo::Probe;
use crate::wire::{self, PUBACK, PUBLISH, PublishTemplate, PublishView};

/// How long a QoS 1 publisher waits for a PUBACK before it gives up on the broker.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of prebuilt QoS 0 PUBLISH packets written per `write` call.
const QOS0_BATCH_BYTES: usize = 32 * 1024;

/// Everything a scenario needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Where to connect and how.
    pub(crate) target: Target,
    /// QoS of publishes and subscriptions.
    pub(crate) qos: QoS,
    /// Payload bytes per message.
    pub(crate) payload: usize,
    /// Pairs, publishers, subscribers or connections, by scenario.
    pub(crate) clients: usize,
    /// Measured time.
    pub(crate) duration: Duration,
    /// Unmeasured time before it.
    pub(crate) warmup: Duration,
    /// Messages per second (latency).
    pub(crate) rate: u64,
    /// Unacknowledged QoS 1 publishes per publisher.
    pub(crate) window: usize,
    /// Messages per topic (persistent).
    pub(crate) messages: u64,
    /// Connection attempts in flight at once (conns).
    pub(crate) concurrency: usize,
    /// The open-files limit of this process.
    pub(crate) nofile: u64,
    /// Reads this process's and the broker's clocks.
    pub(crate) probe: Probe,
    /// QoS 0 messages each publisher may have outstanding (sent, not yet delivered).
    pub(crate) qos0_budget: u64,
    /// Prefix of every client id, unique per run.
    pub(crate) id_prefix: String,
}

impl Config {
    /// The client id of the `i`-th client of `role`.
    pub(crate) fn client_id(&self, role: &str, i: usize) -> String {
        format!("{}-{role}{i}", self.id_prefix)
    }

    /// Connects a message-moving client with a large read buffer and a clean session.
    pub(crate) async fn connect(&self, role: &str, i: usize) -> Result<Client> {
        Client::connect(&self.target, &self.client_id(role, i), true, None, BIG_READ_BUFFER)
            .await
            .with_context(|| format!("connecting {role}{i}"))
    }

    /// The QoS 1 window for a client, bounded by what the broker announced.
    pub(crate) fn window_for(&self, client: &Client) -> usize {
        let broker = client.receive_maximum.map_or(usize::MAX, usize::from);
        self.window.min(broker).max(1)
    }
}

/// Counters shared by a run's tasks; updated once per batch, not per message.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// PUBLISH packets written.
    pub(crate) sent: AtomicU64,
    /// QoS 1 publishes acknowledged with success.
    pub(crate) acked: AtomicU64,
    /// QoS 1 publishes acknowledged with a failure reason code (MQTT 5).
    pub(crate) refused: AtomicU64,
    /// PUBLISH packets received by subscribers.
    pub(crate) received: AtomicU64,
    /// Times QoS 0 pacing gave up waiting for deliveries (the broker dropped messages).
    pub(crate) pacing_stalls: AtomicU64,
}

impl Counters {
    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// How a publisher runs.
#[derive(Debug, Clone)]
pub(crate) struct PublisherPlan {
    /// The packet it sends.
    pub(crate) template: PublishTemplate,
    /// Unacknowledged publishes allowed (QoS 1).
    pub(crate) window: usize,
    /// Stop after this many messages (otherwise when told).
    pub(crate) limit: Option<u64>,
    /// QoS 0 pacing: this publisher's index and the shared progress.
    pub(crate) pacing: Option<(usize, Arc<Pacing>)>,
}

/// How long QoS 0 pacing waits without any delivery progress before it sends anyway.
const PACING_STALL: Duration = Duration::from_millis(100);

/// QoS 0 flow control. Every QoS 0 message carries its publisher's index and sequence number;
/// subscribers record the highest sequence number they have seen from each publisher, and a
/// publisher waits while more than `budget` of its messages are beyond what its slowest
/// receiver has seen. Without this, QoS 0 publishers bury the broker under megabytes of socket
/// buffers per connection and a run ends with a long drain; with it, messages a broker drops
/// do not count as outstanding once a later one arrives.
#[derive(Debug)]
pub(crate) struct Pacing {
    /// `seen[s][p]`: one past the highest sequence number subscriber `s` saw from publisher `p`.
    seen: Vec<Vec<AtomicU64>>,
    /// The subscribers that receive each publisher's messages.
    receivers: Vec<Vec<usize>>,
    /// Messages a publisher may have outstanding.
    budget: u64,
}

impl Pacing {
    /// Pacing for publishers whose messages reach `receivers[p]`, among `subscribers`.
    pub(crate) fn new(receivers: Vec<Vec<usize>>, subscribers: usize, budget: u64) -> Pacing {
        let seen = (0..subscribers)
            .map(|_| (0..receivers.len()).map(|_| AtomicU64::new(0)).collect())
            .collect();
        Pacing { seen, receivers, budget }
    }

    /// Records that subscriber `s` has seen publisher `p`'s messages up to `next - 1`.
    pub(crate) fn note(&self, s: usize, p: usize, next: u64) {
        if let Some(slot) = self.seen.get(s).and_then(|row| row.get(p)) {
            slot.fetch_max(next, Ordering::Relaxed);
        }
    }

    /// How far every receiver of publisher `p` has got.
    pub(crate) fn delivered(&self, p: usize) -> u64 {
        let seen = |&s: &usize| self.seen[s][p].load(Ordering::Relaxed);
        self.receivers[p].iter().map(seen).min().unwrap_or(u64::MAX)
    }

    /// Waits while publisher `p`, having sent `sent`, is more than the budget ahead.
    async fn wait(&self, p: usize, sent: u64, counters: &Counters) {
        let mut last = self.delivered(p);
        let mut since = Instant::now();
        while sent.saturating_sub(self.delivered(p)) > self.budget {
            let now = self.delivered(p);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > PACING_STALL {
                counters.pacing_stalls.fetch_add(1, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A subscriber's view of QoS 0 progress: the highest sequence number per publisher, published
/// to [`Pacing`] once per read.
#[derive(Debug)]
pub(crate) struct SeqSeen {
    /// This subscriber's index.
    index: usize,
    pacing: Option<Arc<Pacing>>,
    next: Vec<u64>,
}

impl SeqSeen {
    /// The tracker of subscriber `index` (counting only if `pacing` is `None`).
    pub(crate) fn new(index: usize, pacing: Option<Arc<Pacing>>) -> SeqSeen {
        let publishers = pacing.as_ref().map_or(0, |p| p.receivers.len());
        SeqSeen { index, pacing, next: vec![0; publishers] }
    }
}

/// Reads the stamp of a paced QoS 0 message: (sequence number, publisher index).
pub(crate) fn read_stamp(payload: &[u8]) -> Option<(u64, usize)> {
    let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let publisher = u32::from_le_bytes(payload.get(8..12)?.try_into().ok()?);
    Some((seq, publisher as usize))
}

/// The stamp of a paced QoS 0 message.
pub(crate) fn stamp(seq: u64, publisher: usize) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&seq.to_le_bytes());
    out[8..].copy_from_slice(&(publisher as u32).to_le_bytes());
    out
}

impl OnPublish for SeqSeen {
    fn on_publish(&mut self, view: &PublishView<'_>, _: u64) {
        if self.pacing.is_none() {
            return;
        }
        if let Some((seq, p)) = read_stamp(view.payload)
            && let Some(next) = self.next.get_mut(p)
        {
            *next = (*next).max(seq + 1);
        }
    }

    fn after_read(&mut self) {
        if let Some(pacing) = &self.pacing {
            for (p, &next) in self.next.iter().enumerate() {
                if next > 0 {
                    pacing.note(self.index, p, next);
                }
            }
        }
    }
}

/// Calls `each` for every whole frame in the client's buffer, then consumes them.
pub(crate) fn drain_frames(
    client: &mut Client,
    mut each: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut at = 0;
    while let Some((first, header, total)) = wire::next_frame(&client.rbuf[at..])? {
        each(first, &client.rbuf[at + header..at + total])?;
        at += total;
    }
    client.consume(at);
    Ok(())
}

/// Explains an unexpected packet from the broker (a DISCONNECT carries its reason).
fn unexpected(first: u8, body: &[u8], version: ProtocolVersion) -> anyhow::Error {
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&[first]);
    let mut len = body.len();
    loop {
        let byte = (len & 0x7F) as u8;
        len >>= 7;
        frame.extend_from_slice(&[if len > 0 { byte | 0x80 } else { byte }]);
        if len == 0 {
            break;
        }
    }
    frame.extend_from_slice(body);
    match Decoder::with_version(version, usize::MAX).decode(&mut frame) {
        Ok(Some(Packet::Disconnect(d))) => {
            anyhow::anyhow!("the broker sent DISCONNECT ({:?})", d.reason)
        }
        Ok(Some(other)) => anyhow::anyhow!("unexpected {} from the broker", other.name()),
        Ok(None) | Err(_) => {
            anyhow::anyhow!("undecodable packet type {} from the broker", first >> 4)
        }
    }
}

/// Sends until `stop` is set or `plan.limit` messages are sent; at QoS 1 then waits for every
/// outstanding PUBACK. Disconnects at the end.
pub(crate) async fn publisher(
    mut client: Client,
    plan: PublisherPlan,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let tpl = &plan.template;
    if plan.limit.is_none() && tpl.is_qos0() {
        // QoS 0 without a limit: one prebuilt batch, written again and again.
        let per_batch = (QOS0_BATCH_BYTES / tpl.len()).max(1);
        let mut batch = Vec::with_capacity(per_batch * tpl.len());
        for _ in 0..per_batch {
            tpl.push(&mut batch, 0, &[]);
        }
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Some((index, pacing)) = &plan.pacing {
                pacing.wait(*index, sent, &counters).await;
                // Stamp each packet of the batch in place.
                for k in 0..per_batch {
                    let at = k * tpl.len() + tpl.payload_offset();
                    let stamp = stamp(sent + k as u64, *index);
                    batch[at..at + stamp.len()].copy_from_slice(&stamp);
                }
            }
            client.writer.write_all(&batch).await.context("publishing")?;
            sent += per_batch as u64;
            counters.sent.fetch_add(per_batch as u64, Ordering::Relaxed);
        }
        return client.disconnect().await;
    }

    let qos1 = !tpl.is_qos0();
    let window = if qos1 { plan.window } else { usize::MAX / 2 };
    // Refill only when a useful batch can be written, unless nothing is in flight.
    let refill_at = (window / 8).max(1);
    let mut out = Vec::with_capacity(plan.window.min(4096) * tpl.len());
    let mut inflight = 0usize;
    let mut packet_id = 0u16;
    let mut seq = 0u64;
    loop {
        let limit_reached = plan.limit.is_some_and(|l| seq >= l);
        let stopping = limit_reached || stop.load(Ordering::Relaxed);
        let free = window - inflight;
        if !stopping && (free >= refill_at || inflight == 0) {
            let n = plan.limit.map_or(free, |l| free.min((l - seq) as usize)).min(4096);
            out.clear();
            for _ in 0..n {
                packet_id = packet_id.checked_add(1).unwrap_or(1);
                tpl.push(&mut out, packet_id, &seq.to_le_bytes());
                seq += 1;
            }
            client.writer.write_all(&out).await.context("publishing")?;
            counters.sent.fetch_add(n as u64, Ordering::Relaxed);
            if qos1 {
                inflight += n;
            }
            continue;
        }
        if inflight == 0 {
            break;
        }
        tokio::time::timeout(ACK_TIMEOUT, client.read())
            .await
            .with_context(|| format!("no PUBACK for {ACK_TIMEOUT:?} ({inflight} in flight)"))??;
        let version = client.version;
        let (mut acked, mut refused) = (0u64, 0u64);
        drain_frames(&mut client, |first, body| {
            match first >> 4 {
                PUBACK => {
                    let (_, ok) = wire::puback_id(body)?;
                    if ok { acked += 1 } else { refused += 1 }
                }
                13 => {} // PINGRESP
                _ => return Err(unexpected(first, body, version)),
            }
            Ok(())
        })?;
        let done = (acked + refused) as usize;
        if done > inflight {
            bail!("more PUBACKs than publishes in flight");
        }
        inflight -= done;
        counters.acked.fetch_add(acked, Ordering::Relaxed);
        counters.refused.fetch_add(refused, Ordering::Relaxed);
    }
    client.disconnect().await
}

/// What a subscriber does with each delivery besides counting it.
pub(crate) trait OnPublish: Send + 'static {
    /// Called with each PUBLISH and the time of the read that brought it (nanoseconds since
    /// the run's epoch).
    fn on_publish(&mut self, view: &PublishView<'_>, now_ns: u64);

    /// Called after the packets of one read have been handled.
    fn after_read(&mut self) {}
}

/// Counting only.
impl OnPublish for () {
    fn on_publish(&mut self, _: &PublishView<'_>, _: u64) {}
}

/// Reads deliveries until `done` is set, passing each PUBLISH to `handler` and acknowledging
/// QoS 1 deliveries. Returns the handler, with what it collected; disconnects at the end.
pub(crate) async fn subscriber<H: OnPublish>(
    mut client: Client,
    counters: Arc<Counters>,
    done: Arc<AtomicBool>,
    epoch: Instant,
    mut handler: H,
) -> Result<H> {
    let version = client.version;
    let mut acks = Vec::with_capacity(64 * 1024);
    // The read that brought CONNACK may have brought deliveries too (a resumed session's
    // queue): handle what is buffered before reading more.
    let mut buffered = !client.rbuf.is_empty();
    while !done.load(Ordering::Relaxed) {
        if !std::mem::take(&mut buffered) {
            match tokio::time::timeout(Duration::from_millis(50), client.read()).await {
                Err(_) => continue,
                Ok(read) => read?,
            };
        }
        let now = epoch.elapsed().as_nanos() as u64;
        let mut received = 0u64;
        acks.clear();
        drain_frames(&mut client, |first, body| {
            match first >> 4 {
                PUBLISH => {
                    let view = wire::parse_publish(first, body, version)?;
                    if view.qos > 0 {
                        wire::push_puback(&mut acks, view.packet_id);
                    }
                    received += 1;
                    handler.on_publish(&view, now);
                }
                13 => {} // PINGRESP
                _ => return Err(unexpected(first, body, version)),
            }
            Ok(())
        })?;
        handler.after_read();
        if !acks.is_empty() {
            client.writer.write_all(&acks).await.context("acknowledging")?;
        }
        counters.received.fetch_add(received, Ordering::Relaxed);
    }
    client.disconnect().await?;
    Ok(handler)
}

/// Waits until `received()` reaches `expected`, or stops growing for `idle`, or `cap` passes.
pub(crate) async fn wait_for_deliveries(
    received: impl Fn() -> u64,
    expected: u64,
    idle: Duration,
    cap: Duration,
) {
    let start = Instant::now();
    let mut last = received();
    let mut last_change = Instant::now();
    while last < expected && last_change.elapsed() < idle && start.elapsed() < cap {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = received();
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
}

/// Adds the CPU figures of a measured span: each process's CPU seconds and microseconds of CPU
/// per delivered message.
pub(crate) fn report_cpu(report: &mut Report, span: &crate::sysinfo::Span, delivered: u64) {
    let per_msg = |cpu: f64| (delivered > 0).then(|| cpu * 1e6 / delivered as f64);
    report.set("broker_cpu_s", span.broker_cpu);
    report.set("bench_cpu_s", span.bench_cpu);
    report.set("broker_cpu_us_per_msg", span.broker_cpu.and_then(per_msg));
    report.set("bench_cpu_us_per_msg", per_msg(span.bench_cpu));
    report.set("cpu_us_per_msg", span.broker_cpu.and_then(per_msg));
}

/// Joins tasks, recording the first error in `report`; returns the successful outputs.
pub(crate) async fn join_all<T: Send + 'static>(
    report: &mut Report,
    what: &str,
    tasks: Vec<tokio::task::JoinHandle<Result<T>>>,
    timeout: Duration,
) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    let deadline = tokio::time::Instant::now() + timeout;
    for task in tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(value))) => out.push(value),
            Ok(Ok(Err(e))) => report.fail(format!("{what}: {e:#}")),
            Ok(Err(e)) => report.fail(format!("{what} task: {e}")),
            Err(_) => {
                abort.abort();
                report.fail(format!("{what} did not finish within {timeout:?}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        assert_eq!(read_stamp(&stamp(123_456_789_012, 63)), Some((123_456_789_012, 63)));
        assert_eq!(read_stamp(&[0; 11]), None);
    }

    #[test]
    fn pacing_follows_the_slowest_receiver() {
        // Publisher 0 reaches subscribers 0 and 1; publisher 1 reaches subscriber 1.
        let pacing = Pacing::new(vec![vec![0, 1], vec![1]], 2, 10);
        assert_eq!(pacing.delivered(0), 0);
        pacing.note(0, 0, 50);
        pacing.note(1, 0, 30);
        pacing.note(1, 1, 7);
        pacing.note(1, 0, 20); // never goes back
        assert_eq!((pacing.delivered(0), pacing.delivered(1)), (30, 7));
    }
}
