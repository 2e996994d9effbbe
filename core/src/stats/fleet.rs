//! Fleet-wide window figures (SEMANTICS.md, *Fleet*): per-side outcome counts and latency
//! histograms in one fixed log-bucket layout, so that instances add their seconds into one
//! store and the analyst merges them into the fleet's p99, not an average of instances' p99s.
//!
//! The layout: a latency of `x` µs falls in bucket `i = ceil(log_γ x)`, which holds
//! `(γ^(i-1), γ^i]` and is read back as `2γ^i / (γ + 1)`; with `γ = (1 + α) / (1 − α)` every
//! value read back is within `α` of every value of its bucket. `α` is 0.8 %, under the 1 %
//! the design asks for, so a µs rounding on top still stays within it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::window::{Outcome, WindowStats};

/// The relative error of a quantile read back from the histogram.
pub const RELATIVE_ERROR: f64 = 0.008;
/// Latencies are recorded in µs up to ten minutes.
const MAX_MICROS: f64 = 600_000_000.0;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// The bucket of a latency (µs, at least 1).
pub fn bucket_of(d: Duration) -> u16 {
    let micros = (d.as_secs_f64() * 1e6).clamp(1.0, MAX_MICROS);
    let i = (micros.ln() / gamma().ln()).ceil();
    // At most ~1270 buckets for ten minutes: always within u16.
    i.max(0.0) as u16
}

/// The value a bucket is read back as, in ms.
pub fn bucket_value_ms(i: u16) -> f64 {
    let g = gamma();
    2.0 * g.powi(i32::from(i)) / (g + 1.0) / 1000.0
}

/// One side's counts over some seconds, as stored and summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetCounts {
    /// Successes.
    #[serde(default)]
    pub successes: u64,
    /// Side failures.
    #[serde(default)]
    pub failures: u64,
    /// 429s.
    #[serde(default)]
    pub rate_limited: u64,
    /// The caller's 4xx.
    #[serde(default)]
    pub client_errors: u64,
    /// Cancelled by the caller.
    #[serde(default)]
    pub cancelled: u64,
    /// Latency histogram of successes: bucket → count.
    #[serde(default)]
    pub latency: BTreeMap<u16, u64>,
    /// Time-to-first-token histogram of successful streams: bucket → count.
    #[serde(default)]
    pub ttft: BTreeMap<u16, u64>,
}

impl FleetCounts {
    /// Adds one ended request, classed as the local windows class it.
    pub fn record(&mut self, outcome: Outcome, latency: Duration, ttft: Option<Duration>) {
        match outcome {
            Outcome::Success => {
                self.successes += 1;
                *self.latency.entry(bucket_of(latency)).or_default() += 1;
                if let Some(t) = ttft {
                    *self.ttft.entry(bucket_of(t)).or_default() += 1;
                }
            }
            Outcome::Failure => self.failures += 1,
            Outcome::RateLimited => self.rate_limited += 1,
            Outcome::ClientError => self.client_errors += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }

    /// Successes + side failures: what `min_requests` counts.
    pub fn judged(&self) -> u64 {
        self.successes + self.failures
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.judged() + self.rate_limited + self.client_errors + self.cancelled == 0
    }

    /// Adds `other` into this.
    pub fn add(&mut self, other: &FleetCounts) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.rate_limited += other.rate_limited;
        self.client_errors += other.client_errors;
        self.cancelled += other.cancelled;
        for (k, v) in &other.latency {
            *self.latency.entry(*k).or_default() += v;
        }
        for (k, v) in &other.ttft {
            *self.ttft.entry(*k).or_default() += v;
        }
    }

    /// The fields of a Redis hash: `s f r e c`, `l<bucket>`, `t<bucket>`.
    pub fn fields(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = [
            ("s", self.successes),
            ("f", self.failures),
            ("r", self.rate_limited),
            ("e", self.client_errors),
            ("c", self.cancelled),
        ]
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        out.extend(self.latency.iter().map(|(k, v)| (format!("l{k}"), *v)));
        out.extend(self.ttft.iter().map(|(k, v)| (format!("t{k}"), *v)));
        out
    }

