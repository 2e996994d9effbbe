//! The engine behind a [`super::Client`]: traffic state, per-side state, transport, events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventBus, EventKind};
use crate::health::{Health, ProbeResult};
use crate::resilience::budget::RetryBudget;
use crate::resilience::circuit::{Circuit, Pass, Transition};
use crate::resilience::outcome::verdict;
use crate::routing::{Availability, TrafficCell, TrafficState};
use crate::stats::{Outcome, StatsWindow};
use crate::transport::{Endpoint, Exchange, Transport};

/// Window of the retry budget (tower's default).
const BUDGET_WINDOW: Duration = Duration::from_secs(10);
/// At most one failover event per side in this interval.
const FAILOVER_EVENT_INTERVAL: Duration = Duration::from_secs(1);

/// Everything known about one side.
#[derive(Debug)]
pub(crate) struct SideState {
    pub endpoint: Endpoint,
    pub circuit: Circuit,
    pub health: Health,
    pub stats: StatsWindow,
    pub budget: RetryBudget,
    /// Clock time (ns) of the last failover event away from this side.
    last_failover_event: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Engine {
    pub config: Config,
    pub transport: Transport,
    pub traffic: TrafficCell,
    pub sides: [SideState; 2],
    pub events: EventBus,
    pub clock: SharedClock,
    /// Metrics, costs, limits and the response cache.
    pub obs: super::observe::Observer,
    /// The rollback guard, rollouts and checkpoints.
    pub control: super::control::Control,
    /// The link to the shared state store.
    pub shared: super::shared_state::SharedState,
    /// Which side holds which object (files, batches, stored responses, …).
    pub affinity: crate::routing::affinity::Affinity,
    /// Restarts the background tasks that panic, and reports it.
    pub supervisor: super::supervise::Supervisor,
    closed: AtomicBool,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Cost and token sums of each side's answers, for the LLM gates.
    pub llm: [crate::stats::LlmWindow; 2],
    /// Shadow traffic to the candidate.
    pub shadow: super::shadow::ShadowState,
    /// Each side's peak-EWMA latency, for opt-in balancing.
    pub peak_ewma: crate::routing::balance::PeakEwma,
    /// Each side's p95, for `hedge.after: p95`.
    pub hedge_p95: super::hedge::P95Cache,
}

impl Engine {
    /// Validates `config`, builds the engine and starts its background tasks.
    pub fn start(config: Config) -> Result<Arc<Self>> {
        Self::start_with_clock(config, Arc::new(SystemClock::new()))
    }

