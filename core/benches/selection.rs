//! The routing decision: selection over a snapshot, with and without a sticky key.
//! Goal: ≤ 50 ns per decision; a rule adds ≤ 10 ns over the sticky key alone.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use turnout::Side;
use turnout::config::Rule;
use turnout::routing::{Availability, RequestAttrs, TrafficState, select};

/// A request's metadata entries, as the cases list them.
type Metadata = &'static [(&'static str, &'static str)];

fn bench(c: &mut Criterion) {
    let state = TrafficState {
        active: Side::Blue,
        weight_bp: 1250,
        salt: "rollout-7f3a".to_string(),
        version: 9,
    };
    let rules = vec![Rule::new([("tier", "premium")], Side::Green)];
    let keys: Vec<String> = (0..1024).map(|i| format!("user-{i}")).collect();
    let mut g = c.benchmark_group("select");
    let mut i = 0usize;
    g.bench_function("random draw", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let attrs = RequestAttrs::default();
            black_box(select(
                black_box(&state),
                &rules,
                true,
                &attrs,
                (i * 7) as u32,
                Availability::ALL,
            ))
        })
    });
    // The sticky key alone (no metadata: the rules are not looked at); a rule that misses on
    // the one-entry shortcut; the shapes it does not cover: a request carrying three metadata
    // entries (a tree lookup per rule condition), and a rule that matches.
    let cases: [(&str, Option<Metadata>); 4] = [
        ("sticky key", None),
        ("rules miss + sticky key", Some(&[("tier", "free")])),
        (
            "rules miss, 3 metadata entries + sticky key",
            Some(&[("region", "eu"), ("team", "search"), ("tier", "free")]),
        ),
        ("rule match", Some(&[("tier", "premium")])),
    ];
    for (name, entries) in cases {
        let meta: Option<BTreeMap<String, String>> = entries.map(|entries| {
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let attrs = RequestAttrs {
                    routing_key: Some(&keys[i]),
                    metadata: meta.as_ref(),
                    ..Default::default()
                };
                black_box(select(
                    black_box(&state),
                    &rules,
                    true,
                    &attrs,
                    0,
                    Availability::ALL,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
