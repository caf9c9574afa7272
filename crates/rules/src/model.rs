//! Topic rules as the API gives them: rule names, the `TopicRulePayload` and its actions,
//! validated and compiled (SQL parsed, substitution templates parsed). Pure.
//!
//! Supported actions are `republish`, `http` and `s3`. Any other member of AWS's `Action`
//! union is refused with `InvalidRequestException` naming it: a rule never looks accepted
//! while part of it would silently do nothing.

use std::sync::Arc;

use base64::Engine;
use ferrocore_sql::{SqlVersion, Statement};
use serde::Deserialize;

use crate::error::{RulesError, invalid};
use crate::template::Template;

/// The most actions a rule may have (`ActionList` max 10).
pub const MAX_ACTIONS: usize = 10;
/// The SQL version when `awsIotSqlVersion` is absent, as AWS documents it.
pub const DEFAULT_SQL_VERSION: &str = "2015-10-08";
/// The action members Ferrocore runs.
pub const SUPPORTED_ACTIONS: [&str; 3] = ["republish", "http", "s3"];

/// Checks a rule name: `^[a-zA-Z0-9_]+$`, 1 to 128 characters.
pub fn check_rule_name(name: &str) -> Result<(), RulesError> {
    let ok = (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'ruleName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$ and have length between 1 and 128"
        )))
    }
}

/// `TopicRulePayload`, typed; the JSON as given is kept beside it for GetTopicRule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadShape {
    sql: Option<String>,
    description: Option<String>,
    actions: Option<Vec<serde_json::Value>>,
    rule_disabled: Option<bool>,
    aws_iot_sql_version: Option<String>,
    error_action: Option<serde_json::Value>,
}

/// A validated, compiled topic rule payload.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The SQL text.
    pub sql: String,
    /// The description.
    pub description: Option<String>,
    /// Whether the rule is disabled.
    pub disabled: bool,
    /// `awsIotSqlVersion` (the default when absent).
    pub sql_version: String,
    /// The parsed statement.
    pub statement: Arc<Statement>,
    /// The actions, in order.
    pub actions: Vec<ActionSpec>,
    /// The error action.
    pub error_action: Option<ActionSpec>,
    /// The payload as given, with `ruleDisabled` and `awsIotSqlVersion` as stored.
    pub payload: serde_json::Value,
}

impl RuleSpec {
    /// Validates and compiles a `TopicRulePayload`.
    pub fn parse(payload: &serde_json::Value) -> Result<RuleSpec, RulesError> {
        let shape: PayloadShape = serde_json::from_value(payload.clone())
            .map_err(|e| invalid(format!("Invalid topicRulePayload: {e}")))?;
        let sql = shape.sql.ok_or_else(|| invalid("topicRulePayload.sql is required"))?;
        let actions =
            shape.actions.ok_or_else(|| invalid("topicRulePayload.actions is required"))?;
        if actions.len() > MAX_ACTIONS {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'topicRulePayload.actions' failed to satisfy constraint: Member must have length less than or equal to {MAX_ACTIONS}"
            )));
        }
        let sql_version = shape.aws_iot_sql_version.unwrap_or_else(|| DEFAULT_SQL_VERSION.into());
        let version = SqlVersion::parse(&sql_version).ok_or_else(|| {
            invalid(format!(
                "Invalid awsIotSqlVersion '{sql_version}': expected 2015-10-08, 2016-03-23 or beta"
            ))
        })?;
        let statement = Statement::parse(&sql, version).map_err(|e| {
            RulesError::SqlParse(format!("{} at position {}", e.message, e.position))
        })?;
        let actions =
            actions.iter().map(|a| ActionSpec::parse(a, version)).collect::<Result<Vec<_>, _>>()?;
        let error_action = match &shape.error_action {
            Some(a) => Some(ActionSpec::parse(a, version)?),
            None => None,
        };
        let disabled = shape.rule_disabled.unwrap_or(false);
        let mut stored = payload.clone();
        if let Some(object) = stored.as_object_mut() {
            object.insert("ruleDisabled".into(), disabled.into());
            object.insert("awsIotSqlVersion".into(), sql_version.clone().into());
        }
        Ok(RuleSpec {
            sql,
            description: shape.description,
            disabled,
            sql_version,
            statement: Arc::new(statement),
            actions,
            error_action,
            payload: stored,
        })
    }

    /// The FROM filter, if any.
    pub fn topic_pattern(&self) -> Option<&str> {
        self.statement.from_filter()
    }

    /// The HTTP actions' URLs that must match a confirmed destination (confirmation URL if
    /// given, else the URL's literal part).
    pub fn http_urls(&self) -> Vec<String> {
        self.actions
            .iter()
            .chain(self.error_action.as_ref())
            .filter_map(|a| match a {
                ActionSpec::Http(h) => Some(h.destination_key()),
                _ => None,
            })
            .collect()
    }

    /// Whether the statement may call `get_thing_shadow` (it then runs off the async threads).
    pub fn uses_shadow(&self) -> bool {
        self.sql.to_ascii_lowercase().contains("get_thing_shadow")
    }
}

