//! Criterion benchmarks of the subscription trie: matching one topic against trees of 1, 10k
//! and 1M filters, a mix of exact filters and `+`/`#` wildcards.
//!
//! Each tree is built once per benchmark (1M filters take a few seconds).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrocore_broker::trie::SubscriptionTree;

/// The `i`-th filter, for site `i % 1000` and device `i / 1000`: one device in 20 has a
/// `site{s}/#` filter, one in 20 a `site{s}/+/telemetry` filter, the rest an exact
/// `site{s}/dev{d}/telemetry` filter.
fn filter(i: u64) -> String {
    let (site, device) = (i % 1000, i / 1000);
    match device % 20 {
        0 => format!("site{site}/#"),
        1 => format!("site{site}/+/telemetry"),
        _ => format!("site{site}/dev{device}/telemetry"),
    }
}

fn build(n: u64) -> SubscriptionTree<u64, ()> {
    let mut tree = SubscriptionTree::new();
    for i in 0..n {
        tree.insert(&filter(i), None, i, ());
    }
    tree
}

fn trie(c: &mut Criterion) {
    let mut group = c.benchmark_group("trie/match");
    for (name, n) in [("1", 1u64), ("10k", 10_000), ("1M", 1_000_000)] {
        let tree = build(n);
        // In the big trees this topic hits an exact filter and every `+` and `#` filter of
        // its site (3 with 10k filters, 101 with 1M).
        let topic = "site7/dev7/telemetry";
        let mut hits = 0usize;
        tree.for_each_match(topic, |_, _| hits += 1);
        assert_eq!(
            hits,
            match n {
                1 => 0,
                10_000 => 3,
                _ => 101,
            }
        );
        group.bench_function(format!("{name}/hit"), |b| {
            b.iter(|| {
                let mut count = 0usize;
                tree.for_each_match(black_box(topic), |_, _| count += 1);
                black_box(count)
            })
        });
        group.bench_function(format!("{name}/miss"), |b| {
            b.iter(|| {
                let mut count = 0usize;
                tree.for_each_match(black_box("elsewhere/dev7/telemetry"), |_, _| count += 1);
                black_box(count)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, trie);
criterion_main!(benches);
