//! The LLM gates (cost, output tokens, prompt caching) and the shadow gates added to a verdict
//! of the count and quantile gates, for the guard and the rollout controller alike.

use std::time::Duration;

use super::engine::Engine;
use crate::config::RollbackPolicy;
use crate::environment::Side;
use crate::rollout::gates::Verdict;
use crate::rollout::llm_gates::{evaluate, has_llm_gates};

impl Engine {
    /// `verdict`, or the first failed LLM or shadow gate of `policy` when `verdict` passed:
    /// `side`'s cost and token figures over the policy's window against the other side's, then
    /// the candidate's shadow pairs. The shadow gates are judged even when `verdict` is
    /// inconclusive (a candidate with little user traffic may have many shadow pairs).
    pub(crate) fn judge_llm(
        &self,
        side: Side,
        policy: &RollbackPolicy,
        now: Duration,
        verdict: Verdict,
    ) -> Verdict {
        match verdict {
            Verdict::Fail(_) => return verdict,
            // Too few user requests says nothing of the shadow pairs: they are judged apart.
            Verdict::Inconclusive { .. } => {
                return match self.judge_shadow(policy, now, Verdict::Pass) {
                    Verdict::Fail(f) => Verdict::Fail(f),
                    _ => verdict,
                };
            }
            Verdict::Pass => {}
        }
        if !has_llm_gates(policy) {
            return self.judge_shadow(policy, now, verdict);
        }
        let judged = self.llm[side.index()].figures(now, policy.window);
        let baseline = self.llm[side.other().index()].figures(now, policy.window);
        match evaluate(policy, &judged, &baseline) {
            Some(failure) => Verdict::Fail(failure),
            None => self.judge_shadow(policy, now, Verdict::Pass),
        }
    }
}
