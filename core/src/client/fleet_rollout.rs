//! The rollout that lives in the store, seen from one instance (SEMANTICS.md, *Fleet*): the
//! client calls that start, pause, resume or abort it (operations carrying its record), its
//! view in `rollout()` and `status()`, and — in the instance holding the analyst lease — one
//! round of the controller over the fleet's windows, or of the post-promotion analysis. The
//! lease and the window flushes are `analyst.rs`'s.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::engine::Engine;
use crate::config::RollbackAction;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::rollout::RolloutState;
use crate::rollout::controller::{Controller, Decision, RolloutStatus};
use crate::rollout::fleet::{
    RolloutAction, action_operation, decision_operation, gate_figures, gate_seconds, new_record,
    record_status, rfc3339, start_operation, unix_ms,
};
use crate::rollout::gates::{Scope, Signals, Verdict, evaluate};
use crate::rollout::plan::RolloutPlan;
use crate::state::{
    Canary, Change, Operation, Outcome as OpOutcome, RolloutRecord, Source, Store, StoredState,
    Verdict as OpVerdict,
};
use crate::stats::WindowStats;
use crate::stats::fleet::FleetCounts;

impl Engine {
    /// Starts a rollout that lives in the store: the operation carries its record, so the
    /// analyst (whichever instance holds the lease) runs it.
    pub(crate) fn start_fleet_rollout(&self, plan: RolloutPlan) -> Result<()> {
        let view = self.shared.view();
        if let Some(r) = view.live_rollout() {
            return Err(Error::Config(format!(
                "rollout {} is {} at step {} of {}; abort it before starting another",
                r.id,
                r.state.as_str(),
                r.step + 1,
                r.plan.steps.len()
            )));
        }
        let candidate = self.traffic.peek().candidate();
        self.guard_window(candidate).clear();
        self.side(candidate).stats.clear();
        self.control.guard.reset_alert();
        let wall = self.clock.wall();
        let record = new_record(plan, candidate, &self.shared.author, wall, None);
        let op = start_operation(&self.shared.author, &record, wall);
        let applied = self.apply_op(op, Source::Rollout, false)?;
        self.publish(applied.event.environment(candidate));
        Ok(())
    }

    /// Pauses, resumes or aborts the stored rollout from a client call.
    pub(crate) fn change_fleet_rollout(&self, action: RolloutAction, reason: &str) -> Result<()> {
        let view = self.shared.view();
        let r = view.live_rollout().cloned().ok_or_else(|| {
            Error::NoRollout(match &view.rollout {
                Some(r) => format!("rollout {} is {}", r.id, r.state.as_str()),
                None => "none was started".to_string(),
            })
        })?;
        let wall = self.clock.wall();
        let Some(op) = action_operation(&self.shared.author, &r, action, reason, wall) else {
            return Ok(());
        };
        let applied = self.apply_op(op, Source::Local, true)?;
        self.publish(applied.event.environment(r.candidate));
        Ok(())
    }

    /// The stored rollout as `rollout()` shows it: with the analyst, its last figures, and
    /// `paused` (`store unreachable`) while the store cannot be reached.
    pub(crate) fn fleet_rollout_status(&self) -> Option<RolloutStatus> {
        let view = self.shared.view();
        let r = view.rollout.as_ref()?;
        let lease = self.shared.fleet.lease_view();
        let mut s = record_status(r, &view);
        if lease.store_paused && r.state == RolloutState::Running {
            s.state = RolloutState::Paused;
            s.reason = Some("store unreachable".to_string());
        }
        s.analyst = lease.holder;
        s.analysis = lease.analysis;
        Some(s)
    }

    /// One round of the analyst: the stored rollout, else the post-promotion analysis.
    pub(crate) async fn analyst_tick(&self, store: &Store) -> Result<()> {
        let Some(stored) = store.load().await? else {
            return Ok(());
        };
        let wall = self.clock.wall();
        match stored.live_rollout().cloned() {
            Some(r) if r.state == RolloutState::Running => {
                self.judge_rollout(store, &stored, r, wall).await
            }
            Some(_) => Ok(()),
            None => self.judge_promotion(store, &stored, wall).await,
        }
    }

