//! The evaluator's rules, one table row each: policy JSON, request, context, expected decision.
//!
//! Rows are grouped as the rules are: effects and default deny, actions, resources and
//! wildcards, policy variables, conditions. Every row states the rule it checks in its name.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use ferrocore_policy::{
    Action, AltNameKind, Arns, AuthDecision, CertificateContext, Context, DistinguishedName,
    DnAttribute, PolicyDocument, Request, evaluate,
};

const PREFIX: &str = "arn:aws:iot:us-east-1:123456789012:";

fn arns() -> Arns {
    Arns::new("us-east-1", "123456789012")
}

/// A JSON string, or raw JSON when it starts with `[` or `{`; a resource suffix gets the ARN
/// prefix unless it is `*` or already an ARN.
fn json_value(value: &str, resource: bool) -> String {
    if value.starts_with('[') || value.starts_with('{') {
        value.to_owned()
    } else if resource && value != "*" && !value.starts_with("arn:") {
        format!("\"{PREFIX}{value}\"")
    } else {
        format!("\"{value}\"")
    }
}

/// One statement; `resource` may start with `!` for NotResource, `action` likewise.
fn st(effect: &str, action: &str, resource: &str, condition: &str) -> String {
    let (action_key, action) = match action.strip_prefix('!') {
        Some(a) => ("NotAction", a),
        None => ("Action", action),
    };
    let (resource_key, resource) = match resource.strip_prefix('!') {
        Some(r) => ("NotResource", r),
        None => ("Resource", resource),
    };
    let condition =
        if condition.is_empty() { String::new() } else { format!(",\"Condition\":{condition}") };
    format!(
        "{{\"Effect\":\"{effect}\",\"{action_key}\":{},\"{resource_key}\":{}{condition}}}",
        json_value(action, false),
        json_value(resource, true)
    )
}

fn doc(statements: &[String]) -> String {
    format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}", statements.join(","))
}

fn allow(action: &str, resource: &str) -> String {
    doc(&[st("Allow", action, resource, "")])
}

fn deny(action: &str, resource: &str) -> String {
    doc(&[st("Deny", action, resource, "")])
}

fn allow_if(action: &str, resource: &str, condition: &str) -> String {
    doc(&[st("Allow", action, resource, condition)])
}

fn req(action: Action, resource: &str) -> Request {
    Request::new(action, format!("{PREFIX}{resource}"))
}

/// Client `dev1`, no thing, no certificate.
fn base() -> Context {
    Context { client_id: Some("dev1".into()), ..Context::default() }
}

/// Client `t1` attached to thing `t1` of type `sensor` with attribute `floor=3`.
fn thing() -> Context {
    Context {
        client_id: Some("t1".into()),
        thing_name: Some("t1".into()),
        thing_type_name: Some("sensor".into()),
        thing_attributes: [("floor".to_owned(), "3".to_owned())].into_iter().collect(),
        is_attached: Some(true),
        ..Context::default()
    }
}

/// `base()` with an X.509 certificate.
fn cert() -> Context {
    let subject = DistinguishedName::default()
        .with(DnAttribute::CommonName, "dev1.example.com")
        .with(DnAttribute::Organization, "Example Corp")
        .with(DnAttribute::Organization, "AnyCompany")
        .with(DnAttribute::Country, "US");
    let issuer = DistinguishedName::default().with(DnAttribute::CommonName, "Example CA");
    Context {
        certificate: Some(CertificateContext {
            serial_number: Some("0A1B".into()),
            subject,
            issuer,
            subject_alt_names: Default::default(),
            issuer_alt_names: Default::default(),
        }),
        ..base()
    }
}

fn with_subject(ctx: Context, attribute: DnAttribute, values: &[&str]) -> Context {
    let mut ctx = ctx;
    if let Some(cert) = ctx.certificate.as_mut() {
        cert.subject.values.insert(attribute, values.iter().map(|v| v.to_string()).collect());
    }
    ctx
}

fn ip(ctx: Context, address: &str) -> Context {
    Context { source_ip: Some(address.parse::<IpAddr>().unwrap()), ..ctx }
}

fn extra(ctx: Context, key: &str, values: &[&str]) -> Context {
    let mut ctx = ctx;
    // Inserted as written: the lookup ignores case.
    ctx.extra.insert(key.to_owned(), values.iter().map(|v| v.to_string()).collect());
    ctx
}

fn attrs(ctx: Context, attributes: &[&str]) -> Context {
    Context { connect_attributes: attributes.iter().map(|a| a.to_string()).collect(), ..ctx }
}

fn at(ctx: Context, epoch_seconds: i64) -> Context {
    Context { epoch_seconds: Some(epoch_seconds), ..ctx }
}

use AuthDecision::{Allowed as A, ExplicitDeny as D, ImplicitDeny as I};

