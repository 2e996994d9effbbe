//! The rollout state machine: which step, since when, how many failures, paused or not.
//!
//! Pure: [`Controller::decide`] takes the time and the gates' verdict and says what to do;
//! the engine applies it to the traffic state (see `control.rs`), so the machine is tested
//! without a clock, a network or a runtime.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::gates::{GateFailure, Verdict};
use super::plan::RolloutPlan;
use crate::environment::Side;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Evaluated every interval.
    Running,
    /// Holding its step until resumed (the guard still runs).
    Paused,
    /// The candidate was promoted.
    Completed,
    /// Gates failed (the plan's beyond `failure_limit`, or the guard's): weight back to 0.
    RolledBack,
    /// Aborted by a person, or superseded by a manual traffic change.
    Aborted,
}

impl RolloutState {
    /// `"running"`, `"paused"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::RolledBack => "rolled_back",
            Self::Aborted => "aborted",
        }
    }

    /// Running or paused: the rollout still owns the traffic state.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// The progress of the current (or last) rollout, as `rollout()` and `status()` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutStatus {
    /// A number identifying the rollout within the client.
    pub id: u64,
    /// Where it stands.
    pub state: RolloutState,
    /// The side being rolled out.
    pub candidate: Side,
    /// Index of the current step (0-based).
    pub step: usize,
    /// Number of steps.
    pub steps: usize,
    /// The candidate's real share now, in percent: the step's weight while it runs, 0 once
    /// rolled back or aborted, 100 once promoted.
    pub weight: f64,
    /// The current step's planned weight, in percent.
    pub step_weight: f64,
    /// Failed evaluations so far.
    pub failures: u32,
    /// Failed evaluations tolerated.
    pub failure_limit: u32,
    /// Candidate requests that ended since the step began.
    pub step_requests: u64,
    /// When the current step, pause or end began (RFC 3339).
    pub since: String,
    /// Why it is paused or ended.
    pub reason: Option<String>,
    /// The last evaluation, in words (`pass`, `inconclusive: …`, or the failed gate).
    pub last_verdict: Option<String>,
    /// The instance holding the analyst lease (a fleet rollout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyst: Option<String>,
    /// The analyst's last fleet-wide figures against the gates' thresholds (a fleet rollout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Value>,
}

/// What the engine should do after an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Nothing: hold the step.
    Hold,
    /// Move to this step.
    Advance(usize),
    /// The last step passed: promote the candidate.
    Promote,
    /// Pause, saying why (step deadline).
    Pause(String),
    /// A failed evaluation within the limit.
    Counted(GateFailure),
    /// One failure more than the limit: roll back (or alert and pause, per the gates' action).
    LimitExceeded(GateFailure),
}

/// One rollout's state.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    pub id: u64,
    pub plan: RolloutPlan,
    pub candidate: Side,
    pub step: usize,
    pub state: RolloutState,
    /// Clock time the step began: the hold counts from here.
    pub entered_at: Duration,
    /// Clock time the step deadline counts from: the step's start, or the last resume.
    deadline_from: Duration,
    /// The candidate's outcome total when the step began.
    requests_at_entry: u64,
    pub failures: u32,
    pub reason: Option<String>,
    since: SystemTime,
    last_verdict: Option<String>,
}

impl Controller {
    /// A rollout entering its first step at `now`; `total` is the candidate's outcome count.
    pub fn new(
        id: u64,
        plan: RolloutPlan,
        candidate: Side,
        now: Duration,
        wall: SystemTime,
        total: u64,
    ) -> Self {
        Self {
            id,
            plan,
            candidate,
            step: 0,
            state: RolloutState::Running,
            entered_at: now,
            deadline_from: now,
            requests_at_entry: total,
            failures: 0,
            reason: None,
            since: wall,
            last_verdict: None,
        }
    }

    /// A controller standing where a stored rollout stands (the fleet's analyst runs it on
    /// Unix time: `entered_at` and `deadline_from` are times since the epoch).
    pub fn at_step(
        plan: RolloutPlan,
        candidate: Side,
        step: usize,
        entered_at: Duration,
        deadline_from: Duration,
        failures: u32,
    ) -> Self {
        Self {
            id: 0,
            plan,
            candidate,
            step,
            state: RolloutState::Running,
            entered_at,
            deadline_from,
            requests_at_entry: 0,
            failures,
            reason: None,
            since: SystemTime::UNIX_EPOCH,
            last_verdict: None,
        }
    }