    async fn judge_rollout(
        &self,
        store: &Store,
        stored: &StoredState,
        r: RolloutRecord,
        wall: SystemTime,
    ) -> Result<()> {
        let now_ms = unix_ms(wall);
        let gates = &r.plan.gates;
        let candidate = r.candidate;
        let signals = self.guard_signals(candidate, self.now());
        let judged = judge_fleet(store, &r, now_ms, signals).await?;
        let total = store.total(candidate).await?;
        let entry = match r.requests_at_entry {
            Some(n) => n,
            None => self.shared.fleet.step_entry(&r.id, r.step, total),
        };
        let step_requests = total.saturating_sub(entry);
        let (js, bs, verdict) = (judged.judged, judged.baseline, judged.verdict);
        let mut c = Controller::at_step(
            r.plan.clone(),
            candidate,
            r.step,
            Duration::from_millis(r.step_started_ms),
            Duration::from_millis(r.deadline_from_ms),
            r.failures,
        );
        let decision = c.decide(Duration::from_millis(now_ms), &verdict, step_requests);
        let step = &r.plan.steps[r.step];
        let held_ms = now_ms.saturating_sub(r.step_started_ms);
        let analysis = json!({
            "at": rfc3339(wall),
            "analyst": self.shared.author,
            "rollout": r.id,
            "step": r.step,
            "candidate": candidate,
            // The seconds read (fewer than the gates' window early in a step), and whether they
            // are the step's own or, for a failure seen only there, the rollout's.
            "window_s": (judged.to + 1).saturating_sub(judged.from),
            "gates_window_s": gates.window.as_secs().max(1),
            "window_of": judged.of,
            "judged": js,
            "baseline": bs,
            "verdict": c.last_verdict(),
            "gates": gate_figures(gates, &js, &bs),
            "step_requests": step_requests,
            "min_requests": step.min_requests,
            "hold_s": step.hold.as_secs_f64(),
            "hold_left_s": (step.hold.as_secs_f64() - held_ms as f64 / 1000.0).max(0.0),
        });
        self.shared.fleet.set_analysis(analysis.clone());
        store.put_analysis(analysis).await?;
        let alert =
            matches!(decision, Decision::LimitExceeded(_)) && gates.action == RollbackAction::Alert;
        let Some(op) = decision_operation(
            decision,
            &c,
            &r,
            Canary::of(&stored.traffic),
            (total, &js),
            &self.shared.author,
            wall,
        ) else {
            return Ok(());
        };
        if alert {
            let event =
                Event::new(EventKind::Alert, wall, op.reason.clone()).environment(candidate);
            self.publish(event);
        }
        self.submit_direct(store, op, &stored.traffic).await
    }

    /// Within `rollback.window` after a promotion, judges the new active side over the fleet's
    /// seconds since it; a failure switches back.
    async fn judge_promotion(
        &self,
        store: &Store,
        stored: &StoredState,
        wall: SystemTime,
    ) -> Result<()> {
        if stored.last_change != EventKind::Promote.as_str() {
            return Ok(());
        }
        let Ok(promoted) = humantime::parse_rfc3339_weak(&stored.updated_at) else {
            return Ok(());
        };
        // A rollout's promotion is judged on by the rollout's own gates; any other by the
        // config's `rollback` policy.
        let policy = match &stored.rollout {
            Some(r)
                if r.state == RolloutState::Completed && r.candidate == stored.traffic.active =>
            {
                &r.plan.gates
            }
            _ => &self.config.rollback,
        };
        let (now_ms, since_ms) = (unix_ms(wall), unix_ms(promoted));
        if now_ms.saturating_sub(since_ms) >= u64::try_from(policy.window.as_millis()).unwrap_or(0)
        {
            return Ok(());
        }
        let side = stored.traffic.active;
        let (from, to) = (since_ms / 1000, now_ms / 1000);
        let judged = store.window(side, from, to).await?.stats();
        let baseline = store.window(side.other(), from, to).await?.stats();
        let signals = self.guard_signals(side, self.now());
        let Verdict::Fail(f) = evaluate(policy, &judged, &baseline, signals, Scope::All) else {
            return Ok(());
        };
        if policy.action == RollbackAction::Alert {
            return Ok(());
        }
        let reason = format!(
            "post-promotion analysis (fleet): {side} failed a gate within {}s of its promotion: {f}; switching back to {}",
            policy.window.as_secs_f64(),
            side.other()
        );
        let op = Operation::new(
            &self.shared.author,
            reason,
            Change::Rollback {
                canary: Some(Canary::of(&stored.traffic)),
            },
            wall,
        );
        self.submit_direct(store, op, &stored.traffic).await
    }