/// One action of a rule, compiled.
#[derive(Debug, Clone)]
pub enum ActionSpec {
    /// `republish`.
    Republish(RepublishSpec),
    /// `http`.
    Http(HttpSpec),
    /// `s3`.
    S3(S3Spec),
}

impl ActionSpec {
    /// Parses one `Action`: exactly one member, and a supported one.
    pub fn parse(
        action: &serde_json::Value,
        version: SqlVersion,
    ) -> Result<ActionSpec, RulesError> {
        let object = action.as_object().ok_or_else(|| invalid("An action must be an object"))?;
        let present: Vec<&String> =
            object.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
        if let Some(unsupported) = present.iter().find(|k| !SUPPORTED_ACTIONS.contains(&k.as_str()))
        {
            return Err(invalid(format!(
                "The action '{unsupported}' is not supported by Ferrocore (supported: republish, http, s3)"
            )));
        }
        let [name] = present.as_slice() else {
            return Err(invalid("Each action must name exactly one action type"));
        };
        let body = &object[name.as_str()];
        let spec = match name.as_str() {
            "republish" => ActionSpec::Republish(RepublishSpec::parse(body, version)?),
            "http" => ActionSpec::Http(HttpSpec::parse(body, version)?),
            _ => ActionSpec::S3(S3Spec::parse(body, version)?),
        };
        Ok(spec)
    }

    /// AWS's name of the action in error payloads (`failedAction`).
    pub fn aws_name(&self) -> &'static str {
        match self {
            ActionSpec::Republish(_) => "RepublishAction",
            ActionSpec::Http(_) => "HttpAction",
            ActionSpec::S3(_) => "S3Action",
        }
    }
}

fn template(text: &str, field: &str, version: SqlVersion) -> Result<Template, RulesError> {
    Template::parse(text, version).map_err(|e| invalid(format!("{field}: {e}")))
}

fn string(body: &serde_json::Value, field: &str, action: &str) -> Result<String, RulesError> {
    match body.get(field) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        None | Some(serde_json::Value::Null) => {
            Err(invalid(format!("{action}.{field} is required")))
        }
        Some(_) => Err(invalid(format!("{action}.{field} must be a string"))),
    }
}

fn optional_string(
    body: &serde_json::Value,
    field: &str,
    action: &str,
) -> Result<Option<String>, RulesError> {
    match body.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{action}.{field} must be a string"))),
    }
}

/// The `republish` action.
#[derive(Debug, Clone)]
pub struct RepublishSpec {
    /// The topic template (`$$` already turned into `$`).
    pub topic: Template,
    /// 0 or 1.
    pub qos: u8,
    /// MQTT 5 headers.
    pub headers: MqttHeaders,
}

/// `MqttHeaders`: each value a substitution template.
#[derive(Debug, Clone, Default)]
pub struct MqttHeaders {
    /// `UNSPECIFIED_BYTES` or `UTF8_DATA`.
    pub payload_format_indicator: Option<Template>,
    /// Content type.
    pub content_type: Option<Template>,
    /// Response topic.
    pub response_topic: Option<Template>,
    /// Correlation data, base64 once rendered.
    pub correlation_data: Option<Template>,
    /// Message expiry in seconds, once rendered.
    pub message_expiry: Option<Template>,
    /// User properties.
    pub user_properties: Vec<(Template, Template)>,
}

/// Whether `topic` is one of the job topics that republish may not target.
pub fn is_job_topic(topic: &str) -> bool {
    let levels: Vec<&str> = topic.split('/').collect();
    matches!(levels.as_slice(), ["$aws", "things", _, "jobs", ..])
}

