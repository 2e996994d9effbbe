//! A time-bucketed sliding window: `SLOTS` buckets of `window / SLOTS` each, every bucket with
//! its counts and HDR histograms of latency and time to first token.
//!
//! Outcomes are classed as SEMANTICS.md, *What counts against a side*, says: only successes and
//! side failures are judged (rates, `min_requests`); only successes feed the latency quantiles;
//! the caller's errors, 429s and cancellations are counted apart and judge nothing.

use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// Buckets per window: the window slides in steps of a tenth of its length.
const SLOTS: usize = 10;
/// Latencies are recorded in microseconds, up to ten minutes, to two significant digits.
const MAX_MICROS: u64 = 600_000_000;

/// How a request ended, for the statistics: the classes of SEMANTICS.md, *What counts against
/// a side*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served: a 2xx answer, or a stream that ended normally.
    Success,
    /// A failure of the side (connect, timeout, 5xx, undecodable, 401/403, a stream cut by the
    /// upstream).
    Failure,
    /// 429 from the upstream: counted apart, not a failure of the release.
    RateLimited,
    /// The caller's own 4xx.
    ClientError,
    /// The caller dropped the request or stream, or its own deadline ended it.
    Cancelled,
}

impl Outcome {
    /// Whether the outcome judges the side (counts in error rate, success rate and
    /// `min_requests`).
    pub fn is_judged(self) -> bool {
        matches!(self, Self::Success | Self::Failure)
    }
}

/// The figures of one side's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WindowStats {
    /// Judged requests in the window: successes + side failures (what `min_requests` counts).
    pub requests: u64,
    /// Successful ones.
    pub successes: u64,
    /// Failures of the side.
    pub failures: u64,
    /// 429s.
    pub rate_limited: u64,
    /// The caller's 4xx.
    pub client_errors: u64,
    /// Requests the caller dropped or its own deadline ended.
    pub cancelled: u64,
    /// failures / (successes + failures) (0 when there were none).
    pub error_rate: f64,
    /// 1 − error_rate (1 when there were none).
    pub success_rate: f64,
    /// rate_limited / (successes + failures + rate_limited) (0 when there were none).
    pub rate_limited_rate: f64,
    /// Latency quantiles of successful requests in ms (0 when there were none).
    pub p50_ms: f64,
    /// 95th percentile latency in ms.
    pub p95_ms: f64,
    /// 99th percentile latency in ms.
    pub p99_ms: f64,
    /// 99th percentile time to first token of successful streams, in ms.
    pub p99_ttft_ms: f64,
}

#[derive(Debug)]
struct Bucket {
    generation: u64,
    requests: u64,
    successes: u64,
    failures: u64,
    rate_limited: u64,
    client_errors: u64,
    cancelled: u64,
    latency: Histogram<u64>,
    ttft: Histogram<u64>,
}

impl Bucket {
    fn new() -> Self {
        Self {
            generation: u64::MAX,
            requests: 0,
            successes: 0,
            failures: 0,
            rate_limited: 0,
            client_errors: 0,
            cancelled: 0,
            latency: histogram(),
            ttft: histogram(),
        }
    }

    fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.requests = 0;
        self.successes = 0;
        self.failures = 0;
        self.rate_limited = 0;
        self.client_errors = 0;
        self.cancelled = 0;
        self.latency.reset();
        self.ttft.reset();
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("constant bounds and precision are valid")
}

/// The sliding window of one side.
#[derive(Debug)]
pub(crate) struct StatsWindow {
    slot_len: Duration,
    buckets: Mutex<Vec<Bucket>>,
}

impl StatsWindow {
    pub fn new(window: Duration) -> Self {
        Self {
            slot_len: (window / SLOTS as u32).max(Duration::from_millis(1)),
            buckets: Mutex::new((0..SLOTS).map(|_| Bucket::new()).collect()),
        }
    }

    fn generation(&self, now: Duration) -> u64 {
        (now.as_nanos() / self.slot_len.as_nanos()) as u64
    }

    /// Records one ended request.
    pub fn record(
        &self,
        now: Duration,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let generation = self.generation(now);
        let mut buckets = self.buckets.lock();
        let b = &mut buckets[(generation % SLOTS as u64) as usize];
        if b.generation != generation {
            b.reset(generation);
        }
        match outcome {
            Outcome::Success => b.successes += 1,
            Outcome::Failure => b.failures += 1,
            Outcome::RateLimited => b.rate_limited += 1,
            Outcome::ClientError => b.client_errors += 1,
            Outcome::Cancelled => b.cancelled += 1,
        }
        if outcome.is_judged() {
            b.requests += 1;
        }
        // A failure's latency is its timeout or its error's, not the side's speed at serving.
        if outcome == Outcome::Success {
            b.latency.saturating_record(micros(latency));
            if let Some(t) = ttft {
                b.ttft.saturating_record(micros(t));
            }
        }
    }

    /// The counts of the window, without quantiles (cheap: no histogram merge).
    pub fn counts(&self, now: Duration) -> WindowStats {
        self.collect(now, false)
    }

    /// Counts and quantiles of the window.
    pub fn snapshot(&self, now: Duration) -> WindowStats {
        self.collect(now, true)
    }

    /// Forgets everything (a new rollout judges its candidate afresh).
    pub fn clear(&self) {
        for b in self.buckets.lock().iter_mut() {
            b.reset(u64::MAX);
        }
    }

