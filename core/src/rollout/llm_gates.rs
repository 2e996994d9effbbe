//! The gates that judge what LLM releases break besides errors and latency: cost, output
//! length and prompt caching, each of the candidate against the stable side.
//!
//! Pure functions of [`LlmFigures`]: the guard and the rollout controller call
//! [`evaluate`] once the count and quantile gates have passed.

use crate::config::RollbackPolicy;
use crate::stats::LlmFigures;

use super::gates::{Gate, GateFailure};

/// Whether `policy` sets any LLM gate.
pub fn has_llm_gates(policy: &RollbackPolicy) -> bool {
    policy.max_cost_per_request_usd.is_some()
        || policy.max_cost_ratio.is_some()
        || policy.max_output_tokens_ratio.is_some()
        || policy.min_cached_token_share.is_some()
}

/// Judges the candidate's figures (`judged`) against the stable side's (`baseline`).
///
/// Each gate needs `min_requests` answers of its kind (priced answers for the cost gates,
/// answers with usage for the others) on the judged side, and the ratio gates the same on the
/// baseline; below that a gate is skipped, never failed. Limits are inclusive.
/// `min_cached_token_share` fails only while the baseline's share reaches the limit: a
/// workload that never hits the prompt cache on either side fails nothing.
pub fn evaluate(
    policy: &RollbackPolicy,
    judged: &LlmFigures,
    baseline: &LlmFigures,
) -> Option<GateFailure> {
    let min = policy.min_requests.max(1);
    let fail = |gate, observed, limit, requests| {
        Some(GateFailure {
            gate,
            observed,
            limit,
            requests,
        })
    };
    if let Some(max) = policy.max_cost_per_request_usd
        && judged.priced >= min
        && judged.mean_cost_usd() > max
    {
        return fail(
            Gate::MaxCostPerRequestUsd,
            judged.mean_cost_usd(),
            max,
            judged.priced,
        );
    }
    if let Some(max) = policy.max_cost_ratio
        && judged.priced >= min
        && baseline.priced >= min
        && baseline.mean_cost_usd() > 0.0
    {
        let r = judged.mean_cost_usd() / baseline.mean_cost_usd();
        if r > max {
            return fail(Gate::MaxCostRatio, r, max, judged.priced);
        }
    }
    if let Some(max) = policy.max_output_tokens_ratio
        && judged.answers >= min
        && baseline.answers >= min
        && baseline.mean_output_tokens() > 0.0
    {
        let r = judged.mean_output_tokens() / baseline.mean_output_tokens();
        if r > max {
            return fail(Gate::MaxOutputTokensRatio, r, max, judged.answers);
        }
    }
    if let Some(min_share) = policy.min_cached_token_share
        && judged.answers >= min
        && baseline.answers >= min
        && baseline.cached_share() >= min_share
        && judged.cached_share() < min_share
    {
        return fail(
            Gate::MinCachedTokenShare,
            judged.cached_share(),
            min_share,
            judged.answers,
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(
        answers: u64,
        cost_each: f64,
        out_each: u64,
        prompt: u64,
        cached: u64,
    ) -> LlmFigures {
        LlmFigures {
            answers,
            priced: answers,
            cost_usd: cost_each * answers as f64,
            prompt_tokens: prompt * answers,
            cached_tokens: cached * answers,
            completion_tokens: out_each * answers,
        }
    }

    fn policy(edit: impl FnOnce(&mut RollbackPolicy)) -> RollbackPolicy {
        let mut p = RollbackPolicy {
            max_error_rate: None,
            min_requests: 20,
            ..RollbackPolicy::default()
        };
        edit(&mut p);
        p
    }

    fn gate(f: Option<GateFailure>) -> Option<Gate> {
        f.map(|f| f.gate)
    }

    #[test]
    fn cost_per_request_is_a_mean_over_priced_answers() {
        let p = policy(|p| p.max_cost_per_request_usd = Some(0.01));
        let stable = figures(100, 0.001, 10, 100, 0);
        assert_eq!(
            gate(evaluate(&p, &figures(20, 0.02, 10, 100, 0), &stable)),
            Some(Gate::MaxCostPerRequestUsd)
        );
        assert_eq!(evaluate(&p, &figures(20, 0.01, 10, 100, 0), &stable), None);
        assert_eq!(
            evaluate(&p, &figures(19, 1.0, 10, 100, 0), &stable),
            None,
            "below min_requests"
        );
        let mut unpriced = figures(50, 0.0, 10, 100, 0);
        unpriced.priced = 0;
        assert_eq!(evaluate(&p, &unpriced, &stable), None);
    }

    #[test]
    fn cost_ratio_compares_with_the_stable_side() {
        let p = policy(|p| p.max_cost_ratio = Some(1.5));
        let stable = figures(40, 0.002, 10, 100, 0);
        let f = evaluate(&p, &figures(20, 0.004, 10, 100, 0), &stable).expect("2x fails");
        assert_eq!(f.gate, Gate::MaxCostRatio);
        assert!((f.observed - 2.0).abs() < 1e-9);
        assert_eq!(evaluate(&p, &figures(20, 0.003, 10, 100, 0), &stable), None);
        assert_eq!(
            evaluate(
                &p,
                &figures(20, 0.004, 10, 100, 0),
                &figures(5, 0.002, 10, 100, 0)
            ),
            None,
            "no baseline to compare with"
        );
    }

    #[test]
    fn output_tokens_ratio_compares_with_the_stable_side() {
        let p = policy(|p| p.max_output_tokens_ratio = Some(1.2));
        let stable = figures(40, 0.0, 100, 100, 0);
        assert_eq!(
            gate(evaluate(&p, &figures(20, 0.0, 130, 100, 0), &stable)),
            Some(Gate::MaxOutputTokensRatio)
        );
        assert_eq!(evaluate(&p, &figures(20, 0.0, 120, 100, 0), &stable), None);
    }

    #[test]
    fn cached_share_fails_only_when_the_stable_side_reaches_it() {
        let p = policy(|p| p.min_cached_token_share = Some(0.5));
        let caching = figures(40, 0.0, 10, 1000, 800);
        let lost = figures(20, 0.0, 10, 1000, 0);
        let f = evaluate(&p, &lost, &caching).expect("lost the cache");
        assert_eq!(
            (f.gate, f.observed, f.limit),
            (Gate::MinCachedTokenShare, 0.0, 0.5)
        );
        assert_eq!(
            evaluate(&p, &figures(20, 0.0, 10, 1000, 600), &caching),
            None
        );
        let never = figures(40, 0.0, 10, 1000, 0);
        assert_eq!(evaluate(&p, &lost, &never), None, "neither side caches");
    }

    #[test]
    fn failures_read_well() {
        let p = policy(|p| p.max_cost_ratio = Some(1.5));
        let f = evaluate(
            &p,
            &figures(20, 0.004, 10, 100, 0),
            &figures(40, 0.002, 10, 100, 0),
        )
        .expect("fails");
        assert_eq!(
            f.to_string(),
            "mean cost per answer 2.00x the other side's > max_cost_ratio 1.5 over 20 answers"
        );
    }
}
