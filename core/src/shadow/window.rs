//! The candidate's shadow diffs, summed per second of the engine's clock and judged over any
//! window up to an hour (as the LLM gates' record is).

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use super::diff::PairDiff;

/// The longest window the record covers: one hour.
const MAX_SECONDS: u64 = 3600;

/// Sums of shadow pairs over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ShadowFigures {
    /// Pairs where both sides answered.
    pub pairs: u64,
    /// Shadow requests the candidate failed (a side failure) while the primary answered.
    pub candidate_failures: u64,
    /// Pairs whose tool calls differ.
    pub tool_mismatches: u64,
    /// Pairs whose `finish_reason` differs.
    pub finish_mismatches: u64,
    /// Pairs whose request asked for JSON output.
    pub json_checked: u64,
    /// Of those, pairs whose candidate output was not valid.
    pub json_invalid: u64,
    /// Pairs where both sides were priced.
    pub priced: u64,
    /// Primary cost over the priced pairs, USD.
    pub primary_cost_usd: f64,
    /// Candidate cost over the priced pairs, USD.
    pub candidate_cost_usd: f64,
    /// Sum of candidate − primary latency, ms.
    pub latency_delta_ms: f64,
}

impl ShadowFigures {
    fn ratio(a: f64, b: f64) -> f64 {
        if b > 0.0 { a / b } else { 0.0 }
    }

    /// Tool-call mismatches / pairs.
    pub fn tool_mismatch_rate(&self) -> f64 {
        Self::ratio(self.tool_mismatches as f64, self.pairs as f64)
    }

    /// Invalid structured outputs / pairs that asked for one.
    pub fn invalid_json_rate(&self) -> f64 {
        Self::ratio(self.json_invalid as f64, self.json_checked as f64)
    }

    /// `finish_reason` mismatches / pairs.
    pub fn finish_mismatch_rate(&self) -> f64 {
        Self::ratio(self.finish_mismatches as f64, self.pairs as f64)
    }

    /// Candidate cost / primary cost over the priced pairs (0 without any).
    pub fn cost_ratio(&self) -> f64 {
        Self::ratio(self.candidate_cost_usd, self.primary_cost_usd)
    }

    /// Candidate failures / (pairs + candidate failures).
    pub fn error_rate(&self) -> f64 {
        Self::ratio(
            self.candidate_failures as f64,
            (self.pairs + self.candidate_failures) as f64,
        )
    }

    /// Mean latency delta (candidate − primary), ms.
    pub fn mean_latency_delta_ms(&self) -> f64 {
        Self::ratio(self.latency_delta_ms, self.pairs as f64)
    }

    fn add(&mut self, o: &ShadowFigures) {
        self.pairs += o.pairs;
        self.candidate_failures += o.candidate_failures;
        self.tool_mismatches += o.tool_mismatches;
        self.finish_mismatches += o.finish_mismatches;
        self.json_checked += o.json_checked;
        self.json_invalid += o.json_invalid;
        self.priced += o.priced;
        self.primary_cost_usd += o.primary_cost_usd;
        self.candidate_cost_usd += o.candidate_cost_usd;
        self.latency_delta_ms += o.latency_delta_ms;
    }

    /// The figures of one pair.
    pub(crate) fn of_pair(d: &PairDiff, costs: Option<(f64, f64)>) -> Self {
        Self {
            pairs: 1,
            tool_mismatches: u64::from(!d.tool_calls_equal),
            finish_mismatches: u64::from(!d.finish_reason_equal),
            json_checked: u64::from(d.json_valid.is_some()),
            json_invalid: u64::from(d.json_valid == Some(false)),
            priced: u64::from(costs.is_some()),
            primary_cost_usd: costs.map_or(0.0, |c| c.0),
            candidate_cost_usd: costs.map_or(0.0, |c| c.1),
            latency_delta_ms: d.latency_delta_ms,
            ..Self::default()
        }
    }

    /// The figures of a shadow request the candidate failed.
    pub(crate) fn failure() -> Self {
        Self {
            candidate_failures: 1,
            ..Self::default()
        }
    }
}

/// The per-second record of shadow pairs, plus totals since the start.
#[derive(Debug, Default)]
pub(crate) struct ShadowWindow {
    seconds: Mutex<VecDeque<(u64, ShadowFigures)>>,
    total: Mutex<ShadowFigures>,
}

impl ShadowWindow {
    /// Records one pair (or failure) at `now`.
    pub fn record(&self, now: Duration, f: ShadowFigures) {
        let second = now.as_secs();
        self.total.lock().add(&f);
        let mut seconds = self.seconds.lock();
        while seconds
            .front()
            .is_some_and(|(s, _)| second.saturating_sub(*s) >= MAX_SECONDS)
        {
            seconds.pop_front();
        }
        match seconds.back_mut() {
            Some((s, sum)) if *s == second => sum.add(&f),
            _ => seconds.push_back((second, f)),
        }
    }

    /// Sums over the last `window` up to `now`.
    pub fn figures(&self, now: Duration, window: Duration) -> ShadowFigures {
        let second = now.as_secs();
        let span = window.as_secs().clamp(1, MAX_SECONDS);
        let mut out = ShadowFigures::default();
        for (s, f) in self.seconds.lock().iter().rev() {
            if second.saturating_sub(*s) >= span {
                break;
            }
            out.add(f);
        }
        out
    }

    /// Sums since the client started.
    pub fn total(&self) -> ShadowFigures {
        *self.total.lock()
    }

    /// Forgets everything (a new rollout judges its candidate afresh).
    pub fn clear(&self) {
        self.seconds.lock().clear();
        *self.total.lock() = ShadowFigures::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_window() {
        let w = ShadowWindow::default();
        let s = Duration::from_secs;
        let d = PairDiff {
            finish_reason_equal: false,
            tool_calls_equal: false,
            json_valid: Some(false),
            output_tokens_ratio: None,
            latency_delta_ms: 10.0,
            cost_delta_usd: None,
        };
        w.record(s(0), ShadowFigures::of_pair(&d, Some((1.0, 2.0))));
        let ok = PairDiff {
            finish_reason_equal: true,
            tool_calls_equal: true,
            json_valid: None,
            ..d.clone()
        };
        w.record(s(10), ShadowFigures::of_pair(&ok, Some((1.0, 2.0))));
        w.record(s(10), ShadowFigures::failure());
        let f = w.figures(s(20), s(60));
        assert_eq!((f.pairs, f.candidate_failures), (2, 1));
        assert_eq!(f.tool_mismatch_rate(), 0.5);
        assert_eq!(f.invalid_json_rate(), 1.0);
        assert_eq!(f.cost_ratio(), 2.0);
        assert!((f.error_rate() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(w.figures(s(65), s(60)).pairs, 1, "second 0 left the window");
        assert_eq!(w.total().pairs, 2);
    }
}
