//! Test support for Ferrocore (not published).
//!
//! - [`TestServer`]: the real server, in-process, on 127.0.0.1 port 0 with a temporary data
//!   directory.
//! - [`V4`] and [`V5`]: rumqttc clients whose event loop runs in a task and forwards events to
//!   a channel, with helpers to wait for the next publish or for the connection to end.
//! - [`RawClient`]: speaks MQTT packets (or arbitrary bytes) over TCP with Ferrocore's own
//!   codec, for malformed input and exact protocol checks.

#![allow(clippy::unwrap_used, missing_docs)]

pub mod raw;
pub mod rumqtt;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_server::{Config, Overrides, Server};

pub use raw::RawClient;
pub use rumqtt::{V4, V5};

/// How long helpers wait for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long helpers wait to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// A server for one test.
pub struct TestServer {
    server: Option<Server>,
    /// The plain MQTT listener.
    pub addr: SocketAddr,
    /// The data directory (removed when the server is dropped).
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// A server with the default (`aws`) profile.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::start_in(dir, adjust).await
    }

    /// A server on an existing data directory.
    pub async fn start_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> TestServer {
        init_logging();
        let mut config = Config::load(None, &Default::default(), &Overrides::default()).unwrap();
        config.data_dir = dir.path().to_owned();
        config.mqtt_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.durability = ferrocore_server::Durability::Normal;
        adjust(&mut config);
        let server = Server::start(config).await.unwrap();
        let addr = server.mqtt_addr().unwrap();
        TestServer { server: Some(server), addr, dir }
    }

    /// The broker inside.
    pub fn broker(&self) -> &ferrocore_broker::Broker {
        self.server.as_ref().unwrap().broker()
    }

    /// Stops gracefully and hands back the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let TestServer { dir, .. } = self;
        dir
    }

    /// A rumqttc MQTT 3.1.1 client, connected.
    pub async fn v4(&self, client_id: &str) -> V4 {
        V4::connect(self.v4_options(client_id)).await
    }

    /// Options for an MQTT 3.1.1 client of this server.
    pub fn v4_options(&self, client_id: &str) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", self.addr.port());
        options.set_keep_alive(Duration::from_secs(60));
        options
    }

    /// A rumqttc MQTT 5 client, connected.
    pub async fn v5(&self, client_id: &str) -> V5 {
        V5::connect(self.v5_options(client_id)).await
    }

    /// Options for an MQTT 5 client of this server.
    pub fn v5_options(&self, client_id: &str) -> rumqttc::v5::MqttOptions {
        let mut options = rumqttc::v5::MqttOptions::new(client_id, "127.0.0.1", self.addr.port());
        options.set_keep_alive(Duration::from_secs(60));
        options
    }

    /// A raw client, TCP-connected but not yet MQTT-connected.
    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }
}

/// Sends the server's logs to the test output when `RUST_LOG` is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Polls `condition` until it holds or [`WAIT`] passes.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl TestServer {
    /// A raw client that has connected with `version` and `client_id` (CONNACK success).
    pub async fn raw_connected(
        &self,
        version: ferrocore_mqtt::ProtocolVersion,
        client_id: &str,
    ) -> RawClient {
        RawClient::connected(self.addr, version, client_id).await.0
    }
}