impl RepublishSpec {
    fn parse(body: &serde_json::Value, version: SqlVersion) -> Result<RepublishSpec, RulesError> {
        string(body, "roleArn", "republish")?;
        let raw = string(body, "topic", "republish")?;
        // AWS: write `$$aws/...` to target a reserved topic.
        let text = raw.strip_prefix("$$").map_or_else(|| raw.clone(), |rest| format!("${rest}"));
        if text.is_empty() {
            return Err(invalid("republish.topic must not be empty"));
        }
        if is_job_topic(&text) {
            return Err(invalid(format!(
                "republish.topic '{raw}': republishing to the reserved job topics is not allowed"
            )));
        }
        let topic = template(&text, "republish.topic", version)?;
        let qos = match body.get("qos") {
            None | Some(serde_json::Value::Null) => 0,
            Some(q) => match q.as_u64() {
                Some(0) => 0,
                Some(1) => 1,
                _ => return Err(invalid(format!("republish.qos must be 0 or 1, not {q}"))),
            },
        };
        let mut headers = MqttHeaders::default();
        if let Some(h) = body.get("headers").filter(|h| !h.is_null()) {
            let field = |name: &str| -> Result<Option<Template>, RulesError> {
                match optional_string(h, name, "republish.headers")? {
                    Some(text) if text.len() > 1024 => Err(invalid(format!(
                        "republish.headers.{name} must be at most 1024 characters"
                    ))),
                    Some(text) => Ok(Some(template(&text, name, version)?)),
                    None => Ok(None),
                }
            };
            headers.payload_format_indicator = field("payloadFormatIndicator")?;
            if let Some(pfi) = &headers.payload_format_indicator
                && pfi.is_literal()
                && !matches!(pfi.literal_prefix(), "UNSPECIFIED_BYTES" | "UTF8_DATA")
            {
                return Err(invalid(
                    "republish.headers.payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA",
                ));
            }
            headers.content_type = field("contentType")?;
            headers.response_topic = field("responseTopic")?;
            headers.correlation_data = field("correlationData")?;
            if let Some(c) = &headers.correlation_data
                && c.is_literal()
                && base64::engine::general_purpose::STANDARD.decode(c.literal_prefix()).is_err()
            {
                return Err(invalid("republish.headers.correlationData must be base64"));
            }
            headers.message_expiry = field("messageExpiry")?;
            if let Some(m) = &headers.message_expiry
                && m.is_literal()
                && m.literal_prefix().parse::<u32>().is_err()
            {
                return Err(invalid("republish.headers.messageExpiry must be a number of seconds"));
            }
            if let Some(list) = h.get("userProperties").filter(|l| !l.is_null()) {
                let list = list
                    .as_array()
                    .ok_or_else(|| invalid("republish.headers.userProperties must be a list"))?;
                if list.is_empty() || list.len() > 100 {
                    return Err(invalid(
                        "republish.headers.userProperties must have 1 to 100 entries",
                    ));
                }
                for entry in list {
                    let key = string(entry, "key", "userProperties")?;
                    let value = string(entry, "value", "userProperties")?;
                    headers.user_properties.push((
                        template(&key, "userProperties.key", version)?,
                        template(&value, "userProperties.value", version)?,
                    ));
                }
            }
        }
        Ok(RepublishSpec { topic, qos, headers })
    }
}

/// The `http` action.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The URL as written.
    pub url_text: String,
    /// The URL template.
    pub url: Template,
    /// The confirmation URL, if given.
    pub confirmation_url: Option<String>,
    /// Headers: literal keys, template values.
    pub headers: Vec<(String, Template)>,
}

