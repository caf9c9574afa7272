//! Configuration: defaults, then a TOML file, then `FERROCORE_*` environment variables, then
//! command-line flags, each overriding the one before.
//!
//! Broker limits start from the chosen profile's defaults (`aws` or `mqtt`); any limit set in
//! the file (`[broker]`) or the environment (`FERROCORE_BROKER_<FIELD>`) overrides the profile.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ferrocore_broker::{BrokerConfig, Profile};
use serde::Deserialize;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file or a value is not valid.
    #[error("invalid configuration in {origin}: {message}")]
    Invalid {
        /// Where the value came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Store durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync at every group commit: survives power loss.
    #[default]
    Full,
    /// Survives a crash of the process (kill -9), not of the machine.
    Normal,
}

/// An access key given by the environment (`FERROCORE_ROOT_ACCESS_KEY_ID` and
/// `FERROCORE_ROOT_SECRET_ACCESS_KEY`): the admin key, instead of a generated one. `Debug`
/// hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RootKey {
    /// The access key id.
    pub id: String,
    /// The secret access key.
    pub secret: String,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// The default region, in every ARN and in the SigV4 credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The default account id, in every ARN: twelve zeros, which no real AWS account has, so an
/// ARN from Ferrocore is never mistaken for one of AWS.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the database and generated files live.
    pub data_dir: PathBuf,
    /// The plain MQTT listener for local development, if any.
    pub mqtt_addr: Option<SocketAddr>,
    /// The plain HTTP listener of the AWS API (control plane), if any.
    pub api_addr: Option<SocketAddr>,
    /// The TLS listeners, their certificate, and the plain listener's policy.
    pub tls: TlsConfig,
    /// The region: in ARNs, and the one SigV4 credential scopes must name.
    pub region: String,
    /// The 12-digit account id in ARNs.
    pub account_id: String,
    /// The host name DescribeEndpoint returns, where devices and clients reach this server.
    pub hostname: String,
    /// The admin access key from the environment, if given.
    pub root_key: Option<RootKey>,
    /// Which behaviour the broker imitates.
    pub profile: Profile,
    /// Log filter (tracing's `EnvFilter` syntax), unless `RUST_LOG` is set.
    pub log: String,
    /// Store durability.
    pub durability: Durability,
    /// Seconds between sweeps for expired sessions.
    pub session_sweep_interval: u64,
    /// Milliseconds a plain-TCP MQTT connection may idle before it gives up its task and waits
    /// parked (a few hundred bytes instead of a few kilobytes; a tenth of it the first time);
    /// 0 never parks.
    pub park_idle_ms: u64,
    /// Broker limits.
    pub broker: BrokerConfig,
    /// The rules engine (`[rules]`).
    pub rules: RulesSettings,
}

/// The device gateway's TLS listeners and the policy of the plain listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// MQTT over TLS with client certificates (AWS's port 8883), if any.
    pub mqtts_addr: Option<SocketAddr>,
    /// HTTPS, and MQTT for clients offering ALPN `x-amzn-mqtt-ca` (AWS's port 443), if any.
    pub https_addr: Option<SocketAddr>,
    /// Names (DNS names or IP addresses) the generated server certificate is issued for.
    pub host_names: Vec<String>,
    /// A server certificate chain (PEM) to use instead of one issued by the local CA.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// The IoT policy (a JSON file) that governs clients of the plain MQTT listener; `None`
    /// allows everything, and then that listener may bind only a loopback address.
    pub mqtt_policy_file: Option<PathBuf>,
}

/// The file's shape: every field optional, so a file states only what it changes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    mqtt_addr: Option<String>,
    api_addr: Option<String>,
    mqtts_addr: Option<String>,
    https_addr: Option<String>,
    tls_host_names: Option<Vec<String>>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    mqtt_policy_file: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    hostname: Option<String>,
    profile: Option<Profile>,
    log: Option<String>,
    durability: Option<Durability>,
    session_sweep_interval: Option<u64>,
    park_idle_ms: Option<u64>,
    #[serde(default)]
    broker: toml::Table,
    #[serde(default)]
    rules: RulesFile,
}

/// Values given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--mqtt-addr` (`off` disables the listener).
    pub mqtt_addr: Option<String>,
    /// `--api-addr` (`off` disables the listener).
    pub api_addr: Option<String>,
    /// `--mqtts-addr` (`off` disables the listener).
    pub mqtts_addr: Option<String>,
    /// `--https-addr` (`off` disables the listener).
    pub https_addr: Option<String>,
    /// `--profile`.
    pub profile: Option<Profile>,
    /// `--log`.
    pub log: Option<String>,
}

