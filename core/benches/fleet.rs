//! What the fleet's counts cost a request (SEMANTICS.md, *Fleet*): recording one ended request
//! into the instance's pending seconds, and the once-a-second flush of those counts into the
//! store, for a second of 10 000 requests over both sides. Goal: ≤ 0.5 µs per request
//! amortised (record + flush ÷ requests). With `TURNOUT_BENCH_REDIS` set (a `redis://` URL of
//! a running `redis-server`), the flush goes to Redis, as in a fleet; otherwise to the memory
//! store only.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use turnout::Side;
use turnout::config::{StateBackend, StateConfig};
use turnout::state::{PendingSeconds, Store};
use turnout::stats::Outcome;

/// Requests in the flushed second.
const PER_SECOND: u64 = 10_000;

/// A spread of latencies from 20 ms to 2 s (a few hundred histogram buckets per side), and an
/// outcome mix with a failure and a 429 in every hundred.
fn request(i: u64) -> (Side, Outcome, Duration) {
    let side = if i.is_multiple_of(4) {
        Side::Green
    } else {
        Side::Blue
    };
    let outcome = match i % 100 {
        0 => Outcome::Failure,
        1 => Outcome::RateLimited,
        _ => Outcome::Success,
    };
    let latency = Duration::from_micros(20_000 + (i * 7919) % 1_980_000);
    (side, outcome, latency)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("fleet");

    let pending = PendingSeconds::default();
    let mut i = 0u64;
    g.bench_function("record one request", |b| {
        b.iter(|| {
            i += 1;
            let (side, outcome, latency) = request(i);
            pending.record(black_box(1_700_000_000), side, outcome, latency, None);
        })
    });

    let redis = std::env::var("TURNOUT_BENCH_REDIS").ok();
    let config = StateConfig {
        backend: match redis {
            Some(_) => StateBackend::Redis,
            None => StateBackend::Memory,
        },
        url: redis.map(Into::into),
        namespace: Some(format!("bench-{}", std::process::id())),
        ..Default::default()
    };
    let backend = format!("{:?}", config.backend).to_lowercase();
    let store = Store::open(&config).expect("the store");
    let keep = Duration::from_secs(120);
    let mut second = 1_700_000_000u64;
    g.bench_function(
        format!("flush one second of {PER_SECOND} requests ({backend})"),
        |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let mut batches = Vec::new();
                for _ in 0..iters {
                    second += 1;
                    let pending = PendingSeconds::default();
                    for n in 0..PER_SECOND {
                        let (side, outcome, latency) = request(n);
                        pending.record(second, side, outcome, latency, None);
                    }
                    batches.push((format!("batch-{second}"), pending));
                }
                let store = &store;
                async move {
                    let start = Instant::now();
                    for (batch, pending) in batches {
                        store
                            .flush(&batch, pending.take(), keep)
                            .await
                            .expect("the flush");
                    }
                    start.elapsed()
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
