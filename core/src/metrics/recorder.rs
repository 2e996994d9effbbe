//! The registry of every turnout metric and the calls that update it. Encoding is
//! `prometheus-client`'s OpenMetrics text, which Prometheus scrapes as is.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::handles::Handle;
use super::labels::{KindLabels, ModelLabels, RequestLabels, SideLabels, TaskLabels};
use super::models::Models;
use super::outcome::Outcome;
use crate::cost::Tokens;
use crate::environment::Side;
use crate::resilience::CircuitState;

/// Seconds: from a fast cached-prompt answer to a long generation.
pub(super) const DURATION_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0,
];
/// Seconds to the first streamed chunk.
pub(super) const TTFT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

type HistogramFamily = Family<SideLabels, Histogram, fn() -> Histogram>;

/// Every metric of one client. What every request records goes through handles resolved on
/// first use (per side, per model), not through its family's label-set lookup.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// The label of each side (`""` when it has none).
    labels: [String; 2],
    /// Each model label's `requests` series.
    models: Models,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily,
    /// `duration`'s series of each side.
    durations: [Handle<Histogram>; 2],
    ttft: HistogramFamily,
    /// `ttft`'s series of each side.
    ttfts: [Handle<Histogram>; 2],
    retries: Family<SideLabels, Counter>,
    failovers: Family<SideLabels, Counter>,
    fallbacks: Family<ModelLabels, Counter>,
    tokens: Family<KindLabels, Counter>,
    /// `tokens`' series, both created at zero.
    prompt_tokens: Counter,
    completion_tokens: Counter,
    cost: Counter<f64, AtomicU64>,
    canary_weight: Gauge<f64, AtomicU64>,
    active: Family<SideLabels, Gauge>,
    circuit: Family<SideLabels, Gauge>,
    rollbacks: Counter,
    task_restarts: Family<TaskLabels, Counter>,
    store_up: Gauge,
    store_pending: Gauge,
    /// Hedges, limiter waits by priority, shadow requests.
    pub traffic: super::traffic::TrafficMetrics,
}

fn side(side: Side) -> SideLabels {
    SideLabels {
        environment: side.as_str(),
    }
}

impl Metrics {
    /// A registry for a client whose sides carry `labels` (blue, green).
    pub fn new(labels: [Option<&str>; 2]) -> Self {
        let mut registry = Registry::default();
        let traffic = super::traffic::TrafficMetrics::register(&mut registry);
        let tokens = Family::<KindLabels, Counter>::default();
        // Created at zero like the series below; `usage` counts through these handles.
        let [prompt_tokens, completion_tokens] =
            ["prompt", "completion"].map(|kind| tokens.get_or_create_owned(&KindLabels { kind }));
        let mut m = Self {
            registry,
            labels: labels.map(|l| l.unwrap_or_default().to_string()),
            models: Models::default(),
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            durations: Default::default(),
            ttft: Family::new_with_constructor(|| Histogram::new(TTFT_BUCKETS)),
            ttfts: Default::default(),
            retries: Family::default(),
            failovers: Family::default(),
            fallbacks: Family::default(),
            tokens,
            prompt_tokens,
            completion_tokens,
            cost: Counter::default(),
            canary_weight: Gauge::default(),
            active: Family::default(),
            circuit: Family::default(),
            rollbacks: Counter::default(),
            task_restarts: Family::default(),
            store_up: Gauge::default(),
            store_pending: Gauge::default(),
            traffic,
        };
        m.register();
        // Series that exist from the start, at zero, so that rates and alerts work at once.
        for s in Side::BOTH {
            let _ = m.retries.get_or_create(&side(s));
            let _ = m.failovers.get_or_create(&side(s));
            let _ = m.active.get_or_create(&side(s));
            let _ = m.circuit.get_or_create(&side(s));
        }
        for task in crate::client::supervise::TASKS {
            let _ = m.task_restarts.get_or_create(&TaskLabels { task });
        }
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        // prometheus-client appends `_total` to counters.
        r.register(
            "turnout_requests",
            "Requests by environment, its label, model and outcome: every upstream attempt, plus requests answered from the cache or refused before any attempt",
            self.requests.clone(),
        );
        r.register(
            "turnout_request_duration_seconds",
            "Duration of upstream attempts, streams until their end",
            self.duration.clone(),
        );
        r.register(
            "turnout_ttft_seconds",
            "Time to the first chunk of streamed answers",
            self.ttft.clone(),
        );
        r.register(
            "turnout_retries",
            "Retries on the same environment after a backoff",
            self.retries.clone(),
        );
        r.register(
            "turnout_failovers",
            "Requests sent to the other environment, by the environment left",
            self.failovers.clone(),
        );
        r.register(
            "turnout_fallbacks",
            "Model fallbacks taken, by the model fallen back from",
            self.fallbacks.clone(),
        );
        r.register(
            "turnout_tokens",
            "Tokens reported by answers' usage, by kind (prompt, completion)",
            self.tokens.clone(),
        );
        r.register(
            "turnout_cost_usd",
            "Cost of answers in USD, from the pricing table",
            self.cost.clone(),
        );
        r.register(
            "turnout_canary_weight",
            "Percent of traffic sent to the candidate",
            self.canary_weight.clone(),
        );
        r.register(
            "turnout_active",
            "1 for the active environment, 0 for the candidate",
            self.active.clone(),
        );
        r.register(
            "turnout_circuit_state",
            "Circuit of each environment: 0 closed, 1 half-open, 2 open",
            self.circuit.clone(),
        );
        r.register(
            "turnout_rollbacks",
            "Rollbacks, automatic and manual",
            self.rollbacks.clone(),
        );
        r.register(
            "turnout_task_restarts",
            "Background tasks restarted after a panic, by task",
            self.task_restarts.clone(),
        );
        r.register(
            "turnout_store_up",
            "1 while the state store answers (always 1 for the memory store)",
            self.store_up.clone(),
        );
        r.register(
            "turnout_store_pending_ops",
            "Operations applied here and not yet acknowledged by the state store",
            self.store_pending.clone(),
        );
    }

