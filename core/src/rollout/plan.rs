//! [`RolloutPlan`]: the steps of a progressive rollout and the gates that judge each one.
//!
//! Deserializable like the config file: durations are seconds (floats).
//!
//! ```
//! use std::time::Duration;
//! use turnout::rollout::{RolloutPlan, Step};
//! let plan = RolloutPlan::new(vec![
//!     Step::new(5.0).hold(Duration::from_secs(3600)).min_requests(100),
//!     Step::new(50.0).hold(Duration::from_secs(7200)),
//!     Step::new(100.0),
//! ]);
//! plan.validate()?;
//! let same = RolloutPlan::from_value(serde_json::json!({
//!     "steps": [{"weight": 5, "hold": 3600, "min_requests": 100},
//!               {"weight": 50, "hold": 7200}, {"weight": 100}],
//! }))?;
//! assert_eq!(plan, same);
//! # Ok::<(), turnout::Error>(())
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{RollbackPolicy, secs, secs_opt};
use crate::error::{Error, Result};
use crate::routing::percent_to_bp;

/// One step of a rollout: the candidate's weight, how long to hold it, and how many candidate
/// requests it must see before the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The candidate's share in percent (0 < weight <= 100).
    pub weight: f64,
    /// The least time spent at this step [0 s].
    #[serde(default, with = "secs")]
    pub hold: Duration,
    /// The least candidate requests seen at this step before it may advance \[0\].
    #[serde(default)]
    pub min_requests: u64,
    /// A step at weight 0 judged on shadow traffic alone: no user reaches the candidate, the
    /// gates judge its shadow pairs, and `min_requests` counts them \[false\].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

impl Step {
    /// A step at `weight` percent, no hold, no request minimum.
    pub fn new(weight: f64) -> Self {
        Self {
            weight,
            hold: Duration::ZERO,
            min_requests: 0,
            shadow: false,
        }
    }

    /// A shadow step: weight 0, judged on shadow traffic alone.
    pub fn shadow() -> Self {
        Self {
            shadow: true,
            ..Self::new(0.0)
        }
    }

    /// Sets the hold.
    #[must_use]
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Sets the request minimum.
    #[must_use]
    pub fn min_requests(mut self, n: u64) -> Self {
        self.min_requests = n;
        self
    }

    /// The weight in basis points.
    pub(crate) fn weight_bp(&self) -> u32 {
        percent_to_bp(self.weight)
    }
}

/// A progressive rollout: steps of rising weight, judged by `gates` every `interval`.
///
/// Each interval the gates are evaluated over the candidate's requests at the current step (the
/// last `gates.window`, never before the step began; a failure over the whole window, earlier
/// steps included, fails too): a failure counts toward
/// `failure_limit` (more failures than the limit roll back); an inconclusive verdict holds the
/// step (past `step_deadline` the rollout pauses and says why); a pass with the step's hold and
/// request minimum met moves to the next step. Passing the last step (weight 100) promotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutPlan {
    /// The steps, weights strictly rising, the last at 100.
    pub steps: Vec<Step>,
    /// The gates judging each step [the `RollbackPolicy` defaults].
    #[serde(default)]
    pub gates: RollbackPolicy,
    /// Time between evaluations [10 s].
    #[serde(default = "default_interval", with = "secs")]
    pub interval: Duration,
    /// Failed evaluations tolerated over the whole rollout; one more rolls back \[1\].
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    /// Longest time a step may wait for enough data before the rollout pauses \[none\].
    #[serde(default, with = "secs_opt")]
    pub step_deadline: Option<Duration>,
}

fn default_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_failure_limit() -> u32 {
    1
}

impl RolloutPlan {
    /// A plan with these steps and every default.
    pub fn new(steps: Vec<Step>) -> Self {
        Self {
            steps,
            gates: RollbackPolicy::default(),
            interval: default_interval(),
            failure_limit: default_failure_limit(),
            step_deadline: None,
        }
    }

    /// Sets the gates.
    #[must_use]
    pub fn gates(mut self, gates: RollbackPolicy) -> Self {
        self.gates = gates;
        self
    }

    /// Sets the evaluation interval.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the failure limit.
    #[must_use]
    pub fn failure_limit(mut self, limit: u32) -> Self {
        self.failure_limit = limit;
        self
    }

    /// Sets the step deadline.
    #[must_use]
    pub fn step_deadline(mut self, deadline: Duration) -> Self {
        self.step_deadline = Some(deadline);
        self
    }

    /// A plan from a JSON value (a Python dict, a JS object, a parsed YAML file), validated.
    /// Errors name the offending field.
    pub fn from_value(value: Value) -> Result<Self> {
        let plan: Self = serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                Error::Config(format!("rollout plan: {}", e.inner()))
            } else {
                Error::Config(format!("rollout plan: {path}: {}", e.inner()))
            }
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks every field; the error names the first bad one and its value.
    pub fn validate(&self) -> Result<()> {
        self.check().map_err(Error::Config)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.steps.is_empty() {
            return Err("steps must list at least one step, got []".to_string());
        }
        let mut previous: Option<(usize, f64)> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let w = step.weight;
            if step.shadow {
                if i != 0 || w != 0.0 {
                    return Err(format!(
                        "steps[{i}] is a shadow step: only the first step may be one, at weight 0, got weight {w}"
                    ));
                }
                continue;
            }
            if !(w > 0.0 && w <= 100.0) || step.weight_bp() == 0 {
                return Err(format!(
                    "steps[{i}].weight must be > 0 and <= 100 (percent), got {w}"
                ));
            }
            if let Some((j, before)) = previous
                && step.weight_bp() <= percent_to_bp(before)
            {
                return Err(format!(
                    "steps[{i}].weight must be greater than steps[{j}].weight (a ramp only goes up), got {w} after {before}"
                ));
            }
            previous = Some((i, w));
        }
        let last = self.steps.len() - 1;
        if self.steps[last].weight_bp() != 10_000 {
            return Err(format!(
                "steps[{last}].weight must be 100 (passing the last step promotes the candidate), got {}",
                self.steps[last].weight
            ));
        }
        if self.interval.is_zero() {
            return Err("interval must be > 0, got 0s".to_string());
        }
        if let Some(deadline) = self.step_deadline {
            if deadline.is_zero() {
                return Err("step_deadline must be > 0, got 0s".to_string());
            }
            for (i, step) in self.steps.iter().enumerate() {
                if deadline < step.hold {
                    return Err(format!(
                        "step_deadline must be >= steps[{i}].hold (a step cannot advance before its hold), got {}s < {}s",
                        deadline.as_secs_f64(),
                        step.hold.as_secs_f64()
                    ));
                }
            }
        }
        check_policy("gates", &self.gates)
    }
}

