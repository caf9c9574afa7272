//! Evaluations per second of a typical rule: a WHERE on one field and a three-item projection
//! over a small JSON payload (the payload is parsed on every evaluation, as in production).

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrocore_sql::{FixedEnv, Input, SqlVersion, Statement};

fn eval(c: &mut Criterion) {
    let statement = Statement::parse(
        "SELECT temperature * 1.8 + 32 AS f, device.id AS id, topic(2) AS room \
         FROM 'sensors/+/temp' WHERE temperature > 20 AND device.kind = 'probe'",
        SqlVersion::V2016_03_23,
    );
    let Ok(statement) = statement else { return };
    let payload =
        br#"{"temperature": 25.5, "humidity": 40, "device": {"id": "d-17", "kind": "probe"}}"#;
    let input = Input { payload, topic: "sensors/kitchen/temp", ..Input::default() };
    let env = FixedEnv::default();
    let mut group = c.benchmark_group("sql");
    group.throughput(Throughput::Elements(1));
    group.bench_function("where_and_projection", |b| {
        b.iter(|| statement.evaluate(std::hint::black_box(&input), &env))
    });
    group.finish();
}

criterion_group!(benches, eval);
criterion_main!(benches);