impl Config {
    /// Builds the configuration from an optional file, the environment (`FERROCORE_*`
    /// variables in `env`) and flags.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let file_config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                Config::parse_file(&text, &path.display().to_string())?
            }
            None => FileConfig::default(),
        };
        let invalid = |origin: &str, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };

        let profile = match (&flags.profile, env.get("FERROCORE_PROFILE"), file_config.profile) {
            (Some(p), _, _) => *p,
            (None, Some(p), _) => p.parse().map_err(|m| invalid("FERROCORE_PROFILE", m))?,
            (None, None, Some(p)) => p,
            (None, None, None) => Profile::Aws,
        };
        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| env.get("FERROCORE_DATA_DIR").map(PathBuf::from))
            .or(file_config.data_dir)
            .unwrap_or_else(|| PathBuf::from("ferrocore-data"));
        let mqtt_addr = address(
            "mqtt_addr",
            [
                flags.mqtt_addr.clone(),
                env.get("FERROCORE_MQTT_ADDR").cloned(),
                file_config.mqtt_addr,
            ],
            SocketAddr::from(([127, 0, 0, 1], 1883)),
        )?;
        let api_addr = address(
            "api_addr",
            [flags.api_addr.clone(), env.get("FERROCORE_API_ADDR").cloned(), file_config.api_addr],
            SocketAddr::from(([127, 0, 0, 1], 9080)),
        )?;
        let mqtts_addr = address(
            "mqtts_addr",
            [
                flags.mqtts_addr.clone(),
                env.get("FERROCORE_MQTTS_ADDR").cloned(),
                file_config.mqtts_addr,
            ],
            SocketAddr::from(([0, 0, 0, 0], 8883)),
        )?;
        let https_addr = address(
            "https_addr",
            [
                flags.https_addr.clone(),
                env.get("FERROCORE_HTTPS_ADDR").cloned(),
                file_config.https_addr,
            ],
            SocketAddr::from(([0, 0, 0, 0], 8443)),
        )?;
        let host_names = match env.get("FERROCORE_TLS_HOST_NAMES") {
            Some(names) => names.split(',').map(|n| n.trim().to_owned()).collect(),
            None => file_config
                .tls_host_names
                .unwrap_or_else(|| vec!["localhost".to_owned(), "127.0.0.1".to_owned()]),
        };
        let cert_file =
            env.get("FERROCORE_TLS_CERT_FILE").map(PathBuf::from).or(file_config.tls_cert_file);
        let key_file =
            env.get("FERROCORE_TLS_KEY_FILE").map(PathBuf::from).or(file_config.tls_key_file);
        if cert_file.is_some() != key_file.is_some() {
            return Err(invalid(
                "tls_cert_file",
                "set both tls_cert_file and tls_key_file, or neither".into(),
            ));
        }
        let mqtt_policy_file = env
            .get("FERROCORE_MQTT_POLICY_FILE")
            .map(PathBuf::from)
            .or(file_config.mqtt_policy_file);
        if let Some(addr) = mqtt_addr
            && !addr.ip().is_loopback()
            && mqtt_policy_file.is_none()
        {
            return Err(invalid(
                "mqtt_addr",
                format!(
                    "the plain MQTT listener on {addr} is not a loopback address: set \
                     mqtt_policy_file to the policy its clients get, or use the TLS listeners"
                ),
            ));
        }
        let tls =
            TlsConfig { mqtts_addr, https_addr, host_names, cert_file, key_file, mqtt_policy_file };
        let region = env
            .get("FERROCORE_REGION")
            .cloned()
            .or(file_config.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let region_ok = !region.is_empty()
            && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(invalid(
                "region",
                format!("{region:?} is not a region name like us-east-1"),
            ));
        }
        let account_id = env
            .get("FERROCORE_ACCOUNT_ID")
            .cloned()
            .or(file_config.account_id)
            .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("account_id", format!("{account_id:?} is not 12 digits")));
        }
        let hostname = env
            .get("FERROCORE_HOSTNAME")
            .cloned()
            .or(file_config.hostname)
            .unwrap_or_else(|| "localhost".to_owned());
        let root_key = match (
            env.get("FERROCORE_ROOT_ACCESS_KEY_ID"),
            env.get("FERROCORE_ROOT_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some(RootKey { id: id.clone(), secret: secret.clone() }),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "FERROCORE_ROOT_ACCESS_KEY_ID",
                    "set both FERROCORE_ROOT_ACCESS_KEY_ID and FERROCORE_ROOT_SECRET_ACCESS_KEY, or neither".into(),
                ));
            }
        };
        let log = flags
            .log
            .clone()
            .or_else(|| env.get("FERROCORE_LOG").cloned())
            .or(file_config.log)
            .unwrap_or_else(|| "info".to_owned());
        let durability = match env.get("FERROCORE_DURABILITY") {
            Some(d) => toml::Value::String(d.clone())
                .try_into()
                .map_err(|e: toml::de::Error| invalid("FERROCORE_DURABILITY", e.to_string()))?,
            None => file_config.durability.unwrap_or_default(),
        };
        let session_sweep_interval = number(
            env,
            "FERROCORE_SESSION_SWEEP_INTERVAL",
            file_config.session_sweep_interval,
            10,
        )?;
        let park_idle_ms =
            number(env, "FERROCORE_PARK_IDLE_MS", file_config.park_idle_ms, DEFAULT_PARK_IDLE_MS)?;

        // Broker: the profile's defaults, then the file's [broker] table, then the environment.
        let mut broker_table = toml::Table::try_from(BrokerConfig::for_profile(profile))
            .map_err(|e| invalid("broker defaults", e.to_string()))?;
        for (key, value) in file_config.broker {
            broker_table.insert(key, value);
        }
        for (name, value) in env {
            if let Some(field) = name.strip_prefix("FERROCORE_BROKER_") {
                let parsed = parse_env_value(value);
                broker_table.insert(field.to_ascii_lowercase(), parsed);
            }
        }
        let rules = rules_settings(file_config.rules, env)?;
        let broker: BrokerConfig = broker_table
            .try_into()
            .map_err(|e: toml::de::Error| invalid("[broker]", e.to_string()))?;
        Ok(Config {
            data_dir,
            mqtt_addr,
            api_addr,
            tls,
            region,
            account_id,
            hostname,
            root_key,
            profile,
            log,
            durability,
            session_sweep_interval,
            park_idle_ms,
            broker,
            rules,
        })
    }

    fn parse_file(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
        toml::from_str(text)
            .map_err(|e| ConfigError::Invalid { origin: origin.to_owned(), message: e.to_string() })
    }
}

