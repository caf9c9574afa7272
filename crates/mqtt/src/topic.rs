//! Topic names and topic filters as validated newtypes, and wildcard matching.
//!
//! These are the rules of the MQTT specification (section 4.7). Limits that AWS IoT Core adds
//! on top (length, number of levels, reserved `$aws/` topics) belong to the broker's
//! configuration, not to the wire format.

use std::fmt;
use std::sync::Arc;

/// Why a string is not a valid topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Topic names and filters must be at least one character long [MQTT-4.7.3-1].
    #[error("topic is empty")]
    Empty,
    /// Longer than a UTF-8 string may be on the wire.
    #[error("topic is longer than 65535 bytes")]
    TooLong,
    /// Contains U+0000 [MQTT-4.7.3-2].
    #[error("topic contains a null character")]
    NullCharacter,
    /// A topic name contains `+` or `#` [MQTT-3.3.2-2].
    #[error("topic name contains a wildcard")]
    WildcardInName,
    /// `#` is not alone in the last level, or `+` is not alone in its level.
    #[error("wildcard must occupy a whole level, and '#' only the last one")]
    MisplacedWildcard,
    /// `$share/` without a share name, or a share name with a wildcard, or no filter after it.
    #[error("invalid shared subscription")]
    InvalidShare,
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    if s.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Whether `s` holds `+` or `#`. Byte by byte: both are ASCII, and no byte of a multi-byte
/// UTF-8 character is, so this is exact; a search for either of two `char`s decodes every
/// character instead (a few percent of a publish's CPU).
fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'+' | b'#'))
}

/// A topic name a message is published to: no wildcards. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(Arc<str>);

impl TopicName {
    /// Validates `s` as a topic name.
    pub fn new(s: &str) -> Result<TopicName, TopicError> {
        check_common(s)?;
        if has_wildcard(s) {
            return Err(TopicError::WildcardInName);
        }
        Ok(TopicName(Arc::from(s)))
    }

    /// The topic as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of levels (one more than the number of `/`).
    pub fn levels(&self) -> usize {
        self.0.split('/').count()
    }

    /// Whether this is a `$`-topic, which a leading wildcard does not match.
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A topic filter a client subscribes with: `+` and `#` allowed in whole levels.
/// A shared subscription's filter is the part after `$share/{group}/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(Arc<str>);

impl TopicFilter {
    /// Validates `s` as a topic filter (not a `$share/` one; see [`SharedFilter::parse`]).
    pub fn new(s: &str) -> Result<TopicFilter, TopicError> {
        check_common(s)?;
        let mut levels = s.split('/').peekable();
        while let Some(level) = levels.next() {
            let last = levels.peek().is_none();
            if level.contains('#') && (level != "#" || !last) {
                return Err(TopicError::MisplacedWildcard);
            }
            if level.contains('+') && level != "+" {
                return Err(TopicError::MisplacedWildcard);
            }
        }
        Ok(TopicFilter(Arc::from(s)))
    }

    /// The filter as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of levels.
    pub fn levels(&self) -> usize {
        self.0.split('/').count()
    }

    /// Whether the filter holds `+` or `#`.
    pub fn has_wildcards(&self) -> bool {
        has_wildcard(&self.0)
    }

    /// Whether `topic` matches this filter. A filter starting with a wildcard does not match a
    /// topic starting with `$` [MQTT-4.7.2-1]; `a/#` matches `a` as the specification says.
    pub fn matches(&self, topic: &str) -> bool {
        matches(&self.0, topic)
    }
}

/// Whether the filter string `filter` matches the topic name `topic` (both assumed valid).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subscription filter as written in SUBSCRIBE: plain, or shared (`$share/{group}/{filter}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedFilter {
    /// The share group, when the subscription is shared.
    pub group: Option<Arc<str>>,
    /// The filter messages are matched against.
    pub filter: TopicFilter,
}

impl SharedFilter {
    /// Parses a filter as written in SUBSCRIBE or UNSUBSCRIBE.
    pub fn parse(s: &str) -> Result<SharedFilter, TopicError> {
        if let Some(rest) = s.strip_prefix("$share/") {
            let (group, filter) = rest.split_once('/').ok_or(TopicError::InvalidShare)?;
            if group.is_empty() || has_wildcard(group) || filter.is_empty() {
                return Err(TopicError::InvalidShare);
            }
            Ok(SharedFilter { group: Some(Arc::from(group)), filter: TopicFilter::new(filter)? })
        } else {
            Ok(SharedFilter { group: None, filter: TopicFilter::new(s)? })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_wildcards_nulls_and_empty() {
        assert!(TopicName::new("a/b").is_ok());
        assert!(TopicName::new("/").is_ok());
        assert_eq!(TopicName::new(""), Err(TopicError::Empty));
        assert_eq!(TopicName::new("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new("a#"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new("a\0b"), Err(TopicError::NullCharacter));
        // Multi-byte characters around (and instead of) wildcards.
        assert!(TopicName::new("capteurs/été/温度/🌡").is_ok());
        assert_eq!(TopicName::new("été/+"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new("温度#"), Err(TopicError::WildcardInName));
        assert!(TopicFilter::new("été/+/温度/#").unwrap().has_wildcards());
        assert!(!TopicFilter::new("été/温度").unwrap().has_wildcards());
    }

    #[test]
    fn filters_need_whole_level_wildcards() {
        for ok in ["#", "+", "a/#", "a/+/b", "+/+", "/+", "$SYS/#", "a//b"] {
            assert!(TopicFilter::new(ok).is_ok(), "{ok}");
        }
        for bad in ["a#", "a/#/b", "a+", "a/b+/c", "##", ""] {
            assert!(TopicFilter::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_follows_the_specification() {
        let cases = [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "a/b", true),
            ("+", "a/b", false),
            ("+/+", "/a", true),
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("$aws/things/+/shadow/#", "$aws/things/t1/shadow/update", true),
            ("a/b", "a/c", false),
            ("a/+/c", "a//c", true),
        ];
        for (filter, topic, expected) in cases {
            assert_eq!(matches(filter, topic), expected, "{filter} vs {topic}");
        }
    }

    #[test]
    fn shared_filters_parse() {
        let s = SharedFilter::parse("$share/g1/a/+").unwrap();
        assert_eq!(s.group.as_deref(), Some("g1"));
        assert_eq!(s.filter.as_str(), "a/+");
        assert!(SharedFilter::parse("$share/g1").is_err());
        assert!(SharedFilter::parse("$share//a").is_err());
        assert!(SharedFilter::parse("$share/g+/a").is_err());
        assert_eq!(SharedFilter::parse("a/#").unwrap().group, None);
    }
}
