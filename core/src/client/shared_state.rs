//! Every change of the traffic state is an [`Operation`], and [`Engine::apply_op`] is the one
//! path it takes in this process, whatever its source (a local call, the guard, a rollout,
//! the CLI or another instance, adopted from the store).
//!
//! With a shared store (file or Redis) the local view is the *followed* state (the last one
//! read from the store) with the operations not yet acknowledged applied on top, in order: a
//! local decision takes effect at once and holds until the store has it. One background task
//! submits the queue (retrying with backoff for as long as it takes), follows the store (hint,
//! poll, re-read after every reconnect) and appends the other events to the shared history.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::engine::Engine;
use crate::config::{StateBackend, StateConfig};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::routing::TrafficState;
use crate::state::{Operation, Outcome, Source, Store, StoredState, Verdict, apply};

/// At most this many operations wait for the store; past it the oldest that is not a safety
/// operation is dropped (rollbacks and rollout aborts never are: `Change::is_safety`).
const QUEUE: usize = 100;
/// Events waiting for the shared history; past it the oldest are dropped.
const OUTBOX: usize = 1000;
/// How long a client's start waits for the store.
const START_WAIT: Duration = Duration::from_secs(2);
/// Backoff of the store link: from this, doubling…
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// …up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What `status()["store"]` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    /// `memory`, `file` or `redis`.
    pub backend: &'static str,
    /// Whether the last exchange with the store succeeded.
    pub connected: bool,
    /// Seconds since the state was last read from or acknowledged by the store.
    pub last_sync_age_s: Option<f64>,
    /// Operations applied here and not yet acknowledged by the store.
    pub pending_ops: usize,
    /// The last store error, while the link is down.
    pub error: Option<String>,
}

/// The local view and the queue.
#[derive(Debug)]
struct Local {
    followed: StoredState,
    view: StoredState,
    pending: VecDeque<Operation>,
    /// How many answers of the store were adopted as `followed`: an answer asked for before
    /// the last one adopted may be older than it (see [`Engine::reconcile`]).
    adopted: u64,
}

/// The engine's link to its store.
#[derive(Debug)]
pub(crate) struct SharedState {
    store: Option<Arc<Store>>,
    backend: &'static str,
    /// Who this instance is, for the `author` of its operations.
    pub author: String,
    local: Mutex<Local>,
    outbox: Mutex<VecDeque<Event>>,
    wake: Arc<Notify>,
    connected: AtomicBool,
    last_sync: Mutex<Option<Instant>>,
    error: Mutex<Option<String>>,
    /// The fleet link: unflushed counts, the lease as last seen.
    pub fleet: super::analyst::FleetLink,
    /// The fleet-wide rate-limit cells (Redis stores with a per-minute limit).
    limits: Option<crate::limits::FleetLimits>,
}

impl SharedState {
    /// The local view: the followed state with the pending operations on top.
    pub fn view(&self) -> StoredState {
        self.local.lock().view.clone()
    }