    /// Counts one request's outcome; `environment` is `None` when no side was tried.
    pub fn request(&self, environment: Option<Side>, model: Option<&str>, outcome: Outcome) {
        self.models.with(model, |series| {
            series
                .requests(&self.requests, &self.labels, environment, outcome)
                .inc();
        });
    }

    /// An upstream attempt's duration (streams: to their end) and time to first chunk.
    pub fn latency(&self, environment: Side, duration: Duration, ttft: Option<Duration>) {
        let s = environment.index();
        self.durations[s]
            .get(&self.duration, || side(environment))
            .observe(duration.as_secs_f64());
        if let Some(ttft) = ttft {
            self.ttfts[s]
                .get(&self.ttft, || side(environment))
                .observe(ttft.as_secs_f64());
        }
    }

    pub fn retry(&self, environment: Side) {
        self.retries.get_or_create(&side(environment)).inc();
    }

    pub fn failover(&self, from: Side) {
        self.failovers.get_or_create(&side(from)).inc();
    }

    pub fn fallback(&self, from_model: Option<&str>) {
        let model = self
            .models
            .with(from_model, |series| series.label().to_string());
        self.fallbacks.get_or_create(&ModelLabels { model }).inc();
    }

    pub fn rollback(&self) {
        self.rollbacks.inc();
    }

    /// A background task panicked and was restarted.
    pub fn task_restart(&self, task: &'static str) {
        self.task_restarts.get_or_create(&TaskLabels { task }).inc();
    }

    /// An answer's tokens and cost.
    pub fn usage(&self, usage: Tokens, cost_usd: Option<f64>) {
        self.prompt_tokens.inc_by(usage.prompt);
        self.completion_tokens.inc_by(usage.completion);
        if let Some(c) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            self.cost.inc_by(c);
        }
    }

    /// Sets the gauges read from the traffic state and the circuits (at scrape time).
    pub fn set_state(&self, active: Side, canary_weight: f64, circuits: [CircuitState; 2]) {
        self.canary_weight.set(canary_weight);
        for s in Side::BOTH {
            self.active
                .get_or_create(&side(s))
                .set(i64::from(s == active));
            let state = match circuits[s.index()] {
                CircuitState::Closed => 0,
                CircuitState::HalfOpen => 1,
                CircuitState::Open => 2,
            };
            self.circuit.get_or_create(&side(s)).set(state);
        }
    }

    /// Sets the gauges of the state store link (at scrape time).
    pub fn set_store(&self, up: bool, pending_ops: usize) {
        self.store_up.set(i64::from(up));
        self.store_pending
            .set(i64::try_from(pending_ops).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
