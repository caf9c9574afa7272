//! Idle connections: opens N connections (CONNECT with a long keep-alive, CONNACK) and reports
//! the connect rate and the broker's resident memory per connection.
//!
//! Connections are spread over source addresses 127.0.0.x, [`PER_SOURCE`] per address, so
//! that a run never runs out of ephemeral ports nor slows down in the kernel's port search; the first address rotates with the process id so that
//! back-to-back runs do not meet their predecessors' TIME_WAIT sockets. At the end every
//! client sends DISCONNECT and waits for the broker to close first.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Semaphore;

use super::{Config, join_all};
use crate::client::Client;
use crate::stats::Report;
use crate::sysinfo::Span;

/// Connections per source address. Linux's search for a free port in `bind(addr, 0)` slows
/// down sharply as an address fills up (15,000 connections from one address cost the
/// generator about 0.9 ms of kernel CPU each, 5,000 cost 0.07 ms), so stay well below that.
pub(crate) const PER_SOURCE: usize = 2_000;

/// File descriptors kept free for everything else this process opens.
const SPARE_FILES: u64 = 200;

/// The source address of the `i`-th connection of a run whose rotation is `salt`.
pub(crate) fn source_ip(i: usize, salt: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, (1 + (salt + i / PER_SOURCE) % 250) as u8)
}

/// How many connections this process can hold with `nofile` open files.
pub(crate) fn connection_cap(asked: usize, nofile: u64) -> usize {
    asked.min(nofile.saturating_sub(SPARE_FILES) as usize)
}

/// Runs the connections scenario.
pub(crate) async fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let n = connection_cap(cfg.clients, cfg.nofile);
    if n < cfg.clients {
        eprintln!(
            "ferrocore-bench: {} connections asked, {n} possible with {} open files",
            cfg.clients, cfg.nofile
        );
    }
    let salt = (std::process::id() as usize) % 250;
    let target = Arc::new(cfg.target.clone());
    let limit = Arc::new(Semaphore::new(cfg.concurrency.max(1)));

    let rss_before = cfg.probe.broker_rss();
    let s0 = cfg.probe.sample();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = limit.clone().acquire_owned().await?;
        let id = cfg.client_id("c", i);
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let ip = IpAddr::V4(source_ip(i, salt));
            let client = Client::connect(&target, &id, true, Some(ip), 64).await;
            drop(permit);
            client
        }));
    }
    let clients = join_all(report, "connect", tasks, Duration::from_secs(300)).await;
    let s1 = cfg.probe.sample();
    let span = Span::between(&s0, &s1);
    // Let the broker finish whatever it does after CONNACK before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = cfg.probe.broker_rss();

    let opened = clients.len();
    report.set("connections", opened);
    report.set("connect_failures", n - opened);
    report.set("connect_s", span.seconds);
    report.set("conns_per_sec", opened as f64 / span.seconds);
    report.set("msgs_per_sec", opened as f64 / span.seconds);
    report.set("broker_cpu_s", span.broker_cpu);
    report.set("bench_cpu_s", span.bench_cpu);
    let per_conn = |cpu: f64| (opened > 0).then(|| cpu * 1e6 / opened as f64);
    report.set("broker_cpu_us_per_conn", span.broker_cpu.and_then(per_conn));
    report.set("bench_cpu_us_per_conn", per_conn(span.bench_cpu));
    report.set("rss_before_bytes", rss_before);
    report.set("rss_after_bytes", rss_after);
    report.set("rss_bytes", rss_after);
    let per_conn_rss = rss_before
        .zip(rss_after)
        .filter(|_| opened > 0)
        .map(|(before, after)| (after as f64 - before as f64) / opened as f64);
    report.set("rss_per_conn_bytes", per_conn_rss);
    report.set("lost", 0u64);

    // Close: DISCONNECT, then wait for the broker's FIN.
    let mut closing = Vec::with_capacity(opened);
    for client in clients {
        let permit = limit.clone().acquire_owned().await?;
        closing.push(tokio::spawn(async move {
            let result = client.disconnect_and_wait(Duration::from_secs(5)).await;
            drop(permit);
            result
        }));
    }
    join_all(report, "disconnect", closing, Duration::from_secs(120)).await;
    if opened < n {
        report.fail(format!("{} of {n} connections failed", n - opened));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_fill_one_address_at_a_time_and_stay_in_loopback() {
        assert_eq!(source_ip(0, 0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_ip(PER_SOURCE - 1, 0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_ip(PER_SOURCE, 0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_ip(0, 249), Ipv4Addr::new(127, 0, 0, 250));
        assert_eq!(source_ip(PER_SOURCE, 249), Ipv4Addr::new(127, 0, 0, 1));
        for i in (0..3_000_000).step_by(1_000) {
            let ip = source_ip(i, 123);
            assert!(ip.is_loopback() && ip.octets()[3] != 0);
        }
    }

    #[test]
    fn connections_are_capped_by_open_files() {
        assert_eq!(connection_cap(15_000, 20_000), 15_000);
        assert_eq!(connection_cap(30_000, 20_000), 19_800);
        assert_eq!(connection_cap(10, 100), 0);
    }
}
