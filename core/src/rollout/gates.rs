//! Gates: a [`RollbackPolicy`] judged over one side's sliding window, against the other side's.
//!
//! Pure functions of the figures: no clock, no locks. The guard and the rollout controller feed
//! them the windows; tests feed them numbers.

use std::fmt;

use serde::Serialize;

use crate::config::RollbackPolicy;
use crate::stats::WindowStats;

/// One gate of a [`RollbackPolicy`], named as the policy's field (or the signal) it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// `max_error_rate`: failures / requests above the limit.
    MaxErrorRate,
    /// `min_success_rate`: successes / requests below the limit.
    MinSuccessRate,
    /// `max_p99_latency_ms`: the 99th percentile latency above the limit.
    MaxP99LatencyMs,
    /// `max_p99_ttft_ms`: the 99th percentile time to first token of streams above the limit.
    MaxP99TtftMs,
    /// `max_error_rate_delta`: the judged side's error rate minus the other side's above the
    /// limit.
    MaxErrorRateDelta,
    /// `max_rate_limited_rate`: 429s / (successes + failures + 429s) above the limit.
    MaxRateLimitedRate,
    /// The judged side's circuit is open (or half-open): failover would otherwise hide it.
    CircuitOpen,
    /// The judged side's health probes mark it unhealthy.
    Unhealthy,
    /// `max_cost_per_request_usd`: the mean cost of a priced answer above the limit.
    MaxCostPerRequestUsd,
    /// `max_cost_ratio`: the mean cost per answer over the other side's above the limit.
    MaxCostRatio,
    /// `max_output_tokens_ratio`: the mean output tokens over the other side's above the limit.
    MaxOutputTokensRatio,
    /// `min_cached_token_share`: the share of cached prompt tokens below the limit while the
    /// other side's reaches it.
    MinCachedTokenShare,
    /// `shadow_max_tool_mismatch_rate`: shadow pairs with differing tool calls above the limit.
    ShadowMaxToolMismatchRate,
    /// `shadow_max_invalid_json_rate`: invalid structured outputs of the candidate's shadow
    /// answers above the limit.
    ShadowMaxInvalidJsonRate,
    /// `shadow_max_cost_ratio`: the candidate's shadow cost over the stable side's above the
    /// limit.
    ShadowMaxCostRatio,
}

impl Gate {
    /// The gate's name, e.g. `"max_error_rate"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxErrorRate => "max_error_rate",
            Self::MinSuccessRate => "min_success_rate",
            Self::MaxP99LatencyMs => "max_p99_latency_ms",
            Self::MaxP99TtftMs => "max_p99_ttft_ms",
            Self::MaxErrorRateDelta => "max_error_rate_delta",
            Self::MaxRateLimitedRate => "max_rate_limited_rate",
            Self::CircuitOpen => "circuit_open",
            Self::Unhealthy => "unhealthy",
            Self::MaxCostPerRequestUsd => "max_cost_per_request_usd",
            Self::MaxCostRatio => "max_cost_ratio",
            Self::MaxOutputTokensRatio => "max_output_tokens_ratio",
            Self::MinCachedTokenShare => "min_cached_token_share",
            Self::ShadowMaxToolMismatchRate => "shadow_max_tool_mismatch_rate",
            Self::ShadowMaxInvalidJsonRate => "shadow_max_invalid_json_rate",
            Self::ShadowMaxCostRatio => "shadow_max_cost_ratio",
        }
    }

    /// Whether the gate needs latency quantiles (a histogram merge) to be judged.
    pub fn needs_quantiles(self) -> bool {
        matches!(self, Self::MaxP99LatencyMs | Self::MaxP99TtftMs)
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed gate and the figures that failed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFailure {
    /// The gate.
    pub gate: Gate,
    /// What was measured (a rate, milliseconds, or 1 for a signal).
    pub observed: f64,
    /// The policy's limit (0 for a signal).
    pub limit: f64,
    /// Requests in the judged window.
    pub requests: u64,
}

impl fmt::Display for GateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.requests;
        match self.gate {
            Gate::CircuitOpen => f.write_str("its circuit is open"),
            Gate::Unhealthy => f.write_str("its health checks mark it unhealthy"),
            Gate::MinSuccessRate => write!(
                f,
                "success rate {:.3} < min_success_rate {} over {n} requests",
                self.observed, self.limit
            ),
            Gate::MaxErrorRate => write!(
                f,
                "error rate {:.3} > max_error_rate {} over {n} requests",
                self.observed, self.limit
            ),
            Gate::MaxErrorRateDelta => write!(
                f,
                "error rate {:.3} above the other side's > max_error_rate_delta {} over {n} requests",
                self.observed, self.limit
            ),
            Gate::MaxRateLimitedRate => write!(
                f,
                "rate-limited share {:.3} > max_rate_limited_rate {} over {n} answers",
                self.observed, self.limit
            ),
            Gate::MaxP99LatencyMs => write!(
                f,
                "p99 latency {:.1}ms > max_p99_latency_ms {} over {n} requests",
                self.observed, self.limit
            ),
            Gate::MaxP99TtftMs => write!(
                f,
                "p99 time to first token {:.1}ms > max_p99_ttft_ms {} over {n} requests",
                self.observed, self.limit
            ),
            Gate::MaxCostPerRequestUsd => write!(
                f,
                "mean cost ${:.6} per answer > max_cost_per_request_usd {} over {n} answers",
                self.observed, self.limit
            ),
            Gate::MaxCostRatio => write!(
                f,
                "mean cost per answer {:.2}x the other side's > max_cost_ratio {} over {n} answers",
                self.observed, self.limit
            ),
            Gate::MaxOutputTokensRatio => write!(
                f,
                "mean output tokens {:.2}x the other side's > max_output_tokens_ratio {} over {n} answers",
                self.observed, self.limit
            ),
            Gate::ShadowMaxToolMismatchRate => write!(
                f,
                "tool calls differ in {:.3} of shadow pairs > shadow_max_tool_mismatch_rate {} over {n} pairs",
                self.observed, self.limit
            ),
            Gate::ShadowMaxInvalidJsonRate => write!(
                f,
                "invalid structured output in {:.3} of shadow answers > shadow_max_invalid_json_rate {} over {n} pairs",
                self.observed, self.limit
            ),
            Gate::ShadowMaxCostRatio => write!(
                f,
                "shadow cost {:.2}x the stable side's > shadow_max_cost_ratio {} over {n} pairs",
                self.observed, self.limit
            ),
            Gate::MinCachedTokenShare => write!(
                f,
                "cached prompt-token share {:.3} < min_cached_token_share {} (the other side reaches it) over {n} answers",
                self.observed, self.limit
            ),
        }
    }
}

