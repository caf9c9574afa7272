//! Broker settings: the AWS IoT Core limits as defaults, and the two profiles.
//!
//! The `aws` profile (default) behaves as AWS IoT Core: QoS at most 1, keep-alive clamped to
//! 30..=1200 s, and the per-connection quotas of the AWS documentation. The `mqtt` profile makes
//! Ferrocore a standard MQTT 5 broker: QoS 2, keep-alive as the client asks, and the AWS-only
//! quotas lifted. Every field can still be set on its own after the profile is applied.

use ferrocore_mqtt::QoS;
use serde::{Deserialize, Serialize};

/// Which behaviour the broker imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// AWS IoT Core's limits and choices.
    #[default]
    Aws,
    /// A standard MQTT 5 broker.
    Mqtt,
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "aws" => Ok(Profile::Aws),
            "mqtt" => Ok(Profile::Mqtt),
            other => Err(format!("unknown profile {other:?}: expected \"aws\" or \"mqtt\"")),
        }
    }
}

/// Everything the broker core needs to know about its limits. A limit of 0 means unlimited
/// where the field says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// Highest QoS granted and accepted (AWS: 1).
    pub maximum_qos: u8,
    /// Keep-alive values below this are raised to it (AWS: 30 s); 0 leaves them alone.
    pub keep_alive_min: u16,
    /// Keep-alive values above this, and 0, become this (AWS: 1200 s); 0 uses what the client
    /// asks for.
    pub keep_alive_max: u16,
    /// Largest PUBLISH or will payload in bytes (AWS: 128 KB).
    pub max_payload_size: usize,
    /// Largest topic name or filter in bytes (AWS: 256).
    pub max_topic_length: usize,
    /// Most levels in a topic name or filter (AWS: 8, that is 7 `/`); 0: unlimited.
    pub max_topic_levels: usize,
    /// Longest client identifier in bytes (AWS: 128).
    pub max_client_id_length: usize,
    /// Most filters in one SUBSCRIBE (AWS: 8); 0: unlimited.
    pub max_filters_per_subscribe: usize,
    /// Most subscriptions one session holds (AWS: 50); 0: unlimited.
    pub max_subscriptions_per_session: usize,
    /// Most PUBLISH packets a connection may send per second (AWS: 100); 0: unlimited.
    pub max_publishes_per_second: u32,
    /// Receive Maximum the server announces: QoS 1/2 publishes a client may have unacknowledged.
    pub receive_maximum: u16,
    /// Most QoS 1/2 deliveries in flight to one client (lowered by the client's own Receive
    /// Maximum).
    pub max_inflight: u16,
    /// Topic Alias Maximum the server announces (AWS: 8).
    pub topic_alias_maximum: u16,
    /// Session expiry interval in seconds for MQTT 3.1.1 persistent sessions and the upper
    /// bound for MQTT 5 ones (AWS default: 1 hour).
    pub session_expiry_interval: u32,
    /// Most messages queued for one session (offline or beyond the in-flight window); more
    /// are dropped and counted. Past a tenth of it, a connected subscriber holds its
    /// publishers back (they stop reading) until it drains.
    pub max_queued_messages: usize,
    /// Longest a publisher is held back by one congested subscriber, in milliseconds; a
    /// subscriber that has not drained by then is treated as slow and holds nobody back
    /// until it catches up (its queue limit applies instead).
    pub publisher_wait_ms: u64,
    /// Whether `$` topics are publishable only where AWS allows it.
    pub enforce_reserved_topics: bool,
    /// Whether lifecycle events (`$aws/events/presence/...`, `$aws/events/subscriptions/...`)
    /// are published, as AWS always does.
    pub lifecycle_events: bool,
}

impl Default for BrokerConfig {
    fn default() -> BrokerConfig {
        BrokerConfig::for_profile(Profile::Aws)
    }
}

fn limit(value: usize) -> Option<usize> {
    (value > 0).then_some(value)
}

impl BrokerConfig {
    /// The defaults of a profile.
    pub fn for_profile(profile: Profile) -> BrokerConfig {
        let aws = BrokerConfig {
            maximum_qos: 1,
            keep_alive_min: 30,
            keep_alive_max: 1200,
            max_payload_size: 128 * 1024,
            max_topic_length: 256,
            max_topic_levels: 8,
            max_client_id_length: 128,
            max_filters_per_subscribe: 8,
            max_subscriptions_per_session: 50,
            max_publishes_per_second: 100,
            receive_maximum: 100,
            max_inflight: 100,
            topic_alias_maximum: 8,
            session_expiry_interval: 3600,
            max_queued_messages: 10_000,
            publisher_wait_ms: 100,
            enforce_reserved_topics: true,
            lifecycle_events: true,
        };
        match profile {
            Profile::Aws => aws,
            Profile::Mqtt => BrokerConfig {
                maximum_qos: 2,
                keep_alive_min: 0,
                keep_alive_max: 0,
                max_topic_levels: 0,
                max_filters_per_subscribe: 0,
                max_subscriptions_per_session: 0,
                max_publishes_per_second: 0,
                ..aws
            },
        }
    }

    /// The highest QoS as a [`QoS`].
    pub fn max_qos(&self) -> QoS {
        match self.maximum_qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        }
    }

    /// The level limit, if any.
    pub fn topic_levels_limit(&self) -> Option<usize> {
        limit(self.max_topic_levels)
    }

    /// The filters-per-SUBSCRIBE limit, if any.
    pub fn filters_per_subscribe_limit(&self) -> Option<usize> {
        limit(self.max_filters_per_subscribe)
    }

    /// The subscriptions-per-session limit, if any.
    pub fn subscriptions_limit(&self) -> Option<usize> {
        limit(self.max_subscriptions_per_session)
    }

    /// The publish rate limit, if any.
    pub fn publish_rate_limit(&self) -> Option<u32> {
        (self.max_publishes_per_second > 0).then_some(self.max_publishes_per_second)
    }

    /// The largest packet the server accepts: the payload limit plus room for the longest
    /// topic and generous properties (AWS announces about 146 KiB).
    pub fn max_packet_size(&self) -> usize {
        self.max_payload_size + self.max_topic_length + 16 * 1024
    }

    /// The keep-alive the server uses for a client that asked for `requested` seconds.
    pub fn effective_keep_alive(&self, requested: u16) -> u16 {
        let raised = if requested == 0 { 0 } else { requested.max(self.keep_alive_min) };
        match self.keep_alive_max {
            0 => raised,
            max if raised == 0 || raised > max => max,
            _ => raised,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_keep_alive_is_clamped_as_documented() {
        let config = BrokerConfig::default();
        assert_eq!(config.effective_keep_alive(0), 1200);
        assert_eq!(config.effective_keep_alive(5), 30);
        assert_eq!(config.effective_keep_alive(60), 60);
        assert_eq!(config.effective_keep_alive(1200), 1200);
        assert_eq!(config.effective_keep_alive(4000), 1200);
    }

    #[test]
    fn mqtt_profile_lifts_aws_only_limits() {
        let config = BrokerConfig::for_profile(Profile::Mqtt);
        assert_eq!(config.max_qos(), QoS::ExactlyOnce);
        assert_eq!(config.effective_keep_alive(0), 0);
        assert_eq!(config.effective_keep_alive(5), 5);
        assert_eq!(config.publish_rate_limit(), None);
        assert_eq!(config.subscriptions_limit(), None);
        assert_eq!(config.filters_per_subscribe_limit(), None);
        assert_eq!(config.topic_levels_limit(), None);
        assert_eq!(config.max_payload_size, 128 * 1024);
    }
}