struct Case {
    name: &'static str,
    policies: Vec<String>,
    request: Request,
    context: Context,
    expect: AuthDecision,
    /// (allowing, denying) policy indexes, when the row checks them.
    indexes: Option<(Vec<usize>, Vec<usize>)>,
}

fn case(
    name: &'static str,
    policies: Vec<String>,
    request: Request,
    context: Context,
    expect: AuthDecision,
) -> Case {
    Case { name, policies, request, context, expect, indexes: None }
}

fn one(
    name: &'static str,
    policy: String,
    request: Request,
    context: Context,
    expect: AuthDecision,
) -> Case {
    case(name, vec![policy], request, context, expect)
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    use Action::*;
    let mut c = vec![
        // --- Effects, explicit deny wins, default deny --------------------------------------
        case("no policies: default deny", vec![], req(Publish, "topic/a"), base(), I),
        one("allow on another topic: default deny", allow("iot:Publish", "topic/b"), req(Publish, "topic/a"), base(), I),
        one("allow exact topic", allow("iot:Publish", "topic/a"), req(Publish, "topic/a"), base(), A),
        one("deny exact topic", deny("iot:Publish", "topic/a"), req(Publish, "topic/a"), base(), D),
        one("allow and deny in one policy: deny wins",
            doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "iot:Publish", "topic/a", "")]),
            req(Publish, "topic/a"), base(), D),
        one("deny on another resource does not block the allow",
            doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "iot:Publish", "topic/b", "")]),
            req(Publish, "topic/a"), base(), A),
        one("deny on another action does not block the allow",
            doc(&[st("Allow", "iot:Publish", "*", ""), st("Deny", "iot:Subscribe", "*", "")]),
            req(Publish, "topic/a"), base(), A),
        one("single Statement object (not array)",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}"#.into(),
            req(Publish, "topic/a"), base(), A),
        // --- Actions -------------------------------------------------------------------------
        one("iot:* allows Connect", allow("iot:*", "*"), req(Connect, "client/dev1"), base(), A),
        one("iot:* allows Subscribe", allow("iot:*", "*"), req(Subscribe, "topicfilter/a/#"), base(), A),
        one("iot:* allows Receive", allow("iot:*", "*"), req(Receive, "topic/a"), base(), A),
        one("iot:* allows UpdateThingShadow", allow("iot:*", "*"), req(UpdateThingShadow, "thing/t1"), base(), A),
        one("bare * allows any action", allow("*", "*"), req(GetPendingJobExecutions, "thing/t1"), base(), A),
        one("action match is case-insensitive", allow("IOT:PUBLISH", "*"), req(Publish, "topic/a"), base(), A),
        one("action wildcard iot:Pub* allows Publish", allow("iot:Pub*", "*"), req(Publish, "topic/a"), base(), A),
        one("action wildcard iot:Pub* does not allow Receive", allow("iot:Pub*", "*"), req(Receive, "topic/a"), base(), I),
        one("action ? wildcard", allow("iot:?ublish", "*"), req(Publish, "topic/a"), base(), A),
        one("action array: listed action allowed", allow(r#"["iot:Connect","iot:Publish"]"#, "*"), req(Publish, "topic/a"), base(), A),
        one("action array: unlisted action denied", allow(r#"["iot:Connect","iot:Publish"]"#, "*"), req(Subscribe, "topicfilter/a"), base(), I),
        one("iot:Publish does not grant iot:RetainPublish", allow("iot:Publish", "*"), req(RetainPublish, "topic/a"), base(), I),
        one("iot:RetainPublish granted on its own", allow("iot:RetainPublish", "topic/a"), req(RetainPublish, "topic/a"), base(), A),
        one("iot:*Shadow allows UpdateThingShadow", allow("iot:*Shadow", "thing/t1"), req(UpdateThingShadow, "thing/t1"), base(), A),
        one("iot:*Shadow does not allow Publish", allow("iot:*Shadow", "*"), req(Publish, "topic/a"), base(), I),
        one("named shadow resource thing/{name}/{shadow}", allow("iot:GetThingShadow", "thing/t1/cfg"), req(GetThingShadow, "thing/t1/cfg"), base(), A),
        one("classic-shadow policy does not cover named shadow", allow("iot:GetThingShadow", "thing/t1"), req(GetThingShadow, "thing/t1/cfg"), base(), I),
        one("jobs action DescribeJobExecution", allow("iot:DescribeJobExecution", "thing/t1"), req(DescribeJobExecution, "thing/t1"), base(), A),
        one("jobs action StartNextPendingJobExecution", allow("iot:StartNextPendingJobExecution", "thing/t1"), req(StartNextPendingJobExecution, "thing/t1"), base(), A),
        one("jobs action UpdateJobExecution", allow("iot:UpdateJobExecution", "thing/*"), req(UpdateJobExecution, "thing/t9"), base(), A),
        one("AssumeRoleWithCertificate on rolealias", allow("iot:AssumeRoleWithCertificate", "rolealias/r1"), req(AssumeRoleWithCertificate, "rolealias/r1"), base(), A),
        one("other service's actions never match iot", allow("greengrass:*", "*"), req(Publish, "topic/a"), base(), I),
        one("NotAction allows what it does not list", allow("!iot:Publish", "*"), req(Subscribe, "topicfilter/a"), base(), A),
        one("NotAction does not allow what it lists", allow("!iot:Publish", "*"), req(Publish, "topic/a"), base(), I),
        one("NotAction array", allow(r#"!["iot:Publish","iot:Receive"]"#, "*"), req(Receive, "topic/a"), base(), I),
        one("Deny with NotAction denies everything else",
            doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "!iot:Connect", "*", "")]),
            req(Publish, "topic/a"), base(), D),
        one("Deny with NotAction spares the listed action",
            doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "!iot:Connect", "*", "")]),
            req(Connect, "client/dev1"), base(), A),
        // --- Resources and wildcards --------------------------------------------------------
        one("Resource * matches any ARN", allow("iot:Connect", "*"), req(Connect, "client/x"), base(), A),
        one("* crosses topic levels", allow("iot:Publish", "topic/a/*"), req(Publish, "topic/a/b/c/d"), base(), A),
        one("* matches the empty string", allow("iot:Publish", "topic/a/*"), req(Publish, "topic/a/"), base(), A),
        one("topic/a/* does not match topic/a", allow("iot:Publish", "topic/a/*"), req(Publish, "topic/a"), base(), I),
        one("* in the middle", allow("iot:Publish", "topic/*/temp"), req(Publish, "topic/a/b/temp"), base(), A),
        one("? matches one character", allow("iot:Publish", "topic/a?c"), req(Publish, "topic/abc"), base(), A),
        one("? does not match zero characters", allow("iot:Publish", "topic/a?c"), req(Publish, "topic/ac"), base(), I),
        one("? does not match two characters", allow("iot:Publish", "topic/a?c"), req(Publish, "topic/abbc"), base(), I),
        one("resource match is case-sensitive", allow("iot:Publish", "topic/Room"), req(Publish, "topic/room"), base(), I),
        one("topicfilter/a/+ allows subscribing to a/+", allow("iot:Subscribe", "topicfilter/a/+"), req(Subscribe, "topicfilter/a/+"), base(), A),
        one("topicfilter/a/+ does not allow a/b (+ is literal)", allow("iot:Subscribe", "topicfilter/a/+"), req(Subscribe, "topicfilter/a/b"), base(), I),
        one("topicfilter/a/+ does not allow a/#", allow("iot:Subscribe", "topicfilter/a/+"), req(Subscribe, "topicfilter/a/#"), base(), I),
        one("topicfilter/a/* allows a/+", allow("iot:Subscribe", "topicfilter/a/*"), req(Subscribe, "topicfilter/a/+"), base(), A),
        one("topicfilter/a/* allows a/#", allow("iot:Subscribe", "topicfilter/a/*"), req(Subscribe, "topicfilter/a/#"), base(), A),
        one("topicfilter/a/* allows a/b", allow("iot:Subscribe", "topicfilter/a/*"), req(Subscribe, "topicfilter/a/b"), base(), A),
        one("topicfilter/# allows only the filter #", allow("iot:Subscribe", "topicfilter/#"), req(Subscribe, "topicfilter/a"), base(), I),
        one("topicfilter/a/# allows the filter a/#", allow("iot:Subscribe", "topicfilter/a/#"), req(Subscribe, "topicfilter/a/#"), base(), A),
        one("a topic/ resource does not cover Subscribe", allow("iot:Subscribe", "topic/a/b"), req(Subscribe, "topicfilter/a/b"), base(), I),
        one("a topicfilter/ resource does not cover Publish", allow("iot:Publish", "topicfilter/a/b"), req(Publish, "topic/a/b"), base(), I),
        one("region wildcard", allow("iot:Publish", "arn:aws:iot:*:123456789012:topic/a"), req(Publish, "topic/a"), base(), A),
        one("other account: no match", allow("iot:Publish", "arn:aws:iot:us-east-1:999999999999:topic/a"), req(Publish, "topic/a"), base(), I),
        one("* after the account covers every resource type", allow("iot:*", "arn:aws:iot:us-east-1:123456789012:*"), req(Connect, "client/dev1"), base(), A),
        one("Resource array: second entry matches", allow("iot:Publish", &format!(r#"["{PREFIX}topic/x","{PREFIX}topic/a"]"#)), req(Publish, "topic/a"), base(), A),
        one("reserved $aws topic matched literally", allow("iot:Publish", "topic/$aws/things/*/shadow/update"), req(Publish, "topic/$aws/things/t1/shadow/update"), base(), A),
        one("NotResource allows other resources", allow("iot:Publish", "!topic/secret"), req(Publish, "topic/open"), base(), A),
        one("NotResource does not allow the listed resource", allow("iot:Publish", "!topic/secret"), req(Publish, "topic/secret"), base(), I),
        one("Deny NotResource denies outside the list",
            doc(&[st("Allow", "iot:Publish", "*", ""), st("Deny", "iot:Publish", "!topic/ok/*", "")]),
            req(Publish, "topic/other"), base(), D),
        one("Deny NotResource spares the list",
            doc(&[st("Allow", "iot:Publish", "*", ""), st("Deny", "iot:Publish", "!topic/ok/*", "")]),
            req(Publish, "topic/ok/1"), base(), A),
        // --- Policy variables -----------------------------------------------------------------
        one("${iot:ClientId} matches the client's own id", allow("iot:Connect", "client/${iot:ClientId}"), req(Connect, "client/dev1"), base(), A),
        one("${iot:ClientId} does not match another id", allow("iot:Connect", "client/${iot:ClientId}"), req(Connect, "client/dev2"), base(), I),
        one("variable names are case-insensitive", allow("iot:Connect", "client/${IOT:clientid}"), req(Connect, "client/dev1"), base(), A),
        one("${iot:ClientId} absent (HTTPS): Allow grants nothing", allow("iot:Publish", "topic/${iot:ClientId}/*"), req(Publish, "topic/dev1/x"), Context::default(), I),
        one("client id + widens a topicfilter (documented pitfall)", allow("iot:Subscribe", "topicfilter/my/${iot:ClientId}/topic"),
            req(Subscribe, "topicfilter/my/+/topic"), Context { client_id: Some("+".into()), ..base() }, A),
        one("a substituted * is literal, not a wildcard", allow("iot:Publish", "topic/${iot:ClientId}"),
            req(Publish, "topic/anything"), Context { client_id: Some("*".into()), ..base() }, I),
        one("a substituted * matches a literal *", allow("iot:Publish", "topic/${iot:ClientId}"),
            req(Publish, "topic/*"), Context { client_id: Some("*".into()), ..base() }, A),
        one("${iot:DomainName}", allow("iot:Publish", "topic/${iot:DomainName}/x"),
            req(Publish, "topic/iot.example.com/x"), Context { domain_name: Some("iot.example.com".into()), ..base() }, A),
        one("thing name variable", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingName}/*"), req(Publish, "topic/t1/x"), thing(), A),
        one("thing name variable, other thing's topic", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingName}/*"), req(Publish, "topic/t2/x"), thing(), I),
        one("thing name variable without a thing", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingName}/*"), req(Publish, "topic/t1/x"), base(), I),
        one("thing type variable", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingTypeName}"), req(Publish, "topic/sensor"), thing(), A),
        one("thing type variable without a type", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingTypeName}"),
            req(Publish, "topic/sensor"), Context { thing_type_name: None, ..thing() }, I),
        one("thing type without a thing does not resolve", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingTypeName}"),
            req(Publish, "topic/sensor"), Context { thing_name: None, ..thing() }, I),
        one("thing attribute variable", allow("iot:Publish", "topic/floor/${iot:Connection.Thing.Attributes[floor]}"), req(Publish, "topic/floor/3"), thing(), A),
        one("missing thing attribute", allow("iot:Publish", "topic/${iot:Connection.Thing.Attributes[room]}"), req(Publish, "topic/3"), thing(), I),
        one("thing attribute names are case-sensitive", allow("iot:Publish", "topic/${iot:Connection.Thing.Attributes[Floor]}"), req(Publish, "topic/3"), thing(), I),
        one("certificate subject CommonName", allow("iot:Publish", "topic/${iot:Certificate.Subject.CommonName}"), req(Publish, "topic/dev1.example.com"), cert(), A),
        one("multi-valued attribute: bare name is the first value", allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization}"), req(Publish, "topic/Example Corp"), cert(), A),
        one("multi-valued attribute: .1 is the second value", allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization.1}"), req(Publish, "topic/AnyCompany"), cert(), A),
        one("index past the values does not resolve", allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization.2}"), req(Publish, "topic/AnyCompany"), cert(), I),
        one("only five values are kept", allow("iot:Publish", "topic/${iot:Certificate.Subject.OrganizationalUnit.5}"), req(Publish, "topic/f"),
            with_subject(cert(), DnAttribute::OrganizationalUnit, &["a", "b", "c", "d", "e", "f"]), I),
        one("fifth value (index 4) is kept", allow("iot:Publish", "topic/${iot:Certificate.Subject.OrganizationalUnit.4}"), req(Publish, "topic/e"),
            with_subject(cert(), DnAttribute::OrganizationalUnit, &["a", "b", "c", "d", "e", "f"]), A),
        one("certificate value with a wildcard is not substituted", allow("iot:Publish", "topic/${iot:Certificate.Subject.CommonName}"), req(Publish, "topic/a*"),
            with_subject(cert(), DnAttribute::CommonName, &["a*"]), I),
        one("certificate value over 1024 characters is not substituted", allow("iot:Publish", "topic/*${iot:Certificate.Subject.CommonName}"), req(Publish, &format!("topic/{}", "x".repeat(1025))),
            with_subject(cert(), DnAttribute::CommonName, &[&"x".repeat(1025)]), I),
        one("issuer CommonName", allow("iot:Publish", "topic/${iot:Certificate.Issuer.CommonName}"), req(Publish, "topic/Example CA"), cert(), A),
        one("certificate SerialNumber", allow("iot:Publish", "topic/${iot:Certificate.SerialNumber}"), req(Publish, "topic/0A1B"), cert(), A),
        one("subject alternative DNSName", allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.DNSName}"), req(Publish, "topic/d.example.com"),
            {
                let mut ctx = cert();
                if let Some(c) = ctx.certificate.as_mut() {
                    c.subject_alt_names = c.subject_alt_names.clone().with(AltNameKind::DnsName, "d.example.com");
                }
                ctx
            }, A),
        one("certificate variable without a certificate", allow("iot:Publish", "topic/${iot:Certificate.Subject.CommonName}"), req(Publish, "topic/dev1.example.com"), base(), I),
        one("${*} is a literal *", allow("iot:Publish", "topic/a${*}"), req(Publish, "topic/a*"), base(), A),
        one("${*} is not a wildcard", allow("iot:Publish", "topic/a${*}"), req(Publish, "topic/ab"), base(), I),
        one("${?} is a literal ?", allow("iot:Publish", "topic/a${?}"), req(Publish, "topic/a?"), base(), A),
        one("${?} is not a wildcard", allow("iot:Publish", "topic/a${?}"), req(Publish, "topic/ab"), base(), I),
        one("${$} is a literal $", allow("iot:Publish", "topic/${$}aws/x"), req(Publish, "topic/$aws/x"), base(), A),
        one("unclosed ${ is literal text", allow("iot:Publish", "topic/a${b"), req(Publish, "topic/a${b"), base(), A),
        one("Allow with an unresolved variable does not match even its literal text", allow("iot:Publish", "topic/${iot:Connection.Thing.ThingName}"),
            req(Publish, "topic/${iot:Connection.Thing.ThingName}"), base(), I),
        one("Allow: unresolved entry grants nothing, other entries still do",
            allow("iot:Publish", &format!(r#"["{PREFIX}topic/${{iot:Connection.Thing.ThingName}}","{PREFIX}topic/public"]"#)),
            req(Publish, "topic/public"), base(), A),
        one("Allow NotResource with an unresolved variable grants nothing", allow("iot:Publish", "!topic/${iot:Connection.Thing.ThingName}/private"),
            req(Publish, "topic/other"), base(), I),
        one("Deny with an unresolved variable keeps its text: does not deny other topics",
            doc(&[st("Allow", "iot:Publish", "*", ""), st("Deny", "iot:Publish", "topic/${iot:Connection.Thing.ThingName}/bar", "")]),
            req(Publish, "topic/x/bar"), base(), A),
        one("Deny with an unresolved variable keeps its text: denies that literal topic",
            doc(&[st("Allow", "iot:Publish", "*", ""), st("Deny", "iot:Publish", "topic/${iot:Connection.Thing.ThingName}/bar", "")]),
            req(Publish, "topic/${iot:Connection.Thing.ThingName}/bar"), base(), D),
        one("Deny with a resolved variable", doc(&[st("Allow", "iot:Publish", "topic/${iot:ClientId}/*", ""), st("Deny", "iot:Publish", "topic/${iot:ClientId}/bar", "")]),
            req(Publish, "topic/dev1/bar"), base(), D),
        one("Cognito identity variable", allow("iot:Publish", "topic/${cognito-identity.amazonaws.com:sub}"),
            req(Publish, "topic/us-east-1:abc"), Context { cognito_identity_id: Some("us-east-1:abc".into()), ..base() }, A),
        // --- Conditions -----------------------------------------------------------------------
        one("StringEquals matches", allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"dev1"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringEquals does not match", allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"dev2"}}"#), req(Connect, "client/dev1"), base(), I),
        one("StringEquals: any listed value", allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":["a","dev1"]}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringEquals on an absent key is false", allow_if("iot:Publish", "*", r#"{"StringEquals":{"iot:ClientId":"dev1"}}"#), req(Publish, "topic/a"), Context::default(), I),
        one("StringEquals is case-sensitive", allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"DEV1"}}"#), req(Connect, "client/dev1"), base(), I),
        one("condition key names are case-insensitive", allow_if("iot:Connect", "*", r#"{"StringEquals":{"IOT:CLIENTID":"dev1"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringNotEquals on an absent key is true", allow_if("iot:Publish", "*", r#"{"StringNotEquals":{"iot:ClientId":"dev1"}}"#), req(Publish, "topic/a"), Context::default(), A),
        one("StringNotEquals with the value listed is false", allow_if("iot:Connect", "*", r#"{"StringNotEquals":{"iot:ClientId":["x","dev1"]}}"#), req(Connect, "client/dev1"), base(), I),
        one("StringNotEquals with another value is true", allow_if("iot:Connect", "*", r#"{"StringNotEquals":{"iot:ClientId":"x"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringEqualsIgnoreCase", allow_if("iot:Connect", "*", r#"{"StringEqualsIgnoreCase":{"iot:ClientId":"DEV1"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringNotEqualsIgnoreCase", allow_if("iot:Connect", "*", r#"{"StringNotEqualsIgnoreCase":{"iot:ClientId":"DEV1"}}"#), req(Connect, "client/dev1"), base(), I),
        one("StringLike with *", allow_if("iot:Connect", "*", r#"{"StringLike":{"iot:ClientId":"dev*"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringLike with ?", allow_if("iot:Connect", "*", r#"{"StringLike":{"iot:ClientId":"de?"}}"#), req(Connect, "client/dev1"), base(), I),
        one("StringNotLike", allow_if("iot:Connect", "*", r#"{"StringNotLike":{"iot:ClientId":"test-*"}}"#), req(Connect, "client/dev1"), base(), A),
        one("StringLike with ${*} is a literal *", allow_if("iot:Connect", "*", r#"{"StringLike":{"iot:ClientId":"dev${*}"}}"#), req(Connect, "client/dev1"), base(), I),
        one("StringEquals value with a variable", allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#), req(Connect, "client/t1"), thing(), A),
        one("Allow: condition value with an unresolved variable is false",
            allow_if("iot:Connect", "*", r#"{"StringNotEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#), req(Connect, "client/dev1"), base(), I),
        one("Deny: condition value with an unresolved variable keeps its text",
            doc(&[st("Allow", "iot:Connect", "*", ""), st("Deny", "iot:Connect", "*", r#"{"StringNotEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}"#)]),
            req(Connect, "client/dev1"), base(), D),
        one("two keys under one operator: both must hold",
            allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"t1","iot:Connection.Thing.ThingTypeName":"other"}}"#), req(Connect, "client/t1"), thing(), I),
        one("two operators: both must hold",
            allow_if("iot:Connect", "*", r#"{"StringEquals":{"iot:ClientId":"t1"},"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#), req(Connect, "client/t1"), thing(), A),
        one("StringEqualsIfExists: absent key holds", allow_if("iot:Publish", "*", r#"{"StringEqualsIfExists":{"iot:Connection.Thing.ThingTypeName":"sensor"}}"#), req(Publish, "topic/a"), base(), A),
        one("StringEqualsIfExists: present key must match", allow_if("iot:Publish", "*", r#"{"StringEqualsIfExists":{"iot:Connection.Thing.ThingTypeName":"camera"}}"#), req(Publish, "topic/a"), thing(), I),
        one("Bool IsAttached true", allow_if("iot:Connect", "client/${iot:Connection.Thing.ThingName}", r#"{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#), req(Connect, "client/t1"), thing(), A),
        one("Bool IsAttached false", allow_if("iot:Connect", "*", r#"{"Bool":{"iot:Connection.Thing.IsAttached":["true"]}}"#), req(Connect, "client/t1"), Context { is_attached: Some(false), ..thing() }, I),
        one("Bool on an absent key is false", allow_if("iot:Connect", "*", r#"{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}"#), req(Connect, "client/dev1"), base(), I),
        one("Bool with a JSON boolean", allow_if("iot:Connect", "*", r#"{"Bool":{"aws:SecureTransport":true}}"#), req(Connect, "client/dev1"), Context { secure_transport: Some(true), ..base() }, A),
        one("IpAddress inside the CIDR", allow_if("iot:Connect", "*", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#), req(Connect, "client/dev1"), ip(base(), "203.0.113.7"), A),
        one("IpAddress outside the CIDR", allow_if("iot:Connect", "*", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#), req(Connect, "client/dev1"), ip(base(), "198.51.100.7"), I),
        one("IpAddress single address", allow_if("iot:Connect", "*", r#"{"IpAddress":{"aws:SourceIp":"123.45.167.89"}}"#), req(Connect, "client/dev1"), ip(base(), "123.45.167.89"), A),
        one("IpAddress IPv6 block", allow_if("iot:Connect", "*", r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#), req(Connect, "client/dev1"), ip(base(), "2001:db8::5"), A),
        one("IpAddress without a source address", allow_if("iot:Connect", "*", r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#), req(Connect, "client/dev1"), base(), I),
        one("NotIpAddress outside the CIDR", allow_if("iot:Connect", "*", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#), req(Connect, "client/dev1"), ip(base(), "192.0.2.1"), A),
        one("Deny NotIpAddress blocks outsiders",
            doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "iot:*", "*", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#)]),
            req(Connect, "client/dev1"), ip(base(), "192.0.2.1"), D),
        one("NumericLessThan", allow_if("iot:Publish", "*", r#"{"NumericLessThan":{"iot:test.count":"10"}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.count", &["9"]), A),
        one("NumericLessThan fails at equality", allow_if("iot:Publish", "*", r#"{"NumericLessThan":{"iot:test.count":10}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.count", &["10"]), I),
        one("NumericGreaterThanEquals with a JSON number", allow_if("iot:Publish", "*", r#"{"NumericGreaterThanEquals":{"iot:test.count":10}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.count", &["10.0"]), A),
        one("NumericEquals with a non-number request value", allow_if("iot:Publish", "*", r#"{"NumericEquals":{"iot:test.count":1}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.count", &["one"]), I),
        one("NumericNotEquals", allow_if("iot:Publish", "*", r#"{"NumericNotEquals":{"iot:test.count":[1,2]}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.count", &["3"]), A),
        one("DateLessThan aws:CurrentTime before", allow_if("iot:Connect", "*", r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#), req(Connect, "client/dev1"), at(base(), 1_800_000_000), A),
        one("DateLessThan aws:CurrentTime after", allow_if("iot:Connect", "*", r#"{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#), req(Connect, "client/dev1"), at(base(), 1_800_000_000), I),
        one("DateGreaterThanEquals aws:EpochTime with epoch value", allow_if("iot:Connect", "*", r#"{"DateGreaterThanEquals":{"aws:EpochTime":1800000000}}"#), req(Connect, "client/dev1"), at(base(), 1_800_000_000), A),
        one("Date condition without a time is false", allow_if("iot:Connect", "*", r#"{"DateGreaterThan":{"aws:CurrentTime":"2000-01-01"}}"#), req(Connect, "client/dev1"), base(), I),
        one("ArnEquals", allow_if("iot:Publish", "*", r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:iot:us-east-1:123456789012:rule/r1"}}"#), req(Publish, "topic/a"), extra(base(), "aws:SourceArn", &["arn:aws:iot:us-east-1:123456789012:rule/r1"]), A),
        one("ArnLike with a wildcard segment", allow_if("iot:Publish", "*", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iot:*:123456789012:rule/*"}}"#), req(Publish, "topic/a"), extra(base(), "aws:SourceArn", &["arn:aws:iot:eu-west-1:123456789012:rule/r2"]), A),
        one("ArnLike: segments are checked separately", allow_if("iot:Publish", "*", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iot:*:rule/*"}}"#), req(Publish, "topic/a"), extra(base(), "aws:SourceArn", &["arn:aws:iot:eu-west-1:123456789012:rule/r2"]), I),
        one("ArnNotLike", allow_if("iot:Publish", "*", r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:iot:*:999999999999:*"}}"#), req(Publish, "topic/a"), extra(base(), "aws:SourceArn", &["arn:aws:iot:eu-west-1:123456789012:rule/r2"]), A),
        one("BinaryEquals", allow_if("iot:Publish", "*", r#"{"BinaryEquals":{"iot:test.blob":"QmluYXJ5"}}"#), req(Publish, "topic/a"), extra(base(), "iot:test.blob", &["QmluYXJ5"]), A),
        one("Null true: key absent", allow_if("iot:Publish", "*", r#"{"Null":{"iot:Connection.Thing.ThingName":"true"}}"#), req(Publish, "topic/a"), base(), A),
        one("Null true: key present", allow_if("iot:Publish", "*", r#"{"Null":{"iot:Connection.Thing.ThingName":"true"}}"#), req(Publish, "topic/a"), thing(), I),
        one("Null false: key present", allow_if("iot:Publish", "*", r#"{"Null":{"iot:Connection.Thing.ThingName":false}}"#), req(Publish, "topic/a"), thing(), A),
        one("ForAllValues ConnectAttributes: only PersistentConnect",
            allow_if("iot:Connect", "*", r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}"#), req(Connect, "client/dev1"), attrs(base(), &["PersistentConnect"]), A),
        one("ForAllValues ConnectAttributes: LastWill not allowed",
            allow_if("iot:Connect", "*", r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}"#), req(Connect, "client/dev1"), attrs(base(), &["PersistentConnect", "LastWill"]), I),
        one("ForAllValues with no attributes holds",
            allow_if("iot:Connect", "*", r#"{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}"#), req(Connect, "client/dev1"), base(), A),
        one("ForAnyValue ConnectAttributes: LastWill present",
            allow_if("iot:Connect", "*", r#"{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":["LastWill"]}}"#), req(Connect, "client/dev1"), attrs(base(), &["PersistentConnect", "LastWill"]), A),
        one("ForAnyValue with no attributes fails",
            allow_if("iot:Connect", "*", r#"{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":["LastWill"]}}"#), req(Connect, "client/dev1"), base(), I),
        one("ForAllValues certificate Organization.List within the set",
            allow_if("iot:Publish", "*", r#"{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp","AnyCompany"]}}"#), req(Publish, "topic/a"), cert(), A),
        one("ForAllValues certificate Organization.List outside the set",
            allow_if("iot:Publish", "*", r#"{"ForAllValues:StringEquals":{"iot:Certificate.Subject.Organization.List":["Example Corp"]}}"#), req(Publish, "topic/a"), cert(), I),
        one("ForAnyValue certificate Organization.List",
            allow_if("iot:Publish", "*", r#"{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.Organization.List":["AnyCompany"]}}"#), req(Publish, "topic/a"), cert(), A),
        one("certificate AvailableKeys.List",
            allow_if("iot:Publish", "*", r#"{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys.List":"iot:Certificate.Subject.Country"}}"#), req(Publish, "topic/a"), cert(), A),
        one("thing attribute as a condition key",
            allow_if("iot:Publish", "*", r#"{"StringEquals":{"iot:Connection.Thing.Attributes[floor]":"3","iot:Connection.Thing.ThingTypeName":"sensor"}}"#), req(Publish, "topic/a"), thing(), A),
    ];
    // Several policies: the decision names which allowed and which denied.
    let mut multi = |name,
                     policies: Vec<String>,
                     request,
                     context,
                     expect,
                     allowing: Vec<usize>,
                     denying: Vec<usize>| {
        c.push(Case {
            name,
            policies,
            request,
            context,
            expect,
            indexes: Some((allowing, denying)),
        });
    };
    multi(
        "two policies allow",
        vec![allow("iot:Publish", "*"), allow("iot:*", "topic/a")],
        req(Publish, "topic/a"),
        base(),
        A,
        vec![0, 1],
        vec![],
    );
    multi(
        "one allows, another denies: deny wins",
        vec![allow("iot:Publish", "*"), deny("iot:Publish", "topic/a")],
        req(Publish, "topic/a"),
        base(),
        D,
        vec![0],
        vec![1],
    );
    multi(
        "a policy that neither allows nor denies is not listed",
        vec![allow("iot:Connect", "*"), allow("iot:Publish", "*")],
        req(Publish, "topic/a"),
        base(),
        A,
        vec![1],
        vec![],
    );
    multi(
        "one policy both allows and denies",
        vec![doc(&[st("Allow", "iot:*", "*", ""), st("Deny", "iot:Publish", "*", "")])],
        req(Publish, "topic/a"),
        base(),
        D,
        vec![0],
        vec![0],
    );
    multi(
        "nothing applies: implicit deny",
        vec![allow("iot:Connect", "*"), deny("iot:Subscribe", "*")],
        req(Publish, "topic/a"),
        base(),
        I,
        vec![],
        vec![],
    );
    c
}

#[test]
fn table() {
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let documents: Vec<PolicyDocument> = case
            .policies
            .iter()
            .map(|p| PolicyDocument::parse(p).unwrap_or_else(|e| panic!("{}: {e}\n{p}", case.name)))
            .collect();
        let refs: Vec<&PolicyDocument> = documents.iter().collect();
        let decision = evaluate(&refs, &case.request, &case.context);
        if decision.auth_decision() != case.expect || decision.allowed != (case.expect == A) {
            failures.push(format!(
                "{}: expected {:?}, got {:?} for {} {}",
                case.name, case.expect, decision, case.request.action, case.request.resource
            ));
        }
        if let Some((allowing, denying)) = &case.indexes {
            assert_eq!(&decision.allowing, allowing, "{}: allowing", case.name);
            assert_eq!(&decision.denying, denying, "{}: denying", case.name);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{} cases passed", cases.len());
}

#[test]
fn request_helpers_build_the_arns_aws_uses() {
    let a = arns();
    assert_eq!(a.client("c1"), "arn:aws:iot:us-east-1:123456789012:client/c1");
    assert_eq!(a.topic("a/b"), "arn:aws:iot:us-east-1:123456789012:topic/a/b");
    assert_eq!(a.topic_filter("a/+/#"), "arn:aws:iot:us-east-1:123456789012:topicfilter/a/+/#");
    assert_eq!(a.thing("t1"), "arn:aws:iot:us-east-1:123456789012:thing/t1");
    assert_eq!(a.thing_shadow("t1", "cfg"), "arn:aws:iot:us-east-1:123456789012:thing/t1/cfg");
    assert_eq!(Request::subscribe(&a, "a/#").resource, a.topic_filter("a/#"));
    assert_eq!(Request::connect(&a, "c1"), Request::new(Action::Connect, a.client("c1")));
    assert_eq!("IOT:connect".parse::<Action>(), Ok(Action::Connect));
    assert!("iot:Nope".parse::<Action>().is_err());
    assert_eq!(AuthDecision::ExplicitDeny.as_str(), "EXPLICIT_DENY");
}