/// The result of judging a side.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every configured gate passed.
    Pass,
    /// A gate failed (the first one found, signals first).
    Fail(GateFailure),
    /// Too few requests to judge (below `min_requests`): never a failure.
    Inconclusive {
        /// Requests in the window.
        requests: u64,
        /// Requests needed.
        min_requests: u64,
    },
}

impl Verdict {
    /// Whether a gate failed.
    pub fn is_fail(&self) -> bool {
        matches!(self, Self::Fail(_))
    }
}

/// What is known about the judged side besides its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// Its circuit is open (within its cooldown; half-open is not: the trial decides).
    pub circuit_open: bool,
    /// Its health probes mark it unhealthy.
    pub unhealthy: bool,
}

/// Which gates an evaluation covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The gates that need only counts (rates, delta, signals): cheap enough for every outcome.
    Counts,
    /// Every gate; the windows must carry quantiles ([`WindowStats`] from a snapshot).
    All,
}

/// Judges `judged` (the candidate's window, or the new active side's after a promotion)
/// against `policy`; `baseline` is the other side's window, used by `max_error_rate_delta`.
///
/// - A failed signal (circuit open, unhealthy) fails at once, whatever the request count.
/// - Below `min_requests` judged requests (successes + side failures) the verdict is
///   inconclusive, never a failure; the caller's errors, 429s and cancellations are not judged.
/// - `max_rate_limited_rate` judges 429s over every answer (successes, failures and 429s), once
///   there are `min_requests` of them.
/// - `max_error_rate_delta` is skipped while the baseline has fewer than `min_requests`
///   requests: without a baseline an outage of the whole provider cannot be told from a bad
///   release, and the absolute gates still apply.
/// - Limits are inclusive: an error rate equal to `max_error_rate` passes.
pub fn evaluate(
    policy: &RollbackPolicy,
    judged: &WindowStats,
    baseline: &WindowStats,
    signals: Signals,
    scope: Scope,
) -> Verdict {
    let fail = |gate, observed, limit| {
        Verdict::Fail(GateFailure {
            gate,
            observed,
            limit,
            requests: judged.requests,
        })
    };
    if signals.circuit_open {
        return fail(Gate::CircuitOpen, 1.0, 0.0);
    }
    if signals.unhealthy {
        return fail(Gate::Unhealthy, 1.0, 0.0);
    }
    // 429s are judged by this gate alone, over every answer the side gave (SEMANTICS.md, *What
    // counts against a side*): a window of nothing but 429s still has enough to judge.
    let answers = judged.requests + judged.rate_limited;
    if let Some(max) = policy.max_rate_limited_rate
        && answers >= policy.min_requests
        && judged.rate_limited_rate > max
    {
        return Verdict::Fail(GateFailure {
            gate: Gate::MaxRateLimitedRate,
            observed: judged.rate_limited_rate,
            limit: max,
            requests: answers,
        });
    }
    if judged.requests < policy.min_requests {
        return Verdict::Inconclusive {
            requests: judged.requests,
            min_requests: policy.min_requests,
        };
    }
    if let Some(max) = policy.max_error_rate
        && judged.error_rate > max
    {
        return fail(Gate::MaxErrorRate, judged.error_rate, max);
    }
    if let Some(min) = policy.min_success_rate
        && judged.success_rate < min
    {
        return fail(Gate::MinSuccessRate, judged.success_rate, min);
    }
    if let Some(max) = policy.max_error_rate_delta
        && baseline.requests >= policy.min_requests
    {
        let delta = judged.error_rate - baseline.error_rate;
        if delta > max {
            return fail(Gate::MaxErrorRateDelta, delta, max);
        }
    }
    if scope == Scope::All {
        if let Some(max) = policy.max_p99_latency_ms
            && judged.p99_ms > max
        {
            return fail(Gate::MaxP99LatencyMs, judged.p99_ms, max);
        }
        if let Some(max) = policy.max_p99_ttft_ms
            && judged.p99_ttft_ms > max
        {
            return fail(Gate::MaxP99TtftMs, judged.p99_ttft_ms, max);
        }
    }
    Verdict::Pass
}

