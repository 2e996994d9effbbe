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

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::watch;

use super::engine::Engine;
use crate::environment::Side;
use crate::error::Result;
use crate::events::{Event, EventKind};
use crate::rollout::RolloutState;
use crate::rollout::fleet::unix_ms;
use crate::state::{PendingSeconds, SecondCounts, Store};
use crate::stats::Outcome;

/// Counts are added to the store this often.
pub(crate) const FLUSH: Duration = Duration::from_secs(1);
/// The analyst lease's default length.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(10);
/// Seconds kept in the store beyond the longest window judged.
const KEEP_EXTRA: Duration = Duration::from_secs(60);
/// The analysis of post-promotion runs this often.
const POST_PROMOTION_TICK: Duration = Duration::from_secs(1);

/// What the fleet link keeps between its rounds.
#[derive(Debug, Default)]
pub(crate) struct FleetLink {
    /// Unflushed counts.
    pending: PendingSeconds,
    /// A batch whose flush failed, under its id: sent again as it was before anything newer,
    /// since the store may have applied it and only its answer been lost.
    unsent: Mutex<Option<(String, Vec<SecondCounts>)>>,
    /// The lease as this instance last saw it.
    view: Mutex<LeaseView>,
    /// The fleet's judged candidate total when this analyst first saw a step whose record
    /// does not say it (a rollout started by a client call).
    entry: Mutex<HashMap<(String, usize), u64>>,
}

/// The lease and the analyst's figures as this instance last saw them.
#[derive(Debug, Default, Clone)]
pub(crate) struct LeaseView {
    pub holder: Option<String>,
    pub analysis: Option<Value>,
    /// The rollout is shown paused because the store is unreachable.
    pub store_paused: bool,
}

impl FleetLink {
    /// The lease and the analyst's figures as last seen.
    pub fn lease_view(&self) -> LeaseView {
        self.view.lock().clone()
    }

    /// Keeps the analyst's last figures (this instance's own, as the holder).
    pub fn set_analysis(&self, analysis: Value) {
        self.view.lock().analysis = Some(analysis);
    }

    /// The fleet's total at the entry of a step whose record does not say it: the total when
    /// this analyst first saw the step.
    pub fn step_entry(&self, rollout: &str, step: usize, total: u64) -> u64 {
        *self
            .entry
            .lock()
            .entry((rollout.to_string(), step))
            .or_insert(total)
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
                .pending
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
        let unsent = self.shared.fleet.unsent.lock().take();
        let (batch, counts) = match unsent {
            Some(unsent) => unsent,
            None => {
                let counts = self.shared.fleet.pending.take();
                if counts.is_empty() {
                    return Ok(());
                }
                (format!("{:032x}", rand::random::<u128>()), counts)
            }
        };
        match store.flush(&batch, counts.clone(), self.keep()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                *self.shared.fleet.unsent.lock() = Some((batch, counts));
                Err(e)
            }
        }
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