    /// Applies the analyst's operation in the store at once (never queued: no decision is made
    /// on figures the store could not give), then adopts the result here.
    async fn submit_direct(
        &self,
        store: &Store,
        mut op: Operation,
        init: &crate::routing::TrafficState,
    ) -> Result<()> {
        op.source = Source::Rollout.as_str().to_string();
        let asked = self.adoptions();
        let outcome: OpOutcome = store.apply(&op, init).await?;
        if outcome.verdict == OpVerdict::Refused {
            tracing::info!(target: "turnout::rollout", op = %op.id, note = %outcome.note,
                "the store refused the analyst's operation (the rollout moved meanwhile)");
            return Ok(());
        }
        let completed = outcome
            .state
            .rollout
            .as_ref()
            .filter(|r| {
                r.state == RolloutState::Completed
                    && matches!(op.change, Change::RolloutPromote { .. })
            })
            .cloned();
        self.reconcile_from(outcome.state, asked);
        if let Some(r) = completed {
            let event = Event::new(
                EventKind::RolloutCompleted,
                self.clock.wall(),
                format!("rollout {} completed: promoted {}", r.id, r.candidate),
            )
            .environment(r.candidate)
            .detail("rollout", r.id.as_str())
            .detail("state", r.state.as_str());
            self.publish(event);
        }
        Ok(())
    }
}

/// What the analyst's evaluation found: the verdict, and the figures and seconds of the window
/// that gave it.
#[derive(Debug)]
struct FleetJudgement {
    verdict: Verdict,
    judged: WindowStats,
    baseline: WindowStats,
    from: u64,
    to: u64,
    /// `"step"` or `"rollout"`.
    of: &'static str,
}

/// Judges the stored rollout `r` over the fleet's windows at `now_ms` (see
/// [`gate_seconds`]): a pass or an inconclusive verdict is the current step's own, so no step
/// advances, nor the last one promotes, on an earlier step's samples; a failure over the
/// rollout's window, earlier steps included, fails too.
async fn judge_fleet(
    store: &Store,
    r: &RolloutRecord,
    now_ms: u64,
    signals: Signals,
) -> Result<FleetJudgement> {
    let s = gate_seconds(r, now_ms);
    let at_step = judge_seconds(store, r, (s.step_from, s.to), signals, "step").await?;
    if at_step.verdict.is_fail() || s.rollout_from == s.step_from {
        return Ok(at_step);
    }
    let all = judge_seconds(store, r, (s.rollout_from, s.to), signals, "rollout").await?;
    Ok(if all.verdict.is_fail() { all } else { at_step })
}