    /// The link for `config`, starting from `initial`. A shared store is read at once (waiting
    /// [`START_WAIT`] at most), so the first request is served from the stored state.
    pub fn new(
        config: &StateConfig,
        rate_limit: Option<&crate::config::RateLimit>,
        initial: TrafficState,
    ) -> Result<(Self, Option<Event>)> {
        let store = match config.backend {
            StateBackend::Memory => None,
            _ => Some(Arc::new(Store::open(config)?)),
        };
        let mut state = StoredState::initial(initial);
        let mut warning = None;
        let mut connected = true;
        let mut error = None;
        if let Some(store) = &store {
            match store.load_blocking(START_WAIT) {
                Ok(Some(stored)) => state = stored,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "turnout::state", error = %e,
                        "the shared state store is unreachable at start; serving from the config until it answers");
                    connected = false;
                    warning = Some(
                        Event::new(
                            EventKind::StoreDisconnected,
                            std::time::SystemTime::now(),
                            format!(
                                "the store is unreachable at start, serving from the config: {e}"
                            ),
                        )
                        .detail("source", "store"),
                    );
                    error = Some(e.to_string());
                }
            }
        }
        let backend = match config.backend {
            StateBackend::Memory => "memory",
            StateBackend::File => "file",
            StateBackend::Redis => "redis",
        };
        let link = Self {
            store,
            backend,
            author: crate::state::instance_id(config),
            local: Mutex::new(Local {
                followed: state.clone(),
                view: state,
                pending: VecDeque::new(),
                adopted: 0,
            }),
            outbox: Mutex::new(VecDeque::new()),
            wake: Arc::new(Notify::new()),
            connected: AtomicBool::new(connected),
            last_sync: Mutex::new(connected.then(Instant::now)),
            error: Mutex::new(error),
            fleet: super::analyst::FleetLink::default(),
            limits: match config.backend {
                StateBackend::Redis => crate::limits::FleetLimits::new(rate_limit),
                _ => None,
            },
        };
        Ok((link, warning))
    }

    /// The state to serve first.
    pub fn initial(&self) -> TrafficState {
        self.local.lock().view.traffic.clone()
    }

    /// Whether a store is shared with other processes.
    pub fn is_shared(&self) -> bool {
        self.store.is_some()
    }

    /// Whether the store answered last time it was asked.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The store, when it shares object affinity between processes (Redis).
    pub fn object_store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref().filter(|s| s.shares_objects())
    }

    /// `status()["store"]`.
    pub fn status(&self) -> StoreStatus {
        StoreStatus {
            backend: self.backend,
            connected: self.connected.load(Ordering::Relaxed),
            last_sync_age_s: self.last_sync.lock().map(|t| t.elapsed().as_secs_f64()),
            pending_ops: self.local.lock().pending.len(),
            error: self.error.lock().clone(),
        }
    }

    /// Queues an event for the shared history (events recorded by operations are not: the
    /// store records those itself), with this instance as author and the traffic `state` it
    /// served then.
    pub fn share_event(&self, event: &Event, state: &TrafficState) {
        if self.store.is_none() || recorded_by_ops(event.kind) {
            return;
        }
        let mut event = event.clone();
        for (key, value) in [
            ("active", state.active.as_str().into()),
            ("canary_weight", state.canary_weight().into()),
        ] {
            event.details.entry(key).or_insert(value);
        }
        let mut outbox = self.outbox.lock();
        if outbox.len() == OUTBOX {
            outbox.pop_front();
        }
        outbox.push_back(event.detail("author", self.author.as_str()));
        drop(outbox);
        self.wake.notify_one();
    }
}

/// Event kinds the store records when it applies an operation; failovers (rate-limited, but
/// many) stay local.
fn recorded_by_ops(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Switch
            | EventKind::WeightChanged
            | EventKind::Promote
            | EventKind::Rollback
            | EventKind::RolloutStarted
            | EventKind::RolloutStep
            | EventKind::CheckpointRestored
            | EventKind::Superseded
            | EventKind::Failover
    )
}

fn same_routing(a: &TrafficState, b: &TrafficState) -> bool {
    a.active == b.active && a.weight_bp == b.weight_bp && a.salt == b.salt
}

/// What [`Engine::apply_op`] did: the outcome on the local view, the state now served, and
/// the event to publish once the caller's locks are released.
pub(crate) struct Applied {
    pub outcome: Outcome,
    pub new: Arc<TrafficState>,
    pub event: Event,
}

