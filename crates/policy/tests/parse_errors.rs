//! What CreatePolicy refuses: one row per fault, each asserting the typed error and that its
//! message names the fault.

#![allow(clippy::unwrap_used)]

use ferrocore_policy::{MAX_POLICY_CHARS, PolicyDocument, PolicyError};

fn statement(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#)
}

const OK_STATEMENT: &str = r#"{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}"#;

#[test]
fn malformed_documents_name_their_fault() {
    type Check = fn(&PolicyError) -> bool;
    let rows: Vec<(&str, String, Check, &str)> = vec![
        ("empty", String::new(), |e| matches!(e, PolicyError::Empty), "empty"),
        ("whitespace only", " \n\t ".into(), |e| matches!(e, PolicyError::Empty), "empty"),
        (
            "invalid JSON",
            "{\"Version\":".into(),
            |e| matches!(e, PolicyError::InvalidJson { .. }),
            "not valid JSON",
        ),
        (
            "trailing garbage",
            format!("{} x", statement(OK_STATEMENT)),
            |e| matches!(e, PolicyError::InvalidJson { .. }),
            "not valid JSON",
        ),
        ("not an object", "[1,2]".into(), |e| matches!(e, PolicyError::NotAnObject), "JSON object"),
        (
            "unknown top element",
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#.into(),
            |e| matches!(e, PolicyError::UnknownTopElement(k) if k == "Extra"),
            "\"Extra\"",
        ),
        (
            "missing Version",
            format!(r#"{{"Statement":[{OK_STATEMENT}]}}"#),
            |e| matches!(e, PolicyError::MissingVersion),
            "no Version",
        ),
        (
            "old Version",
            format!(r#"{{"Version":"2008-10-17","Statement":[{OK_STATEMENT}]}}"#),
            |e| matches!(e, PolicyError::UnsupportedVersion(_)),
            "2008-10-17",
        ),
        (
            "Version not a string",
            format!(r#"{{"Version":20121017,"Statement":[{OK_STATEMENT}]}}"#),
            |e| matches!(e, PolicyError::UnsupportedVersion(_)),
            "20121017",
        ),
        (
            "Id not a string",
            format!(r#"{{"Version":"2012-10-17","Id":5,"Statement":[{OK_STATEMENT}]}}"#),
            |e| matches!(e, PolicyError::InvalidId),
            "Id",
        ),
        (
            "missing Statement",
            r#"{"Version":"2012-10-17"}"#.into(),
            |e| matches!(e, PolicyError::MissingStatement),
            "no Statement",
        ),
        (
            "empty Statement array",
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            |e| matches!(e, PolicyError::InvalidStatement),
            "Statement",
        ),
        (
            "Statement a string",
            r#"{"Version":"2012-10-17","Statement":"x"}"#.into(),
            |e| matches!(e, PolicyError::InvalidStatement),
            "Statement",
        ),
        (
            "statement not an object",
            statement(&format!("{OK_STATEMENT},7")),
            |e| matches!(e, PolicyError::StatementNotObject { statement: 1 }),
            "statement 1",
        ),
        (
            "Principal is not an IoT policy element",
            statement(r#"{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::UnknownElement { element, .. } if element == "Principal"),
            "\"Principal\"",
        ),
        (
            "misspelt element",
            statement(r#"{"Effect":"Allow","Actions":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::UnknownElement { element, .. } if element == "Actions"),
            "\"Actions\"",
        ),
        (
            "Sid not a string",
            statement(r#"{"Sid":1,"Effect":"Allow","Action":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidSid { .. }),
            "Sid",
        ),
        (
            "missing Effect",
            statement(r#"{"Action":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::MissingEffect { statement: 0 }),
            "no Effect",
        ),
        (
            "unknown Effect",
            statement(r#"{"Effect":"Permit","Action":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::UnknownEffect { .. }),
            "Permit",
        ),
        (
            "Effect is case-sensitive",
            statement(r#"{"Effect":"allow","Action":"iot:*","Resource":"*"}"#),
            |e| matches!(e, PolicyError::UnknownEffect { .. }),
            "allow",
        ),
        (
            "missing Action",
            statement(r#"{"Effect":"Allow","Resource":"*"}"#),
            |e| matches!(e, PolicyError::MissingAction { .. }),
            "no Action",
        ),
        (
            "Action a number",
            statement(r#"{"Effect":"Allow","Action":5,"Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidAction { element: "Action", .. }),
            "Action must be",
        ),
        (
            "Action array with a number",
            statement(r#"{"Effect":"Allow","Action":["iot:Publish",5],"Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidAction { .. }),
            "Action must be",
        ),
        (
            "Action empty array",
            statement(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidAction { .. }),
            "Action must be",
        ),
        (
            "Action empty string",
            statement(r#"{"Effect":"Allow","Action":"","Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidAction { .. }),
            "Action must be",
        ),
        (
            "NotAction an object",
            statement(r#"{"Effect":"Allow","NotAction":{},"Resource":"*"}"#),
            |e| matches!(e, PolicyError::InvalidAction { element: "NotAction", .. }),
            "NotAction must be",
        ),
        (
            "Action and NotAction",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","NotAction":"iot:Connect","Resource":"*"}"#,
            ),
            |e| matches!(e, PolicyError::Conflicting { element: "Action", .. }),
            "both Action and NotAction",
        ),
        (
            "missing Resource",
            statement(r#"{"Effect":"Allow","Action":"iot:*"}"#),
            |e| matches!(e, PolicyError::MissingResource { .. }),
            "no Resource",
        ),
        (
            "Resource a number",
            statement(r#"{"Effect":"Allow","Action":"iot:*","Resource":1}"#),
            |e| matches!(e, PolicyError::ResourceNotString { .. }),
            "Resource must be",
        ),
        (
            "Resource not an ARN",
            statement(r#"{"Effect":"Allow","Action":"iot:*","Resource":"topic/a"}"#),
            |e| matches!(e, PolicyError::InvalidResource { value, .. } if value == "topic/a"),
            "\"topic/a\"",
        ),
        (
            "NotResource not an ARN",
            statement(r#"{"Effect":"Allow","Action":"iot:*","NotResource":["*","x"]}"#),
            |e| matches!(e, PolicyError::InvalidResource { element: "NotResource", .. }),
            "NotResource \"x\"",
        ),
        (
            "Resource and NotResource",
            statement(r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","NotResource":"*"}"#),
            |e| matches!(e, PolicyError::Conflicting { element: "Resource", .. }),
            "both Resource and NotResource",
        ),
        (
            "unknown variable in Resource",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:1:topic/${iot:Thing.Name}"}"#,
            ),
            |e| matches!(e, PolicyError::UnknownVariable { variable, .. } if variable == "iot:Thing.Name"),
            "${iot:Thing.Name}",
        ),
        (
            "empty variable",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:1:topic/${}"}"#,
            ),
            |e| matches!(e, PolicyError::UnknownVariable { .. }),
            "unknown policy variable",
        ),
        (
            "unknown certificate attribute",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:1:topic/${iot:Certificate.Subject.Locality}"}"#,
            ),
            |e| matches!(e, PolicyError::UnknownVariable { .. }),
            "Locality",
        ),
        (
            "unknown variable in a condition value",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"${iot:Nope}"}}}"#,
            ),
            |e| matches!(e, PolicyError::UnknownVariable { .. }),
            "${iot:Nope}",
        ),
        (
            "Condition not an object",
            statement(r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":[]}"#),
            |e| matches!(e, PolicyError::InvalidCondition { operator: None, .. }),
            "Condition must be",
        ),
        (
            "condition block not an object",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":"x"}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidCondition { operator: Some(_), .. }),
            "StringEquals",
        ),
        (
            "unsupported operator",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringMatches":{"iot:ClientId":"x"}}}"#,
            ),
            |e| matches!(e, PolicyError::UnsupportedOperator { operator, .. } if operator == "StringMatches"),
            "\"StringMatches\"",
        ),
        (
            "operator names are case-sensitive",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"stringequals":{"iot:ClientId":"x"}}}"#,
            ),
            |e| matches!(e, PolicyError::UnsupportedOperator { .. }),
            "stringequals",
        ),
        (
            "NullIfExists does not exist",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"NullIfExists":{"iot:ClientId":"true"}}}"#,
            ),
            |e| matches!(e, PolicyError::UnsupportedOperator { .. }),
            "NullIfExists",
        ),
        (
            "unknown set qualifier",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"iot:ClientId":"x"}}}"#,
            ),
            |e| matches!(e, PolicyError::UnsupportedOperator { .. }),
            "ForSomeValues",
        ),
        (
            "condition value an object",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":{"a":1}}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "iot:ClientId",
        ),
        (
            "Numeric value not a number",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"NumericLessThan":{"k":"ten"}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "\"ten\" is not a number",
        ),
        (
            "Date value not a date",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "\"tomorrow\" is not an ISO 8601 date",
        ),
        (
            "Bool value not a boolean",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"yes"}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "\"yes\" is not true or false",
        ),
        (
            "IpAddress value not a CIDR",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "10.0.0.0/40",
        ),
        (
            "Null value not a boolean",
            statement(
                r#"{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"Null":{"iot:ClientId":"maybe"}}}"#,
            ),
            |e| matches!(e, PolicyError::InvalidConditionValue { .. }),
            "maybe",
        ),
    ];
    for (name, text, check, needle) in &rows {
        match PolicyDocument::parse(text) {
            Ok(_) => panic!("{name}: accepted\n{text}"),
            Err(e) => {
                assert!(check(&e), "{name}: wrong error {e:?}");
                let message = e.to_string();
                assert!(
                    message.contains(needle),
                    "{name}: message {message:?} does not name {needle:?}"
                );
                assert_eq!(e.aws_error_code(), "MalformedPolicyException");
            }
        }
    }
    println!("{} parse-error cases passed", rows.len());
}

#[test]
fn size_limit_counts_characters_without_whitespace() {
    // A document of exactly the limit is accepted; one more character is refused.
    let base = statement(
        r#"{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:1:topic/"}"#,
    );
    let pad = MAX_POLICY_CHARS - base.chars().count();
    let fits = base.replace("topic/", &format!("topic/{}", "a".repeat(pad)));
    assert_eq!(fits.chars().count(), MAX_POLICY_CHARS);
    assert!(PolicyDocument::parse(&fits).is_ok());
    // Whitespace does not count.
    let spaced = fits.replace(',', " ,\n\t ");
    assert!(PolicyDocument::parse(&spaced).is_ok());
    let over = base.replace("topic/", &format!("topic/{}", "a".repeat(pad + 1)));
    match PolicyDocument::parse(&over) {
        Err(PolicyError::TooLong { length, max }) => {
            assert_eq!((length, max), (MAX_POLICY_CHARS + 1, 2048));
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert!(PolicyDocument::parse(&over).unwrap_err().to_string().contains("2049"));
}

#[test]
fn valid_documents_parse() {
    for text in [
        statement(OK_STATEMENT),
        // Id and Sid, NotAction/NotResource, every operator family, IfExists, set qualifiers.
        r#"{"Version":"2012-10-17","Id":"p","Statement":[{"Sid":"s","Effect":"Deny","NotAction":["iot:Connect"],"NotResource":"arn:aws:iot:*:*:client/*",
          "Condition":{"StringLikeIfExists":{"iot:ClientId":"a*"},"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"LastWill"},
          "ForAllValues:StringNotEqualsIgnoreCase":{"iot:Certificate.Subject.Organization.List":"x"},"NumericGreaterThanEquals":{"k":1.5},
          "DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"Bool":{"aws:SecureTransport":true},"BinaryEquals":{"b":"AA=="},
          "NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"ArnNotLike":{"aws:SourceArn":"arn:aws:iot:*:*:rule/*"},"Null":{"iot:DomainName":"false"}}}]}"#.to_owned(),
        // Every documented variable.
        statement(r#"{"Effect":"Allow","Action":"iot:*","Resource":["arn:aws:iot:r:1:topic/${iot:ClientId}/${iot:DomainName}/${aws:SourceIp}",
          "arn:aws:iot:r:1:topic/${iot:Connection.Thing.ThingName}/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.Attributes[x y]}/${iot:Connection.Thing.IsAttached}",
          "arn:aws:iot:r:1:topic/${iot:Certificate.Subject.GenerationQualifier.3}/${iot:Certificate.Issuer.AlternativeName.IPAddress}/${iot:Certificate.SerialNumber}/${iot:Certificate.AvailableKeys}",
          "arn:aws:iot:r:1:topic/${*}${?}${$}/${cognito-identity.amazonaws.com:sub}"]}"#),
    ] {
        if let Err(e) = PolicyDocument::parse(&text) {
            panic!("refused a valid document: {e}\n{text}");
        }
    }
}
