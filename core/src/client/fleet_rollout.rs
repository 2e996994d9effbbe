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
    RolloutAction, action_operation, decision_operation, gate_figures, new_record, record_status,
    rfc3339, start_operation, unix_ms,
};
use crate::rollout::gates::{Scope, Verdict, evaluate};
use crate::rollout::plan::RolloutPlan;
use crate::state::{
    Canary, Change, Operation, Outcome as OpOutcome, RolloutRecord, Source, Store, StoredState,
    Verdict as OpVerdict,
};

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
        let now_s = now_ms / 1000;
        let gates = &r.plan.gates;
        let window_s = gates.window.as_secs().max(1);
        // From the start's own second: the fleet's buckets are whole seconds, so up to a second
        // before the start counts too (nothing, when the candidate had no weight before).
        let from = now_s.saturating_sub(window_s - 1).max(r.started_ms / 1000);
        let candidate = r.candidate;
        let judged = store.window(candidate, from, now_s).await?;
        let baseline = store.window(candidate.other(), from, now_s).await?;
        let total = store.total(candidate).await?;
        let entry = match r.requests_at_entry {
            Some(n) => n,
            None => self.shared.fleet.step_entry(&r.id, r.step, total),
        };
        let step_requests = total.saturating_sub(entry);
        let (js, bs) = (judged.stats(), baseline.stats());
        let signals = self.guard_signals(candidate, self.now());
        let verdict = evaluate(gates, &js, &bs, signals, Scope::All);
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
            "window_s": window_s,
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
