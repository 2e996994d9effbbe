//! The shadow gates, judged over the candidate's shadow pairs: tool-call mismatches, invalid
//! structured outputs, cost against the stable side's for the same requests — and, for a
//! rollout step at weight 0 that runs on shadow traffic alone, the candidate's error rate.

use crate::config::RollbackPolicy;
use crate::shadow::ShadowFigures;

use super::gates::{Gate, GateFailure, Verdict};

/// Judges the shadow figures `f` against `policy`.
///
/// With `step` (a shadow step, where no user reaches the candidate) fewer than `min_requests`
/// shadow requests make the verdict inconclusive, and `max_error_rate` judges the candidate's
/// shadow failures. Otherwise too few pairs pass (the other gates judge user traffic).
pub fn evaluate(policy: &RollbackPolicy, f: &ShadowFigures, step: bool) -> Verdict {
    let judged = f.pairs + f.candidate_failures;
    if judged < policy.min_requests.max(1) {
        return if step {
            Verdict::Inconclusive {
                requests: judged,
                min_requests: policy.min_requests,
            }
        } else {
            Verdict::Pass
        };
    }
    let fail = |gate, observed, limit| {
        Verdict::Fail(GateFailure {
            gate,
            observed,
            limit,
            requests: judged,
        })
    };
    if step
        && let Some(max) = policy.max_error_rate
        && f.error_rate() > max
    {
        return fail(Gate::MaxErrorRate, f.error_rate(), max);
    }
    if let Some(max) = policy.shadow_max_tool_mismatch_rate
        && f.pairs > 0
        && f.tool_mismatch_rate() > max
    {
        return fail(Gate::ShadowMaxToolMismatchRate, f.tool_mismatch_rate(), max);
    }
    if let Some(max) = policy.shadow_max_invalid_json_rate
        && f.json_checked > 0
        && f.invalid_json_rate() > max
    {
        return fail(Gate::ShadowMaxInvalidJsonRate, f.invalid_json_rate(), max);
    }
    if let Some(max) = policy.shadow_max_cost_ratio
        && f.priced >= policy.min_requests.max(1)
        && f.primary_cost_usd > 0.0
        && f.cost_ratio() > max
    {
        return fail(Gate::ShadowMaxCostRatio, f.cost_ratio(), max);
    }
    Verdict::Pass
}

/// Whether `policy` sets a shadow gate.
pub fn has_shadow_gates(policy: &RollbackPolicy) -> bool {
    policy.shadow_max_tool_mismatch_rate.is_some()
        || policy.shadow_max_invalid_json_rate.is_some()
        || policy.shadow_max_cost_ratio.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: u64, failures: u64, tool_mismatches: u64) -> ShadowFigures {
        ShadowFigures {
            pairs,
            candidate_failures: failures,
            tool_mismatches,
            ..ShadowFigures::default()
        }
    }

    fn policy() -> RollbackPolicy {
        RollbackPolicy {
            min_requests: 10,
            shadow_max_tool_mismatch_rate: Some(0.1),
            ..RollbackPolicy::default()
        }
    }

    #[test]
    fn a_shadow_step_is_inconclusive_below_min_requests() {
        let p = policy();
        assert!(matches!(
            evaluate(&p, &figures(9, 0, 9), true),
            Verdict::Inconclusive { requests: 9, .. }
        ));
        assert_eq!(evaluate(&p, &figures(9, 0, 9), false), Verdict::Pass);
    }

    #[test]
    fn tool_mismatches_and_shadow_errors_fail() {
        let p = policy();
        let v = evaluate(&p, &figures(10, 0, 2), false);
        assert!(matches!(
            v,
            Verdict::Fail(GateFailure {
                gate: Gate::ShadowMaxToolMismatchRate,
                ..
            })
        ));
        assert_eq!(evaluate(&p, &figures(10, 0, 1), false), Verdict::Pass);
        // A shadow step also judges the candidate's failures with max_error_rate [0.05].
        let v = evaluate(&p, &figures(10, 5, 0), true);
        assert!(matches!(
            v,
            Verdict::Fail(GateFailure {
                gate: Gate::MaxErrorRate,
                ..
            })
        ));
        assert_eq!(evaluate(&p, &figures(10, 5, 0), false), Verdict::Pass);
    }

    #[test]
    fn cost_ratio_needs_priced_pairs() {
        let p = RollbackPolicy {
            min_requests: 2,
            shadow_max_cost_ratio: Some(1.5),
            ..RollbackPolicy::default()
        };
        let mut f = figures(4, 0, 0);
        f.priced = 4;
        f.primary_cost_usd = 1.0;
        f.candidate_cost_usd = 2.0;
        assert!(matches!(
            evaluate(&p, &f, false),
            Verdict::Fail(GateFailure {
                gate: Gate::ShadowMaxCostRatio,
                ..
            })
        ));
        f.priced = 1;
        assert_eq!(evaluate(&p, &f, false), Verdict::Pass);
    }
}
