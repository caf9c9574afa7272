//! AWS IoT lifecycle events: presence (`$aws/events/presence/{connected|disconnected}/{clientId}`)
//! and subscriptions (`$aws/events/subscriptions/{subscribed|unsubscribed}/{clientId}`), with
//! the payload fields AWS documents, and the per-client version numbers they carry.
//!
//! Payloads are built here as pure functions; the connection publishes them through the broker
//! like any other message, so subscribers (and later rules) see them with normal routing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ferrocore_mqtt::{QoS, TopicName};
use parking_lot::Mutex;
use serde_json::json;

use crate::message::Message;

/// How long a client's version number is remembered while it is offline (AWS resets it after
/// about an hour).
const VERSION_MEMORY_MS: u64 = 3_600_000;

/// What identifies one connection in its events.
#[derive(Debug, Clone)]
pub struct ConnectionIdentity {
    /// The client identifier.
    pub client_id: Arc<str>,
    /// A UUID for this connection, shared by its connected and disconnected events (kept as
    /// 16 bytes and formatted when an event is built: connections are many, events few).
    pub session_identifier: uuid::Uuid,
    /// Who authenticated (certificate id, access key, ...); `anonymous` on the development
    /// listener.
    pub principal_identifier: Cow<'static, str>,
    /// The client's address.
    pub ip_address: Option<IpAddr>,
    /// The version number shared by this connection's connected and disconnected events.
    pub version_number: u64,
}

/// Whether a client identifier gets lifecycle events: AWS sends none for ids holding MQTT
/// wildcards, which cannot be part of a topic name.
pub fn has_events(client_id: &str) -> bool {
    !client_id.contains(['#', '+', '/']) && !client_id.is_empty()
}

