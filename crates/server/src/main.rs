//! The `ferrocore` command: `ferrocore serve` runs the server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferrocore_broker::Profile;
use ferrocore_server::{Config, Overrides, Server};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "ferrocore", version, about = "A self-hosted AWS IoT Core")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (see ferrocore.sample.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The data directory [env: FERROCORE_DATA_DIR] (default ./ferrocore-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The plain MQTT listener, or `off` [env: FERROCORE_MQTT_ADDR] (default 127.0.0.1:1883).
    #[arg(long)]
    mqtt_addr: Option<String>,
    /// `aws` (AWS IoT Core's limits) or `mqtt` (a standard MQTT 5 broker) [env: FERROCORE_PROFILE].
    #[arg(long)]
    profile: Option<Profile>,
    /// Log filter, such as `info` or `ferrocore_broker=debug` [env: FERROCORE_LOG].
    #[arg(long)]
    log: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let env: BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("FERROCORE_")).collect();
    let flags = Overrides {
        data_dir: args.data_dir,
        mqtt_addr: args.mqtt_addr,
        profile: args.profile,
        log: args.log,
    };
    let config = Config::load(args.config.as_deref(), &env, &flags)?;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .context("invalid log filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrocore")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        if let Some(addr) = server.mqtt_addr() {
            // One plain line on stdout that scripts and tests can wait for.
            println!("ferrocore: MQTT listening on {addr}");
        }
        wait_for_signal().await?;
        server.stop().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