/// Validates a policy used as gates; messages name `{prefix}.{field}`.
pub(crate) fn check_policy(prefix: &str, p: &RollbackPolicy) -> std::result::Result<(), String> {
    for (name, rate) in [
        ("max_error_rate", p.max_error_rate),
        ("min_success_rate", p.min_success_rate),
        ("max_error_rate_delta", p.max_error_rate_delta),
    ] {
        if let Some(rate) = rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(format!("{prefix}.{name} must be within 0..=1, got {rate}"));
        }
    }
    for (name, ms) in [
        ("max_p99_latency_ms", p.max_p99_latency_ms),
        ("max_p99_ttft_ms", p.max_p99_ttft_ms),
    ] {
        if let Some(ms) = ms
            && !(ms > 0.0 && ms.is_finite())
        {
            return Err(format!(
                "{prefix}.{name} must be a finite number > 0, got {ms}"
            ));
        }
    }
    if p.window.is_zero() {
        return Err(format!("{prefix}.window must be > 0, got 0s"));
    }
    if p.min_requests == 0 {
        return Err(format!("{prefix}.min_requests must be >= 1, got 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(plan: &RolloutPlan) -> String {
        match plan.validate() {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    fn ramp() -> RolloutPlan {
        RolloutPlan::new(vec![Step::new(5.0), Step::new(50.0), Step::new(100.0)])
    }

    #[test]
    fn defaults_follow_the_semantics() {
        let plan =
            RolloutPlan::from_value(serde_json::json!({"steps": [{"weight": 100}]})).unwrap();
        assert_eq!(plan.interval, Duration::from_secs(10));
        assert_eq!(plan.failure_limit, 1);
        assert_eq!(plan.step_deadline, None);
        assert_eq!(plan.gates, RollbackPolicy::default());
        assert_eq!(plan.steps[0].hold, Duration::ZERO);
    }

    #[test]
    fn durations_are_seconds() {
        let plan = RolloutPlan::from_value(serde_json::json!({
            "steps": [{"weight": 10, "hold": 1.5}, {"weight": 100}],
            "interval": 0.25, "step_deadline": 60, "failure_limit": 0,
            "gates": {"max_error_rate": 0.1, "window": 30, "min_requests": 5},
        }))
        .unwrap();
        assert_eq!(plan.steps[0].hold, Duration::from_millis(1500));
        assert_eq!(plan.interval, Duration::from_millis(250));
        assert_eq!(plan.step_deadline, Some(Duration::from_secs(60)));
        assert_eq!(plan.gates.window, Duration::from_secs(30));
        assert_eq!(plan.failure_limit, 0);
    }

    #[test]
    fn deserialization_errors_name_the_field() {
        let err = RolloutPlan::from_value(serde_json::json!({
            "steps": [{"weight": 10, "hodl": 5}, {"weight": 100}],
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("steps[0]") && err.contains("hodl"), "{err}");
        let err = RolloutPlan::from_value(serde_json::json!({
            "steps": [{"weight": 100}], "interval": -1,
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("interval"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            message(&RolloutPlan::new(vec![])),
            "steps must list at least one step, got []"
        );
        let mut p = ramp();
        p.steps[1].weight = 150.0;
        assert_eq!(
            message(&p),
            "steps[1].weight must be > 0 and <= 100 (percent), got 150"
        );
        let mut p = ramp();
        p.steps[1].weight = 5.0;
        assert_eq!(
            message(&p),
            "steps[1].weight must be greater than steps[0].weight (a ramp only goes up), got 5 after 5"
        );
        let p = RolloutPlan::new(vec![Step::new(5.0), Step::new(50.0)]);
        assert_eq!(
            message(&p),
            "steps[1].weight must be 100 (passing the last step promotes the candidate), got 50"
        );
        let p = ramp().interval(Duration::ZERO);
        assert_eq!(message(&p), "interval must be > 0, got 0s");
        let mut p = ramp().step_deadline(Duration::from_secs(60));
        p.steps[1].hold = Duration::from_secs(3600);
        assert_eq!(
            message(&p),
            "step_deadline must be >= steps[1].hold (a step cannot advance before its hold), got 60s < 3600s"
        );
        let mut p = ramp();
        p.gates.max_error_rate = Some(2.0);
        assert_eq!(
            message(&p),
            "gates.max_error_rate must be within 0..=1, got 2"
        );
        let mut p = ramp();
        p.gates.min_requests = 0;
        assert_eq!(message(&p), "gates.min_requests must be >= 1, got 0");
        let mut p = ramp();
        p.steps[0].weight = f64::NAN;
        assert_eq!(
            message(&p),
            "steps[0].weight must be > 0 and <= 100 (percent), got NaN"
        );
    }
}
