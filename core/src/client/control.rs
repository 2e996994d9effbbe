//! The engine's side of rollout control: the state it keeps (judged windows, checkpoints, the
//! current rollout), the operations a call, a rollout step or an abort makes (each applied
//! through the one apply path, `client/shared_state.rs`), and the rollout's background task.
//!
//! Lock order, everywhere: the rollout slot, then the local view of the store
//! (`SharedState`), then the traffic writer, then the checkpoints.
//! Events are published only after every lock is released, so a subscriber may call back into
//! the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use serde_json::Value;

use super::engine::Engine;
use super::guard::GuardState;
use crate::config::{Config, RollbackAction, RollbackPolicy};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::rollout::checkpoint::{Checkpoint, CheckpointStore};
use crate::rollout::controller::{Controller, Decision, RolloutState, RolloutStatus};
use crate::rollout::fleet::new_salt;
use crate::rollout::gates::{GateFailure, Scope, Verdict, evaluate};
use crate::rollout::plan::RolloutPlan;
use crate::routing::TrafficState;
use crate::state::{Canary, Change, Operation, Source, Verdict as OpVerdict};
use crate::stats::{StatsWindow, WindowStats};

/// Rollout control state, one per engine.
#[derive(Debug)]
pub(crate) struct Control {
    /// The windows the guard judges, one per side, of `config.rollback.window`; `None` when
    /// that is the length of the sides' own statistics windows, which the guard then judges
    /// (one histogram record per request instead of two).
    pub guard_windows: Option<[StatsWindow; 2]>,
    /// The windows of a running rollout's gates when their `window` differs from the guard's.
    pub plan_windows: ArcSwapOption<[StatsWindow; 2]>,
    /// The windows of the live rollout's current step, of the gates' `window`, fresh at each
    /// step's start: a step passes only on samples taken at it (docs/decisions.md).
    pub step_windows: ArcSwapOption<[StatsWindow; 2]>,
    /// Judged outcomes (successes and side failures) per side since the client started; a
    /// step's `min_requests` counts with these, as the fleet's counts do.
    pub totals: [AtomicU64; 2],
    pub checkpoints: CheckpointStore,
    /// The current or last rollout.
    pub rollout: Mutex<Option<Controller>>,
    next_rollout: AtomicU64,
    pub guard: GuardState,
    /// The runtime the client was built on: background tasks run there.
    pub runtime: Option<tokio::runtime::Handle>,
}