impl Engine {
    /// The one apply path: applies `op` to the local view, runs its effects here (snapshot
    /// swap, checkpoint, post-promotion analysis), queues it for the store, and returns the
    /// unpublished event. Refused when a precondition fails, or when the change would send
    /// more traffic to a side whose circuit is open or whose probes say unhealthy, unless
    /// `force`.
    pub(crate) fn apply_op(
        &self,
        mut op: Operation,
        source: Source,
        force: bool,
    ) -> Result<Applied> {
        op.source = source.as_str().to_string();
        let mut local = self.shared.local.lock();
        let outcome = apply(&local.view, &op);
        if outcome.verdict == Verdict::Refused {
            return Err(Error::Refused(outcome.note));
        }
        let old = local.view.traffic.clone();
        let new = &outcome.state.traffic;
        if !force && outcome.verdict == Verdict::Applied {
            self.check_available(&old, new)?;
        }
        let kind = op.change.event_kind();
        let (reason, author, id) = (op.reason.clone(), op.author.clone(), op.id.clone());
        if self.shared.is_shared() {
            if local.pending.len() >= QUEUE
                && let Some(i) = local.pending.iter().position(|o| !o.change.is_safety())
            {
                let dropped = local.pending.remove(i);
                tracing::warn!(target: "turnout::state", op = ?dropped.map(|o| o.id),
                    "the store queue is full: dropped its oldest operation that is not a rollback or an abort");
            }
            local.pending.push_back(op);
            self.shared.wake.notify_one();
        } else {
            local.followed = outcome.state.clone();
        }
        let event = match outcome.verdict {
            Verdict::Applied => {
                local.view = outcome.state.clone();
                self.effects(&old, &outcome.state.traffic, kind, reason, source)
            }
            verdict => {
                let kind = if verdict == Verdict::Superseded {
                    EventKind::Superseded
                } else {
                    kind
                };
                Event::new(kind, self.clock.wall(), reason)
                    .detail("active", old.active.as_str())
                    .detail("canary_weight", old.canary_weight())
                    .detail("changed", false)
                    .detail("note", outcome.note.as_str())
                    .detail("source", source.as_str())
            }
        };
        drop(local);
        let event = event.detail("author", author).detail("op", id);
        Ok(Applied {
            outcome,
            new: self.traffic.load(),
            event,
        })
    }

    /// Refuses a change that sends more traffic to an unavailable side.
    fn check_available(&self, old: &TrafficState, new: &TrafficState) -> Result<()> {
        let share = |s: &TrafficState, side: Side| {
            if side == s.active {
                10_000 - s.weight_bp
            } else {
                s.weight_bp
            }
        };
        let now = self.now();
        for side in Side::BOTH {
            if share(new, side) > share(old, side) && !self.is_available(side, now) {
                let s = self.side(side);
                let why = if s.circuit.allows(now) {
                    "its probes say it is unhealthy"
                } else {
                    "its circuit is open"
                };
                return Err(Error::Refused(format!(
                    "this change sends traffic to {side}, but {why}; pass force to do it anyway"
                )));
            }
        }
        Ok(())
    }

    /// A change's effects on this process: checkpoint of the state replaced, snapshot swap,
    /// post-promotion analysis started (promote) or stopped (anything else). Returns its event.
    fn effects(
        &self,
        old: &TrafficState,
        new: &TrafficState,
        kind: EventKind,
        reason: String,
        source: Source,
    ) -> Event {
        let wall = self.clock.wall();
        let checkpoint = (!same_routing(old, new)).then(|| {
            let name = format!("auto: before {}", kind.as_str());
            self.control.checkpoints.take(old, &name, wall).id
        });
        self.traffic.replace(new.clone());
        if kind == EventKind::Promote {
            self.control
                .guard
                .start_post_promotion(self.now().saturating_add(self.config.rollback.window));
        } else {
            self.control.guard.end_post_promotion();
        }
        let mut event = Event::new(kind, wall, reason)
            .detail("from_active", old.active.as_str())
            .detail("active", new.active.as_str())
            .detail("from_weight", old.canary_weight())
            .detail("canary_weight", new.canary_weight())
            .detail("source", source.as_str());
        if old.salt != new.salt {
            event = event.detail("salt", new.salt.as_str());
        }
        if let Some(id) = checkpoint {
            event = event.detail("checkpoint", id);
        }
        event
    }

    /// Marks the start of a question to the store (a read, an operation): its answer goes to
    /// [`Engine::reconcile`] with this mark.
    pub(crate) fn adoptions(&self) -> u64 {
        self.shared.local.lock().adopted
    }