impl HttpSpec {
    fn parse(body: &serde_json::Value, version: SqlVersion) -> Result<HttpSpec, RulesError> {
        let url_text = string(body, "url", "http")?;
        if url_text.len() > 2000 {
            return Err(invalid("http.url must be at most 2000 characters"));
        }
        let lower = url_text.to_ascii_lowercase();
        if !lower.starts_with("https://") && !lower.starts_with("http://") {
            return Err(invalid(format!("http.url '{url_text}' must be an HTTP(S) URL")));
        }
        if body.get("auth").is_some_and(|a| !a.is_null()) {
            return Err(invalid("http.auth (SigV4 signing) is not supported by Ferrocore"));
        }
        if body.get("enableBatching").and_then(serde_json::Value::as_bool) == Some(true) {
            return Err(invalid("http.enableBatching is not supported by Ferrocore"));
        }
        let url = template(&url_text, "http.url", version)?;
        let confirmation_url = optional_string(body, "confirmationUrl", "http")?;
        let mut headers = Vec::new();
        if let Some(list) = body.get("headers").filter(|l| !l.is_null()) {
            let list = list.as_array().ok_or_else(|| invalid("http.headers must be a list"))?;
            if list.len() > 100 {
                return Err(invalid("http.headers must have at most 100 entries"));
            }
            for entry in list {
                let key = string(entry, "key", "http.headers")?;
                if key.is_empty() || key.len() > 256 {
                    return Err(invalid("http.headers key must be 1 to 256 characters"));
                }
                let value = string(entry, "value", "http.headers")?;
                headers.push((key, template(&value, "http.headers.value", version)?));
            }
        }
        Ok(HttpSpec { url_text, url, confirmation_url, headers })
    }

    /// The URL a destination must be a prefix of: the confirmation URL if given, else the
    /// URL's text up to its first substitution template.
    pub fn destination_key(&self) -> String {
        self.confirmation_url.clone().unwrap_or_else(|| self.url.literal_prefix().to_owned())
    }
}

/// The `s3` action.
#[derive(Debug, Clone)]
pub struct S3Spec {
    /// The bucket.
    pub bucket: String,
    /// The key template.
    pub key: Template,
    /// The canned ACL (accepted, recorded, not enforced).
    pub canned_acl: Option<String>,
}

const CANNED_ACLS: [&str; 8] = [
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// Whether `name` is an S3 bucket name (3 to 63 of lowercase letters, digits, `.`, `-`).
pub fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..")
}