impl Control {
    pub fn new(config: &Config) -> Self {
        let window = config.rollback.window;
        Self {
            guard_windows: (window != config.stats_window)
                .then(|| [StatsWindow::new(window), StatsWindow::new(window)]),
            plan_windows: ArcSwapOption::empty(),
            step_windows: ArcSwapOption::empty(),
            totals: [AtomicU64::new(0), AtomicU64::new(0)],
            checkpoints: CheckpointStore::new(config),
            rollout: Mutex::new(None),
            next_rollout: AtomicU64::new(1),
            guard: GuardState::default(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    pub fn total(&self, side: Side) -> u64 {
        self.totals[side.index()].load(Ordering::Relaxed)
    }

    /// Takes over `parent`'s checkpoints, outcome totals and current rollout (a client rebuilt
    /// in a forked child, see `Client::after_fork`). Locks are only tried: one a parent thread
    /// held at the fork stays held forever in the child. Returns the rollout taken over, if
    /// it is live and so needs its task.
    pub(crate) fn inherit(&self, parent: &Control) -> Option<Controller> {
        self.checkpoints.inherit(&parent.checkpoints);
        for (mine, theirs) in self.totals.iter().zip(&parent.totals) {
            mine.store(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.next_rollout.store(
            parent.next_rollout.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let Some(rollout) = parent.rollout.try_lock() else {
            tracing::warn!(target: "turnout::fork", "the rollout was locked at the fork; the child does not take it over");
            return None;
        };
        let rollout = rollout.clone();
        // The windows start empty in the child (its own requests only), at the plan's length.
        if let (Some(c), true) = (&rollout, parent.plan_windows.load().is_some()) {
            self.plan_windows
                .store(Some(Arc::new(fresh_windows(c.plan.gates.window))));
        }
        if let (Some(c), true) = (&rollout, parent.step_windows.load().is_some()) {
            self.step_windows
                .store(Some(Arc::new(fresh_windows(c.plan.gates.window))));
        }
        *self.rollout.lock() = rollout.clone();
        rollout.filter(|c| c.state.is_live())
    }
}

/// Two empty windows (one per side) of length `window`.
fn fresh_windows(window: Duration) -> [StatsWindow; 2] {
    [StatsWindow::new(window), StatsWindow::new(window)]
}

/// What a rollout's evaluation found: the verdict and the figures of the window that gave it.
struct Judgement {
    verdict: Verdict,
    window: WindowStats,
    baseline: WindowStats,
}

/// The figures of a failed gate, for a `rollback` or `alert` event.
pub(crate) fn with_figures(
    event: Event,
    failure: &GateFailure,
    window: &WindowStats,
    baseline: &WindowStats,
) -> Event {
    event
        .detail("gate", failure.gate.as_str())
        .detail("observed", failure.observed)
        .detail("limit", failure.limit)
        .detail(
            "window",
            serde_json::to_value(window).unwrap_or(Value::Null),
        )
        .detail("baseline_error_rate", baseline.error_rate)
        .detail("baseline_requests", baseline.requests)
}

impl Engine {
    /// The window the guard judges for `side`.
    pub(crate) fn guard_window(&self, side: Side) -> &StatsWindow {
        match &self.control.guard_windows {
            Some(own) => &own[side.index()],
            None => &self.side(side).stats,
        }
    }

    /// The window a rollout's gates judge for `side`: their own when `own` is set, else the
    /// guard's.
    fn plan_window<'a>(&'a self, own: Option<&'a [StatsWindow; 2]>, side: Side) -> &'a StatsWindow {
        match own {
            Some(own) => &own[side.index()],
            None => self.guard_window(side),
        }
    }

    /// A new operation authored by this instance.
    pub(crate) fn operation(&self, reason: String, change: Change) -> Operation {
        Operation::new(&self.shared.author, reason, change, self.clock.wall())
    }

    /// Publishes events in order.
    pub(crate) fn publish_all(&self, events: Vec<Event>) {
        for e in events {
            self.publish(e);
        }
    }

    /// A change asked for by a call on the client (switch, weight, promote, rollback): applied
    /// through the one apply path; a live rollout is superseded (aborted) when it changed
    /// something. `change` is made from the local view it is decided on, read under the
    /// rollout lock, so no state adopted from the store slips in between (a rollback names it).
    pub(crate) fn manual_change(
        &self,
        change: impl FnOnce(&TrafficState) -> Change,
        reason: String,
        force: bool,
    ) -> Result<TrafficState> {
        let mut events = Vec::new();
        let state = {
            let mut slot = self.control.rollout.lock();
            let change = change(&self.shared.view().traffic);
            let kind = change.event_kind();
            let op = self.operation(reason.clone(), change);
            let applied = self.apply_op(op, Source::Local, force)?;
            let changed = applied.outcome.verdict == OpVerdict::Applied;
            events.push(applied.event);
            if changed {
                let why = format!("superseded by a manual {}: {reason}", kind.as_str());
                events.extend(self.finish_rollout(&mut slot, RolloutState::Aborted, why));
            }
            (*applied.new).clone()
        };
        self.publish_all(events);
        Ok(state)
    }

    /// Ends the rollout in `slot` if it is live; returns its event.
    pub(crate) fn finish_rollout(
        &self,
        slot: &mut Option<Controller>,
        state: RolloutState,
        reason: String,
    ) -> Option<Event> {
        let c = slot.as_mut()?;
        let wall = self.clock.wall();
        if !c.finish(state, reason.clone(), wall) {
            return None;
        }
        self.control.step_windows.store(None);
        let kind = if state == RolloutState::Completed {
            EventKind::RolloutCompleted
        } else {
            EventKind::RolloutAborted
        };
        Some(rollout_event(kind, c, reason, wall).detail("state", state.as_str()))
    }

    /// Starts a rollout of the current candidate: a new salt, its windows cleared, weight at
    /// the first step; a background task evaluates it every `plan.interval`.
    pub(crate) fn start_rollout(self: &Arc<Self>, plan: RolloutPlan) -> Result<()> {
        plan.validate()?;
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let runtime = self
            .control
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
            .ok_or_else(|| {
                Error::Config(
                    "a rollout runs as a background task: build the client inside a tokio runtime"
                        .to_string(),
                )
            })?;
        let interval = plan.interval;
        let now = self.now();
        let wall = self.clock.wall();
        let mut events = Vec::new();
        let id = {
            let mut slot = self.control.rollout.lock();
            if let Some(c) = slot.as_ref().filter(|c| c.state.is_live()) {
                return Err(Error::Config(format!(
                    "rollout {} is {} at step {} of {}; abort it before starting another",
                    c.id,
                    c.state.as_str(),
                    c.step + 1,
                    c.plan.steps.len()
                )));
            }
            let candidate = self.traffic.peek().candidate();
            // The candidate is judged afresh: nothing from an earlier release counts.
            self.guard_window(candidate).clear();
            self.side(candidate).stats.clear();
            self.shadow.window.clear();
            let own_window = plan.gates.window != self.config.rollback.window;
            self.control
                .plan_windows
                .store(own_window.then(|| Arc::new(fresh_windows(plan.gates.window))));
            self.control
                .step_windows
                .store(Some(Arc::new(fresh_windows(plan.gates.window))));
            self.control.guard.reset_alert();
            let id = self.control.next_rollout.fetch_add(1, Ordering::Relaxed);
            let salt = new_salt();
            let bp = plan.steps[0].weight_bp();
            let weights: Vec<String> = plan
                .steps
                .iter()
                .map(|s| format!("{}%", s.weight))
                .collect();
            let reason = format!(
                "rollout {id} started: {candidate} through {}",
                weights.join(", ")
            );
            let op = self.operation(
                reason,
                Change::RolloutStart {
                    rollout: id.to_string(),
                    weight_bp: bp,
                    salt,
                    candidate,
                },
            );
            let applied = self.apply_op(op, Source::Rollout, false)?;
            let total = self.step_total(candidate, plan.steps[0].shadow);
            let c = Controller::new(id, plan, candidate, now, wall, total);
            let plan_json = serde_json::to_value(&c.plan).unwrap_or(Value::Null);
            events.push(
                step_details(applied.event, &c)
                    .environment(candidate)
                    .detail("plan", plan_json),
            );
            *slot = Some(c);
            id
        };
        self.publish_all(events);
        self.spawn_rollout_task(&runtime, id, interval);
        Ok(())
    }

    /// Starts the task that evaluates rollout `id` every `interval`.
    pub(crate) fn spawn_rollout_task(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        id: u64,
        interval: Duration,
    ) {
        let weak = Arc::downgrade(self);
        self.supervisor
            .spawn(runtime, crate::client::supervise::ROLLOUT, move || {
                rollout_loop(weak.clone(), id, interval)
            });
    }

    /// Pauses the running rollout (the guard keeps watching). Pausing a paused rollout does
    /// nothing.
    pub(crate) fn pause_rollout(&self, reason: &str) -> Result<()> {
        let wall = self.clock.wall();
        let event = {
            let mut slot = self.control.rollout.lock();
            let c = live(&mut slot)?;
            if !c.pause(reason.to_string(), wall) {
                return Ok(());
            }
            rollout_event(EventKind::RolloutPaused, c, reason.to_string(), wall)
        };
        self.publish(event);
        Ok(())
    }

    /// Resumes a paused rollout; its step deadline counts again from now. Resuming a running
    /// rollout does nothing.
    pub(crate) fn resume_rollout(&self) -> Result<()> {
        let (now, wall) = (self.now(), self.clock.wall());
        let event = {
            let mut slot = self.control.rollout.lock();
            let c = live(&mut slot)?;
            if !c.resume(now, wall) {
                return Ok(());
            }
            rollout_event(EventKind::RolloutResumed, c, "resumed".to_string(), wall)
        };
        self.publish(event);
        Ok(())
    }

    /// Aborts the live rollout: weight back to 0 (a `rollback` event), then `rollout_aborted`.
    pub(crate) fn abort_rollout(&self, reason: &str) -> Result<()> {
        let mut events = Vec::new();
        {
            let mut slot = self.control.rollout.lock();
            let c = live(&mut slot)?;
            let (id, candidate) = (c.id, c.candidate);
            let why = format!("rollout {id} aborted: {reason}");
            let t = self.traffic.load();
            if t.candidate() == candidate && t.weight_bp > 0 {
                let canary = Some(Canary::of(&t));
                let op = self.operation(why, Change::Rollback { canary });
                events.push(
                    self.apply_op(op, Source::Local, true)?
                        .event
                        .environment(candidate),
                );
            }
            events.extend(self.finish_rollout(
                &mut slot,
                RolloutState::Aborted,
                reason.to_string(),
            ));
        }
        self.publish_all(events);
        Ok(())
    }

    /// The current or last rollout: the stored one with a shared store, else this client's.
    /// `weight` is the candidate's real share now (0 after a rollback), not the step's.
    pub(crate) fn rollout_status(&self) -> Option<RolloutStatus> {
        if self.shared.is_shared() {
            return self.fleet_rollout_status();
        }
        let slot = self.control.rollout.lock();
        let mut s = slot
            .as_ref()
            .map(|c| c.status(self.control.total(c.candidate)))?;
        drop(slot);
        let t = self.traffic.load();
        s.weight = if t.active == s.candidate {
            100.0 - t.canary_weight()
        } else {
            t.canary_weight()
        };
        Some(s)
    }

    /// Judges the candidate with the rollout's gates over the windows `own`, else the guard's.
    fn judge_windows(
        &self,
        own: Option<&[StatsWindow; 2]>,
        candidate: Side,
        gates: &RollbackPolicy,
        now: Duration,
    ) -> Judgement {
        let window = self.plan_window(own, candidate).snapshot(now);
        let baseline = self.plan_window(own, candidate.other()).counts(now);
        let verdict = evaluate(
            gates,
            &window,
            &baseline,
            self.guard_signals(candidate, now),
            Scope::All,
        );
        let verdict = self.judge_llm(candidate, gates, now, verdict);
        Judgement {
            verdict,
            window,
            baseline,
        }
    }

    /// Judges the candidate with the rollout's gates. A pass (or an inconclusive verdict) is
    /// the current step's own: its window holds only samples taken since the step began, so a
    /// step never advances, nor the last one promotes, on an earlier step's evidence. A failure
    /// over the gates' whole sliding window, earlier steps included, fails too, so a rollback
    /// never waits longer than it did when only that window was judged.
    fn judge_for_plan(&self, candidate: Side, gates: &RollbackPolicy) -> Judgement {
        let now = self.now();
        let own = self.control.plan_windows.load_full();
        let sliding = || self.judge_windows(own.as_deref(), candidate, gates, now);
        let Some(step) = self.control.step_windows.load_full() else {
            return sliding();
        };
        let at_step = self.judge_windows(Some(&step), candidate, gates, now);
        if at_step.verdict.is_fail() {
            return at_step;
        }
        let all = sliding();
        if all.verdict.is_fail() { all } else { at_step }
    }

    /// One evaluation of the running rollout (the background task calls this every
    /// `interval`; [`crate::Client::tick`] calls it at once).
    pub(crate) fn rollout_tick(&self) {
        let (now, wall) = (self.now(), self.clock.wall());
        let mut events = Vec::new();
        {
            let mut slot = self.control.rollout.lock();
            let Some(c) = slot.as_mut().filter(|c| c.state == RolloutState::Running) else {
                return;
            };
            let (id, candidate, current_bp) = (c.id, c.candidate, c.weight_bp());
            let t = self.traffic.load();
            if t.candidate() != candidate || t.weight_bp != current_bp {
                drop(t);
                events.extend(self.finish_rollout(
                    &mut slot,
                    RolloutState::Aborted,
                    "the traffic state was changed outside the rollout".to_string(),
                ));
            } else {
                drop(t);
                let shadow_step = c.plan.steps[c.step].shadow;
                let judged = if shadow_step {
                    let own = self.control.plan_windows.load_full();
                    Judgement {
                        verdict: self.judge_shadow_step(&c.plan.gates),
                        window: self.plan_window(own.as_deref(), candidate).snapshot(now),
                        baseline: self
                            .plan_window(own.as_deref(), candidate.other())
                            .counts(now),
                    }
                } else {
                    self.judge_for_plan(candidate, &c.plan.gates)
                };
                let total = self.step_total(candidate, shadow_step);
                let decision = c.decide(now, &judged.verdict, c.step_requests(total));
                // The traffic must still be the rollout's own for a step to apply.
                let expect = Canary::of(&self.traffic.load());
                match decision {
                    Decision::Hold => {}
                    Decision::Counted(f) => {
                        tracing::warn!(
                            target: "turnout::rollout",
                            rollout = id, failures = c.failures, limit = c.plan.failure_limit,
                            "a rollout gate failed: {f}"
                        );
                    }
                    Decision::Pause(why) => {
                        c.pause(why.clone(), wall);
                        events.push(rollout_event(EventKind::RolloutPaused, c, why, wall));
                    }
                    Decision::LimitExceeded(f) => {
                        let why = format!(
                            "{candidate} failed the rollout's gates {} times, more than failure_limit {}; last: {f}",
                            c.failures, c.plan.failure_limit
                        );
                        events.extend(self.limit_exceeded(&mut slot, &f, why, &judged));
                    }
                    Decision::Advance(next) => {
                        let bp = c.plan.steps[next].weight_bp();
                        let reason = format!(
                            "rollout {id}: step {} of {}, {}% to {candidate}",
                            next + 1,
                            c.plan.steps.len(),
                            c.plan.steps[next].weight
                        );
                        let op = self.operation(
                            reason,
                            Change::RolloutStep {
                                rollout: id.to_string(),
                                step: next,
                                weight_bp: bp,
                                expect: expect.clone(),
                            },
                        );
                        match self.apply_op(op, Source::Rollout, true) {
                            Ok(applied) => {
                                let total = self.step_total(candidate, c.plan.steps[next].shadow);
                                c.enter_step(next, now, wall, total);
                                // The new step is judged on its own samples only.
                                self.control
                                    .step_windows
                                    .store(Some(Arc::new(fresh_windows(c.plan.gates.window))));
                                events.push(step_details(applied.event, c).environment(candidate));
                            }
                            Err(_) => events.extend(self.finish_rollout(
                                &mut slot,
                                RolloutState::Aborted,
                                "the traffic state was changed outside the rollout".to_string(),
                            )),
                        }
                    }
                    Decision::Promote => {
                        let reason = format!("rollout {id} promoted {candidate}");
                        let op = self.operation(
                            reason,
                            Change::RolloutPromote {
                                rollout: id.to_string(),
                                expect: expect.clone(),
                            },
                        );
                        let (state, why) = match self.apply_op(op, Source::Rollout, true) {
                            Ok(applied) => {
                                events.push(applied.event.environment(candidate));
                                (RolloutState::Completed, format!("promoted {candidate}"))
                            }
                            Err(_) => (
                                RolloutState::Aborted,
                                "the traffic state was changed outside the rollout".to_string(),
                            ),
                        };
                        events.extend(self.finish_rollout(&mut slot, state, why));
                    }
                }
            }
        }
        self.publish_all(events);
    }

    /// The rollout failed its gates once more than its limit: roll back, or with
    /// `action: alert` only alert and pause.
    fn limit_exceeded(
        &self,
        slot: &mut Option<Controller>,
        failure: &GateFailure,
        why: String,
        judged: &Judgement,
    ) -> Vec<Event> {
        let Some(c) = slot.as_mut() else {
            return Vec::new();
        };
        let (candidate, action) = (c.candidate, c.plan.gates.action);
        let (window, baseline) = (judged.window, judged.baseline);
        let wall = self.clock.wall();
        let mut events = Vec::new();
        match action {
            RollbackAction::Alert => {
                let alert = Event::new(EventKind::Alert, wall, why.clone()).environment(candidate);
                events.push(with_figures(alert, failure, &window, &baseline));
                if c.pause(why.clone(), wall) {
                    events.push(rollout_event(EventKind::RolloutPaused, c, why, wall));
                }
            }
            RollbackAction::Rollback => {
                let t = self.traffic.load();
                if t.candidate() == candidate && t.weight_bp > 0 {
                    let canary = Some(Canary::of(&t));
                    let op = self.operation(
                        format!("rollout {}: {why}", c.id),
                        Change::Rollback { canary },
                    );
                    if let Ok(applied) = self.apply_op(op, Source::Rollout, true) {
                        let event = applied.event.environment(candidate);
                        events.push(with_figures(event, failure, &window, &baseline));
                    }
                }
                events.extend(self.finish_rollout(slot, RolloutState::RolledBack, why));
            }
        }
        events
    }

    /// Takes a named checkpoint of the current state (`checkpoint_created`).
    pub(crate) fn take_checkpoint(&self, name: &str) -> Checkpoint {
        let state = self.traffic.load();
        let cp = self
            .control
            .checkpoints
            .take(&state, name, self.clock.wall());
        self.publish(
            Event::new(
                EventKind::CheckpointCreated,
                self.clock.wall(),
                format!("checkpoint {} ({name:?}) taken", cp.id),
            )
            .detail("checkpoint", cp.id.as_str())
            .detail("name", name)
            .detail("hash", cp.hash.as_str()),
        );
        cp
    }

    /// Re-applies checkpoint `id` (`checkpoint_restored`); a live rollout is superseded.
    pub(crate) fn restore_checkpoint(&self, id: &str, force: bool) -> Result<TrafficState> {
        let cp = self.control.checkpoints.restorable(id)?;
        let (active, weight_bp, salt) = cp.traffic()?;
        let reason = format!("restored checkpoint {} ({:?})", cp.id, cp.name);
        let op = self.operation(
            reason,
            Change::Restore {
                checkpoint: cp.id.clone(),
                active,
                weight_bp,
                salt,
            },
        );
        let mut events = Vec::new();
        let state = {
            let mut slot = self.control.rollout.lock();
            let applied = self.apply_op(op, Source::Local, force)?;
            let changed = applied.outcome.verdict == OpVerdict::Applied;
            events.push(
                applied
                    .event
                    .detail("restored", cp.id.as_str())
                    .detail("hash", cp.hash.as_str()),
            );
            if changed {
                let why = format!("superseded by restoring checkpoint {}", cp.id);
                events.extend(self.finish_rollout(&mut slot, RolloutState::Aborted, why));
            }
            (*applied.new).clone()
        };
        self.publish_all(events);
        Ok(state)
    }
}

/// The live rollout in `slot`, or an error saying there is none.
fn live(slot: &mut Option<Controller>) -> Result<&mut Controller> {
    match slot.as_mut() {
        Some(c) if c.state.is_live() => Ok(c),
        Some(c) => Err(Error::NoRollout(format!(
            "rollout {} is {}",
            c.id,
            c.state.as_str()
        ))),
        None => Err(Error::NoRollout("none was started".to_string())),
    }
}

/// A rollout event with the rollout's position.
fn rollout_event(kind: EventKind, c: &Controller, reason: String, wall: SystemTime) -> Event {
    step_details(Event::new(kind, wall, reason), c).environment(c.candidate)
}

fn step_details(event: Event, c: &Controller) -> Event {
    event
        .detail("rollout", c.id)
        .detail("step", c.step as u64)
        .detail("steps", c.plan.steps.len() as u64)
        .detail("weight", c.plan.steps[c.step].weight)
        .detail("failures", c.failures)
}

/// Evaluates rollout `id` every `interval` until it ends, the client closes or is dropped
/// (the task holds no strong reference while it sleeps).
async fn rollout_loop(engine: std::sync::Weak<Engine>, id: u64, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(e) = engine.upgrade() else { return };
        if e.is_closed() {
            return;
        }
        let current = e
            .control
            .rollout
            .lock()
            .as_ref()
            .is_some_and(|c| c.id == id && c.state.is_live());
        if !current {
            return;
        }
        e.rollout_tick();
    }
}
