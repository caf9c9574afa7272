//! The retained-message set: at most one message per topic, with when it was stored.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use ferrocore_mqtt::TopicFilter;

use crate::message::Message;

/// Retained messages by topic, in topic order, each with the time it was stored (ms since the
/// epoch).
///
/// A filter without wildcards is one look-up; a wildcard filter scans the set, which is fine
/// for the sizes a device fleet keeps and is the first candidate for an index. Topic order
/// makes listings resumable from the last topic seen.
#[derive(Debug, Default)]
pub struct RetainedSet {
    by_topic: BTreeMap<Arc<str>, (Arc<Message>, u64)>,
}

impl RetainedSet {
    /// An empty set.
    pub fn new() -> RetainedSet {
        RetainedSet::default()
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// Stores `message` for its topic as of `at_ms`, or deletes the topic's message when the
    /// payload is empty. Returns whether anything changed.
    pub fn apply(&mut self, message: Arc<Message>, at_ms: u64) -> bool {
        if message.payload.is_empty() {
            self.by_topic.remove(message.topic.as_str()).is_some()
        } else {
            self.by_topic.insert(Arc::from(message.topic.as_str()), (message, at_ms));
            true
        }
    }

    /// The message retained for exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        self.by_topic.get(topic).map(|(message, _)| message)
    }

    /// The message retained for exactly `topic` and when it was stored.
    pub fn entry(&self, topic: &str) -> Option<(&Arc<Message>, u64)> {
        self.by_topic.get(topic).map(|(message, at)| (message, *at))
    }

    /// Up to `limit` messages not expired at `now_ms`, in topic order, after topic `after`.
    pub fn page(&self, after: Option<&str>, limit: usize, now_ms: u64) -> Vec<(Arc<Message>, u64)> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_topic
            .range::<str, _>((start, Bound::Unbounded))
            .filter(|(_, (message, _))| !message.is_expired(now_ms))
            .take(limit)
            .map(|(_, (message, at))| (Arc::clone(message), *at))
            .collect()
    }

    /// Retained messages matching `filter`, not expired at `now_ms`.
    pub fn matching(&self, filter: &TopicFilter, now_ms: u64) -> Vec<Arc<Message>> {
        if !filter.has_wildcards() {
            return self
                .get(filter.as_str())
                .filter(|m| !m.is_expired(now_ms))
                .cloned()
                .into_iter()
                .collect();
        }
        self.by_topic
            .values()
            .map(|(message, _)| message)
            .filter(|m| !m.is_expired(now_ms) && filter.matches(m.topic.as_str()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ferrocore_mqtt::{QoS, TopicName};

    fn msg(topic: &str, payload: &'static str) -> Arc<Message> {
        Arc::new(Message::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(payload.as_bytes()),
            QoS::AtMostOnce,
            true,
        ))
    }

    #[test]
    fn replace_and_delete_by_empty_payload() {
        let mut set = RetainedSet::new();
        assert!(set.apply(msg("a/b", "1"), 1));
        assert!(set.apply(msg("a/b", "2"), 2));
        assert_eq!(set.len(), 1);
        assert_eq!(&set.get("a/b").unwrap().payload[..], b"2");
        assert_eq!(set.entry("a/b").map(|(_, at)| at), Some(2));
        assert!(set.apply(msg("a/b", ""), 3));
        assert!(set.is_empty());
        assert!(!set.apply(msg("a/b", ""), 4));
    }

    #[test]
    fn matching_honours_wildcards_and_dollar_topics() {
        let mut set = RetainedSet::new();
        for t in ["a/b", "a/c", "b/c", "$aws/x"] {
            set.apply(msg(t, "x"), 0);
        }
        let topics = |f: &str| -> Vec<String> {
            set.matching(&TopicFilter::new(f).unwrap(), 0)
                .iter()
                .map(|m| m.topic.to_string())
                .collect()
        };
        assert_eq!(topics("a/+"), vec!["a/b", "a/c"]);
        assert_eq!(topics("#"), vec!["a/b", "a/c", "b/c"]);
        assert_eq!(topics("$aws/#"), vec!["$aws/x"]);
        assert_eq!(topics("b/c"), vec!["b/c"]);
        let page: Vec<String> =
            set.page(Some("a/b"), 2, 0).iter().map(|(m, _)| m.topic.to_string()).collect();
        assert_eq!(page, vec!["a/c", "b/c"]);
    }
}