/// A new connection's session identifier: a version 4 UUID, unique in this process and
/// unpredictable across restarts, made without a system call (one per connection adds up in a
/// burst of connects): a counter, offset by a random key drawn once, through a bijective mix.
pub fn session_identifier() -> uuid::Uuid {
    static KEY: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (high_key, low_key) = *KEY.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let high = mix64(n ^ high_key);
    let low = mix64(n.wrapping_add(low_key));
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// SplitMix64's finalizer: a bijection of `u64` that spreads every input bit.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The topic of a presence event of `kind` (`connected` or `disconnected`).
pub fn presence_topic(kind: &str, client_id: &str) -> String {
    format!("$aws/events/presence/{kind}/{client_id}")
}

/// The `connected` presence event.
pub fn connected(id: &ConnectionIdentity, now_ms: u64) -> Option<Message> {
    let mut payload = json!({
        "clientId": &*id.client_id,
        "timestamp": now_ms,
        "eventType": "connected",
        "sessionIdentifier": id.session_identifier.to_string(),
        "principalIdentifier": &*id.principal_identifier,
        "versionNumber": id.version_number,
    });
    if let Some(ip) = id.ip_address {
        payload["ipAddress"] = json!(ip.to_string());
    }
    event(&presence_topic("connected", &id.client_id), &payload)
}

/// The `disconnected` presence event.
pub fn disconnected(
    id: &ConnectionIdentity,
    reason: &str,
    client_initiated: bool,
    now_ms: u64,
) -> Option<Message> {
    let payload = json!({
        "clientId": &*id.client_id,
        "timestamp": now_ms,
        "eventType": "disconnected",
        "clientInitiatedDisconnect": client_initiated,
        "sessionIdentifier": id.session_identifier.to_string(),
        "principalIdentifier": &*id.principal_identifier,
        "disconnectReason": reason,
        "versionNumber": id.version_number,
    });
    event(&presence_topic("disconnected", &id.client_id), &payload)
}

/// A `subscribed` or `unsubscribed` event for `topics`.
pub fn subscriptions(
    id: &ConnectionIdentity,
    subscribed: bool,
    topics: &[String],
    now_ms: u64,
) -> Option<Message> {
    let kind = if subscribed { "subscribed" } else { "unsubscribed" };
    let payload = json!({
        "clientId": &*id.client_id,
        "timestamp": now_ms,
        "eventType": kind,
        "sessionIdentifier": id.session_identifier.to_string(),
        "principalIdentifier": &*id.principal_identifier,
        "topics": topics,
    });
    event(&format!("$aws/events/subscriptions/{kind}/{}", id.client_id), &payload)
}

fn event(topic: &str, payload: &serde_json::Value) -> Option<Message> {
    let topic = TopicName::new(topic).ok()?;
    let body = serde_json::to_vec(payload).ok()?;
    Some(Message::new(topic, Bytes::from(body), QoS::AtLeastOnce, false))
}

/// A client identifier's lifecycle-event version number: one more for every connection,
/// starting again from 1 when the client was not seen for an hour. A session keeps its
/// client's; [`Versions`] keeps those of clients whose session ended.
///
/// Packed to 4-byte alignment: 12 bytes instead of 16 in every session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, packed(4))]
pub struct Version {
    number: u32,
    /// When the client was last seen: its last connection's start while it is connected,
    /// its last disconnection after.
    seen_ms: u64,
}

impl Version {
    /// The version number of a new connection.
    pub fn next(&mut self, now_ms: u64) -> u64 {
        if now_ms.saturating_sub(self.seen_ms) > VERSION_MEMORY_MS {
            self.number = 0;
        }
        self.number = self.number.saturating_add(1);
        self.seen_ms = now_ms;
        u64::from(self.number)
    }

    /// Notes that the client was seen (at disconnect), for the reset clock.
    pub fn seen(&mut self, now_ms: u64) {
        if self.number > 0 {
            self.seen_ms = now_ms;
        }
    }

    /// When the client was last seen, if it ever had a version number.
    pub fn last_seen(&self) -> Option<u64> {
        (self.number > 0).then_some(self.seen_ms)
    }
}

/// The version numbers of clients whose session ended, until they connect again or are not
/// seen for an hour. Connected clients keep theirs in their session, so an idle connection
/// costs no entry here.
#[derive(Debug, Default)]
pub struct Versions {
    by_client: Mutex<HashMap<Arc<str>, Version>>,
}

impl Versions {
    /// Keeps the version of `client_id`, whose session ended.
    pub fn keep(&self, client_id: &Arc<str>, version: Version) {
        if version.number > 0 {
            self.by_client.lock().insert(Arc::clone(client_id), version);
        }
    }

    /// Takes the version of `client_id` back for its new session (a default one if none).
    pub fn take(&self, client_id: &str) -> Version {
        self.by_client.lock().remove(client_id).unwrap_or_default()
    }

    /// How many clients' versions are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_client.lock().len()
    }

    /// Forgets clients not seen for an hour.
    pub fn sweep(&self, now_ms: u64) {
        self.by_client
            .lock()
            .retain(|_, version| now_ms.saturating_sub(version.seen_ms) <= VERSION_MEMORY_MS);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn identity() -> ConnectionIdentity {
        ConnectionIdentity {
            client_id: Arc::from("dev-1"),
            session_identifier: uuid::Uuid::nil(),
            principal_identifier: Cow::Borrowed("anonymous"),
            ip_address: Some("127.0.0.1".parse().unwrap()),
            version_number: 3,
        }
    }

    #[test]
    fn session_identifiers_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<uuid::Uuid> =
            (0..10_000).map(|_| session_identifier()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.get_version(), Some(uuid::Version::Random));
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
    }

    fn body(message: &Message) -> serde_json::Value {
        serde_json::from_slice(&message.payload).unwrap()
    }

    #[test]
    fn presence_payloads_carry_aws_fields() {
        let c = connected(&identity(), 1000).unwrap();
        assert_eq!(c.topic.as_str(), "$aws/events/presence/connected/dev-1");
        let b = body(&c);
        assert_eq!(b["eventType"], "connected");
        assert_eq!(b["ipAddress"], "127.0.0.1");
        assert_eq!(b["versionNumber"], 3);
        assert_eq!(b["timestamp"], 1000);
        let d = disconnected(&identity(), "CONNECTION_LOST", false, 2000).unwrap();
        assert_eq!(d.topic.as_str(), "$aws/events/presence/disconnected/dev-1");
        let b = body(&d);
        assert_eq!(b["disconnectReason"], "CONNECTION_LOST");
        assert_eq!(b["clientInitiatedDisconnect"], false);
        assert_eq!(b["versionNumber"], 3);
        assert!(b.get("ipAddress").is_none());
    }

    #[test]
    fn subscription_payloads_list_topics() {
        let s = subscriptions(&identity(), true, &["a/b".into(), "c/#".into()], 5).unwrap();
        assert_eq!(s.topic.as_str(), "$aws/events/subscriptions/subscribed/dev-1");
        assert_eq!(body(&s)["topics"], json!(["a/b", "c/#"]));
        let u = subscriptions(&identity(), false, &["a/b".into()], 5).unwrap();
        assert_eq!(u.topic.as_str(), "$aws/events/subscriptions/unsubscribed/dev-1");
    }

    #[test]
    fn versions_grow_per_connection_and_reset_after_an_hour() {
        let mut v = Version::default();
        assert_eq!(v.last_seen(), None);
        v.seen(5);
        assert_eq!(v.last_seen(), None, "never connected with events");
        assert_eq!(v.next(0), 1);
        assert_eq!(v.next(10), 2);
        assert_eq!(v.last_seen(), Some(10));
        v.seen(20);
        assert_eq!(v.next(20 + VERSION_MEMORY_MS), 3);
        v.seen(30 + VERSION_MEMORY_MS);
        assert_eq!(v.next(31 + 2 * VERSION_MEMORY_MS), 1);
    }

    #[test]
    fn ended_sessions_leave_their_version_for_an_hour() {
        let versions = Versions::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let mut version = Version::default();
        version.next(0);
        version.next(10);
        versions.keep(&a, version);
        versions.keep(&b, Version::default());
        assert_eq!(versions.len(), 1, "nothing kept without a number");
        let mut back = versions.take("a");
        assert_eq!(back.next(20), 3);
        assert_eq!(versions.take("a"), Version::default(), "taken once");
        versions.keep(&a, back);
        versions.sweep(20 + VERSION_MEMORY_MS);
        assert_eq!(versions.len(), 1);
        versions.sweep(21 + VERSION_MEMORY_MS);
        assert_eq!(versions.len(), 0);
    }

    #[test]
    fn wildcard_client_ids_get_no_events() {
        assert!(has_events("dev-1"));
        assert!(!has_events("a+b"));
        assert!(!has_events("a#"));
    }
}
