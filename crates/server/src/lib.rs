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
pub mod log_sink;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocore_api::sigv4::{CONTROL_PLANE_SERVICES, DATA_PLANE_SERVICES};
use ferrocore_api::{ApiState, DataPlane, Endpoints};
use ferrocore_auth::sigv4::Rules;
use ferrocore_auth::{AccessKey, KeyStore, Verifier};
use ferrocore_broker::{Broker, CloseReason, now_ms};
use ferrocore_gateway::tls::{ALPN_HTTP11, ALPN_MQTT, ClientAuth};
use ferrocore_gateway::{
    CancellationToken, ConnectionSettings, Devices, Listeners, TaskTracker, TlsListener,
};
use ferrocore_pki::LocalCa;
use ferrocore_policy::PolicyDocument;
use ferrocore_registry::{Arns, Registry};
use ferrocore_rules::{RulesConfig, RulesEngine};
use ferrocore_shadow::ShadowService;
use ferrocore_store::{Store, StoreConfig};

pub use config::{Config, ConfigError, Durability, Overrides, RootKey, RulesSettings};

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
    /// The local CA could not be created or loaded, or the server certificate issued.
    #[error("local certificate authority: {0}")]
    Ca(#[from] ferrocore_pki::PkiError),
    /// The TLS listeners' configuration is not usable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The plain listener's policy file could not be read or is not a valid policy.
    #[error("mqtt_policy_file {path}: {message}")]
    LocalPolicy {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
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
    mqtts_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    local_ca: Arc<LocalCa>,
    registry: Registry,
    shadows: ShadowService,
    rules: RulesEngine,
    created_admin_key: Option<AccessKey>,
}

impl Server {
    /// Opens the store, restores retained messages and sessions, and starts the listeners.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })?;
        // The local CA (created on first start) signs device certificates and the server's.
        let local_ca = Arc::new(LocalCa::load_or_create(&config.data_dir)?);
        let local_policy = local_policy(&config)?;
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
        let rules = RulesEngine::start(
            &broker,
            store.clone(),
            Some(shadows.clone()),
            rules_config(&config),
        );
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let listeners = Listeners {
            broker: broker.clone(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            settings: ConnectionSettings {
                park_after: (config.park_idle_ms > 0)
                    .then(|| Duration::from_millis(config.park_idle_ms)),
                ..ConnectionSettings::default()
            },
            local_policy: local_policy.map(|policy| {
                (Arc::new(policy), ferrocore_policy::Arns::new(&config.region, &config.account_id))
            }),
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
        spawn_registry_events(&broker, &registry, &shutdown);
        let services: Vec<&str> =
            CONTROL_PLANE_SERVICES.iter().chain(DATA_PLANE_SERVICES).copied().collect();
        let verifier = Verifier::new(keys, Rules::new(config.region.clone(), &services));
        let state = ApiState::with_data_plane(
            registry.clone(),
            verifier,
            Endpoints::all(&config.hostname),
            DataPlane { shadows: shadows.clone(), broker: broker.clone() },
        )
        .with_rules(rules.clone())
        .with_local_ca(local_ca.clone())
        .with_mqtt_over_websocket(listeners.clone());
        let mut api_addr = None;
        if let Some(addr) = config.api_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            api_addr = listener.local_addr().ok();
            if let Some(bound) = api_addr {
                rules.set_enable_url_base(&format!("http://{bound}"));
            }
            tracing::info!(addr = ?api_addr, "AWS API listening (plain HTTP)");
            let (stop, state) = (shutdown.clone(), state.clone());
            tracker.spawn(async move {
                if let Err(error) =
                    ferrocore_api::serve(listener, state, stop.cancelled_owned()).await
                {
                    tracing::error!(%error, "the AWS API listener failed");
                }
            });
        }
        let (mqtts_addr, https_addr) =
            start_tls_listeners(&config, &local_ca, &registry, &listeners, &state).await?;
        spawn_session_sweeper(broker.clone(), shutdown.clone(), config.session_sweep_interval);
        cancel_shadows.disarm();
        Ok(Server {
            broker,
            store,
            shutdown,
            tracker,
            mqtt_addr,
            api_addr,
            mqtts_addr,
            https_addr,
            local_ca,
            registry,
            shadows,
            rules,
            created_admin_key,
        })
    }

    /// The bound address of the AWS API listener.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr
    }

    /// The bound address of the MQTT over TLS listener.
    pub fn mqtts_addr(&self) -> Option<SocketAddr> {
        self.mqtts_addr
    }

    /// The bound address of the HTTPS listener (AWS's port 443).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The local certificate authority.
    pub fn local_ca(&self) -> &Arc<LocalCa> {
        &self.local_ca
    }

    /// The store, for in-process services and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registry, for in-process services and tests.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The rules engine, for the API and tests.
    pub fn rules(&self) -> &RulesEngine {
        &self.rules
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
        self.rules.stop().await;
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

/// Starts the TLS listeners the configuration asks for: MQTT over TLS (8883) and the HTTPS port
/// (443's part: MQTT by ALPN, else the API), with the server certificate and device
/// authentication. Returns their bound addresses.
async fn start_tls_listeners(
    config: &Config,
    local_ca: &LocalCa,
    registry: &Registry,
    listeners: &Listeners,
    state: &ApiState,
) -> Result<(Option<SocketAddr>, Option<SocketAddr>), StartError> {
    let (mut mqtts_addr, mut https_addr) = (None, None);
    if config.tls.mqtts_addr.is_some() || config.tls.https_addr.is_some() {
        let devices = Devices::new(registry.clone());
        tokio::spawn(devices.clone().watch(listeners.shutdown.clone()));
        let (chain, key) = server_certificate(config, local_ca)?;
        if let Some(addr) = config.tls.mqtts_addr {
            let tls =
                ferrocore_gateway::tls::server_config(&chain, &key, ClientAuth::Required, &[])
                    .map_err(|e| StartError::Tls(e.to_string()))?;
            let listener = ferrocore_gateway::listener::bind(addr, "MQTT over TLS")
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            mqtts_addr = listener.local_addr().ok();
            let tls = TlsListener { acceptor: tls.into(), devices: devices.clone(), https: None };
            tokio::spawn(ferrocore_gateway::serve_tls(listener, tls, listeners.clone()));
        }
        if let Some(addr) = config.tls.https_addr {
            let tls = ferrocore_gateway::tls::server_config(
                &chain,
                &key,
                ClientAuth::Optional,
                &[ALPN_MQTT, ALPN_HTTP11],
            )
            .map_err(|e| StartError::Tls(e.to_string()))?;
            let listener = ferrocore_gateway::listener::bind(addr, "HTTPS")
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            let local =
                listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            https_addr = Some(local);
            let (sender, receiver) = tokio::sync::mpsc::channel(64);
            let tls = TlsListener { acceptor: tls.into(), devices, https: Some(sender) };
            tokio::spawn(ferrocore_gateway::serve_tls(listener, tls, listeners.clone()));
            let incoming = ferrocore_api::incoming::Incoming::new(receiver, local);
            let (stop, state) = (listeners.shutdown.clone(), state.clone());
            listeners.tracker.spawn(async move {
                if let Err(error) =
                    ferrocore_api::serve_incoming(incoming, state, stop.cancelled_owned()).await
                {
                    tracing::error!(%error, "the HTTPS listener failed");
                }
            });
        }
    }
    Ok((mqtts_addr, https_addr))
}

/// The plain listener's policy, if the configuration names one.
fn local_policy(config: &Config) -> Result<Option<PolicyDocument>, StartError> {
    let Some(path) = &config.tls.mqtt_policy_file else { return Ok(None) };
    let invalid = |message: String| StartError::LocalPolicy { path: path.clone(), message };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    PolicyDocument::parse(&text).map(Some).map_err(|e| invalid(e.to_string()))
}

/// The TLS server certificate chain and key: the operator's files, or a certificate issued by
/// the local CA for the configured host names (anew at every start, so it always names them).
fn server_certificate(config: &Config, ca: &LocalCa) -> Result<(String, String), StartError> {
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path)
                    .map_err(|e| StartError::Tls(format!("{}: {e}", path.display())))
            };
            Ok((read(cert)?, read(key)?))
        }
        _ => {
            let (cert, key) = ca.issue_server(&config.tls.host_names)?;
            // Clients that trust ca.pem accept a chain of the leaf alone; sending the CA too
            // helps those that pin the chain.
            Ok((format!("{cert}{}", ca.certificate_pem()), key))
        }
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

