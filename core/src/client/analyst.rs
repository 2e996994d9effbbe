//! The fleet link of one instance (SEMANTICS.md, *Fleet*, *Analyst lease and fleet-wide
//! gates*): it adds this instance's per-side outcome counts to the store's per-second buckets
//! every second, competes for the analyst lease, and — while it holds the lease — runs the
//! stored rollout's controller over the fleet's windows, and the fleet-wide post-promotion
//! analysis. Every instance's own guard keeps running as the fast local safety net.
//!
//! The controller is the pure one of `crate::rollout`; the stored rollout record says where
//! it stands (step, `step_started_ms`, failures), so an instance taking the lease over carries
//! on from the step, and every step is an operation naming the step it follows, so no step is
//! applied twice. With the store unreachable nothing advances: the holder cannot read the
//! windows or apply a step, its lease lapses, and every instance shows the rollout paused
//! with reason `store unreachable` until the store answers again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::engine::Engine;
use crate::config::RollbackAction;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::rollout::RolloutState;
use crate::rollout::controller::{Controller, Decision, RolloutStatus};
use crate::rollout::fleet::{
    RolloutAction, action_operation, gate_figures, new_record, record_status, rfc3339,
    start_operation, unix_ms,
};
use crate::rollout::gates::{Scope, Verdict, evaluate};
use crate::rollout::plan::RolloutPlan;
use crate::state::{
    Canary, Change, Operation, Outcome as OpOutcome, RolloutRecord, SecondCounts, Source, Store,
    StoredState, Verdict as OpVerdict,
};
use crate::stats::Outcome;
use crate::stats::fleet::FleetCounts;

/// Counts are added to the store this often.
pub(crate) const FLUSH: Duration = Duration::from_secs(1);
/// The analyst lease's default length.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(10);
/// Seconds kept in the store beyond the longest window judged.
const KEEP_EXTRA: Duration = Duration::from_secs(60);
/// At most this many unflushed seconds wait for an unreachable store (the oldest go first).
const MAX_UNFLUSHED: usize = 600;
/// The analysis of post-promotion runs this often.
const POST_PROMOTION_TICK: Duration = Duration::from_secs(1);

/// What the fleet link keeps between its rounds.
#[derive(Debug, Default)]
pub(crate) struct FleetLink {
    /// Unflushed counts: (Unix second, side) → counts.
    pending: Mutex<BTreeMap<(u64, Side), FleetCounts>>,
    /// The lease as this instance last saw it.
    view: Mutex<LeaseView>,
    /// The fleet's judged candidate total when this analyst first saw a step whose record
    /// does not say it (a rollout started by a client call).
    entry: Mutex<HashMap<(String, usize), u64>>,
}

#[derive(Debug, Default, Clone)]
struct LeaseView {
    holder: Option<String>,
    analysis: Option<Value>,
    /// The rollout is shown paused because the store is unreachable.
    store_paused: bool,
}

impl FleetLink {
    /// Adds one ended request of `side` at Unix second `second`.
    pub fn record(
        &self,
        second: u64,
        side: Side,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        self.pending
            .lock()
            .entry((second, side))
            .or_default()
            .record(outcome, latency, ttft);
    }

    fn take(&self) -> Vec<SecondCounts> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .map(|((second, side), counts)| SecondCounts {
                second,
                side,
                counts,
            })
            .collect()
    }

    /// Puts back counts the store did not take, keeping the newest [`MAX_UNFLUSHED`].
    fn put_back(&self, counts: Vec<SecondCounts>) {
        let mut pending = self.pending.lock();
        for c in counts {
            pending
                .entry((c.second, c.side))
                .or_default()
                .add(&c.counts);
        }
        while pending.len() > MAX_UNFLUSHED {
            pending.pop_first();
        }
    }
}

impl Engine {
    /// Adds an outcome to the fleet's counts (shared stores only).
    pub(crate) fn fleet_record(
        &self,
        side: Side,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        if self.shared.is_shared() {
            let second = unix_ms(self.clock.wall()) / 1000;
            self.shared
                .fleet
                .record(second, side, outcome, latency, ttft);
        }
    }

    fn lease_ttl(&self) -> Duration {
        self.config
            .state
            .lease_ttl
            .unwrap_or(LEASE_TTL)
            .max(Duration::from_millis(300))
    }

    /// How long the store keeps each second: the longest window judged, plus a minute.
    fn keep(&self) -> Duration {
        let plan_window = self
            .shared
            .view()
            .rollout
            .map_or(Duration::ZERO, |r| r.plan.gates.window);
        self.config.rollback.window.max(plan_window) + KEEP_EXTRA
    }

