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
    /// Broker limits.
    pub broker: BrokerConfig,
}

/// The file's shape: every field optional, so a file states only what it changes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    mqtt_addr: Option<String>,
    api_addr: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    hostname: Option<String>,
    profile: Option<Profile>,
    log: Option<String>,
    durability: Option<Durability>,
    session_sweep_interval: Option<u64>,
    #[serde(default)]
    broker: toml::Table,
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
        let mqtt_addr = match flags
            .mqtt_addr
            .clone()
            .or_else(|| env.get("FERROCORE_MQTT_ADDR").cloned())
            .or(file_config.mqtt_addr)
        {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 1883))),
            Some(s) if s == "off" => None,
            Some(s) => Some(s.parse().map_err(|e| invalid("mqtt_addr", format!("{s:?}: {e}")))?),
        };
        let api_addr = match flags
            .api_addr
            .clone()
            .or_else(|| env.get("FERROCORE_API_ADDR").cloned())
            .or(file_config.api_addr)
        {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9080))),
            Some(s) if s == "off" => None,
            Some(s) => Some(s.parse().map_err(|e| invalid("api_addr", format!("{s:?}: {e}")))?),
        };
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
        let session_sweep_interval = match env.get("FERROCORE_SESSION_SWEEP_INTERVAL") {
            Some(s) => {
                s.parse().map_err(|_| invalid("FERROCORE_SESSION_SWEEP_INTERVAL", s.clone()))?
            }
            None => file_config.session_sweep_interval.unwrap_or(10),
        };

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
        let broker: BrokerConfig = broker_table
            .try_into()
            .map_err(|e: toml::de::Error| invalid("[broker]", e.to_string()))?;
        Ok(Config {
            data_dir,
            mqtt_addr,
            api_addr,
            region,
            account_id,
            hostname,
            root_key,
            profile,
            log,
            durability,
            session_sweep_interval,
            broker,
        })
    }

    fn parse_file(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
        toml::from_str(text)
            .map_err(|e| ConfigError::Invalid { origin: origin.to_owned(), message: e.to_string() })
    }
}

/// An environment value as TOML (numbers, booleans, inline tables), or else a string.
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
            log: None,
        };
        let from_flags = Config::load(Some(&path), &e, &flags).unwrap();
        assert_eq!(from_flags.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(from_flags.mqtt_addr, None);
        assert_eq!(from_flags.api_addr, None);
        assert_eq!(from_flags.broker.max_publishes_per_second, 100, "aws profile from the flag");
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
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "[broker]\nno_such_limit = 1\n").unwrap();
        let error = Config::load(Some(&path), &env(&[]), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("no_such_limit"), "{error}");
    }
}
