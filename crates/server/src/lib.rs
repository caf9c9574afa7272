//! The Ferrocore server: configuration ([`config`]) and the wiring that starts every part and
//! stops it gracefully ([`Server`]). The `ferrocore` binary is a thin CLI over this crate, and
//! tests start the same [`Server`] in-process.
//!
//! It must not hold protocol logic: it only opens the store, restores the broker, starts the
//! services that attach to it (the Device Shadow service), makes sure an admin access key
//! exists ([`admin_key`]), binds the listeners (MQTT, the AWS API) and runs the periodic
//! chores.

pub mod admin_key;
pub mod config;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_api::sigv4::{CONTROL_PLANE_SERVICES, DATA_PLANE_SERVICES};
use ferrocore_api::{ApiState, DataPlane, Endpoints};
use ferrocore_auth::sigv4::Rules;
use ferrocore_auth::{AccessKey, KeyStore, Verifier};
use ferrocore_broker::{Broker, CloseReason, now_ms};
use ferrocore_gateway::{CancellationToken, ConnectionSettings, Listeners, TaskTracker};
use ferrocore_registry::{Arns, Registry};
use ferrocore_shadow::ShadowService;
use ferrocore_store::{Store, StoreConfig};

pub use config::{Config, ConfigError, Durability, Overrides, RootKey};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error("cannot open the store: {0}")]
    Store(#[from] ferrocore_store::StoreError),
    /// The admin access key could not be read, created or saved.
    #[error("admin access key: {0}")]
    AdminKey(#[from] admin_key::AdminKeyError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    broker: Broker,
    store: Store,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    mqtt_addr: Option<SocketAddr>,
    api_addr: Option<SocketAddr>,
    registry: Registry,
    shadows: ShadowService,
    created_admin_key: Option<AccessKey>,
}

impl Server {
    /// Opens the store, restores retained messages and sessions, and starts the listeners.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })?;
        let db_path = config.data_dir.join("ferrocore.db");
        let store = Store::open(StoreConfig {
            path: db_path.clone(),
            synchronous: match config.durability {
                Durability::Full => ferrocore_store::Durability::Full,
                Durability::Normal => ferrocore_store::Durability::Normal,
            },
            ..StoreConfig::default()
        })?;
        let snapshot = store.load()?;
        let broker = Broker::new(config.broker.clone(), Some(store.clone()));
        let restored = broker.restore(snapshot, now_ms());
        tracing::info!(
            data = %db_path.display(),
            retained = restored.retained,
            sessions = restored.sessions,
            messages = restored.messages,
            profile = ?config.profile,
            "store opened"
        );
        // Services attach before the listeners open, so no request finds them missing.
        let shadows = ShadowService::start(&broker, store.clone());
        let cancel_shadows = CancelOnDrop(Some(shadows.clone()));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let listeners = Listeners {
            broker: broker.clone(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            settings: ConnectionSettings::default(),
        };
        let mut mqtt_addr = None;
        if let Some(addr) = config.mqtt_addr {
            let listener = ferrocore_gateway::listener::bind(addr, "MQTT")
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            mqtt_addr = listener.local_addr().ok();
            tokio::spawn(ferrocore_gateway::serve_tcp(listener, listeners.clone()));
        }
        let keys = KeyStore::new(store.clone());
        let created_admin_key = admin_key::ensure(&keys, &config).await?;
        let registry = Registry::new(
            store.clone(),
            Arns { region: config.region.clone(), account: config.account_id.clone() },
        );
        let mut api_addr = None;
        if let Some(addr) = config.api_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            api_addr = listener.local_addr().ok();
            tracing::info!(addr = ?api_addr, "AWS API listening (plain HTTP)");
            let services: Vec<&str> =
                CONTROL_PLANE_SERVICES.iter().chain(DATA_PLANE_SERVICES).copied().collect();
            let verifier = Verifier::new(keys, Rules::new(config.region.clone(), &services));
            let state = ApiState::with_data_plane(
                registry.clone(),
                verifier,
                Endpoints::all(&config.hostname),
                DataPlane { shadows: shadows.clone(), broker: broker.clone() },
            );
            let stop = shutdown.clone();
            tracker.spawn(async move {
                if let Err(error) =
                    ferrocore_api::serve(listener, state, stop.cancelled_owned()).await
                {
                    tracing::error!(%error, "the AWS API listener failed");
                }
            });
        }
        spawn_session_sweeper(broker.clone(), shutdown.clone(), config.session_sweep_interval);
        cancel_shadows.disarm();
        Ok(Server {
            broker,
            store,
            shutdown,
            tracker,
            mqtt_addr,
            api_addr,
            registry,
            shadows,
            created_admin_key,
        })
    }

    /// The bound address of the AWS API listener.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr
    }

    /// The store, for in-process services and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registry, for in-process services and tests.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Device Shadow service, for the REST data plane and tests.
    pub fn shadows(&self) -> &ShadowService {
        &self.shadows
    }

    /// The admin access key this start created (first start without a root key), to be shown
    /// to the operator once.
    pub fn created_admin_key(&self) -> Option<&AccessKey> {
        self.created_admin_key.as_ref()
    }

    /// The bound address of the plain MQTT listener.
    pub fn mqtt_addr(&self) -> Option<SocketAddr> {
        self.mqtt_addr
    }

    /// The broker, for in-process services and tests.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Stops gracefully: stops accepting, closes every connection (MQTT 5 clients are told
    /// the server is shutting down), waits for their tasks, and flushes the store.
    pub async fn stop(self) {
        tracing::info!("shutting down");
        self.shutdown.cancel();
        self.broker.kick_all(CloseReason::ServerShutdown);
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await.is_err() {
            tracing::warn!("some connections did not close within 10 s");
        }
        // No client is left to send requests: let the services finish theirs, then close.
        self.shadows.stop().await;
        // Closing flushes and joins the store's writer thread: blocking work.
        let store = self.store;
        match tokio::task::spawn_blocking(move || store.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "closing the store failed"),
            Err(error) => tracing::error!(%error, "closing the store panicked"),
        }
        tracing::info!("stopped");
    }
}

/// Cancels the shadow service if [`Server::start`] fails after starting it.
struct CancelOnDrop(Option<ShadowService>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(shadows) = self.0.take() {
            shadows.cancel();
        }
    }
}

fn spawn_session_sweeper(broker: Broker, shutdown: CancellationToken, every_seconds: u64) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(every_seconds.max(1)));
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    let ended = broker.expire_sessions(now_ms());
                    if ended > 0 {
                        tracing::info!(ended, "expired sessions removed");
                    }
                }
                () = shutdown.cancelled() => break,
            }
        }
    });
}