    /// The last evaluation, in words.
    pub fn last_verdict(&self) -> Option<&str> {
        self.last_verdict.as_deref()
    }

    /// The current step's weight in basis points.
    pub fn weight_bp(&self) -> u32 {
        self.plan.steps[self.step].weight_bp()
    }

    /// Candidate requests since the step began, given the candidate's outcome total.
    pub fn step_requests(&self, total: u64) -> u64 {
        total.saturating_sub(self.requests_at_entry)
    }

    fn deadline_passed(&self, now: Duration) -> Option<Duration> {
        self.plan
            .step_deadline
            .filter(|d| now.saturating_sub(self.deadline_from) >= *d)
    }

    /// Judges one interval. Only a running rollout decides anything; failures are counted
    /// here, the step changes only when the engine has applied the decision.
    pub fn decide(&mut self, now: Duration, verdict: &Verdict, step_requests: u64) -> Decision {
        if self.state != RolloutState::Running {
            return Decision::Hold;
        }
        let step = &self.plan.steps[self.step];
        let where_ = format!(
            "step {} of {} ({}%)",
            self.step + 1,
            self.plan.steps.len(),
            step.weight
        );
        match verdict {
            Verdict::Fail(f) => {
                self.failures += 1;
                self.last_verdict = Some(format!("fail: {f}"));
                if self.failures > self.plan.failure_limit {
                    Decision::LimitExceeded(f.clone())
                } else {
                    Decision::Counted(f.clone())
                }
            }
            Verdict::Inconclusive {
                requests,
                min_requests,
            } => {
                self.last_verdict = Some(format!(
                    "inconclusive: {requests} of {min_requests} requests in the gates' window"
                ));
                match self.deadline_passed(now) {
                    Some(d) => Decision::Pause(format!(
                        "{where_} still inconclusive after step_deadline {}s: {requests} of {min_requests} candidate requests in the gates' window",
                        d.as_secs_f64()
                    )),
                    None => Decision::Hold,
                }
            }
            Verdict::Pass => {
                self.last_verdict = Some("pass".to_string());
                let held = now.saturating_sub(self.entered_at) >= step.hold;
                let enough = step_requests >= step.min_requests;
                if held && enough {
                    if self.step + 1 == self.plan.steps.len() {
                        Decision::Promote
                    } else {
                        Decision::Advance(self.step + 1)
                    }
                } else if !enough && let Some(d) = self.deadline_passed(now) {
                    Decision::Pause(format!(
                        "{where_} saw only {step_requests} of its min_requests {} candidate requests within step_deadline {}s",
                        step.min_requests,
                        d.as_secs_f64()
                    ))
                } else {
                    Decision::Hold
                }
            }
        }
    }

    /// The engine moved the traffic to `step`.
    pub fn enter_step(&mut self, step: usize, now: Duration, wall: SystemTime, total: u64) {
        self.step = step;
        self.entered_at = now;
        self.deadline_from = now;
        self.requests_at_entry = total;
        self.since = wall;
    }

    /// Pauses a running rollout; false if it was not running.
    pub fn pause(&mut self, reason: String, wall: SystemTime) -> bool {
        if self.state != RolloutState::Running {
            return false;
        }
        self.state = RolloutState::Paused;
        self.reason = Some(reason);
        self.since = wall;
        true
    }

    /// Resumes a paused rollout; the step deadline counts again from now (the hold does not
    /// restart). False if it was not paused.
    pub fn resume(&mut self, now: Duration, wall: SystemTime) -> bool {
        if self.state != RolloutState::Paused {
            return false;
        }
        self.state = RolloutState::Running;
        self.reason = None;
        self.deadline_from = now;
        self.since = wall;
        true
    }

    /// Ends a live rollout; false if it had already ended.
    pub fn finish(&mut self, state: RolloutState, reason: String, wall: SystemTime) -> bool {
        if !self.state.is_live() {
            return false;
        }
        self.state = state;
        self.reason = Some(reason);
        self.since = wall;
        true
    }