/// The default of [`Config::park_idle_ms`]: long enough that a connection busy with a flow
/// of messages never parks between them, short enough that idle ones soon shrink.
pub const DEFAULT_PARK_IDLE_MS: u64 = 100;

/// A number from the environment (`name`), else the file, else `default`.
fn number<T: std::str::FromStr>(
    env: &BTreeMap<String, String>,
    name: &str,
    file: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match env.get(name) {
        Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
            origin: name.to_owned(),
            message: format!("{text:?} is not a number"),
        }),
        None => Ok(file.unwrap_or(default)),
    }
}

/// A listener address: the first of `sources` given (flag, environment, file), `off` for none,
/// or `default`.
fn address(
    name: &str,
    sources: [Option<String>; 3],
    default: SocketAddr,
) -> Result<Option<SocketAddr>, ConfigError> {
    match sources.into_iter().flatten().next() {
        None => Ok(Some(default)),
        Some(s) if s == "off" => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|e| ConfigError::Invalid {
            origin: name.to_owned(),
            message: format!("{s:?}: {e}"),
        }),
    }
}

/// An environment value as TOML (numbers, booleans, inline tables), or else a string.
/// The rules engine's settings: `[rules]` in the file, `FERROCORE_RULES_<NAME>` in the
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesSettings {
    /// Where the S3 action writes objects (`<dir>/<bucket>/<key>`); `None`: `<data_dir>/s3`.
    pub s3_dir: Option<PathBuf>,
    /// An S3-compatible endpoint to use instead of the local directory.
    pub s3_endpoint: Option<String>,
    /// Messages each rule action may have waiting; more are dropped to the error action.
    pub queue_size: usize,
    /// Retries of a failed action before its rule's error action runs.
    pub retries: u32,
    /// Timeout of one HTTP action request (and destination confirmation), milliseconds.
    pub http_timeout_ms: u64,
}

impl Default for RulesSettings {
    fn default() -> RulesSettings {
        RulesSettings {
            s3_dir: None,
            s3_endpoint: None,
            queue_size: 1000,
            retries: 2,
            http_timeout_ms: 3000,
        }
    }
}

/// `[rules]` in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    s3_dir: Option<PathBuf>,
    s3_endpoint: Option<String>,
    queue_size: Option<usize>,
    retries: Option<u32>,
    http_timeout_ms: Option<u64>,
}

