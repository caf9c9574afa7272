//! Parsing and evaluating never panic, whatever the input: arbitrary strings, and valid policies
//! mutated byte by byte (which reach far deeper than random text).

use ferrocore_policy::{Action, Arns, Context, PolicyDocument, Request, evaluate};
use proptest::prelude::*;

const SEED_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iot:Connect","iot:Pub*"],"Resource":"arn:aws:iot:us-east-1:1:client/${iot:ClientId}",
  "Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Effect":"Deny","NotAction":"iot:Receive","NotResource":["arn:aws:iot:*:*:topic/${iot:Connection.Thing.ThingName}/?/*"],
  "Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"NumericEquals":{"k":3},"Null":{"iot:DomainName":"true"},
  "ArnLike":{"aws:SourceArn":"arn:aws:iot:*:*:rule/${*}"},"StringLikeIfExists":{"iot:Certificate.Subject.CommonName.List":"${$}x"}}}]}"#;

fn exercise(text: &str) {
    let Ok(document) = PolicyDocument::parse(text) else { return };
    let arns = Arns::new("us-east-1", "1");
    let context = Context {
        client_id: Some("c*".into()),
        source_ip: "10.1.2.3".parse().ok(),
        epoch_seconds: Some(1_800_000_000),
        ..Context::default()
    };
    for action in Action::ALL {
        let request = Request::new(action, arns.topic("a/b"));
        let _ = evaluate(&[&document], &request, &context);
        let _ = evaluate(&[&document], &Request::connect(&arns, "c*"), &Context::default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text(text in ".{0,300}") {
        exercise(&text);
    }

    #[test]
    fn mutated_policy(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = SEED_POLICY.as_bytes().to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let at = at % bytes.len();
            match op {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn structured_fragments(parts in proptest::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"Version\"", "\"2012-10-17\"", "\"Statement\"", "\"Effect\"",
        "\"Allow\"", "\"Deny\"", "\"Action\"", "\"NotAction\"", "\"Resource\"", "\"NotResource\"",
        "\"Condition\"", "\"StringLike\"", "\"ForAllValues:NumericLessThanIfExists\"", "\"Null\"",
        "\"*\"", "\"arn:${iot:ClientId}${\"", "\"${*}?*\"", "1e999", "true", "null", "\"aws:SourceIp\"",
        "\"::/0\"", "\"9999-99-99\"", "-1", "\"iot:*\"",
    ]), 0..60)) {
        exercise(&parts.concat());
    }
}

#[test]
fn the_seed_policy_is_valid() {
    assert!(PolicyDocument::parse(SEED_POLICY).is_ok());
}