    /// Adds the fields of a Redis hash (unknown fields are skipped: a newer writer's).
    pub fn add_fields<'a>(&mut self, fields: impl IntoIterator<Item = (&'a str, u64)>) {
        for (k, v) in fields {
            match k {
                "s" => self.successes += v,
                "f" => self.failures += v,
                "r" => self.rate_limited += v,
                "e" => self.client_errors += v,
                "c" => self.cancelled += v,
                _ => {
                    // `split_at` would panic on an empty name or a non-ASCII first byte,
                    // and the store's contents are not ours to trust.
                    let (map, idx) = if let Some(i) = k.strip_prefix('l') {
                        (&mut self.latency, i)
                    } else if let Some(i) = k.strip_prefix('t') {
                        (&mut self.ttft, i)
                    } else {
                        continue;
                    };
                    if let Ok(i) = idx.parse::<u16>() {
                        *map.entry(i).or_default() += v;
                    }
                }
            }
        }
    }

    /// The figures the gates judge, as a local window reports them.
    pub fn stats(&self) -> WindowStats {
        let requests = self.judged();
        let mut s = WindowStats {
            requests,
            successes: self.successes,
            failures: self.failures,
            rate_limited: self.rate_limited,
            client_errors: self.client_errors,
            cancelled: self.cancelled,
            ..WindowStats::default()
        };
        if requests > 0 {
            s.error_rate = self.failures as f64 / requests as f64;
        }
        s.success_rate = 1.0 - s.error_rate;
        let limited_base = requests + self.rate_limited;
        if limited_base > 0 {
            s.rate_limited_rate = self.rate_limited as f64 / limited_base as f64;
        }
        s.p50_ms = quantile_ms(&self.latency, 0.50);
        s.p95_ms = quantile_ms(&self.latency, 0.95);
        s.p99_ms = quantile_ms(&self.latency, 0.99);
        s.p99_ttft_ms = quantile_ms(&self.ttft, 0.99);
        s
    }
}

/// The `q` quantile (nearest rank) of a histogram in ms; 0 when it is empty.
pub fn quantile_ms(h: &BTreeMap<u16, u64>, q: f64) -> f64 {
    let n: u64 = h.values().sum();
    if n == 0 {
        return 0.0;
    }
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (i, c) in h {
        seen += c;
        if seen >= rank {
            return bucket_value_ms(*i);
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_within_the_relative_error() {
        let mut x = 1.0f64;
        while x < 5.0e8 {
            let d = Duration::from_secs_f64(x / 1e6);
            // What is recorded: the Duration, whole nanoseconds.
            let recorded = d.as_secs_f64() * 1e6;
            let back = bucket_value_ms(bucket_of(d)) * 1000.0;
            assert!(
                (back - recorded).abs() / recorded <= RELATIVE_ERROR + 1e-9,
                "{recorded} µs read back as {back}"
            );
            x *= 1.003;
        }
    }

    #[test]
    fn stray_field_names_from_the_store_are_skipped() {
        let mut c = FleetCounts::default();
        c.add_fields([("", 1), ("é", 1), ("l", 2), ("t7", 3), ("s", 4), ("lx", 5)]);
        assert_eq!(c.successes, 4);
        assert_eq!(c.ttft.get(&7), Some(&3));
        assert!(c.latency.is_empty(), "{:?}", c.latency);
    }

    #[test]
    fn merged_p99_is_the_p99_of_all_values() {
        let mut parts = [FleetCounts::default(), FleetCounts::default()];
        let mut all = Vec::new();
        for i in 1..=1000u64 {
            let ms = if i % 3 == 0 { 200 + i } else { 5 + i % 7 };
            parts[(i % 2) as usize].record(Outcome::Success, Duration::from_millis(ms), None);
            all.push(ms as f64);
        }
        let mut merged = FleetCounts::default();
        merged.add(&parts[0]);
        let mut through_fields = FleetCounts::default();
        let fields = parts[1].fields();
        through_fields.add_fields(fields.iter().map(|(k, v)| (k.as_str(), *v)));
        merged.add(&through_fields);
        all.sort_by(f64::total_cmp);
        let exact = all[(0.99f64 * 1000.0).ceil() as usize - 1];
        let p99 = merged.stats().p99_ms;
        assert!((p99 - exact).abs() / exact <= 0.01, "{p99} vs {exact}");
        assert_eq!(merged.stats().requests, 1000);
    }
}
