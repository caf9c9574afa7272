//! Which shadow a request names: thing and shadow names (validated per AWS), the request
//! topics and the response topics.
//!
//! Topic layout ("Device Shadow MQTT topics",
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html>): the prefix
//! is `$aws/things/{thing}/shadow` (classic) or `$aws/things/{thing}/shadow/name/{shadow}`
//! (named); requests go to `{prefix}/{get,update,delete}`, answers to `.../accepted`,
//! `.../rejected`, `update/delta` and `update/documents`. Name rules come from botocore's
//! `iot-data` model: `ThingName` `[a-zA-Z0-9:_-]+`, 1..128; `ShadowName` `[$a-zA-Z0-9:_-]+`,
//! 1..64.

use std::fmt;

use crate::error::ShadowError;

/// The longest thing name.
pub const MAX_THING_NAME: usize = 128;
/// The longest shadow name.
pub const MAX_SHADOW_NAME: usize = 64;

/// One shadow: a thing's classic shadow (`shadow: None`) or one of its named shadows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShadowId {
    /// The thing name.
    pub thing: String,
    /// The shadow name; `None` for the classic (unnamed) shadow.
    pub shadow: Option<String>,
}

/// A shadow operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `get`.
    Get,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
}

impl Operation {
    /// The topic level of the operation.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    fn parse(level: &str) -> Option<Operation> {
        match level {
            "get" => Some(Operation::Get),
            "update" => Some(Operation::Update),
            "delete" => Some(Operation::Delete),
            _ => None,
        }
    }
}

impl ShadowId {
    /// The classic shadow of `thing`, validated.
    pub fn classic(thing: &str) -> Result<ShadowId, ShadowError> {
        ShadowId::new(thing, None)
    }

    /// The classic shadow (`shadow: None`) or a named shadow of `thing`, validated.
    pub fn new(thing: &str, shadow: Option<&str>) -> Result<ShadowId, ShadowError> {
        if !valid_thing_name(thing) {
            return Err(ShadowError::invalid_name("thing name"));
        }
        if let Some(shadow) = shadow
            && !valid_shadow_name(shadow)
        {
            return Err(ShadowError::invalid_name("shadow name"));
        }
        Ok(ShadowId { thing: thing.to_owned(), shadow: shadow.map(str::to_owned) })
    }

    /// The topic prefix: `$aws/things/{thing}/shadow[/name/{shadow}]`.
    pub fn topic_prefix(&self) -> String {
        match &self.shadow {
            Some(shadow) => format!("$aws/things/{}/shadow/name/{shadow}", self.thing),
            None => format!("$aws/things/{}/shadow", self.thing),
        }
    }

    /// The name stored in the `shadow_name` column: `''` for the classic shadow.
    pub fn stored_shadow_name(&self) -> &str {
        self.shadow.as_deref().unwrap_or("")
    }
}

impl fmt::Display for ShadowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shadow {
            Some(shadow) => write!(f, "{}/{shadow}", self.thing),
            None => f.write_str(&self.thing),
        }
    }
}

/// A request topic split into its parts, before the names are validated: the prefix (to
/// answer on) and the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTopic<'a> {
    /// The thing name as it appears in the topic.
    pub thing: &'a str,
    /// The shadow name, for a named shadow.
    pub shadow: Option<&'a str>,
    /// The operation.
    pub operation: Operation,
    /// `$aws/things/{thing}/shadow[/name/{shadow}]`, as published.
    pub prefix: &'a str,
}

impl<'a> RequestTopic<'a> {
    /// Splits a request topic; `None` for any other topic.
    pub fn parse(topic: &'a str) -> Option<RequestTopic<'a>> {
        let (prefix, op) = topic.rsplit_once('/')?;
        let operation = Operation::parse(op)?;
        let levels: Vec<&str> = prefix.split('/').collect();
        let (thing, shadow) = match levels.as_slice() {
            ["$aws", "things", thing, "shadow"] => (*thing, None),
            ["$aws", "things", thing, "shadow", "name", shadow] => (*thing, Some(*shadow)),
            _ => return None,
        };
        Some(RequestTopic { thing, shadow, operation, prefix })
    }

    /// The validated shadow id.
    pub fn id(&self) -> Result<ShadowId, ShadowError> {
        ShadowId::new(self.thing, self.shadow)
    }
}

/// Whether `name` is a valid thing name: `[a-zA-Z0-9:_-]+`, at most 128 bytes.
pub fn valid_thing_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_THING_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
}

/// Whether `name` is a valid shadow name: `[$a-zA-Z0-9:_-]+`, at most 64 bytes.
pub fn valid_shadow_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SHADOW_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b':' | b'_' | b'-'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_topics_parse() {
        let t = RequestTopic::parse("$aws/things/t1/shadow/update").unwrap();
        assert_eq!((t.thing, t.shadow, t.operation), ("t1", None, Operation::Update));
        assert_eq!(t.prefix, "$aws/things/t1/shadow");
        let t = RequestTopic::parse("$aws/things/t1/shadow/name/s-1/get").unwrap();
        assert_eq!((t.thing, t.shadow, t.operation), ("t1", Some("s-1"), Operation::Get));
        assert!(RequestTopic::parse("$aws/things/t1/shadow/update/accepted").is_none());
        assert!(RequestTopic::parse("$aws/things/t1/shadow/name/s/update/delta").is_none());
        assert!(RequestTopic::parse("$aws/things/t1/jobs/get").is_none());
    }

    #[test]
    fn names_follow_aws_patterns() {
        assert!(valid_thing_name("a:b_c-D9"));
        assert!(!valid_thing_name(""));
        assert!(!valid_thing_name("a b"));
        assert!(!valid_thing_name("a$b"));
        assert!(valid_thing_name(&"x".repeat(128)));
        assert!(!valid_thing_name(&"x".repeat(129)));
        assert!(valid_shadow_name("$cfg"));
        assert!(valid_shadow_name(&"x".repeat(64)));
        assert!(!valid_shadow_name(&"x".repeat(65)));
        assert_eq!(ShadowId::new("t", Some("a.b")).unwrap_err().code, 400);
    }
}