    /// Takes what the store says: `stored` (`None`: nothing stored yet), asked for at
    /// `asked` (from [`Engine::adoptions`]) and, when `acked`, the removal of that operation
    /// from the queue. The view is refolded; a change of routing runs the apply path's effects
    /// with `source: store`, and ends a local rollout it overrides.
    ///
    /// The sync task and the analyst ask the store concurrently, so an answer can arrive after
    /// a newer one was adopted: a state of a lower version than the followed one is ignored
    /// when another answer was adopted since it was asked. Otherwise it is what the store holds
    /// now and is followed even though its version is lower: a store flushed and initialised
    /// again (by an instance or the CLI starting from its config) counts versions anew.
    fn reconcile(&self, stored: Option<StoredState>, asked: u64, acked: Option<&Outcome>) {
        let mut events = Vec::new();
        {
            let mut slot = self.control.rollout.lock();
            let mut local = self.shared.local.lock();
            if let Some(done) = acked {
                local.pending.retain(|o| o.id != done.id);
            }
            if let Some(s) = stored {
                let overtaken =
                    local.adopted != asked && s.traffic.version < local.followed.traffic.version;
                if overtaken {
                    tracing::debug!(target: "turnout::state", version = s.traffic.version,
                        followed = local.followed.traffic.version,
                        "ignored an answer of the store overtaken by a newer one");
                } else {
                    local.followed = s;
                    local.adopted += 1;
                }
            }
            let mut view = local.followed.clone();
            for op in &local.pending {
                let o = apply(&view, op);
                if o.verdict == Verdict::Applied {
                    view = o.state;
                }
            }
            let old = std::mem::replace(&mut local.view, view.clone());
            // A rollout started elsewhere judges its candidate afresh here too: nothing from
            // an earlier release counts in this instance's own guard.
            if let Some(r) = view.live_rollout()
                && old.rollout.as_ref().map(|o| &o.id) != Some(&r.id)
            {
                self.guard_window(r.candidate).clear();
                self.side(r.candidate).stats.clear();
                self.control.guard.reset_alert();
            }
            if same_routing(&old.traffic, &view.traffic) {
                if old.traffic.version != view.traffic.version {
                    self.traffic.replace(view.traffic.clone());
                }
            } else {
                let kind = serde_json::from_value(view.last_change.clone().into())
                    .unwrap_or(EventKind::WeightChanged);
                let reason = if view.last_reason.is_empty() {
                    format!(
                        "adopted version {} from the shared store",
                        view.traffic.version
                    )
                } else {
                    view.last_reason.clone()
                };
                let event = self
                    .effects(&old.traffic, &view.traffic, kind, reason, Source::Store)
                    .detail("author", view.updated_by.as_str());
                events.push(event);
                let live = slot.as_ref().is_some_and(|c| c.state.is_live());
                if live && local.pending.is_empty() {
                    drop(local);
                    events.extend(self.finish_rollout(
                        &mut slot,
                        crate::rollout::RolloutState::Aborted,
                        "the traffic state was changed elsewhere".to_string(),
                    ));
                }
            }
        }
        self.publish_all(events);
    }

    /// Whether requests wait for fleet-wide rate limits (a Redis store with a limit).
    pub(crate) fn fleet_limits_on(&self) -> bool {
        self.shared.limits.is_some() && self.shared.store.is_some()
    }

    /// Waits for the fleet-wide rate limits (a Redis store with a per-minute limit), up to
    /// `timeout`; while Redis cannot be reached the local buckets decide alone, and an event
    /// says so when that starts and ends.
    pub(crate) async fn fleet_admit(&self, tokens: u64, timeout: Duration) -> Result<()> {
        let (Some(limits), Some(store)) = (&self.shared.limits, &self.shared.store) else {
            return Ok(());
        };
        let (mode, changed) = limits.admit(store, tokens, timeout).await?;
        if changed {
            let reason = match mode {
                crate::limits::LimitMode::Local => {
                    "the fleet-wide rate limits are unreachable (Redis): this instance's own buckets decide until it answers"
                }
                crate::limits::LimitMode::Fleet => {
                    "the fleet-wide rate limits answer again: Redis decides for the whole fleet"
                }
            };
            self.publish(
                Event::new(EventKind::RateLimitsLocal, self.clock.wall(), reason)
                    .detail("fleet", mode == crate::limits::LimitMode::Fleet),
            );
        }
        Ok(())
    }

