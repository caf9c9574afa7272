//! Test support for Ferrocore (not published).
//!
//! - [`TestServer`]: the real server, in-process, on 127.0.0.1 port 0 with a temporary data
//!   directory.
//! - [`V4`] and [`V5`]: rumqttc clients whose event loop runs in a task and forwards events to
//!   a channel, with helpers to wait for the next publish or for the connection to end.
//! - [`RawClient`]: speaks MQTT packets (or arbitrary bytes) over TCP with Ferrocore's own
//!   codec, for malformed input and exact protocol checks.
//! - [`TestServer::iot_client`]: the AWS SDK for Rust's `iot` client, pointed at the server's
//!   API with the admin key; [`http`] sends raw HTTP requests for what the SDK cannot send.
//! - [`TestServer::iot_data_client`]: the same for the `iot-data` data plane
//!   (`aws-sdk-iotdataplane`), on the same listener.
//! - [`ws`]: MQTT over WebSocket with URLs presigned by the AWS SDK's signer.

#![allow(clippy::unwrap_used, missing_docs)]

pub mod http;
pub mod raw;
pub mod rumqtt;
pub mod tls;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_server::{Config, Overrides, Server};

pub use raw::RawClient;
pub use rumqtt::{V4, V5};

/// The admin access key id every test server accepts.
pub const ADMIN_KEY_ID: &str = "AKIAFERROCORETESTKEY";
/// Its secret.
pub const ADMIN_SECRET: &str = "ferrocore/test+secret/0123456789abcdefghij";
/// The region of test servers (the default).
pub const REGION: &str = "us-east-1";

/// How long helpers wait for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long helpers wait to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// A device certificate and its key, as CreateKeysAndCertificate returned them.
#[derive(Debug, Clone)]
pub struct Device {
    /// The certificate id.
    pub id: String,
    /// The certificate ARN.
    pub arn: String,
    /// The certificate (PEM).
    pub cert: String,
    /// The private key (PEM).
    pub key: String,
}

