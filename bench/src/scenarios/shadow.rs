//! Shadow updates over MQTT: N devices each update their own classic shadow,
//! `$aws/things/{thing}/shadow/update`, keeping one request in flight and waiting for its
//! `/update/accepted` (which the broker publishes only once the new version is durable). The
//! rate is accepted updates per second; a `/update/rejected` answer fails the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use bytes::BytesMut;
use ferrocore_mqtt::{Packet, Publish, PublishProperties, QoS};
use tokio::io::AsyncWriteExt;

use super::{Config, join_all, report_cpu};
use crate::stats::Report;
use crate::sysinfo::Span;
use crate::wire::{encode_packet, next_frame, parse_publish, push_puback};

/// One device's loop: update, wait for the answer, repeat until `stop`.
async fn device(
    cfg: Config,
    i: usize,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
) -> Result<u64> {
    let thing = format!("{}-thing{i}", cfg.id_prefix);
    let mut client = cfg.connect("shadow", i).await?;
    client
        .subscribe(&format!("$aws/things/{thing}/shadow/update/accepted"), QoS::AtLeastOnce)
        .await?;
    client
        .subscribe(&format!("$aws/things/{thing}/shadow/update/rejected"), QoS::AtLeastOnce)
        .await?;
    let topic = format!("$aws/things/{thing}/shadow/update");
    let mut done = 0u64;
    let mut acks = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let body = format!(
            "{{\"state\":{{\"reported\":{{\"n\":{done},\"pad\":\"{}\"}}}}}}",
            "x".repeat(cfg.payload.min(4096))
        );
        let request = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: topic.clone(),
            packet_id: u16::try_from(done % 60_000 + 1).unwrap_or(1),
            payload: body.into_bytes().into(),
            properties: PublishProperties::default(),
        };
        let packet: BytesMut = encode_packet(&Packet::Publish(request), cfg.target.version)?;
        client.writer.write_all(&packet).await?;
        // Wait for the answer on /update/accepted (PUBACKs of our request are skipped).
        let mut answered = false;
        while !answered {
            while let Some((first, header, total)) = next_frame(&client.rbuf)? {
                if first >> 4 == 3 {
                    let view = parse_publish(first, &client.rbuf[header..total], client.version)?;
                    if view.topic.ends_with(b"/rejected") {
                        bail!(
                            "{thing}: update rejected: {}",
                            String::from_utf8_lossy(view.payload)
                        );
                    }
                    if view.qos > 0 {
                        push_puback(&mut acks, view.packet_id);
                    }
                    answered = true;
                }
                client.consume(total);
            }
            if !acks.is_empty() {
                client.writer.write_all(&acks).await?;
                acks.clear();
            }
            if !answered {
                client.read().await?;
            }
        }
        done += 1;
        accepted.fetch_add(1, Ordering::Relaxed);
    }
    client.disconnect().await?;
    Ok(done)
}

/// Runs the shadow scenario.
pub(crate) async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let n = cfg.clients.max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let tasks = (0..n)
        .map(|i| tokio::spawn(device(cfg.clone(), i, Arc::clone(&stop), Arc::clone(&accepted))))
        .collect();
    tokio::time::sleep(cfg.warmup).await;
    let before = cfg.probe.sample();
    let start_count = accepted.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(cfg.duration).await;
    let measured = accepted.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    let span = Span::between(&before, &cfg.probe.sample());
    stop.store(true, Ordering::Relaxed);
    let done = join_all(report, "shadow device", tasks, cfg.duration * 2 + cfg.warmup).await;
    report.set("updates_per_sec", measured as f64 / elapsed);
    report.set("msgs_per_sec", measured as f64 / elapsed);
    report.set("measured_s", elapsed);
    report.set("updates", done.iter().sum::<u64>());
    report.set("lost", 0u64);
    report_cpu(report, &span, measured);
    Ok(())
}