    /// Adopts a state the store answered outside the queue (the analyst's operations), asked
    /// for at `asked` (from [`Engine::adoptions`]).
    pub(crate) fn reconcile_from(&self, stored: StoredState, asked: u64) {
        self.reconcile(Some(stored), asked, None);
    }

    fn link_up(&self) {
        *self.shared.last_sync.lock() = Some(Instant::now());
        *self.shared.error.lock() = None;
        if !self.shared.connected.swap(true, Ordering::Relaxed) {
            self.publish(
                Event::new(
                    EventKind::StoreReconnected,
                    self.clock.wall(),
                    format!("the {} store answers again", self.shared.backend),
                )
                .detail("source", "store"),
            );
        }
    }

    fn link_down(&self, e: &Error) {
        *self.shared.error.lock() = Some(e.to_string());
        if self.shared.connected.swap(false, Ordering::Relaxed) {
            tracing::warn!(target: "turnout::state", error = %e, "lost the shared state store; serving the last known state");
            self.publish(
                Event::new(
                    EventKind::StoreDisconnected,
                    self.clock.wall(),
                    format!("the {} store is unreachable: {e}", self.shared.backend),
                )
                .detail("source", "store"),
            );
        }
    }

    /// One round with the store: read it (when asked), submit the queue in order, flush the
    /// history outbox. Stops at the first error, leaving the rest queued. Returns whether the
    /// store was asked anything (only then does a success say the link is up).
    async fn sync_once(&self, store: &Store, read: bool) -> Result<bool> {
        let mut asked = read;
        if read {
            let asked = self.adoptions();
            let stored = store.load().await?;
            self.reconcile(stored, asked, None);
        }
        loop {
            let next = {
                let local = self.shared.local.lock();
                local
                    .pending
                    .front()
                    .cloned()
                    .map(|op| (op, local.followed.traffic.clone()))
            };
            let Some((op, init)) = next else { break };
            asked = true;
            let mark = self.adoptions();
            let outcome = store.apply(&op, &init).await?;
            self.reconcile(Some(outcome.state.clone()), mark, Some(&outcome));
            if outcome.verdict == Verdict::Refused {
                tracing::warn!(target: "turnout::state", op = %op.id, note = %outcome.note,
                    "the store refused an operation");
            }
        }
        loop {
            let Some(event) = self.shared.outbox.lock().pop_front() else {
                break;
            };
            asked = true;
            if let Err(e) = store.append_event(&event).await {
                self.shared.outbox.lock().push_front(event);
                return Err(e);
            }
        }
        Ok(asked)
    }

    /// Starts the sync task on the current runtime (shared stores only).
    pub(crate) fn spawn_state_sync(self: &Arc<Self>) -> Result<()> {
        let Some(store) = self.shared.store.clone() else {
            return Ok(());
        };
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "a shared state store is followed by a background task: build the client inside a tokio runtime".to_string(),
            )
        })?;
        // Everything the loop must not lose (the queue, the followed state) lives in the
        // engine, so a run restarted after a panic picks up where the last one stopped.
        let (weak, wake, shutdown) = (
            Arc::downgrade(self),
            Arc::clone(&self.shared.wake),
            self.shutdown_signal(),
        );
        let for_analyst = Arc::clone(&store);
        self.supervisor
            .spawn(&handle, super::supervise::STATE_SYNC, move || {
                sync_loop(
                    weak.clone(),
                    Arc::clone(&store),
                    Arc::clone(&wake),
                    shutdown.clone(),
                )
            });
        self.spawn_analyst(&handle, for_analyst);
        Ok(())
    }
}