/// A server for one test.
pub struct TestServer {
    server: Option<Server>,
    /// The plain MQTT listener.
    pub addr: SocketAddr,
    /// The AWS API listener.
    pub api_addr: SocketAddr,
    /// The MQTT over TLS listener (AWS's 8883).
    pub mqtts_addr: SocketAddr,
    /// The HTTPS listener (AWS's 443: HTTPS, and MQTT with ALPN `x-amzn-mqtt-ca`).
    pub https_addr: SocketAddr,
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
        config.api_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.tls.mqtts_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.tls.https_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.durability = ferrocore_server::Durability::Normal;
        config.root_key = Some(ferrocore_server::RootKey {
            id: ADMIN_KEY_ID.to_owned(),
            secret: ADMIN_SECRET.to_owned(),
        });
        adjust(&mut config);
        let server = Server::start(config).await.unwrap();
        let addr = server.mqtt_addr().unwrap();
        let api_addr = server.api_addr().unwrap();
        let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
        let mqtts_addr = server.mqtts_addr().unwrap_or(unbound);
        let https_addr = server.https_addr().unwrap_or(unbound);
        TestServer { server: Some(server), addr, api_addr, mqtts_addr, https_addr, dir }
    }

    /// The server inside.
    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The AWS API's endpoint URL.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// An `iot` client with the admin key.
    pub fn iot_client(&self) -> aws_sdk_iot::Client {
        self.iot_client_with(ADMIN_KEY_ID, ADMIN_SECRET)
    }

    /// An `iot` client with other credentials.
    pub fn iot_client_with(&self, access_key_id: &str, secret: &str) -> aws_sdk_iot::Client {
        aws_sdk_iot::Client::from_conf(self.iot_config(access_key_id, secret).build())
    }

    /// The configuration of [`TestServer::iot_client_with`], to adjust further (region, clock).
    pub fn iot_config(&self, access_key_id: &str, secret: &str) -> aws_sdk_iot::config::Builder {
        let credentials = static_credentials(access_key_id, secret);
        aws_sdk_iot::Config::builder()
            .behavior_version(aws_sdk_iot::config::BehaviorVersion::latest())
            .region(aws_sdk_iot::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(credentials)
            // Plain HTTP to the loopback listener; TLS comes with the security issue.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            // Errors should surface at once, not after retries.
            .retry_config(aws_sdk_iot::config::retry::RetryConfig::disabled())
    }

    /// An `iot` client with the admin key that reaches the server over HTTPS (the
    /// `https_addr` listener, AWS's port 443), trusting the local CA.
    pub fn iot_client_https(&self) -> aws_sdk_iot::Client {
        use aws_smithy_http_client::tls;
        let trust = tls::TrustStore::empty().with_pem_certificate(self.ca_pem().into_bytes());
        let context = tls::TlsContext::builder().with_trust_store(trust).build().unwrap();
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(context)
            .build_https();
        let config = self
            .iot_config(ADMIN_KEY_ID, ADMIN_SECRET)
            .endpoint_url(format!("https://localhost:{}", self.https_addr.port()))
            .http_client(http)
            .build();
        aws_sdk_iot::Client::from_conf(config)
    }

    /// An `iot-data` (data plane) client with the admin key.
    pub fn iot_data_client(&self) -> aws_sdk_iotdataplane::Client {
        self.iot_data_client_with(ADMIN_KEY_ID, ADMIN_SECRET)
    }

    /// An `iot-data` client with other credentials.
    pub fn iot_data_client_with(
        &self,
        access_key_id: &str,
        secret: &str,
    ) -> aws_sdk_iotdataplane::Client {
        aws_sdk_iotdataplane::Client::from_conf(self.iot_data_config(access_key_id, secret).build())
    }

    /// The configuration of [`TestServer::iot_data_client_with`], to adjust further.
    pub fn iot_data_config(
        &self,
        access_key_id: &str,
        secret: &str,
    ) -> aws_sdk_iotdataplane::config::Builder {
        let credentials = static_credentials(access_key_id, secret);
        aws_sdk_iotdataplane::Config::builder()
            .behavior_version(aws_sdk_iotdataplane::config::BehaviorVersion::latest())
            .region(aws_sdk_iotdataplane::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(credentials)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_iotdataplane::config::retry::RetryConfig::disabled())
    }

    /// Sends a request signed (by the SDK's own signer) with the admin key for signing name
    /// `service`, for what the SDKs will not send: other methods, raw bodies.
    pub async fn raw_signed(
        &self,
        service: &str,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> http::Response {
        self.raw_signed_with_headers(service, method, target, &[], body).await
    }

    /// [`TestServer::raw_signed`] with extra (signed) headers.
    pub async fn raw_signed_with_headers(
        &self,
        service: &str,
        method: &str,
        target: &str,
        extra_headers: &[(&str, &str)],
        body: &[u8],
    ) -> http::Response {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity = static_credentials(ADMIN_KEY_ID, ADMIN_SECRET).into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(service)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("{}{target}", self.endpoint_url());
        let host = self.api_addr.to_string();
        let signable = SignableRequest::new(
            method,
            &url,
            [("host", host.as_str())].into_iter().chain(extra_headers.iter().copied()),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = ::http::Request::builder().method(method).uri(&url);
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "host")
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let headers: Vec<(&str, &str)> =
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        http::request(self.api_addr, method, target, &headers, body).await
    }

    /// The server's access keys, to create or revoke keys in tests.
    pub fn keys(&self) -> ferrocore_auth::KeyStore {
        ferrocore_auth::KeyStore::new(self.server().store().clone())
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

    /// A device certificate made by CreateKeysAndCertificate (ACTIVE), with a new policy
    /// `policy_name` holding `policy` attached to it.
    pub async fn device(&self, policy_name: &str, policy: &serde_json::Value) -> Device {
        let iot = self.iot_client();
        let made = iot.create_keys_and_certificate().set_as_active(true).send().await.unwrap();
        let device = Device {
            id: made.certificate_id().unwrap().to_owned(),
            arn: made.certificate_arn().unwrap().to_owned(),
            cert: made.certificate_pem().unwrap().to_owned(),
            key: made.key_pair().unwrap().private_key().unwrap().to_owned(),
        };
        iot.create_policy()
            .policy_name(policy_name)
            .policy_document(policy.to_string())
            .send()
            .await
            .unwrap();
        iot.attach_policy().policy_name(policy_name).target(&device.arn).send().await.unwrap();
        device
    }

    /// The local CA's certificate (PEM), which TLS clients must trust.
    pub fn ca_pem(&self) -> String {
        self.server().local_ca().certificate_pem().to_owned()
    }

    /// Options for an MQTT 3.1.1 client of the TLS listener presenting `cert_pem`/`key_pem`.
    pub fn v4_tls_options(
        &self,
        client_id: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", self.mqtts_addr.port());
        options.set_keep_alive(Duration::from_secs(60));
        let config = tls::client_config(&self.ca_pem(), Some((cert_pem, key_pem)), &[]);
        options.set_transport(tls::transport(config));
        options
    }

    /// Options for an MQTT 5 client of the TLS listener presenting `cert_pem`/`key_pem`.
    pub fn v5_tls_options(
        &self,
        client_id: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> rumqttc::v5::MqttOptions {
        let mut options =
            rumqttc::v5::MqttOptions::new(client_id, "127.0.0.1", self.mqtts_addr.port());
        options.set_keep_alive(Duration::from_secs(60));
        let config = tls::client_config(&self.ca_pem(), Some((cert_pem, key_pem)), &[]);
        options.set_transport(tls::transport(config));
        options
    }

    /// A raw client, TCP-connected but not yet MQTT-connected.
    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }
}

/// The AWS error name, HTTP status and message of a failed SDK call (of either SDK: they
/// share the error and response types); panics if it succeeded.
pub fn error_of<T, E>(
    result: Result<T, aws_sdk_iot::error::SdkError<E, aws_sdk_iot::config::http::HttpResponse>>,
) -> (String, u16, String)
where
    T: std::fmt::Debug,
    E: aws_sdk_iot::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_iot::error::ProvideErrorMetadata;
    let error = result.expect_err("the call should have failed");
    let status = error.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = error.code().unwrap_or_else(|| panic!("no error code in {error:?}")).to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    (code, status, message)
}

/// Fixed credentials for the SDK clients of the tests.
fn static_credentials(access_key_id: &str, secret: &str) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(access_key_id, secret, None, None, "ferrocore-testkit")
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