/// Whether `policy` has a gate judged only on full evaluations: quantiles, or the LLM and
/// shadow gates (their figures are summed over the window, too much for every outcome).
pub fn has_quantile_gates(policy: &RollbackPolicy) -> bool {
    policy.max_p99_latency_ms.is_some()
        || policy.max_p99_ttft_ms.is_some()
        || super::llm_gates::has_llm_gates(policy)
        || super::shadow_gates::has_shadow_gates(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(requests: u64, failures: u64, p99_ms: f64, p99_ttft_ms: f64) -> WindowStats {
        let successes = requests - failures;
        WindowStats {
            requests,
            successes,
            failures,
            error_rate: if requests == 0 {
                0.0
            } else {
                failures as f64 / requests as f64
            },
            success_rate: if requests == 0 {
                1.0
            } else {
                successes as f64 / requests as f64
            },
            p50_ms: p99_ms / 2.0,
            p95_ms: p99_ms,
            p99_ms,
            p99_ttft_ms,
            ..WindowStats::default()
        }
    }

    fn only(edit: impl FnOnce(&mut RollbackPolicy)) -> RollbackPolicy {
        let mut p = RollbackPolicy {
            max_error_rate: None,
            min_requests: 20,
            ..RollbackPolicy::default()
        };
        edit(&mut p);
        p
    }

    fn judge(p: &RollbackPolicy, w: &WindowStats) -> Verdict {
        evaluate(
            p,
            w,
            &window(0, 0, 0.0, 0.0),
            Signals::default(),
            Scope::All,
        )
    }

    fn failed_gate(v: &Verdict) -> Option<Gate> {
        match v {
            Verdict::Fail(f) => Some(f.gate),
            _ => None,
        }
    }

    #[test]
    fn max_error_rate_fails_passes_and_is_inconclusive() {
        let p = only(|p| p.max_error_rate = Some(0.05));
        let v = judge(&p, &window(20, 12, 10.0, 0.0));
        assert_eq!(failed_gate(&v), Some(Gate::MaxErrorRate));
        if let Verdict::Fail(f) = v {
            assert!((f.observed - 0.6).abs() < 1e-9);
            assert_eq!((f.limit, f.requests), (0.05, 20));
        }
        // The limit is inclusive: 1 failure in 20 is exactly 0.05.
        assert_eq!(judge(&p, &window(20, 1, 10.0, 0.0)), Verdict::Pass);
        assert_eq!(
            judge(&p, &window(19, 19, 10.0, 0.0)),
            Verdict::Inconclusive {
                requests: 19,
                min_requests: 20
            }
        );
    }

    #[test]
    fn min_success_rate_fails_passes_and_is_inconclusive() {
        let p = only(|p| p.min_success_rate = Some(0.9));
        let v = judge(&p, &window(40, 5, 10.0, 0.0));
        assert_eq!(failed_gate(&v), Some(Gate::MinSuccessRate));
        assert_eq!(judge(&p, &window(40, 4, 10.0, 0.0)), Verdict::Pass);
        assert!(matches!(
            judge(&p, &window(3, 3, 10.0, 0.0)),
            Verdict::Inconclusive { .. }
        ));
    }

    #[test]
    fn p99_latency_fails_passes_and_is_inconclusive() {
        let p = only(|p| p.max_p99_latency_ms = Some(500.0));
        let v = judge(&p, &window(30, 0, 900.0, 0.0));
        assert_eq!(failed_gate(&v), Some(Gate::MaxP99LatencyMs));
        assert_eq!(judge(&p, &window(30, 0, 450.0, 0.0)), Verdict::Pass);
        assert!(matches!(
            judge(&p, &window(10, 0, 9000.0, 0.0)),
            Verdict::Inconclusive { .. }
        ));
        // A counts-only evaluation does not look at quantiles.
        let v = evaluate(
            &p,
            &window(30, 0, 900.0, 0.0),
            &WindowStats::default(),
            Signals::default(),
            Scope::Counts,
        );
        assert_eq!(v, Verdict::Pass);
    }

    #[test]
    fn p99_ttft_fails_passes_and_is_inconclusive() {
        let p = only(|p| p.max_p99_ttft_ms = Some(200.0));
        let v = judge(&p, &window(30, 0, 900.0, 350.0));
        assert_eq!(failed_gate(&v), Some(Gate::MaxP99TtftMs));
        assert_eq!(judge(&p, &window(30, 0, 900.0, 150.0)), Verdict::Pass);
        assert!(matches!(
            judge(&p, &window(5, 0, 900.0, 350.0)),
            Verdict::Inconclusive { .. }
        ));
    }

    #[test]
    fn error_rate_delta_compares_with_the_other_side() {
        let p = only(|p| p.max_error_rate_delta = Some(0.1));
        let candidate = window(50, 25, 10.0, 0.0);
        // The whole provider is failing: both sides at ~50 %, not the release's fault.
        let active = window(200, 90, 10.0, 0.0);
        let s = Signals::default();
        assert_eq!(
            evaluate(&p, &candidate, &active, s, Scope::Counts),
            Verdict::Pass
        );
        // Only the candidate fails.
        let healthy_active = window(200, 2, 10.0, 0.0);
        let v = evaluate(&p, &candidate, &healthy_active, s, Scope::Counts);
        assert_eq!(failed_gate(&v), Some(Gate::MaxErrorRateDelta));
        // Too few candidate requests.
        let v = evaluate(
            &p,
            &window(10, 10, 1.0, 0.0),
            &healthy_active,
            s,
            Scope::Counts,
        );
        assert!(matches!(v, Verdict::Inconclusive { .. }));
        // No baseline to compare with: the delta gate is skipped.
        let v = evaluate(&p, &candidate, &window(3, 0, 1.0, 0.0), s, Scope::Counts);
        assert_eq!(v, Verdict::Pass);
    }

    #[test]
    fn signals_fail_whatever_the_request_count() {
        let p = only(|p| p.max_error_rate = Some(0.05));
        let empty = WindowStats::default();
        let v = evaluate(
            &p,
            &empty,
            &empty,
            Signals {
                circuit_open: true,
                unhealthy: false,
            },
            Scope::Counts,
        );
        assert_eq!(failed_gate(&v), Some(Gate::CircuitOpen));
        let v = evaluate(
            &p,
            &empty,
            &empty,
            Signals {
                circuit_open: false,
                unhealthy: true,
            },
            Scope::Counts,
        );
        assert_eq!(failed_gate(&v), Some(Gate::Unhealthy));
    }

    #[test]
    fn failures_read_well() {
        let f = GateFailure {
            gate: Gate::MaxErrorRate,
            observed: 0.6,
            limit: 0.05,
            requests: 20,
        };
        assert_eq!(
            f.to_string(),
            "error rate 0.600 > max_error_rate 0.05 over 20 requests"
        );
    }

    #[test]
    fn rate_limited_share_has_its_own_gate_over_every_answer() {
        let policy = only(|p| p.max_rate_limited_rate = Some(0.2));
        let mut w = window(10, 0, 10.0, 5.0);
        w.rate_limited = 15;
        w.rate_limited_rate = 15.0 / 25.0;
        let f = failed_gate(&judge(&policy, &w));
        assert_eq!(
            f,
            Some(Gate::MaxRateLimitedRate),
            "25 answers, 60 % of them 429s"
        );
        w.rate_limited = 2;
        w.rate_limited_rate = 2.0 / 12.0;
        assert!(
            matches!(judge(&policy, &w), Verdict::Inconclusive { .. }),
            "12 answers are too few to judge"
        );
        let no_gate = only(|_| {});
        let mut limited = window(40, 0, 10.0, 5.0);
        limited.rate_limited = 400;
        limited.rate_limited_rate = 400.0 / 440.0;
        assert_eq!(
            judge(&no_gate, &limited),
            Verdict::Pass,
            "without the gate, 429s fail nothing"
        );
    }
}