/// Follows the store and submits the queue until the engine closes or is dropped.
async fn sync_loop(
    engine: Weak<Engine>,
    store: Arc<Store>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut read = true;
    loop {
        let Some(e) = engine.upgrade() else { return };
        if e.is_closed() {
            break;
        }
        let result = e.sync_once(&store, read).await;
        match &result {
            Ok(true) => e.link_up(),
            Ok(false) => {}
            Err(err) => e.link_down(err),
        }
        drop(e);
        if result.is_err() {
            // Re-read after every reconnect: hints sent meanwhile were lost.
            read = true;
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
            continue;
        }
        backoff = BACKOFF_MIN;
        read = false;
        tokio::select! {
            () = wake.notified() => {}
            () = store.changed() => read = true,
            _ = shutdown.changed() => break,
        }
    }
    // Closing: one last bounded attempt to hand the queue to the store.
    if let Some(e) = engine.upgrade() {
        let _ = tokio::time::timeout(START_WAIT, e.sync_once(&store, false)).await;
    }
}

#[cfg(test)]
mod tests {
    use crate::{ApiKey, Client, Environment};

    use super::*;

    /// A client of two unreachable sides, without probes, sharing its state through `state`.
    fn client_with(state: StateConfig) -> Client {
        let side = |key: &str| Environment::new("http://127.0.0.1:9/v1", ApiKey::new(key));
        let mut config = crate::Config::new(side("sk-blue-000000"), side("sk-green-00000"));
        config.health_check.enabled = false;
        config.state = state;
        Client::from_config(config).expect("client")
    }

    fn client() -> Client {
        client_with(StateConfig::default())
    }

    #[tokio::test]
    async fn a_full_queue_drops_no_rollout_abort() {
        // A store that cannot be reached: its file would be under a file.
        let dir = std::env::temp_dir().join(format!("turnout-queue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let blocker = dir.join("not-a-dir");
        std::fs::write(&blocker, "").expect("file");
        let client = client_with(StateConfig {
            backend: StateBackend::File,
            path: Some(blocker.join("traffic.json")),
            ..Default::default()
        });
        let engine = &client.engine;
        assert!(!engine.shared.is_connected());
        let plan = crate::rollout::RolloutPlan::new(vec![
            crate::rollout::Step::new(10.0),
            crate::rollout::Step::new(100.0),
        ]);
        engine.start_fleet_rollout(plan).expect("start");
        engine
            .change_fleet_rollout(crate::rollout::fleet::RolloutAction::Abort, "bad canary")
            .expect("abort");
        for i in 0..150 {
            client
                .set_canary_weight(f64::from(i % 50 + 1))
                .expect("weight");
        }
        let pending = engine.shared.local.lock().pending.clone();
        assert_eq!(pending.len(), QUEUE);
        assert!(
            pending
                .iter()
                .any(|o| matches!(o.change, crate::state::Change::RolloutAbort { .. })),
            "the abort survived the full queue"
        );
        client.close();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn an_answer_overtaken_by_a_newer_one_is_ignored_and_a_reset_store_followed() {
        let client = client();
        let engine = &client.engine;
        let base = engine.shared.view();
        let at = |version: u64, weight_bp: u32| StoredState {
            traffic: TrafficState {
                version,
                weight_bp,
                ..base.traffic.clone()
            },
            ..base.clone()
        };
        // The sync task reads version 5; the analyst's step (version 6) is adopted before that
        // read's answer is.
        let read = engine.adoptions();
        let step = engine.adoptions();
        engine.reconcile(Some(at(6, 2500)), step, None);
        engine.reconcile(Some(at(5, 1000)), read, None);
        assert_eq!(engine.shared.view().traffic, at(6, 2500).traffic);
        assert_eq!(*engine.traffic.load().as_ref(), at(6, 2500).traffic);
        // A store flushed and initialised again counts from a lower version: read after the
        // last adoption, it is what the store holds, and is followed.
        let read = engine.adoptions();
        engine.reconcile(Some(at(2, 0)), read, None);
        assert_eq!(engine.shared.view().traffic, at(2, 0).traffic);
        assert_eq!(*engine.traffic.load().as_ref(), at(2, 0).traffic);
        client.close();
    }
}
