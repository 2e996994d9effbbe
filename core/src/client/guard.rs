//! The always-on rollback guard (SEMANTICS.md, *Automatic rollback*).
//!
//! While the candidate has weight > 0, `config.rollback` is judged over the candidate's window:
//!
//! - **after each of the candidate's outcomes**, on the request path, the gates that need only
//!   counts (`max_error_rate`, `min_success_rate`, `max_error_rate_delta`, the circuit and
//!   health signals): a few atomic loads and one short lock;
//! - the quantile gates (`max_p99_latency_ms`, `max_p99_ttft_ms`) merge histograms, so on the
//!   request path they run at most every [`QUANTILE_EVERY`] (250 ms);
//! - **every second** a background task judges every gate, so a quiet candidate is still
//!   judged and no quantile failure waits more than a second. [`crate::Client::tick`] does the
//!   same at once.
//!
//! On a failure with `action: rollback` the weight goes to 0 at once (one `rollback` event with
//! the window's figures, however many requests saw the failure) and a live rollout is marked
//! rolled back. With `action: alert` only an `alert` event is published, once per episode (until
//! a full evaluation passes again).
//!
//! Post-promotion analysis: for `window` after a promotion, the same gates judge the new active
//! side; a failure switches the active side back (weight 0).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::control::with_figures;
use super::engine::Engine;
use crate::config::RollbackAction;
use crate::environment::Side;
use crate::events::{Event, EventKind};
use crate::rollout::controller::RolloutState;
use crate::rollout::gates::{GateFailure, Scope, Signals, Verdict, evaluate, has_quantile_gates};
use crate::rollout::{GUARD_TICK as TICK, QUANTILE_EVERY};
use crate::state::{Canary, Change, Source, Verdict as OpVerdict};
use crate::stats::{Outcome, WindowStats};

const NEVER: u64 = u64::MAX;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
}

/// The guard's own state.
#[derive(Debug)]
pub(crate) struct GuardState {
    /// Clock time (ns) of the last quantile evaluation on the request path.
    last_quantiles: AtomicU64,
    /// An alert was published and no full evaluation has passed since.
    alerting: AtomicBool,
    /// Clock time (ns) until which the active side is judged after a promotion; 0 = none.
    post_promotion_until: AtomicU64,
}

impl Default for GuardState {
    fn default() -> Self {
        Self {
            last_quantiles: AtomicU64::new(NEVER),
            alerting: AtomicBool::new(false),
            post_promotion_until: AtomicU64::new(0),
        }
    }
}

impl GuardState {
    pub fn start_post_promotion(&self, until: Duration) {
        self.post_promotion_until
            .store(nanos(until).max(1), Ordering::Release);
    }

    pub fn end_post_promotion(&self) {
        self.post_promotion_until.store(0, Ordering::Release);
    }

    fn in_post_promotion(&self, now: Duration) -> bool {
        let until = self.post_promotion_until.load(Ordering::Acquire);
        until != 0 && nanos(now) < until
    }

    pub fn reset_alert(&self) {
        self.alerting.store(false, Ordering::Relaxed);
    }

    /// Claims the quantile evaluation if the last one is older than [`QUANTILE_EVERY`].
    fn quantiles_due(&self, now: Duration) -> bool {
        let now = nanos(now);
        let last = self.last_quantiles.load(Ordering::Relaxed);
        if last != NEVER && now.saturating_sub(last) < nanos(QUANTILE_EVERY) {
            return false;
        }
        self.last_quantiles
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Which side the guard is judging, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// The candidate, while it has weight.
    Candidate,
    /// The active side, within `window` after its promotion.
    Promoted,
}

impl Engine {
    /// Records an outcome of `side` in the judged windows (the side's statistics window is
    /// already recorded), then runs the guard on it (called by `Engine::record` for every
    /// outcome, after the circuit has counted it).
    pub(crate) fn guard_outcome(
        &self,
        side: Side,
        now: Duration,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let c = &self.control;
        if outcome.is_judged() {
            c.totals[side.index()].fetch_add(1, Ordering::Relaxed);
        }
        self.fleet_record(side, outcome, latency, ttft);
        if let Some(own) = &c.guard_windows {
            own[side.index()].record(now, outcome, latency, ttft);
        }
        if let Some(own) = c.plan_windows.load().as_deref() {
            own[side.index()].record(now, outcome, latency, ttft);
        }
        if let Some(step) = c.step_windows.load().as_deref() {
            step[side.index()].record(now, outcome, latency, ttft);
        }
        let Some(judged) = self.judged(side, now) else {
            return;
        };
        self.guard_check(side, judged, now, Scope::Counts);
        if has_quantile_gates(&self.config.rollback) && c.guard.quantiles_due(now) {
            self.guard_check(side, judged, now, Scope::All);
        }
    }

    /// Judges every gate now (every second from the background task, and from `tick()`).
    pub(crate) fn guard_tick(&self) {
        let now = self.now();
        for side in Side::BOTH {
            if let Some(judged) = self.judged(side, now) {
                self.guard_check(side, judged, now, Scope::All);
            }
        }
    }