/// The rules engine's settings from the server's configuration.
fn rules_config(config: &Config) -> RulesConfig {
    let settings = &config.rules;
    RulesConfig {
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        s3_dir: settings.s3_dir.clone().unwrap_or_else(|| config.data_dir.join("s3")),
        s3_endpoint: settings.s3_endpoint.clone(),
        queue_size: settings.queue_size,
        retries: settings.retries,
        http_timeout_ms: settings.http_timeout_ms,
        ..RulesConfig::default()
    }
}

/// Publishes the registry's events of enabled types (UpdateEventConfigurations) through the
/// broker as the internal client `registry-events`, at QoS 1 like the broker's lifecycle events.
fn spawn_registry_events(broker: &Broker, registry: &Registry, shutdown: &CancellationToken) {
    let client = ferrocore_broker::InternalClient::new(broker, "registry-events");
    let publish =
        move |topic: String, payload: Vec<u8>| match ferrocore_mqtt::TopicName::new(&topic) {
            Ok(name) => {
                let qos = ferrocore_mqtt::QoS::AtLeastOnce;
                client.publish(ferrocore_broker::Message::new(name, payload.into(), qos, false));
            }
            Err(error) => tracing::error!(%error, topic, "registry event has an invalid topic"),
        };
    ferrocore_registry::events::spawn_publisher(
        registry.clone(),
        publish,
        shutdown.clone().cancelled_owned(),
    );
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
