//! A rollout that lives in the store (SEMANTICS.md, *Fleet*): the pure pieces the analyst,
//! the client calls and the `turnout` CLI share — a new record, the operations that start,
//! pause, resume or abort it, its public view, and each gate's figure against its threshold.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::controller::{Controller, Decision, RolloutState, RolloutStatus};
use super::plan::RolloutPlan;
use crate::config::{RollbackAction, RollbackPolicy};
use crate::environment::Side;
use crate::state::{Canary, Change, Operation, RolloutRecord, StoredState};
use crate::stats::WindowStats;

/// A fresh bucketing salt: 16 random hex digits.
pub fn new_salt() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4))
}

/// RFC 3339 with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The seconds (Unix time, inclusive ranges ending at `to`) a stored rollout's gates read at
/// one evaluation, each at most the gates' `window` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GateSeconds {
    /// The first second of the current step's window: a pass is judged on samples taken at
    /// the step alone (`from > to` while the step has no whole second yet: an empty window).
    pub step_from: u64,
    /// The first second of the rollout's window, earlier steps included: a failure over it
    /// fails too, so a rollback never waits longer than it did over this window alone.
    pub rollout_from: u64,
    /// The current second.
    pub to: u64,
}

/// The windows `r`'s gates read at `now_ms` (SEMANTICS.md, *Progressive rollout*; see
/// docs/decisions.md).
pub(crate) fn gate_seconds(r: &RolloutRecord, now_ms: u64) -> GateSeconds {
    let to = now_ms / 1000;
    let window_s = r.plan.gates.window.as_secs().max(1);
    let oldest = to.saturating_sub(window_s - 1);
    // From the start's own second: the fleet's buckets are whole seconds, so up to a second
    // before the start counts too (nothing, when the candidate had no weight before).
    let rollout_from = oldest.max(r.started_ms / 1000);
    // A later step from its first whole second: the second it began in also holds samples of
    // the step before, at its lower weight.
    let step_start = if r.step == 0 {
        r.started_ms / 1000
    } else {
        r.step_started_ms.div_ceil(1000)
    };
    GateSeconds {
        step_from: oldest.max(step_start),
        rollout_from,
        to,
    }
}

/// Which change a client call or the CLI asks of a live rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutAction {
    /// Hold the step.
    Pause,
    /// Run again; the step deadline counts from now.
    Resume,
    /// Weight back to 0, the rollout ended.
    Abort,
}

/// A new stored rollout of `candidate` entering its first step at `wall`.
pub fn new_record(
    plan: RolloutPlan,
    candidate: Side,
    author: &str,
    wall: SystemTime,
    requests_at_entry: Option<u64>,
) -> RolloutRecord {
    let now_ms = unix_ms(wall);
    RolloutRecord {
        id: format!("{}", rand::random::<u32>() % 1_000_000),
        plan,
        candidate,
        step: 0,
        state: RolloutState::Running,
        step_started_at: rfc3339(wall),
        step_started_ms: now_ms,
        started_ms: now_ms,
        deadline_from_ms: now_ms,
        requests_at_entry,
        failures: 0,
        reason: None,
        started_by: author.to_string(),
        rev: 0,
    }
}

/// The operation starting `record`: a new salt, the first step's weight.
pub fn start_operation(author: &str, record: &RolloutRecord, wall: SystemTime) -> Operation {
    let weights: Vec<String> = record
        .plan
        .steps
        .iter()
        .map(|s| format!("{}%", s.weight))
        .collect();
    let reason = format!(
        "rollout {} started: {} through {}",
        record.id,
        record.candidate,
        weights.join(", ")
    );
    Operation {
        record: Some(record.clone()),
        ..Operation::new(
            author,
            reason,
            Change::RolloutStart {
                rollout: record.id.clone(),
                weight_bp: record.plan.steps[0].weight_bp(),
                salt: new_salt(),
                candidate: record.candidate,
            },
            wall,
        )
    }
}

