//! The `ferrocore` command: `ferrocore serve` runs the server; `ferrocore keys` manages the
//! access keys of the AWS API.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferrocore_broker::Profile;
use ferrocore_server::log_sink::LogSink;
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
    /// Create, list and revoke the access keys of the AWS API.
    Keys(KeysArgs),
}

#[derive(Debug, clap::Args)]
struct KeysArgs {
    /// The data directory [env: FERROCORE_DATA_DIR] (default ./ferrocore-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    action: KeysAction,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Create a key and print its id and secret (shown only this once).
    Create {
        /// A key for the data planes only: refused by the control plane (`iot`).
        #[arg(long)]
        data_plane: bool,
        /// A data-plane key held to this IoT policy (one created with `aws iot
        /// create-policy`), as a device is to its certificate's; implies `--data-plane`.
        #[arg(long)]
        policy: Option<String>,
    },
    /// List the keys (never their secrets).
    List,
    /// Revoke a key: requests signed with it are refused from now on.
    Revoke {
        /// The access key id.
        id: String,
    },
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
    /// The AWS API listener (plain HTTP), or `off` [env: FERROCORE_API_ADDR] (default 127.0.0.1:9080).
    #[arg(long)]
    api_addr: Option<String>,
    /// MQTT over TLS with device certificates, or `off` [env: FERROCORE_MQTTS_ADDR] (default 0.0.0.0:8883).
    #[arg(long)]
    mqtts_addr: Option<String>,
    /// HTTPS, and MQTT with ALPN x-amzn-mqtt-ca, or `off` [env: FERROCORE_HTTPS_ADDR] (default 0.0.0.0:8443).
    #[arg(long)]
    https_addr: Option<String>,
    /// `aws` (AWS IoT Core's limits) or `mqtt` (a standard MQTT 5 broker) [env: FERROCORE_PROFILE].
    #[arg(long)]
    profile: Option<Profile>,
    /// Log filter, such as `info` or `ferrocore_broker=debug` [env: FERROCORE_LOG].
    #[arg(long)]
    log: Option<String>,
}

/// mimalloc: per-thread free lists suit a broker whose messages are allocated on one worker
/// thread and freed on another (or on the store's writer thread), where the system allocator
/// spends its time in arena locks and consolidation. Built without transparent huge pages, so
/// that idle memory stays close to what is in use.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its position in `mi_option_e` of the bundled mimalloc 3 header
/// (the binding names no constant for it).
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's documented default for [`MI_OPTION_PURGE_DELAY`], in milliseconds.
#[cfg(feature = "mimalloc")]
const MI_DEFAULT_PURGE_DELAY: std::ffi::c_long = 10;

/// Has mimalloc give freed pages back to the system after 1 ms instead of 10. A purge only
/// runs when a thread next allocates or frees, so with the default, a worker that goes idle
/// right after a burst (thousands of connections parking at once) keeps the burst's pages
/// for good; 1 ms lets them go while the burst is still ending. Measured: about 100 bytes less
/// per idle connection, no change in throughput. `MIMALLOC_PURGE_DELAY` in the environment
/// still decides when it is set, and the option is left alone when it does not read back as
/// the documented default (another mimalloc whose options are numbered differently).
#[cfg(feature = "mimalloc")]
#[allow(unsafe_code)]
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: both functions take and return plain integers and touch only mimalloc's own
    // option table; an option number out of its range is checked for and ignored by both.
    // This runs first thing in `main`, before the program starts a thread of its own, so no
    // allocation on another thread reads the option while it is written.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1);
        }
    }
}

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "mimalloc")]
    tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Keys(args) => keys(args),
    }
}

