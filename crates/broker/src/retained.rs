//! The retained-message set: at most one message per topic.

use std::collections::HashMap;
use std::sync::Arc;

use ferrocore_mqtt::TopicFilter;

use crate::message::Message;

/// Retained messages by topic.
///
/// A filter without wildcards is one hash look-up; a wildcard filter scans the set, which is
/// fine for the sizes a device fleet keeps and is the first candidate for an index.
#[derive(Debug, Default)]
pub struct RetainedSet {
    by_topic: HashMap<Arc<str>, Arc<Message>>,
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

    /// Stores `message` for its topic, or deletes the topic's message when the payload is
    /// empty. Returns whether anything changed.
    pub fn apply(&mut self, message: Arc<Message>) -> bool {
        let topic: Arc<str> = Arc::from(message.topic.as_str());
        if message.payload.is_empty() {
            self.by_topic.remove(&topic).is_some()
        } else {
            self.by_topic.insert(topic, message);
            true
        }
    }

    /// The message retained for exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        self.by_topic.get(topic)
    }

    /// Retained messages matching `filter`, not expired at `now_ms`.
    pub fn matching(&self, filter: &TopicFilter, now_ms: u64) -> Vec<Arc<Message>> {
        if !filter.has_wildcards() {
            return self
                .by_topic
                .get(filter.as_str())
                .filter(|m| !m.is_expired(now_ms))
                .cloned()
                .into_iter()
                .collect();
        }
        let mut out: Vec<Arc<Message>> = self
            .by_topic
            .values()
            .filter(|m| !m.is_expired(now_ms) && filter.matches(m.topic.as_str()))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Every retained message, sorted by topic.
    pub fn all(&self) -> Vec<Arc<Message>> {
        let mut out: Vec<_> = self.by_topic.values().cloned().collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
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
        assert!(set.apply(msg("a/b", "1")));
        assert!(set.apply(msg("a/b", "2")));
        assert_eq!(set.len(), 1);
        assert_eq!(&set.get("a/b").unwrap().payload[..], b"2");
        assert!(set.apply(msg("a/b", "")));
        assert!(set.is_empty());
        assert!(!set.apply(msg("a/b", "")));
    }

    #[test]
    fn matching_honours_wildcards_and_dollar_topics() {
        let mut set = RetainedSet::new();
        for t in ["a/b", "a/c", "b/c", "$aws/x"] {
            set.apply(msg(t, "x"));
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
    }
}