fn rules_settings(
    file: RulesFile,
    env: &BTreeMap<String, String>,
) -> Result<RulesSettings, ConfigError> {
    let defaults = RulesSettings::default();
    let settings = RulesSettings {
        s3_dir: env.get("FERROCORE_RULES_S3_DIR").map(PathBuf::from).or(file.s3_dir),
        s3_endpoint: env
            .get("FERROCORE_RULES_S3_ENDPOINT")
            .cloned()
            .or(file.s3_endpoint)
            .filter(|e| !e.is_empty()),
        queue_size: number(
            env,
            "FERROCORE_RULES_QUEUE_SIZE",
            file.queue_size,
            defaults.queue_size,
        )?,
        retries: number(env, "FERROCORE_RULES_RETRIES", file.retries, defaults.retries)?,
        http_timeout_ms: number(
            env,
            "FERROCORE_RULES_HTTP_TIMEOUT_MS",
            file.http_timeout_ms,
            defaults.http_timeout_ms,
        )?,
    };
    if settings.queue_size == 0 {
        return Err(ConfigError::Invalid {
            origin: "[rules] queue_size".into(),
            message: "must be at least 1".into(),
        });
    }
    Ok(settings)
}

fn parse_env_value(value: &str) -> toml::Value {
    let wrapped = format!("v = {value}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut table) => table.remove("v").unwrap_or_else(|| toml::Value::String(value.to_owned())),
        Err(_) => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let config = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("ferrocore-data"));
        assert_eq!(config.mqtt_addr, Some("127.0.0.1:1883".parse().unwrap()));
        assert_eq!(config.profile, Profile::Aws);
        assert_eq!(config.broker, BrokerConfig::default());
    }

    #[test]
    fn the_sample_file_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ferrocore.sample.toml");
        let config = Config::load(Some(&path), &env(&[]), &Overrides::default()).unwrap();
        let defaults = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config, defaults);
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\nmqtt_addr = \"127.0.0.1:1\"\nprofile = \"mqtt\"\n[broker]\nmax_payload_size = 10\nmaximum_qos = 1\n",
        )
        .unwrap();
        let from_file = Config::load(Some(&path), &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("/from/file"));
        assert_eq!(from_file.profile, Profile::Mqtt);
        assert_eq!(from_file.broker.max_payload_size, 10);
        assert_eq!(from_file.broker.maximum_qos, 1, "a field set in the file beats the profile");
        assert_eq!(
            from_file.broker.max_publishes_per_second, 0,
            "the profile's other defaults hold"
        );

        let e = env(&[
            ("FERROCORE_DATA_DIR", "/from/env"),
            ("FERROCORE_MQTT_ADDR", "127.0.0.1:2"),
            ("FERROCORE_BROKER_MAX_PAYLOAD_SIZE", "20"),
        ]);
        let from_env = Config::load(Some(&path), &e, &Overrides::default()).unwrap();
        assert_eq!(from_env.data_dir, PathBuf::from("/from/env"));
        assert_eq!(from_env.mqtt_addr, Some("127.0.0.1:2".parse().unwrap()));
        assert_eq!(from_env.broker.max_payload_size, 20);

        let flags = Overrides {
            data_dir: Some("/from/flag".into()),
            mqtt_addr: Some("off".into()),
            api_addr: Some("off".into()),
            profile: Some(Profile::Aws),
            ..Overrides::default()
        };
        let from_flags = Config::load(Some(&path), &e, &flags).unwrap();
        assert_eq!(from_flags.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(from_flags.mqtt_addr, None);
        assert_eq!(from_flags.api_addr, None);
        assert_eq!(from_flags.broker.max_publishes_per_second, 100, "aws profile from the flag");
    }

    #[test]
    fn parking_of_idle_connections_is_tunable() {
        let defaults = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(defaults.park_idle_ms, DEFAULT_PARK_IDLE_MS);
        let off = env(&[("FERROCORE_PARK_IDLE_MS", "0")]);
        assert_eq!(Config::load(None, &off, &Overrides::default()).unwrap().park_idle_ms, 0);
        let bad = env(&[("FERROCORE_PARK_IDLE_MS", "soon")]);
        assert!(Config::load(None, &bad, &Overrides::default()).is_err());
    }

    #[test]
    fn control_plane_settings() {
        let config = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.api_addr, Some("127.0.0.1:9080".parse().unwrap()));
        assert_eq!(
            (config.region.as_str(), config.account_id.as_str()),
            ("us-east-1", "000000000000")
        );
        assert_eq!(config.root_key, None);
        let e = env(&[
            ("FERROCORE_API_ADDR", "127.0.0.1:9999"),
            ("FERROCORE_REGION", "eu-west-1"),
            ("FERROCORE_ACCOUNT_ID", "123456789012"),
            ("FERROCORE_ROOT_ACCESS_KEY_ID", "AKIAROOTROOTROOTROOT"),
            ("FERROCORE_ROOT_SECRET_ACCESS_KEY", "root-secret"),
        ]);
        let config = Config::load(None, &e, &Overrides::default()).unwrap();
        assert_eq!(config.api_addr, Some("127.0.0.1:9999".parse().unwrap()));
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.account_id, "123456789012");
        let root = config.root_key.unwrap();
        assert_eq!(root.id, "AKIAROOTROOTROOTROOT");
        assert!(!format!("{root:?}").contains("root-secret"));

        let half = env(&[("FERROCORE_ROOT_ACCESS_KEY_ID", "AKIAROOTROOTROOTROOT")]);
        assert!(Config::load(None, &half, &Overrides::default()).is_err());
        for bad in [("FERROCORE_ACCOUNT_ID", "12345"), ("FERROCORE_REGION", "Not A Region")] {
            assert!(Config::load(None, &env(&[bad]), &Overrides::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn profile_from_environment() {
        let config =
            Config::load(None, &env(&[("FERROCORE_PROFILE", "mqtt")]), &Overrides::default())
                .unwrap();
        assert_eq!(config.broker.maximum_qos, 2);
        assert!(
            Config::load(None, &env(&[("FERROCORE_PROFILE", "x")]), &Overrides::default()).is_err()
        );
    }

    #[test]
    fn tls_settings() {
        let config = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.tls.mqtts_addr, Some("0.0.0.0:8883".parse().unwrap()));
        assert_eq!(config.tls.https_addr, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(config.tls.host_names, vec!["localhost", "127.0.0.1"]);
        let e = env(&[
            ("FERROCORE_MQTTS_ADDR", "off"),
            ("FERROCORE_HTTPS_ADDR", "127.0.0.1:9443"),
            ("FERROCORE_TLS_HOST_NAMES", "iot.example.com, 10.0.0.1"),
        ]);
        let config = Config::load(None, &e, &Overrides::default()).unwrap();
        assert_eq!(config.tls.mqtts_addr, None);
        assert_eq!(config.tls.https_addr, Some("127.0.0.1:9443".parse().unwrap()));
        assert_eq!(config.tls.host_names, vec!["iot.example.com", "10.0.0.1"]);
        let half = env(&[("FERROCORE_TLS_CERT_FILE", "/x.pem")]);
        assert!(Config::load(None, &half, &Overrides::default()).is_err());
    }

    #[test]
    fn a_plain_listener_off_loopback_needs_a_policy() {
        let open = env(&[("FERROCORE_MQTT_ADDR", "0.0.0.0:1883")]);
        let error = Config::load(None, &open, &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("mqtt_policy_file"), "{error}");
        let governed = env(&[
            ("FERROCORE_MQTT_ADDR", "0.0.0.0:1883"),
            ("FERROCORE_MQTT_POLICY_FILE", "/etc/ferrocore/plain-policy.json"),
        ]);
        let config = Config::load(None, &governed, &Overrides::default()).unwrap();
        assert!(config.tls.mqtt_policy_file.is_some());
    }

    #[test]
    fn rules_settings_from_file_and_environment() {
        let defaults = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(defaults.rules, RulesSettings::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "[rules]\nqueue_size = 5\nretries = 0\ns3_dir = \"/b\"\n").unwrap();
        let from_file = Config::load(Some(&path), &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(from_file.rules.queue_size, 5);
        assert_eq!(from_file.rules.retries, 0);
        assert_eq!(from_file.rules.s3_dir, Some(PathBuf::from("/b")));
        let e = env(&[
            ("FERROCORE_RULES_QUEUE_SIZE", "7"),
            ("FERROCORE_RULES_HTTP_TIMEOUT_MS", "100"),
            ("FERROCORE_RULES_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ]);
        let from_env = Config::load(Some(&path), &e, &Overrides::default()).unwrap();
        assert_eq!(from_env.rules.queue_size, 7);
        assert_eq!(from_env.rules.http_timeout_ms, 100);
        assert_eq!(from_env.rules.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let bad = env(&[("FERROCORE_RULES_RETRIES", "many")]);
        assert!(Config::load(None, &bad, &Overrides::default()).is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "[broker]\nno_such_limit = 1\n").unwrap();
        let error = Config::load(Some(&path), &env(&[]), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("no_such_limit"), "{error}");
    }
}