/// The operation pausing, resuming or aborting `r`; `None` when there is nothing to do
/// (pausing a paused rollout, resuming a running one).
pub fn action_operation(
    author: &str,
    r: &RolloutRecord,
    action: RolloutAction,
    reason: &str,
    wall: SystemTime,
) -> Option<Operation> {
    let (change, record, why) = match action {
        RolloutAction::Pause if r.state == RolloutState::Running => (
            Change::RolloutPause {
                rollout: r.id.clone(),
                rev: r.rev,
            },
            r.with_state(RolloutState::Paused, reason.to_string()),
            format!("rollout {} paused: {reason}", r.id),
        ),
        RolloutAction::Resume if r.state == RolloutState::Paused => (
            Change::RolloutResume {
                rollout: r.id.clone(),
                rev: r.rev,
            },
            RolloutRecord {
                state: RolloutState::Running,
                reason: None,
                deadline_from_ms: unix_ms(wall),
                ..r.clone()
            },
            format!("rollout {} resumed", r.id),
        ),
        RolloutAction::Abort => (
            Change::RolloutAbort {
                rollout: r.id.clone(),
            },
            r.with_state(RolloutState::Aborted, reason.to_string()),
            format!("rollout {} aborted: {reason}", r.id),
        ),
        _ => return None,
    };
    Some(Operation {
        record: Some(record),
        ..Operation::new(author, why, change, wall)
    })
}

/// The public view of a stored rollout, with the candidate's real share in `weight`.
pub fn record_status(r: &RolloutRecord, state: &StoredState) -> RolloutStatus {
    let t = &state.traffic;
    let step_weight = r.plan.steps[r.step.min(r.plan.steps.len() - 1)].weight;
    RolloutStatus {
        id: r.id.parse().unwrap_or(0),
        state: r.state,
        candidate: r.candidate,
        step: r.step,
        steps: r.plan.steps.len(),
        weight: if t.active == r.candidate {
            100.0 - t.canary_weight()
        } else {
            t.canary_weight()
        },
        step_weight,
        failures: r.failures,
        failure_limit: r.plan.failure_limit,
        step_requests: 0,
        since: r.step_started_at.clone(),
        reason: r.reason.clone(),
        last_verdict: None,
        analyst: None,
        analysis: None,
    }
}

/// Each configured gate's observed figure against its threshold.
pub fn gate_figures(gates: &RollbackPolicy, judged: &WindowStats, baseline: &WindowStats) -> Value {
    let mut out = serde_json::Map::new();
    // Below min_requests no gate fails: each one waits for more requests.
    let waiting = judged.requests < gates.min_requests;
    let mut put = |name: &str, limit: Option<f64>, observed: f64, max: bool| {
        if let Some(limit) = limit {
            let ok = if max {
                observed <= limit
            } else {
                observed >= limit
            };
            let state = match (waiting, ok) {
                (true, _) => "waiting",
                (false, true) => "ok",
                (false, false) => "fail",
            };
            out.insert(
                name.to_string(),
                json!({"observed": observed, "limit": limit, "ok": ok || waiting, "state": state}),
            );
        }
    };
    put(
        "max_error_rate",
        gates.max_error_rate,
        judged.error_rate,
        true,
    );
    put(
        "min_success_rate",
        gates.min_success_rate,
        judged.success_rate,
        false,
    );
    put(
        "max_p99_latency_ms",
        gates.max_p99_latency_ms,
        judged.p99_ms,
        true,
    );
    put(
        "max_p99_ttft_ms",
        gates.max_p99_ttft_ms,
        judged.p99_ttft_ms,
        true,
    );
    put(
        "max_error_rate_delta",
        gates.max_error_rate_delta,
        judged.error_rate - baseline.error_rate,
        true,
    );
    put(
        "max_rate_limited_rate",
        gates.max_rate_limited_rate,
        judged.rate_limited_rate,
        true,
    );
    out.insert(
        "min_requests".to_string(),
        json!({"observed": judged.requests, "limit": gates.min_requests, "ok": !waiting,
               "state": if waiting { "waiting" } else { "ok" }}),
    );
    Value::Object(out)
}