    /// Its public view.
    pub fn status(&self, total: u64) -> RolloutStatus {
        RolloutStatus {
            id: self.id,
            state: self.state,
            candidate: self.candidate,
            step: self.step,
            steps: self.plan.steps.len(),
            weight: self.plan.steps[self.step].weight,
            failures: self.failures,
            failure_limit: self.plan.failure_limit,
            step_requests: self.step_requests(total),
            since: humantime::format_rfc3339_millis(self.since).to_string(),
            reason: self.reason.clone(),
            last_verdict: self.last_verdict.clone(),
            step_weight: self.plan.steps[self.step].weight,
            analyst: None,
            analysis: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::gates::Gate;
    use crate::rollout::plan::Step;

    const S: Duration = Duration::from_secs(1);

    fn plan() -> RolloutPlan {
        RolloutPlan::new(vec![
            Step::new(10.0).hold(60 * S).min_requests(5),
            Step::new(100.0),
        ])
    }

    fn controller(plan: RolloutPlan) -> Controller {
        Controller::new(1, plan, Side::Green, Duration::ZERO, SystemTime::now(), 0)
    }

    fn failure() -> Verdict {
        Verdict::Fail(GateFailure {
            gate: Gate::MaxErrorRate,
            observed: 0.5,
            limit: 0.05,
            requests: 20,
        })
    }

    fn inconclusive() -> Verdict {
        Verdict::Inconclusive {
            requests: 3,
            min_requests: 20,
        }
    }

    #[test]
    fn a_pass_advances_only_after_hold_and_min_requests() {
        let mut c = controller(plan());
        assert_eq!(c.decide(30 * S, &Verdict::Pass, 10), Decision::Hold);
        assert_eq!(c.decide(60 * S, &Verdict::Pass, 4), Decision::Hold);
        assert_eq!(c.decide(60 * S, &Verdict::Pass, 5), Decision::Advance(1));
        c.enter_step(1, 60 * S, SystemTime::now(), 5);
        assert_eq!(c.decide(61 * S, &Verdict::Pass, 0), Decision::Promote);
    }

    #[test]
    fn failures_beyond_the_limit_roll_back() {
        let mut c = controller(plan().failure_limit(1));
        assert!(matches!(c.decide(S, &failure(), 0), Decision::Counted(_)));
        assert!(matches!(
            c.decide(2 * S, &failure(), 0),
            Decision::LimitExceeded(_)
        ));
        let mut c = controller(plan().failure_limit(0));
        assert!(matches!(
            c.decide(S, &failure(), 0),
            Decision::LimitExceeded(_)
        ));
    }

    #[test]
    fn inconclusive_holds_then_pauses_at_the_deadline() {
        let mut c = controller(plan().step_deadline(120 * S));
        assert_eq!(c.decide(119 * S, &inconclusive(), 0), Decision::Hold);
        let Decision::Pause(why) = c.decide(120 * S, &inconclusive(), 0) else {
            panic!("expected a pause")
        };
        assert!(
            why.contains("step 1 of 2") && why.contains("3 of 20"),
            "{why}"
        );
        assert!(c.pause(why, SystemTime::now()));
        assert_eq!(c.decide(200 * S, &Verdict::Pass, 100), Decision::Hold);
        assert!(c.resume(200 * S, SystemTime::now()));
        // The deadline counts again from the resume.
        assert_eq!(c.decide(250 * S, &inconclusive(), 0), Decision::Hold);
        assert_eq!(c.decide(250 * S, &Verdict::Pass, 5), Decision::Advance(1));
    }

    #[test]
    fn too_few_step_requests_pause_at_the_deadline() {
        let mut c = controller(plan().step_deadline(120 * S));
        assert_eq!(c.decide(100 * S, &Verdict::Pass, 1), Decision::Hold);
        assert!(matches!(
            c.decide(130 * S, &Verdict::Pass, 1),
            Decision::Pause(_)
        ));
    }

    #[test]
    fn ended_rollouts_decide_nothing() {
        let mut c = controller(plan());
        assert!(c.finish(RolloutState::Aborted, "x".into(), SystemTime::now()));
        assert!(!c.finish(RolloutState::RolledBack, "y".into(), SystemTime::now()));
        assert_eq!(c.decide(999 * S, &Verdict::Pass, 99), Decision::Hold);
        assert!(!c.pause("z".into(), SystemTime::now()));
        assert!(!c.resume(S, SystemTime::now()));
        assert_eq!(c.status(0).state, RolloutState::Aborted);
    }
}
