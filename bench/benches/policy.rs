//! Criterion benchmarks of the IoT policy evaluator: parsing a policy document, and deciding
//! `iot:Connect`, `iot:Publish`, `iot:Subscribe` and `iot:Receive` requests against a device's
//! policy with policy variables, alone and with 9 more policies of 5 statements that do not
//! apply (AWS attaches at most 10 policies to a certificate; each is at most 2,048
//! characters), all evaluated in full.
//!
//! The broker caches decisions per connection, so a steady flow rarely evaluates; this is the
//! price of a cache miss: a CONNECT, a new SUBSCRIBE, a first publish to a topic.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrocore_policy::{Arns, Context, PolicyDocument, Request, evaluate};

/// A device policy as AWS's examples write them: the client id must be the thing's name, and
/// the device may use its own topics and the shadow of its thing.
const DEVICE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:000000000000:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": ["arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:ClientId}/*",
                  "arn:aws:iot:us-east-1:000000000000:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": ["arn:aws:iot:us-east-1:000000000000:topicfilter/devices/${iot:ClientId}/*",
                  "arn:aws:iot:us-east-1:000000000000:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
    {"Effect": "Deny", "Action": "iot:Publish",
     "Resource": "arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:ClientId}/admin"}
  ]
}"#;

/// Policy `p` of the unrelated ones: 5 statements for other sites' topics and gateways.
fn unrelated(p: usize) -> PolicyDocument {
    let statements: Vec<String> = (0..5)
        .map(|i| {
            let site = p * 5 + i;
            format!(
                r#"{{"Effect":"Allow","Action":["iot:Publish","iot:Receive","iot:Subscribe"],
                    "Resource":["arn:aws:iot:*:*:topic/site{site}/*","arn:aws:iot:*:*:topicfilter/site{site}/*"],
                    "Condition":{{"StringEquals":{{"iot:Connection.Thing.ThingTypeName":"gw{site}"}}}}}}"#
            )
        })
        .collect();
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
    PolicyDocument::parse(&text).unwrap()
}

fn context() -> Context {
    Context {
        client_id: Some("sensor-42".into()),
        thing_name: Some("sensor-42".into()),
        thing_type_name: Some("sensor".into()),
        is_attached: Some(true),
        secure_transport: Some(true),
        ..Context::default()
    }
}

fn parse(c: &mut Criterion) {
    c.bench_function("policy/parse/device (4 statements)", |b| {
        b.iter(|| PolicyDocument::parse(black_box(DEVICE_POLICY)).unwrap())
    });
}

fn decide(c: &mut Criterion) {
    let arns = Arns::new("us-east-1", "000000000000");
    let device = PolicyDocument::parse(DEVICE_POLICY).unwrap();
    let context = context();
    let requests = [
        ("connect", Request::connect(&arns, "sensor-42"), true),
        ("publish", Request::publish(&arns, "devices/sensor-42/telemetry"), true),
        ("publish denied", Request::publish(&arns, "devices/sensor-42/admin"), false),
        ("publish other", Request::publish(&arns, "devices/sensor-7/telemetry"), false),
        ("subscribe", Request::subscribe(&arns, "$aws/things/sensor-42/shadow/#"), true),
        ("receive", Request::receive(&arns, "$aws/things/sensor-42/shadow/update/delta"), true),
    ];
    let others: Vec<PolicyDocument> = (0..9).map(unrelated).collect();
    for extra in [0usize, 9] {
        let mut policies: Vec<&PolicyDocument> = others.iter().take(extra).collect();
        policies.push(&device);
        let mut group = c.benchmark_group(format!("policy/evaluate/{} policies", extra + 1));
        for (name, request, allowed) in &requests {
            assert_eq!(evaluate(&policies, request, &context).allowed, *allowed, "{name}");
            group.bench_function(*name, |b| {
                b.iter(|| evaluate(black_box(&policies), black_box(request), &context).allowed)
            });
        }
        group.finish();
    }
}

criterion_group!(benches, parse, decide);
criterion_main!(benches);
