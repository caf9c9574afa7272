//! The payload a rule's error action receives, as AWS documents it ("Error action message
//! format"): one document per rule and message, listing the actions that failed. Pure.

use base64::Engine;
use serde::Serialize;

/// One failed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// AWS's action name, such as `S3Action`.
    pub failed_action: String,
    /// What it acted on: the topic, URL or bucket.
    pub failed_resource: String,
    /// Why it failed.
    pub error_message: String,
}

/// The error action's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPayload {
    /// The rule.
    pub rule_name: String,
    /// The topic the message was published to.
    pub topic: String,
    /// The message's trace id (`traceid()`).
    pub cloudwatch_trace_id: String,
    /// The publisher's client id (`n/a` for messages from services).
    pub client_id: String,
    /// The original payload, base64.
    pub base64_original_payload: String,
    /// The failed actions.
    pub failures: Vec<Failure>,
}

impl ErrorPayload {
    /// The payload for `failures` of rule `rule_name` on a message.
    pub fn new(
        rule_name: &str,
        topic: &str,
        trace_id: &str,
        client_id: Option<&str>,
        original: &[u8],
        failures: Vec<Failure>,
    ) -> ErrorPayload {
        ErrorPayload {
            rule_name: rule_name.to_owned(),
            topic: topic.to_owned(),
            cloudwatch_trace_id: trace_id.to_owned(),
            client_id: client_id.unwrap_or("n/a").to_owned(),
            base64_original_payload: base64::engine::general_purpose::STANDARD.encode(original),
            failures,
        }
    }

    /// The JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_have_aws_names() {
        let payload = ErrorPayload::new(
            "r1",
            "a/b",
            "trace-1",
            Some("dev1"),
            b"hello",
            vec![Failure {
                failed_action: "HttpAction".into(),
                failed_resource: "http://h".into(),
                error_message: "refused".into(),
            }],
        );
        let json: serde_json::Value = serde_json::from_slice(&payload.to_bytes()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ruleName": "r1",
                "topic": "a/b",
                "cloudwatchTraceId": "trace-1",
                "clientId": "dev1",
                "base64OriginalPayload": "aGVsbG8=",
                "failures": [{"failedAction": "HttpAction", "failedResource": "http://h", "errorMessage": "refused"}],
            })
        );
        assert_eq!(ErrorPayload::new("r", "t", "x", None, b"", vec![]).client_id, "n/a");
    }
}