    /// The circuit and health signals of `side` (the guard's, a rollout's and the fleet
    /// analyst's).
    ///
    /// Only an *open* circuit fails the gate, not a half-open one. A circuit an earlier release
    /// opened is half-open when the next rollout starts (the candidate had no traffic, so no
    /// trial): failing on it rolled a healed release back on the first tick. Its first request
    /// is the trial, and a failed trial opens the circuit again, which fails the gate at once.
    /// Nor is a circuit still open at the start inherited: starting a rollout is refused while
    /// the candidate's circuit is open (on the instance that starts it).
    pub(crate) fn guard_signals(&self, side: Side, now: Duration) -> Signals {
        let s = self.side(side);
        Signals {
            circuit_open: s.circuit.is_open(now),
            unhealthy: !s.health.is_healthy(),
        }
    }

    fn judged(&self, side: Side, now: Duration) -> Option<Judged> {
        let t = self.traffic.peek();
        if t.weight_bp > 0 && side == t.candidate() {
            Some(Judged::Candidate)
        } else if side == t.active && self.control.guard.in_post_promotion(now) {
            Some(Judged::Promoted)
        } else {
            None
        }
    }

    fn guard_check(&self, side: Side, judged: Judged, now: Duration, scope: Scope) {
        let policy = &self.config.rollback;
        let window = match scope {
            Scope::Counts => self.guard_window(side).counts(now),
            Scope::All => self.guard_window(side).snapshot(now),
        };
        let baseline = if policy.max_error_rate_delta.is_some() {
            self.guard_window(side.other()).counts(now)
        } else {
            WindowStats::default()
        };
        let signals = self.guard_signals(side, now);
        let verdict = evaluate(policy, &window, &baseline, signals, scope);
        let verdict = match scope {
            Scope::All => self.judge_llm(side, policy, now, verdict),
            Scope::Counts => verdict,
        };
        match verdict {
            Verdict::Fail(f) => self.guard_tripped(side, judged, &f, now),
            _ if scope == Scope::All || !has_quantile_gates(policy) => {
                self.control.guard.reset_alert();
            }
            _ => {}
        }
    }

    fn guard_tripped(&self, side: Side, judged: Judged, failure: &GateFailure, now: Duration) {
        let policy = &self.config.rollback;
        let window = self.guard_window(side).snapshot(now);
        let baseline = self.guard_window(side.other()).counts(now);
        let wall = self.clock.wall();
        let other = side.other();
        if policy.action == RollbackAction::Alert {
            if !self.control.guard.alerting.swap(true, Ordering::Relaxed) {
                let reason = format!(
                    "{side} failed a rollback gate: {failure}; action is alert, traffic unchanged"
                );
                let event = Event::new(EventKind::Alert, wall, reason).environment(side);
                self.publish(with_figures(event, failure, &window, &baseline));
            }
            return;
        }
        let mut events = Vec::new();
        {
            let mut slot = self.control.rollout.lock();
            // Checked under the rollout lock, so two outcomes tripping at once make one rollback.
            let t = self.traffic.load();
            let reason = match judged {
                Judged::Candidate if t.candidate() == side && t.weight_bp > 0 => {
                    format!("automatic rollback: candidate {side} failed a gate: {failure}")
                }
                Judged::Promoted if t.active == side => format!(
                    "post-promotion analysis: {side} failed a gate within {}s of its promotion: {failure}; switching back to {other}",
                    policy.window.as_secs_f64()
                ),
                _ => return,
            };
            let canary = Some(Canary::of(&t));
            let op = self.operation(reason, Change::Rollback { canary });
            let applied = self
                .apply_op(op, Source::Guard, true)
                .ok()
                .filter(|a| a.outcome.verdict == OpVerdict::Applied);
            // Another outcome acted first: one rollback, one event.
            let Some(applied) = applied else { return };
            let event = applied.event.environment(side).detail(
                "trigger",
                match judged {
                    Judged::Candidate => "guard",
                    Judged::Promoted => "post_promotion",
                },
            );
            events.push(with_figures(event, failure, &window, &baseline));
            let why = format!("the rollback guard fired: {side} {failure}");
            events.extend(self.finish_rollout(&mut slot, RolloutState::RolledBack, why));
        }
        self.publish_all(events);
    }
}

/// Starts the guard's once-a-second task on the client's runtime, if it was built on one.
pub(crate) fn spawn_guard_task(engine: &Arc<Engine>) {
    if let Some(rt) = engine.control.runtime.clone() {
        let weak = Arc::downgrade(engine);
        engine
            .supervisor
            .spawn(&rt, crate::client::supervise::GUARD, move || {
                guard_loop(weak.clone())
            });
    }
}

/// Judges every gate each [`TICK`] until the client closes or is dropped.
async fn guard_loop(engine: Weak<Engine>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(e) = engine.upgrade() else { return };
        if e.is_closed() {
            return;
        }
        e.guard_tick();
    }
}
