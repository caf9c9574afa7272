//! `ferrocore-bench`: a load generator for MQTT brokers, built to measure Ferrocore against
//! others on one machine.
//!
//! It runs one scenario per invocation (p2p, fan-in, fan-out, latency, idle connections,
//! persistent sessions), prints a table on stderr and exactly one JSON line on stdout, and
//! exits non-zero if the broker lost an acknowledged QoS 1 message or the run failed. It is
//! meant to share a small machine with the broker it measures: a small tokio runtime, hand-
//! rolled framing on large reads, pre-encoded publishes written in batches. With
//! `--server-pid` it also reads the broker's CPU time and memory from `/proc`.

mod client;
mod scenarios;
mod stats;
mod sysinfo;
mod wire;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use ferrocore_mqtt::{ProtocolVersion, QoS};

use crate::client::Target;
use crate::scenarios::Config;
use crate::scenarios::throughput::Shape;
use crate::stats::Report;
use crate::sysinfo::Probe;

/// The scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// N publisher/subscriber pairs on distinct topics (`bench/p2p/{i}`).
    P2p,
    /// N publishers to one subscriber of `bench/fanin/+`.
    Fanin,
    /// One publisher to N subscribers of `bench/fanout`.
    Fanout,
    /// One publisher at `--rate`, one subscriber measuring delay percentiles.
    Latency,
    /// N idle connections: connect rate and broker memory per connection.
    Conns,
    /// N persistent subscribers offline while `--messages` QoS 1 messages each are queued.
    Persistent,
    /// N devices each updating their own shadow over MQTT, one request in flight each.
    Shadow,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::P2p => "p2p",
            Scenario::Fanin => "fanin",
            Scenario::Fanout => "fanout",
            Scenario::Latency => "latency",
            Scenario::Conns => "conns",
            Scenario::Persistent => "persistent",
            Scenario::Shadow => "shadow",
        }
    }

    fn default_clients(self) -> usize {
        match self {
            Scenario::P2p | Scenario::Persistent | Scenario::Shadow => 16,
            Scenario::Fanin | Scenario::Fanout => 64,
            Scenario::Latency => 1,
            Scenario::Conns => 15_000,
        }
    }
}

/// Load generator for MQTT brokers (Ferrocore, Mosquitto, ...).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Broker host (a loopback address unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Broker port.
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::P2p)]
    scenario: Scenario,
    /// QoS of publishes and subscriptions (persistent always uses 1).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    qos: u8,
    /// Payload bytes per message (at least 16: a timestamp and a sequence number fit).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    payload: u32,
    /// Pairs (p2p), publishers (fanin), subscribers (fanout, persistent) or connections (conns).
    /// Default: 16, 64, 64, 15000, 16.
    #[arg(long)]
    clients: Option<usize>,
    /// Measured seconds (throughput and latency).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before the measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Messages per second of the latency publisher.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// MQTT version: 3 (3.1.1) or 5.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=5))]
    mqtt_version: u8,
    /// The broker's pid, to report its CPU time and resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Unacknowledged QoS 1 publishes per publisher (capped by the broker's Receive Maximum).
    #[arg(long, default_value_t = 100)]
    window: usize,
    /// Messages per topic in the persistent scenario (Mosquitto queues 1000 per client by
    /// default).
    #[arg(long, default_value_t = 500)]
    messages: u64,
    /// QoS 0 messages each publisher may have sent but not yet seen delivered (0: no limit).
    #[arg(long, default_value_t = 4096)]
    qos0_budget: u64,
    /// Connection attempts in flight at once (conns).
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Keep-alive in CONNECT, seconds.
    #[arg(long, default_value_t = 1200)]
    keep_alive: u16,
    /// Worker threads of the generator's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// A label copied into the report (for example the broker's name).
    #[arg(long, default_value = "")]
    label: String,
    /// Allow a broker address outside 127.0.0.0/8 and ::1.
    #[arg(long)]
    allow_remote: bool,
    /// Speak TLS, trusting the CA certificates in this PEM file (Ferrocore: data_dir/ca.pem).
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// The client certificate (PEM) every client presents over TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// The server name to verify the broker's certificate against (default: --host).
    #[arg(long)]
    tls_server_name: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let nofile = sysinfo::raise_nofile();
    let mut report = Report::default();
    report.set("label", args.label.clone());
    report.set("scenario", args.scenario.name());
    let qos =
        if matches!(args.scenario, Scenario::Persistent | Scenario::Shadow) { 1 } else { args.qos };
    report.set("qos", u64::from(qos));
    report.set("mqtt_version", if args.mqtt_version == 5 { "5" } else { "3.1.1" });
    report.set("clients", args.clients.unwrap_or(args.scenario.default_clients()));
    report.set("payload", u64::from(args.payload));
    report.set("duration_s", args.duration);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(run(&args, nofile, &mut report)),
        Err(e) => Err(e.into()),
    };
    let code = match outcome {
        Err(e) => {
            report.fail(format!("{e:#}"));
            ExitCode::from(2)
        }
        Ok(()) if report.failure.is_some() => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    };
    eprintln!("ferrocore-bench {} ({}):", args.scenario.name(), args.label);
    eprint!("{}", report.table());
    println!("{}", report.json());
    code
}

async fn run(args: &Args, nofile: u64, report: &mut Report) -> Result<()> {
    let addr = resolve(&args.host, args.port, args.allow_remote).await?;
    let version = match args.mqtt_version {
        3 | 4 => ProtocolVersion::V311,
        5 => ProtocolVersion::V5,
        other => bail!("--mqtt-version must be 3 or 5, not {other}"),
    };
    let qos = if args.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    if !(args.duration > 0.0 && args.warmup >= 0.0) {
        bail!("--duration must be positive and --warmup not negative");
    }
    let tls = match &args.tls_ca {
        Some(ca) => {
            let client = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
            let name = args.tls_server_name.as_deref().unwrap_or(&args.host);
            Some(client::Tls::load(ca, client, name)?)
        }
        None => None,
    };
    report.set("tls", if tls.is_some() { "yes" } else { "no" });
    let cfg = Config {
        target: Target { addr, version, keep_alive: args.keep_alive, tls },
        qos,
        payload: args.payload as usize,
        clients: args.clients.unwrap_or(args.scenario.default_clients()),
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate.max(1),
        window: args.window.max(1),
        messages: args.messages,
        concurrency: args.concurrency,
        qos0_budget: args.qos0_budget,
        nofile,
        probe: Probe { server_pid: args.server_pid },
        id_prefix: format!("fcb-{}", std::process::id()),
    };
    if let Some(pid) = args.server_pid
        && sysinfo::cpu_seconds(Some(pid)).is_none()
    {
        bail!("cannot read /proc/{pid}/stat: is --server-pid right?");
    }
    match args.scenario {
        Scenario::P2p => scenarios::throughput::run(&cfg, Shape::P2p, report).await,
        Scenario::Fanin => scenarios::throughput::run(&cfg, Shape::FanIn, report).await,
        Scenario::Fanout => scenarios::throughput::run(&cfg, Shape::FanOut, report).await,
        Scenario::Latency => scenarios::latency::run(&cfg, report).await,
        Scenario::Conns => scenarios::conns::run(&cfg, report).await,
        Scenario::Persistent => scenarios::persistent::run(&cfg, report).await,
        Scenario::Shadow => scenarios::shadow::run(&cfg, report).await,
    }
}

/// Resolves the broker address; refuses one off this machine unless allowed.
async fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<SocketAddr> {
    let addr = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    if !allow_remote && !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address (pass --allow-remote to benchmark it)");
    }
    Ok(addr)
}
