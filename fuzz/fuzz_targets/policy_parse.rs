//! Feeds arbitrary bytes to the policy parser and evaluates every document that parses against
//! every action, with a context full of values that stress substitution (wildcard characters,
//! multi-valued certificate attributes, an address and a time). Neither may panic, and the
//! decision must be consistent: allowed exactly when some policy allows and none denies.

#![no_main]

use ferrocore_policy::{
    Action, Arns, CertificateContext, Context, DistinguishedName, DnAttribute, PolicyDocument,
    Request, evaluate,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(document) = PolicyDocument::parse(text) else { return };
    let arns = Arns::new("us-east-1", "123456789012");
    let subject = DistinguishedName::default()
        .with(DnAttribute::CommonName, "dev*1")
        .with(DnAttribute::Organization, "A")
        .with(DnAttribute::Organization, "B");
    let contexts = [
        Context::default(),
        Context {
            client_id: Some("t1".into()),
            thing_name: Some("t1".into()),
            thing_type_name: Some("sensor".into()),
            is_attached: Some(true),
            source_ip: "10.0.0.1".parse().ok(),
            epoch_seconds: Some(1_800_000_000),
            connect_attributes: vec!["PersistentConnect".into(), "LastWill".into()],
            certificate: Some(CertificateContext { subject, ..Default::default() }),
            ..Context::default()
        },
    ];
    let resources =
        [arns.client("t1"), arns.topic("t1/a"), arns.topic_filter("t1/+/#"), "*".into()];
    for context in &contexts {
        for action in Action::ALL {
            for resource in &resources {
                let request = Request::new(action, resource.clone());
                let decision = evaluate(&[&document, &document], &request, context);
                assert_eq!(
                    decision.allowed,
                    !decision.allowing.is_empty() && decision.denying.is_empty()
                );
            }
        }
    }
});