    async fn flush_fleet(&self, store: &Store) -> Result<()> {
        let counts = self.fleet_take();
        if counts.is_empty() {
            return Ok(());
        }
        match store.flush(counts.clone(), self.keep()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.fleet.put_back(counts);
                Err(e)
            }
        }
    }

    fn fleet_take(&self) -> Vec<SecondCounts> {
        self.shared.fleet.take()
    }

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
        let lease = self.shared.fleet.view.lock().clone();
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
    async fn analyst_tick(&self, store: &Store) -> Result<()> {
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
        let from = now_s
            .saturating_sub(window_s - 1)
            .max(r.started_ms / 1000);
        let candidate = r.candidate;
        let judged = store.window(candidate, from, now_s).await?;
        let baseline = store.window(candidate.other(), from, now_s).await?;
        let total = store.total(candidate).await?;
        let entry = match r.requests_at_entry {
            Some(n) => n,
            None => *self
                .shared
                .fleet
                .entry
                .lock()
                .entry((r.id.clone(), r.step))
                .or_insert(total),
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
        self.shared.fleet.view.lock().analysis = Some(analysis.clone());
        store.put_analysis(analysis).await?;
        let author = self.shared.author.clone();
        let expect = Canary::of(&stored.traffic);
        let op = match decision {
            Decision::Hold => return Ok(()),
            Decision::Counted(f) => {
                let record = RolloutRecord {
                    failures: c.failures,
                    ..r.clone()
                };
                let reason = format!(
                    "rollout {}: {candidate} failed the gates over the fleet's window ({} of {} failures allowed): {f}",
                    r.id, c.failures, r.plan.failure_limit
                );
                Operation {
                    record: Some(record),
                    ..Operation::new(
                        &author,
                        reason,
                        Change::RolloutCount {
                            rollout: r.id.clone(),
                            rev: r.rev,
                        },
                        wall,
                    )
                }
            }
            Decision::Pause(why) => {
                let record = r.ended(RolloutState::Paused, why.clone());
                Operation {
                    record: Some(record),
                    ..Operation::new(
                        &author,
                        why,
                        Change::RolloutPause {
                            rollout: r.id.clone(),
                            rev: r.rev,
                        },
                        wall,
                    )
                }
            }
            Decision::LimitExceeded(f) => {
                let why = format!(
                    "{candidate} failed the rollout's gates over the fleet's window: {f} (failed evaluations {}, failure_limit {})",
                    c.failures, r.plan.failure_limit
                );
                if gates.action == RollbackAction::Alert {
                    let alert =
                        Event::new(EventKind::Alert, wall, why.clone()).environment(candidate);
                    self.publish(alert);
                    let record = RolloutRecord {
                        failures: c.failures,
                        ..r.ended(RolloutState::Paused, why.clone())
                    };
                    Operation {
                        record: Some(record),
                        ..Operation::new(
                            &author,
                            why,
                            Change::RolloutPause {
                                rollout: r.id.clone(),
                                rev: r.rev,
                            },
                            wall,
                        )
                    }
                } else {
                    let record = RolloutRecord {
                        failures: c.failures,
                        ..r.ended(RolloutState::RolledBack, why.clone())
                    };
                    Operation {
                        record: Some(record),
                        ..Operation::new(
                            &author,
                            format!("rollout {}: {why}", r.id),
                            Change::Rollback {
                                canary: Some(expect),
                            },
                            wall,
                        )
                    }
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
                    failures: c.failures,
                    ..r.clone()
                };
                Operation {
                    record: Some(record),
                    ..Operation::new(
                        &author,
                        format!(
                            "rollout {}: step {} of {}, {weight}% to {candidate} (fleet: {} requests, error rate {:.3}, p99 {:.1} ms)",
                            r.id,
                            next + 1,
                            r.plan.steps.len(),
                            js.requests,
                            js.error_rate,
                            js.p99_ms
                        ),
                        Change::RolloutStep {
                            rollout: r.id.clone(),
                            step: next,
                            weight_bp: r.plan.steps[next].weight_bp(),
                            expect,
                        },
                        wall,
                    )
                }
            }
            Decision::Promote => {
                let record = RolloutRecord {
                    failures: c.failures,
                    ..r.ended(RolloutState::Completed, format!("promoted {candidate}"))
                };
                Operation {
                    record: Some(record),
                    ..Operation::new(
                        &author,
                        format!("rollout {} promoted {candidate}", r.id),
                        Change::RolloutPromote {
                            rollout: r.id.clone(),
                            expect,
                        },
                        wall,
                    )
                }
            }
        };
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
        let policy = &self.config.rollback;
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
        self.reconcile_from(outcome.state);
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

    /// Shows the rollout paused while the store is unreachable (and says so once), and
    /// resumed when it answers again.
    fn follow_store_pause(&self, connected: bool) {
        let view = self.shared.view();
        let live = view
            .live_rollout()
            .filter(|r| r.state == RolloutState::Running)
            .cloned();
        let mut lease = self.shared.fleet.view.lock();
        let event = match (&live, connected, lease.store_paused) {
            (Some(r), false, false) => {
                lease.store_paused = true;
                Some(
                    Event::new(
                        EventKind::RolloutPaused,
                        self.clock.wall(),
                        "store unreachable: no step is taken without the fleet's figures",
                    )
                    .environment(r.candidate)
                    .detail("rollout", r.id.as_str())
                    .detail("source", "store"),
                )
            }
            (_, true, true) => {
                lease.store_paused = false;
                live.map(|r| {
                    Event::new(
                        EventKind::RolloutResumed,
                        self.clock.wall(),
                        "the store answers again: the rollout goes on from its step",
                    )
                    .environment(r.candidate)
                    .detail("rollout", r.id.as_str())
                    .detail("source", "store")
                })
            }
            _ => None,
        };
        drop(lease);
        if let Some(e) = event {
            self.publish(e);
        }
    }

    fn lease_event(&self, kind: EventKind, reason: String) {
        self.publish(
            Event::new(kind, self.clock.wall(), reason)
                .detail("analyst", self.shared.author.as_str()),
        );
    }

    /// Starts the fleet link's task (shared stores only).
    pub(crate) fn spawn_analyst(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        store: Arc<Store>,
    ) {
        let (weak, shutdown) = (Arc::downgrade(self), self.shutdown_signal());
        self.supervisor
            .spawn(handle, super::supervise::ANALYST, move || {
                analyst_loop(weak.clone(), Arc::clone(&store), shutdown.clone())
            });
    }
}

/// Flushes every [`FLUSH`], keeps or competes for the lease, and runs the analyst while it
/// holds it, until the engine closes or is dropped. A closing holder releases the lease.
async fn analyst_loop(
    engine: Weak<Engine>,
    store: Arc<Store>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some((ttl, author)) = engine
        .upgrade()
        .map(|e| (e.lease_ttl(), e.shared.author.clone()))
    else {
        return;
    };
    let poll = (ttl / 10).clamp(Duration::from_millis(50), Duration::from_millis(500));
    let mut held_until: Option<Instant> = None;
    let mut last_renew = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_tick: Option<Instant> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => break,
        }
        let Some(e) = engine.upgrade() else { return };
        if e.is_closed() {
            break;
        }
        if last_flush.elapsed() >= FLUSH {
            last_flush = Instant::now();
            let _ = e.flush_fleet(&store).await;
        }
        let asked = Instant::now();
        let mut reachable = true;
        match held_until {
            Some(until) if last_renew.elapsed() >= ttl / 3 => {
                match store.renew_lease(&author, ttl).await {
                    Ok(true) => {
                        held_until = Some(asked + ttl);
                        last_renew = asked;
                    }
                    Ok(false) => {
                        held_until = None;
                        e.lease_event(
                            EventKind::LeaseLost,
                            "another instance holds the analyst lease".to_string(),
                        );
                    }
                    Err(err) if Instant::now() >= until => {
                        reachable = false;
                        held_until = None;
                        e.lease_event(
                            EventKind::LeaseLost,
                            format!("the analyst lease lapsed: store unreachable ({err})"),
                        );
                    }
                    Err(_) => reachable = false,
                }
            }
            Some(_) => {}
            None => {
                let got = store.try_lease(&author, ttl).await;
                reachable = got.is_ok();
                if let Ok(true) = got {
                    held_until = Some(asked + ttl);
                    last_renew = asked;
                    last_tick = None;
                    e.lease_event(
                        EventKind::LeaseAcquired,
                        format!("{author} holds the analyst lease: it runs the fleet's rollout controller"),
                    );
                }
            }
        }
        let held = held_until.is_some_and(|u| Instant::now() < u);
        let holder = if held {
            Some(author.clone())
        } else {
            match store.lease_holder().await {
                Ok(h) => h,
                Err(_) => {
                    reachable = false;
                    None
                }
            }
        };
        e.shared.fleet.view.lock().holder = holder;
        e.follow_store_pause(reachable);
        if !held {
            if let Ok(Some(a)) = store.analysis().await {
                e.shared.fleet.view.lock().analysis = Some(a);
            }
            continue;
        }
        let interval = e
            .shared
            .view()
            .live_rollout()
            .map_or(POST_PROMOTION_TICK, |r| r.plan.interval);
        if last_tick.is_none_or(|t| t.elapsed() >= interval) {
            last_tick = Some(Instant::now());
            if let Err(err) = e.analyst_tick(&store).await {
                tracing::warn!(target: "turnout::rollout", error = %err,
                    "the analyst could not judge the fleet's window");
            }
        }
    }
    if held_until.is_some() {
        let _ = tokio::time::timeout(Duration::from_secs(1), store.release_lease(&author)).await;
    }
    if let Some(e) = engine.upgrade() {
        let _ = tokio::time::timeout(Duration::from_secs(1), e.flush_fleet(&store)).await;
    }
}