impl S3Spec {
    fn parse(body: &serde_json::Value, version: SqlVersion) -> Result<S3Spec, RulesError> {
        string(body, "roleArn", "s3")?;
        let bucket = string(body, "bucketName", "s3")?;
        if !valid_bucket_name(&bucket) {
            return Err(invalid(format!("s3.bucketName '{bucket}' is not a valid bucket name")));
        }
        let key_text = string(body, "key", "s3")?;
        if key_text.is_empty() {
            return Err(invalid("s3.key must not be empty"));
        }
        let key = template(&key_text, "s3.key", version)?;
        let canned_acl = optional_string(body, "cannedAcl", "s3")?;
        if let Some(acl) = &canned_acl
            && !CANNED_ACLS.contains(&acl.as_str())
        {
            return Err(invalid(format!("s3.cannedAcl '{acl}' is not a canned ACL")));
        }
        Ok(S3Spec { bucket, key, canned_acl })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn republish(topic: &str) -> serde_json::Value {
        json!({"republish": {"roleArn": "arn:aws:iam::000000000000:role/r", "topic": topic}})
    }

    #[test]
    fn rule_names() {
        for ok in ["a", "Rule_1", &"x".repeat(128)] {
            assert!(check_rule_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a-b", "a b", "règle", &"x".repeat(129)] {
            assert!(check_rule_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_valid_payload_compiles() {
        let spec = RuleSpec::parse(&json!({
            "sql": "SELECT * FROM 'a/+' WHERE t > 1",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [republish("out/${topic(2)}")],
            "errorAction": republish("errors"),
        }))
        .unwrap();
        assert_eq!(spec.topic_pattern(), Some("a/+"));
        assert_eq!(spec.actions.len(), 1);
        assert!(spec.error_action.is_some());
        assert!(!spec.disabled);
        assert_eq!(spec.payload["ruleDisabled"], json!(false));
    }

    #[test]
    fn the_default_sql_version_is_2015() {
        let spec = RuleSpec::parse(&json!({"sql": "SELECT * FROM 'a'", "actions": []})).unwrap();
        assert_eq!(spec.sql_version, "2015-10-08");
        assert_eq!(spec.payload["awsIotSqlVersion"], json!("2015-10-08"));
        let bad = RuleSpec::parse(
            &json!({"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": "2020"}),
        );
        assert!(matches!(bad, Err(RulesError::InvalidRequest(_))));
    }

    #[test]
    fn bad_sql_is_a_parse_error_with_its_position() {
        let error =
            RuleSpec::parse(&json!({"sql": "SELECT * FRM 'a'", "actions": []})).unwrap_err();
        match error {
            RulesError::SqlParse(message) => assert!(message.contains("position"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_actions_are_refused_by_name() {
        for action in [
            json!({"lambda": {"functionArn": "arn:aws:lambda:us-east-1:0:function:f"}}),
            json!({"sqs": {"roleArn": "r", "queueUrl": "q"}}),
            json!({"noSuchAction": {}}),
        ] {
            let name = action.as_object().unwrap().keys().next().unwrap().clone();
            let error = RuleSpec::parse(&json!({"sql": "SELECT * FROM 'a'", "actions": [action]}))
                .unwrap_err();
            match error {
                RulesError::InvalidRequest(m) => assert!(m.contains(&name), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        // In the error action too, and mixed with a supported one.
        let mixed =
            json!({"republish": {"roleArn": "r", "topic": "t"}, "lambda": {"functionArn": "f"}});
        assert!(RuleSpec::parse(&json!({"sql": "SELECT * FROM 'a'", "actions": [mixed]})).is_err());
        let error_action = json!({"sns": {"targetArn": "t", "roleArn": "r"}});
        assert!(
            RuleSpec::parse(
                &json!({"sql": "SELECT * FROM 'a'", "actions": [], "errorAction": error_action})
            )
            .is_err()
        );
        assert!(RuleSpec::parse(&json!({"sql": "SELECT * FROM 'a'", "actions": [{}]})).is_err());
    }

    #[test]
    fn at_most_ten_actions() {
        let actions: Vec<_> = (0..11).map(|_| republish("t")).collect();
        assert!(RuleSpec::parse(&json!({"sql": "SELECT * FROM 'a'", "actions": actions})).is_err());
    }

    #[test]
    fn republish_rules() {
        let parse = |a: serde_json::Value| ActionSpec::parse(&a, SqlVersion::default());
        assert!(parse(republish("$$aws/things/t/shadow/update")).is_ok());
        assert!(parse(republish("$$aws/things/t/jobs/notify")).is_err(), "job topics");
        assert!(parse(republish("ok/${topic(}")).is_err(), "broken template");
        assert!(parse(json!({"republish": {"topic": "t"}})).is_err(), "roleArn required");
        assert!(parse(json!({"republish": {"roleArn": "r", "topic": "t", "qos": 2}})).is_err());
        let with_headers = json!({"republish": {"roleArn": "r", "topic": "t", "headers": {
            "contentType": "application/json", "payloadFormatIndicator": "UTF8_DATA",
            "correlationData": "YWJj", "messageExpiry": "60",
            "userProperties": [{"key": "k", "value": "${topic()}"}]}}});
        let ActionSpec::Republish(spec) = parse(with_headers).unwrap() else { panic!() };
        assert_eq!(spec.headers.user_properties.len(), 1);
        let bad_pfi = json!({"republish": {"roleArn": "r", "topic": "t", "headers": {"payloadFormatIndicator": "x"}}});
        assert!(parse(bad_pfi).is_err());
        assert!(is_job_topic("$aws/things/t1/jobs/j/update"));
        assert!(!is_job_topic("$aws/things/t1/shadow/update"));
    }

    #[test]
    fn http_and_s3_rules() {
        let parse = |a: serde_json::Value| ActionSpec::parse(&a, SqlVersion::default());
        let ActionSpec::Http(http) =
            parse(json!({"http": {"url": "https://h/x/${topic()}", "headers": [{"key": "k", "value": "v"}]}}))
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(http.destination_key(), "https://h/x/");
        assert!(parse(json!({"http": {"url": "ftp://h"}})).is_err());
        assert!(
            parse(json!({"s3": {"roleArn": "r", "bucketName": "my-bucket", "key": "${topic()}"}}))
                .is_ok()
        );
        assert!(
            parse(json!({"s3": {"roleArn": "r", "bucketName": "Bad_Bucket", "key": "k"}})).is_err()
        );
        assert!(
            parse(json!({"s3": {"roleArn": "r", "bucketName": "b-1", "key": "k", "cannedAcl": "nope"}}))
                .is_err()
        );
    }
}