    pub fn start_with_clock(config: Config, clock: SharedClock) -> Result<Arc<Self>> {
        config.validate()?;
        let side_state = |side: Side| -> Result<SideState> {
            Ok(SideState {
                endpoint: Endpoint::new(side, config.environments.get(side), Arc::clone(&clock))?,
                circuit: Circuit::new(config.circuit_breaker.clone()),
                health: Health::new(
                    config.health_check.unhealthy_threshold,
                    config.health_check.healthy_threshold,
                ),
                stats: StatsWindow::new(config.stats_window),
                budget: RetryBudget::new(
                    BUDGET_WINDOW,
                    config.retry.budget_ratio,
                    config.retry.budget_min_per_sec,
                ),
                last_failover_event: AtomicU64::new(u64::MAX),
            })
        };
        let sides = [side_state(Side::Blue)?, side_state(Side::Green)?];
        let (shared, start_warning) = super::shared_state::SharedState::new(
            &config.state,
            config.rate_limit.as_ref(),
            TrafficState {
                active: config.active,
                weight_bp: crate::routing::percent_to_bp(config.canary_weight),
                salt: config.salt.clone(),
                version: 1,
            },
        )?;
        let traffic = TrafficCell::new(shared.initial());
        let obs = super::observe::Observer::new(&config, &clock);
        let supervisor = super::supervise::Supervisor::default();
        let engine = Arc::new(Self {
            transport: Transport::new(config.connect_timeout, config.bounds)?,
            traffic,
            sides,
            events: EventBus::new(&config, &supervisor)?,
            clock,
            obs,
            control: super::control::Control::new(&config),
            shared,
            affinity: crate::routing::affinity::Affinity::new(crate::routing::affinity::CAPACITY),
            supervisor,
            closed: AtomicBool::new(false),
            shutdown: tokio::sync::watch::Sender::new(false),
            llm: Default::default(),
            shadow: super::shadow::ShadowState::new(config.shadow),
            peak_ewma: Default::default(),
            hedge_p95: Default::default(),
            config,
        });
        engine.supervisor.bind(&engine);
        engine.watch_keys();
        engine.shadow.bind(&engine);
        engine.start_metrics_listener(engine.shutdown.subscribe())?;
        super::guard::spawn_guard_task(&engine);
        if let Some(warning) = start_warning {
            engine.publish(warning);
        }
        engine.spawn_state_sync()?;
        if engine.config.health_check.enabled {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                Error::Config(
                    "health checks run as background tasks: build the client inside a tokio runtime, or set health_check.enabled = false".to_string(),
                )
            })?;
            for side in Side::BOTH {
                let (weak, shutdown) = (Arc::downgrade(&engine), engine.shutdown.subscribe());
                engine
                    .supervisor
                    .spawn(&handle, super::supervise::HEALTH_PROBE, move || {
                        probe_loop(weak.clone(), shutdown.clone(), side)
                    });
            }
        }
        Ok(engine)
    }

    pub fn side(&self, side: Side) -> &SideState {
        &self.sides[side.index()]
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A receiver that changes when the engine closes.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops background tasks and refuses new requests.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.shutdown.send_replace(true);
        // Every event published so far reaches the audit log before close returns.
        self.events.close();
    }

    /// Which sides may take traffic now.
    pub fn availability(&self, now: Duration) -> Availability {
        let mut a = Availability::ALL;
        for side in Side::BOTH {
            let s = self.side(side);
            a.circuit_open[side.index()] = !s.circuit.allows(now);
            a.unhealthy[side.index()] = !s.health.is_healthy();
        }
        a
    }

    /// Whether `side` may take a request now (used for failover after a failed attempt).
    pub fn is_available(&self, side: Side, now: Duration) -> bool {
        self.availability(now).is_available(side)
    }

    /// Records the end of an attempt on `side`, sent with the circuit's `pass`, in the side's
    /// statistics and circuit.
    pub fn record(
        &self,
        side: Side,
        outcome: Outcome,
        pass: Pass,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let now = self.now();
        let s = self.side(side);
        s.stats.record(now, outcome, latency, ttft);
        if outcome == Outcome::Success && self.config.balance.is_some() {
            self.peak_ewma.observe(side, latency, now);
        }
        if let Some(t) = s.circuit.record(verdict(outcome), pass, now) {
            let (kind, reason) = match t {
                Transition::Opened => (
                    EventKind::CircuitOpened,
                    "failures reached the circuit breaker's threshold",
                ),
                Transition::Closed => (EventKind::CircuitClosed, "the half-open trial succeeded"),
            };
            self.publish(Event::new(kind, self.clock.wall(), reason).environment(side));
        }
        // The rollback guard judges the candidate after each of its outcomes.
        self.guard_outcome(side, now, outcome, latency, ttft);
    }

    /// Publishes a failover event, at most one per side per second.
    pub fn note_failover(&self, from: Side, why: &str) {
        // Every failover is counted; only the event is rate-limited.
        self.obs.metrics.failover(from);
        let now = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        let last = &self.side(from).last_failover_event;
        let prev = last.load(Ordering::Relaxed);
        let interval = FAILOVER_EVENT_INTERVAL.as_nanos() as u64;
        if prev != u64::MAX && now.saturating_sub(prev) < interval {
            return;
        }
        if last
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let event = Event::new(
                EventKind::Failover,
                self.clock.wall(),
                format!("{from} {why}; sending to {}", from.other()),
            )
            .environment(from);
            self.publish(event);
        }
    }

    /// Publishes an event stamped with the current traffic version.
    pub fn publish(&self, mut event: Event) {
        if event.kind == EventKind::Rollback {
            self.obs.metrics.rollback();
        }
        let state = self.traffic.peek();
        event.version = state.version;
        self.shared.share_event(&event, &state);
        drop(state);
        self.events.publish(event);
    }

    /// Probes `side` now: `GET {base}{path}` with its key. Counts toward the thresholds.
    pub async fn probe(&self, side: Side) -> ProbeResult {
        let hc = &self.config.health_check;
        let started = std::time::Instant::now();
        let exchange = Exchange {
            method: reqwest::Method::GET,
            path: &hc.path,
            body: None,
            timeout: hc.timeout,
            idempotency: None,
            headers: None,
        };
        let endpoint = &self.side(side).endpoint;
        let outcome = match self.transport.send(endpoint, exchange).await {
            Ok(resp) => self
                .transport
                .read_body(side, resp, hc.timeout)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        let result = ProbeResult {
            environment: side,
            healthy: outcome.is_ok(),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            error: outcome.err().map(|e| e.to_string()),
        };
        if let Some(healthy) = self.side(side).health.record(result.clone()) {
            let reason = match (&result.error, healthy) {
                (_, true) => format!("{} consecutive probes succeeded", hc.healthy_threshold),
                (Some(e), false) => {
                    format!("{} consecutive probes failed: {e}", hc.unhealthy_threshold)
                }
                (None, false) => format!("{} consecutive probes failed", hc.unhealthy_threshold),
            };
            self.publish(
                Event::new(EventKind::HealthChanged, self.clock.wall(), reason)
                    .environment(side)
                    .detail("healthy", healthy),
            );
        }
        result
    }
}

/// Probes one side on the configured interval until the engine is closed or dropped (the
/// task holds no strong reference while it sleeps, so dropping the client ends it).
async fn probe_loop(
    engine: std::sync::Weak<Engine>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    side: Side,
) {
    loop {
        let Some(e) = engine.upgrade() else { return };
        if e.is_closed() {
            return;
        }
        e.probe(side).await;
        let interval = e.config.health_check.interval;
        drop(e);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