/// Judges `r`'s candidate with its gates over the fleet's seconds `from..=to`.
async fn judge_seconds(
    store: &Store,
    r: &RolloutRecord,
    (from, to): (u64, u64),
    signals: Signals,
    of: &'static str,
) -> Result<FleetJudgement> {
    let read = |side| async move {
        if from > to {
            Ok(FleetCounts::default())
        } else {
            store.window(side, from, to).await
        }
    };
    let judged = read(r.candidate).await?.stats();
    let baseline = read(r.candidate.other()).await?.stats();
    let verdict = evaluate(&r.plan.gates, &judged, &baseline, signals, Scope::All);
    Ok(FleetJudgement {
        verdict,
        judged,
        baseline,
        from,
        to,
        of,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::StateConfig;
    use crate::environment::Side;
    use crate::rollout::gates::Gate;
    use crate::rollout::plan::Step;
    use crate::state::SecondCounts;
    use crate::stats::Outcome;

    const MS: Duration = Duration::from_millis(20);

    /// A memory store holding, for the candidate (green), `(seconds ago, successes, failures)`.
    async fn store_with(now_s: u64, seconds: &[(u64, u64, u64)]) -> Store {
        let store = Store::open(&StateConfig::default()).expect("memory store");
        let counts = seconds
            .iter()
            .map(|&(ago, ok, failed)| {
                let mut counts = FleetCounts::default();
                for _ in 0..ok {
                    counts.record(Outcome::Success, MS, None);
                }
                for _ in 0..failed {
                    counts.record(Outcome::Failure, MS, None);
                }
                SecondCounts {
                    second: now_s - ago,
                    side: Side::Green,
                    counts,
                }
            })
            .collect();
        store
            .flush("batch", counts, Duration::from_secs(3600))
            .await
            .expect("flush");
        store
    }

    /// A rollout of green through 10, 50 and 100 % (5 % errors at most, 20 requests, 60 s),
    /// started 100 s before `now_ms`, now at `step` since `step_ago_ms`.
    fn rollout(now_ms: u64, step: usize, step_ago_ms: u64) -> RolloutRecord {
        let plan = RolloutPlan::new(vec![Step::new(10.0), Step::new(50.0), Step::new(100.0)]);
        let mut r = new_record(plan, Side::Green, "test", SystemTime::UNIX_EPOCH, Some(0));
        r.started_ms = now_ms - 100_000;
        r.step = step;
        r.step_started_ms = now_ms - step_ago_ms;
        r
    }

    fn now() -> (u64, u64) {
        let now_ms = unix_ms(SystemTime::now());
        (now_ms, now_ms / 1000)
    }

    #[tokio::test]
    async fn a_step_is_not_passed_on_the_clean_samples_of_the_step_before() {
        let (now_ms, now_s) = now();
        // 200 clean requests at 10 % (40 s ago), then 20 at 50 % of which 2 failed (5 s ago):
        // 2 of 220 is 0.9 %, but the step's own 2 of 20 is 10 %.
        let store = store_with(now_s, &[(40, 200, 0), (5, 18, 2)]).await;
        let r = rollout(now_ms, 1, 20_000);
        let j = judge_fleet(&store, &r, now_ms, Signals::default())
            .await
            .unwrap();
        let Verdict::Fail(f) = &j.verdict else {
            panic!("the step's own window fails: {j:?}")
        };
        assert_eq!((f.gate, f.requests), (Gate::MaxErrorRate, 20));
        assert_eq!(
            (j.of, j.judged.requests, j.judged.failures),
            ("step", 20, 2)
        );
    }

    #[tokio::test]
    async fn the_last_step_is_not_promoted_before_samples_of_its_own() {
        let (now_ms, now_s) = now();
        let store = store_with(now_s, &[(40, 200, 0), (10, 40, 0)]).await;
        // At 100 % since 3 s, with nothing ended since: inconclusive, not a pass.
        let r = rollout(now_ms, 2, 3_000);
        let j = judge_fleet(&store, &r, now_ms, Signals::default())
            .await
            .unwrap();
        assert_eq!(
            j.verdict,
            Verdict::Inconclusive {
                requests: 0,
                min_requests: 20
            }
        );
    }

    #[tokio::test]
    async fn a_failure_over_the_rollouts_window_still_fails_at_once() {
        let (now_ms, now_s) = now();
        // 11 failures in the step's first seconds: too few for the step's own window (20), but
        // 11 of 211 is over 5 % in the rollout's, which alone was judged before.
        let store = store_with(now_s, &[(40, 200, 0), (5, 0, 11)]).await;
        let r = rollout(now_ms, 1, 20_000);
        let j = judge_fleet(&store, &r, now_ms, Signals::default())
            .await
            .unwrap();
        assert!(j.verdict.is_fail(), "{j:?}");
        assert_eq!((j.of, j.judged.requests), ("rollout", 211));
    }
}