    fn collect(&self, now: Duration, quantiles: bool) -> WindowStats {
        let current = self.generation(now);
        let oldest = current.saturating_sub(SLOTS as u64 - 1);
        let buckets = self.buckets.lock();
        let live = buckets
            .iter()
            .filter(|b| b.generation != u64::MAX && (oldest..=current).contains(&b.generation));
        let mut s = WindowStats::default();
        let mut latency = quantiles.then(histogram);
        let mut ttft = quantiles.then(histogram);
        for b in live {
            s.requests += b.requests;
            s.successes += b.successes;
            s.failures += b.failures;
            s.rate_limited += b.rate_limited;
            s.client_errors += b.client_errors;
            s.cancelled += b.cancelled;
            if let (Some(l), Some(t)) = (latency.as_mut(), ttft.as_mut()) {
                // Same bounds on both sides, so adding cannot fail.
                let _ = l.add(&b.latency);
                let _ = t.add(&b.ttft);
            }
        }
        drop(buckets);
        if s.requests > 0 {
            s.error_rate = s.failures as f64 / s.requests as f64;
        }
        s.success_rate = 1.0 - s.error_rate;
        let limited_base = s.requests + s.rate_limited;
        if limited_base > 0 {
            s.rate_limited_rate = s.rate_limited as f64 / limited_base as f64;
        }
        if let (Some(l), Some(t)) = (latency, ttft) {
            s.p50_ms = quantile_ms(&l, 0.50);
            s.p95_ms = quantile_ms(&l, 0.95);
            s.p99_ms = quantile_ms(&l, 0.99);
            s.p99_ttft_ms = quantile_ms(&t, 0.99);
        }
        s
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(MAX_MICROS)
        .clamp(1, MAX_MICROS)
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counts_and_rates() {
        let w = StatsWindow::new(Duration::from_secs(60));
        let now = Duration::from_secs(5);
        for _ in 0..8 {
            w.record(now, Outcome::Success, 10 * MS, None);
        }
        w.record(now, Outcome::Failure, 10 * MS, None);
        w.record(now, Outcome::Failure, 10 * MS, None);
        w.record(now, Outcome::RateLimited, 10 * MS, None);
        let s = w.counts(now);
        assert_eq!(
            (s.requests, s.successes, s.failures, s.rate_limited),
            (10, 8, 2, 1)
        );
        assert!((s.error_rate - 0.2).abs() < 1e-9);
        assert!((s.success_rate - 0.8).abs() < 1e-9);
        assert!((s.rate_limited_rate - 1.0 / 11.0).abs() < 1e-9);
    }

    #[test]
    fn caller_errors_429s_and_cancellations_judge_nothing() {
        let w = StatsWindow::new(Duration::from_secs(60));
        let now = Duration::from_secs(5);
        for _ in 0..19 {
            w.record(now, Outcome::Success, 10 * MS, None);
        }
        w.record(now, Outcome::Failure, 10 * MS, None);
        for _ in 0..50 {
            w.record(now, Outcome::ClientError, 10 * MS, None);
            w.record(now, Outcome::RateLimited, 10 * MS, None);
            w.record(now, Outcome::Cancelled, 5_000 * MS, None);
        }
        let s = w.snapshot(now);
        assert_eq!(
            s.requests, 20,
            "only successes and side failures are judged"
        );
        assert_eq!((s.client_errors, s.rate_limited, s.cancelled), (50, 50, 50));
        assert!((s.error_rate - 0.05).abs() < 1e-9);
        assert!((s.success_rate - 0.95).abs() < 1e-9);
        assert!(
            s.p99_ms <= 10.1,
            "the cancelled requests' 5 s are not latency: {}",
            s.p99_ms
        );
    }

    #[test]
    fn failures_do_not_feed_the_latency_quantiles() {
        let w = StatsWindow::new(Duration::from_secs(60));
        let now = Duration::from_secs(5);
        for _ in 0..99 {
            w.record(now, Outcome::Success, 20 * MS, Some(5 * MS));
        }
        for _ in 0..10 {
            w.record(now, Outcome::Failure, 30_000 * MS, Some(30_000 * MS));
        }
        let s = w.snapshot(now);
        assert!(s.p99_ms <= 20.2, "{}", s.p99_ms);
        assert!(s.p99_ttft_ms <= 5.1, "{}", s.p99_ttft_ms);
    }

    #[test]
    fn quantiles_follow_the_latencies() {
        let w = StatsWindow::new(Duration::from_secs(60));
        let now = Duration::from_secs(1);
        for i in 1..=100u64 {
            w.record(
                now,
                Outcome::Success,
                Duration::from_millis(i),
                Some(Duration::from_millis(i / 2 + 1)),
            );
        }
        let s = w.snapshot(now);
        assert!((s.p50_ms - 50.0).abs() <= 1.0, "{}", s.p50_ms);
        assert!((s.p99_ms - 99.0).abs() <= 1.0, "{}", s.p99_ms);
        assert!((s.p99_ttft_ms - 50.0).abs() <= 1.0, "{}", s.p99_ttft_ms);
    }

    #[test]
    fn old_outcomes_slide_out() {
        let w = StatsWindow::new(Duration::from_secs(10));
        w.record(Duration::from_secs(1), Outcome::Failure, MS, None);
        assert_eq!(w.counts(Duration::from_millis(9_900)).requests, 1);
        assert_eq!(w.counts(Duration::from_secs(11)).requests, 0);
        w.record(Duration::from_secs(11), Outcome::Success, MS, None);
        let s = w.counts(Duration::from_secs(11));
        assert_eq!(
            (s.requests, s.failures),
            (1, 0),
            "the reused bucket was reset"
        );
    }
}