/// The operation the analyst submits for `decision`, which `c` took on record `r` with the
/// fleet's `figures` (the candidate's running total, its window); `None` to hold. A failed
/// limit with `action: alert` pauses the rollout (the caller publishes the `alert`).
pub(crate) fn decision_operation(
    decision: Decision,
    c: &Controller,
    r: &RolloutRecord,
    expect: Canary,
    figures: (u64, &WindowStats),
    author: &str,
    wall: SystemTime,
) -> Option<Operation> {
    let candidate = r.candidate;
    let (total, js) = figures;
    let now_ms = unix_ms(wall);
    // Every decision records the controller's failure count, but a pause keeps the stored one.
    let keeps_failures = matches!(decision, Decision::Pause(_));
    let pause = || Change::RolloutPause {
        rollout: r.id.clone(),
        rev: r.rev,
    };
    let (change, record, why) = match decision {
        Decision::Hold => return None,
        Decision::Counted(f) => (
            Change::RolloutCount {
                rollout: r.id.clone(),
                rev: r.rev,
            },
            r.clone(),
            format!(
                "rollout {}: {candidate} failed the gates over the fleet's window ({} of {} failures allowed): {f}",
                r.id, c.failures, r.plan.failure_limit
            ),
        ),
        Decision::Pause(why) => (
            pause(),
            r.with_state(RolloutState::Paused, why.clone()),
            why,
        ),
        Decision::LimitExceeded(f) => {
            let why = format!(
                "{candidate} failed the rollout's gates over the fleet's window: {f} (failed evaluations {}, failure_limit {})",
                c.failures, r.plan.failure_limit
            );
            if r.plan.gates.action == RollbackAction::Alert {
                let record = r.with_state(RolloutState::Paused, why.clone());
                (pause(), record, why)
            } else {
                let record = r.with_state(RolloutState::RolledBack, why.clone());
                let change = Change::Rollback {
                    canary: Some(expect),
                };
                (change, record, format!("rollout {}: {why}", r.id))
            }
        }
        Decision::Advance(next) => {
            let weight = r.plan.steps[next].weight;
            let record = RolloutRecord {
                step: next,
                step_started_at: rfc3339(wall),
                step_started_ms: now_ms,
                deadline_from_ms: now_ms,
                requests_at_entry: Some(total),
                ..r.clone()
            };
            let change = Change::RolloutStep {
                rollout: r.id.clone(),
                step: next,
                weight_bp: r.plan.steps[next].weight_bp(),
                expect,
            };
            let why = format!(
                "rollout {}: step {} of {}, {weight}% to {candidate} (fleet: {} requests, error rate {:.3}, p99 {:.1} ms)",
                r.id,
                next + 1,
                r.plan.steps.len(),
                js.requests,
                js.error_rate,
                js.p99_ms
            );
            (change, record, why)
        }
        Decision::Promote => (
            Change::RolloutPromote {
                rollout: r.id.clone(),
                expect,
            },
            r.with_state(RolloutState::Completed, format!("promoted {candidate}")),
            format!("rollout {} promoted {candidate}", r.id),
        ),
    };
    let failures = if keeps_failures {
        record.failures
    } else {
        c.failures
    };
    Some(Operation {
        record: Some(RolloutRecord { failures, ..record }),
        ..Operation::new(author, why, change, wall)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::gates::{Gate, GateFailure};
    use crate::rollout::plan::Step;
    use crate::routing::TrafficState;
    use std::time::Duration;

    fn record() -> RolloutRecord {
        let plan = RolloutPlan::new(vec![Step::new(10.0), Step::new(50.0), Step::new(100.0)]);
        new_record(
            plan,
            Side::Green,
            "cli:me@host",
            SystemTime::UNIX_EPOCH,
            Some(7),
        )
    }

    fn controller(r: &RolloutRecord) -> Controller {
        Controller::at_step(
            r.plan.clone(),
            r.candidate,
            r.step,
            Duration::ZERO,
            Duration::ZERO,
            r.failures,
        )
    }

    fn expect() -> Canary {
        Canary::of(&TrafficState {
            active: Side::Blue,
            weight_bp: 1000,
            salt: "s".into(),
            version: 3,
        })
    }

    fn failure() -> GateFailure {
        GateFailure {
            gate: Gate::MaxErrorRate,
            observed: 0.3,
            limit: 0.05,
            requests: 40,
        }
    }

    #[test]
    fn an_advance_names_the_next_step_and_counts_from_the_fleet_total() {
        let r = record();
        let stats = WindowStats::default();
        let op = decision_operation(
            Decision::Advance(1),
            &controller(&r),
            &r,
            expect(),
            (42, &stats),
            "web-1",
            SystemTime::UNIX_EPOCH + Duration::from_secs(60),
        )
        .expect("an operation");
        assert!(matches!(
            op.change,
            Change::RolloutStep {
                step: 1,
                weight_bp: 5000,
                ..
            }
        ));
        let rec = op.record.expect("record");
        assert_eq!((rec.step, rec.requests_at_entry), (1, Some(42)));
        assert_eq!(rec.step_started_ms, 60_000);
        assert!(
            decision_operation(
                Decision::Hold,
                &controller(&r),
                &r,
                expect(),
                (0, &stats),
                "a",
                SystemTime::UNIX_EPOCH
            )
            .is_none()
        );
    }

    #[test]
    fn a_limit_exceeded_rolls_back_the_canary_or_pauses_on_alert() {
        let mut r = record();
        let stats = WindowStats::default();
        let op = decision_operation(
            Decision::LimitExceeded(failure()),
            &controller(&r),
            &r,
            expect(),
            (0, &stats),
            "web-1",
            SystemTime::UNIX_EPOCH,
        )
        .expect("an operation");
        assert_eq!(
            op.change,
            Change::Rollback {
                canary: Some(expect())
            }
        );
        assert_eq!(op.record.map(|r| r.state), Some(RolloutState::RolledBack));
        r.plan.gates.action = RollbackAction::Alert;
        let op = decision_operation(
            Decision::LimitExceeded(failure()),
            &controller(&r),
            &r,
            expect(),
            (0, &stats),
            "web-1",
            SystemTime::UNIX_EPOCH,
        )
        .expect("an operation");
        assert!(matches!(op.change, Change::RolloutPause { .. }));
        assert_eq!(op.record.map(|r| r.state), Some(RolloutState::Paused));
    }

    #[test]
    fn decisions_record_the_controllers_failures_and_a_pause_keeps_the_stored_count() {
        let mut r = record();
        r.failures = 1;
        let mut c = controller(&r);
        c.failures = 2;
        let stats = WindowStats::default();
        let recorded = |decision| {
            decision_operation(
                decision,
                &c,
                &r,
                expect(),
                (0, &stats),
                "web-1",
                SystemTime::UNIX_EPOCH,
            )
            .and_then(|op| op.record)
            .map(|rec| (rec.state, rec.failures))
        };
        assert_eq!(recorded(Decision::Counted(failure())), Some((r.state, 2)));
        assert_eq!(
            recorded(Decision::Pause("store unreachable".into())),
            Some((RolloutState::Paused, 1))
        );
        assert_eq!(
            recorded(Decision::Promote),
            Some((RolloutState::Completed, 2))
        );
        assert_eq!(recorded(Decision::Advance(1)), Some((r.state, 2)));
    }

    #[test]
    fn a_later_step_is_judged_from_its_own_start_the_rollout_from_its_start() {
        // Started at 1000.4 s with a 60 s window; the second step began at 1200.5 s.
        let mut r = record();
        r.started_ms = 1_000_400;
        r.step_started_ms = 1_000_400;
        let at = |r: &RolloutRecord, now_ms| gate_seconds(r, now_ms);
        // The first step: one window, from the start's own second.
        let s = at(&r, 1_030_000);
        assert_eq!((s.step_from, s.rollout_from, s.to), (1000, 1000, 1030));
        let s = at(&r, 1_100_000);
        assert_eq!((s.step_from, s.rollout_from, s.to), (1041, 1041, 1100));

        r.step = 1;
        r.step_started_ms = 1_200_500;
        // Within the step's first second: no whole second of it yet, so nothing passes it.
        let s = at(&r, 1_200_900);
        assert_eq!((s.step_from, s.rollout_from, s.to), (1201, 1141, 1200));
        assert!(s.step_from > s.to);
        // 20 s into the step: its own 20 seconds, not the 40 before it.
        let s = at(&r, 1_220_600);
        assert_eq!((s.step_from, s.rollout_from, s.to), (1201, 1161, 1220));
        // A window later the two are the same again.
        let s = at(&r, 1_300_000);
        assert_eq!((s.step_from, s.rollout_from, s.to), (1241, 1241, 1300));
        // A step that began on a whole second starts there.
        r.step_started_ms = 1_200_000;
        assert_eq!(at(&r, 1_220_000).step_from, 1200);
    }
}
