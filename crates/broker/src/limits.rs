//! AWS IoT Core's topic rules on top of MQTT's: length, number of levels and the reserved
//! `$aws/` topics a client may publish to. Pure functions over strings.

use crate::config::BrokerConfig;

/// Why a topic is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicLimitError {
    /// Longer than the configured maximum.
    #[error("topic longer than {0} bytes")]
    TooLong(usize),
    /// More levels than the configured maximum.
    #[error("topic has more than {0} levels")]
    TooManyLevels(usize),
    /// A `$` topic a client may not publish to.
    #[error("reserved topic")]
    Reserved,
}

/// Strips the prefixes AWS does not count towards the level limit: `$share/{group}/` and
/// `$aws/rules/{rule}/`.
fn counted_part(topic: &str) -> &str {
    let mut rest = topic;
    if let Some(shared) = rest.strip_prefix("$share/") {
        rest = shared.split_once('/').map_or(shared, |(_, filter)| filter);
    }
    if let Some(ingest) = rest.strip_prefix("$aws/rules/") {
        rest = ingest.split_once('/').map_or("", |(_, topic)| topic);
    }
    rest
}

/// Checks a topic name or filter against the length and level limits.
pub fn check_topic(config: &BrokerConfig, topic: &str) -> Result<(), TopicLimitError> {
    let counted = counted_part(topic);
    if counted.len() > config.max_topic_length {
        return Err(TopicLimitError::TooLong(config.max_topic_length));
    }
    if let Some(max) = config.topic_levels_limit()
        && counted.split('/').count() > max
    {
        return Err(TopicLimitError::TooManyLevels(max));
    }
    Ok(())
}

/// Whether a client may publish to `topic`, a `$` topic or not. AWS reserves every topic
/// starting with `$`; clients may publish only to the request topics of its services.
pub fn client_may_publish(config: &BrokerConfig, topic: &str) -> bool {
    if !topic.starts_with('$') || !config.enforce_reserved_topics {
        return true;
    }
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["$aws", "rules", rule, _, ..] => !rule.is_empty(),
        ["$aws", "things", thing, "shadow", op] => !thing.is_empty() && is_shadow_op(op),
        ["$aws", "things", thing, "shadow", "name", shadow, op] => {
            !thing.is_empty() && !shadow.is_empty() && is_shadow_op(op)
        }
        ["$aws", "things", thing, "jobs", "get" | "start-next"] => !thing.is_empty(),
        ["$aws", "things", thing, "jobs", job, "get" | "update"] => {
            !thing.is_empty() && !job.is_empty()
        }
        ["$aws", "certificates", "create" | "create-from-csr", "json" | "cbor"] => true,
        ["$aws", "provisioning-templates", name, "provision", "json" | "cbor"] => !name.is_empty(),
        _ => false,
    }
}

fn is_shadow_op(op: &str) -> bool {
    matches!(op, "get" | "update" | "delete")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_levels_follow_aws() {
        let config = BrokerConfig::default();
        assert!(check_topic(&config, "a/b/c/d/e/f/g/h").is_ok());
        assert_eq!(
            check_topic(&config, "a/b/c/d/e/f/g/h/i"),
            Err(TopicLimitError::TooManyLevels(8))
        );
        assert!(check_topic(&config, "$aws/rules/r1/a/b/c/d/e/f/g/h").is_ok());
        assert!(check_topic(&config, "$share/g/a/b/c/d/e/f/g/h").is_ok());
        assert!(check_topic(&config, &"x".repeat(256)).is_ok());
        assert_eq!(check_topic(&config, &"x".repeat(257)), Err(TopicLimitError::TooLong(256)));
    }

    #[test]
    fn only_request_topics_are_publishable() {
        let config = BrokerConfig::default();
        for ok in [
            "a/b",
            "$aws/things/t1/shadow/update",
            "$aws/things/t1/shadow/name/s1/get",
            "$aws/things/t1/jobs/get",
            "$aws/things/t1/jobs/j1/update",
            "$aws/rules/myrule/x",
            "$aws/certificates/create/json",
            "$aws/provisioning-templates/tpl/provision/cbor",
        ] {
            assert!(client_may_publish(&config, ok), "{ok}");
        }
        for bad in [
            "$aws/things/t1/shadow/update/accepted",
            "$aws/things/t1/shadow/update/delta",
            "$aws/events/presence/connected/c1",
            "$aws/things/t1/jobs/notify",
            "$aws/rules/myrule",
            "$SYS/broker",
            "$anything",
        ] {
            assert!(!client_may_publish(&config, bad), "{bad}");
        }
    }
}