fn keys(args: KeysArgs) -> anyhow::Result<()> {
    let data_dir = args
        .data_dir
        .or_else(|| std::env::var_os("FERROCORE_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("ferrocore-data"));
    let path = data_dir.join("ferrocore.db");
    if !path.exists() {
        anyhow::bail!(
            "no Ferrocore database at {} (run `ferrocore serve` once first)",
            path.display()
        );
    }
    let store = ferrocore_store::Store::open(ferrocore_store::StoreConfig::new(&path))
        .with_context(|| format!("cannot open {}", path.display()))?;
    let keys = ferrocore_auth::KeyStore::new(store.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        match args.action {
            KeysAction::Create { data_plane, policy } => {
                let key = match &policy {
                    Some(policy) => {
                        let registry = ferrocore_registry::Registry::new(
                            store.clone(),
                            ferrocore_registry::Arns {
                                region: String::new(),
                                account: String::new(),
                            },
                        );
                        registry
                            .get_policy(policy)
                            .with_context(|| format!("cannot give the key policy {policy}"))?;
                        keys.create_with_policy(policy).await?
                    }
                    None => keys.create(!data_plane).await?,
                };
                println!("AccessKeyId     {}", key.id);
                println!("SecretAccessKey {}", key.secret);
                println!("Admin           {}", key.admin);
                if let Some(policy) = &key.policy {
                    println!("Policy          {policy}");
                }
            }
            KeysAction::List => {
                println!(
                    "{:<24} {:<9} {:<6} {:<20} CREATED",
                    "ACCESS KEY ID", "STATUS", "ADMIN", "POLICY"
                );
                for key in keys.list()? {
                    let created = time::OffsetDateTime::from(key.created)
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default();
                    println!(
                        "{:<24} {:<9} {:<6} {:<20} {created}",
                        key.id,
                        key.status.as_str(),
                        key.admin,
                        key.policy.as_deref().unwrap_or("-")
                    );
                }
            }
            KeysAction::Revoke { id } => {
                keys.revoke(&id).await?;
                println!("revoked {id}");
            }
        }
        anyhow::Ok(())
    });
    store.close().context("cannot close the store")?;
    result
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let env: BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("FERROCORE_")).collect();
    let flags = Overrides {
        data_dir: args.data_dir,
        mqtt_addr: args.mqtt_addr,
        api_addr: args.api_addr,
        mqtts_addr: args.mqtts_addr,
        https_addr: args.https_addr,
        profile: args.profile,
        log: args.log,
    };
    let config = Config::load(args.config.as_deref(), &env, &flags)?;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .context("invalid log filter")?;
    // Colours only for a terminal: in a file or a journal they are noise.
    let ansi = std::io::stderr().is_terminal();
    let (sink, _flush) =
        LogSink::start(std::io::stderr()).context("cannot start the log writer")?;
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(sink).init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrocore")
        .build()
        .context("cannot start the async runtime")?;
    let config_data_dir = config.data_dir.clone();
    let region = config.region.clone();
    runtime.block_on(async {
        let server = Server::start(config).await?;
        // Plain lines on stdout that scripts and tests wait for. A closed stdout must not stop
        // the server, so write errors are ignored (println! would panic).
        let mut out = std::io::stdout().lock();
        if let Some(addr) = server.mqtt_addr() {
            let _ = writeln!(out, "ferrocore: MQTT listening on {addr}");
        }
        if let Some(addr) = server.mqtts_addr() {
            let _ = writeln!(out, "ferrocore: MQTT over TLS listening on {addr}");
        }
        if let Some(addr) = server.https_addr() {
            let _ = writeln!(out, "ferrocore: HTTPS listening on {addr}");
        }
        if let Some(addr) = server.api_addr() {
            if let Some(key) = server.created_admin_key() {
                let file = config_data_dir.join(ferrocore_server::admin_key::FILE_NAME);
                let endpoint = format!("http://{addr}");
                let instructions =
                    ferrocore_server::admin_key::cli_instructions(key, &region, &endpoint, &file);
                let _ = writeln!(out, "{instructions}");
            }
            // Last, so that scripts can read up to this line.
            let _ = writeln!(out, "ferrocore: API listening on {addr}");
        }
        let _ = out.flush();
        drop(out);
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
