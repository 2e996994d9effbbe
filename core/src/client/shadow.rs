//! Shadow traffic on the request path: after the stable side has answered a sampled chat
//! completion (and the caller has its answer), the same request goes to the candidate from a
//! task of its own; the pair is diffed into the candidate's shadow window. A shadow request
//! never touches the caller's answer, latency or errors, nor the candidate's circuit, health
//! or user-traffic windows; it is shed when `max_concurrency` are in flight or the hour's
//! `max_usd_per_hour` is spent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::Client;
use super::attempt::Call;
use super::engine::Engine;
use crate::config::{RollbackPolicy, Shadow};
use crate::cost::usage_of;
use crate::environment::Side;
use crate::events::{Event, EventKind};
use crate::resilience::outcome::classify;
use crate::rollout::gates::Verdict;
use crate::rollout::shadow_gates;
use crate::shadow::{Answer, Excerpt, ShadowFigures, ShadowReport, ShadowSample, ShadowWindow};
use crate::stats::Outcome;
use crate::transport::Exchange;

/// Differing pairs kept for the report.
const SAMPLES_KEPT: usize = 20;
const HOUR: u64 = 3600;

/// The shadow state of a client.
#[derive(Debug)]
pub(crate) struct ShadowState {
    config: Option<Shadow>,
    slots: Arc<Semaphore>,
    /// The candidate's shadow pairs.
    pub window: ShadowWindow,
    /// (clock hour, USD spent in it).
    spend: Mutex<(u64, f64)>,
    samples: Mutex<VecDeque<ShadowSample>>,
    sampled: AtomicU64,
    shed: AtomicU64,
    engine: OnceLock<Weak<Engine>>,
}

impl ShadowState {
    pub fn new(config: Option<Shadow>) -> Self {
        let slots = config.map_or(1, |c| c.max_concurrency as usize);
        Self {
            config,
            slots: Arc::new(Semaphore::new(slots)),
            window: ShadowWindow::default(),
            spend: Mutex::new((0, 0.0)),
            samples: Mutex::new(VecDeque::new()),
            sampled: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            engine: OnceLock::new(),
        }
    }

    /// Lets shadow tasks reach the engine (they hold it only while they run).
    pub fn bind(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }
}

/// The primary's side of a pair, as the request path hands it over.
pub(crate) struct Primary {
    pub side: Side,
    pub model: Option<String>,
    pub answer: Bytes,
    pub latency: Duration,
    pub cost_usd: Option<f64>,
}

impl Primary {
    /// The primary's side of a pair from its route and answer.
    pub fn of(route: &super::route::RouteInfo, answer: Bytes, latency: Duration) -> Self {
        Self {
            side: route.environment,
            model: route.model.clone(),
            answer,
            latency,
            cost_usd: route.cost_usd,
        }
    }
}

impl Engine {
    /// Called once a non-streaming call was answered: samples it for shadowing, and if
    /// sampled, hands it to a task of its own. Cheap when it does nothing (one random draw).
    pub(crate) fn shadow_after(&self, call: &Call, primary: Primary) {
        let Some(config) = self.shadow.config else {
            return;
        };
        let t = self.traffic.peek();
        let candidate = t.candidate();
        drop(t);
        if primary.side == candidate
            || call.path != "/chat/completions"
            || rand::random::<f64>() >= config.sample
        {
            return;
        }
        self.shadow.sampled.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = Arc::clone(&self.shadow.slots).try_acquire_owned() else {
            return self.shed(candidate);
        };
        if !self.shadow_budget_left(config) {
            return self.shed(candidate);
        }
        let Some(engine) = self.shadow.engine.get().and_then(Weak::upgrade) else {
            return;
        };
        let Some(request) = request_of(call) else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            engine.shadow_one(candidate, request, primary).await;
            drop(permit);
        });
    }

    fn shed(&self, candidate: Side) {
        self.shadow.shed.fetch_add(1, Ordering::Relaxed);
        self.obs.metrics.traffic.shadow(candidate, "shed");
    }

    /// Whether this clock hour's shadow spend is below the bound.
    fn shadow_budget_left(&self, config: Shadow) -> bool {
        let Some(max) = config.max_usd_per_hour else {
            return true;
        };
        let hour = self.now().as_secs() / HOUR;
        let mut spend = self.shadow.spend.lock();
        if spend.0 != hour {
            *spend = (hour, 0.0);
        }
        spend.1 < max
    }

    /// Sends `request` to the candidate and records the pair.
    async fn shadow_one(&self, candidate: Side, mut request: Value, primary: Primary) {
        if let Some(model) = primary.model.as_deref() {
            let upstream = self
                .config
                .environments
                .get(candidate)
                .upstream_model(model);
            request["model"] = Value::String(upstream.to_string());
        }
        let Ok(body) = serde_json::to_vec(&request) else {
            return;
        };
        let exchange = Exchange {
            method: reqwest::Method::POST,
            path: "/chat/completions",
            body: Some(Bytes::from(body)),
            timeout: self
                .side(candidate)
                .endpoint
                .timeout
                .unwrap_or(self.config.timeout),
            idempotency: None,
            headers: None,
        };
        let sent = Instant::now();
        let result = self
            .transport
            .fetch(&self.side(candidate).endpoint, exchange)
            .await;
        let latency = sent.elapsed();
        let now = self.now();
        let answer = match result {
            Ok(bytes) => bytes,
            Err(e) => {
                if classify(Err(&e)) == Outcome::Failure {
                    self.shadow.window.record(now, ShadowFigures::failure());
                }
                self.obs.metrics.traffic.shadow(candidate, "failed");
                return;
            }
        };
        let price = |body: &[u8]| {
            let usage = usage_of(body)?;
            self.obs
                .prices
                .cost(primary.model.as_deref()?, usage.prompt, usage.completion)
        };
        let candidate_cost = price(&answer);
        let (Ok(primary_body), Ok(candidate_body)) = (
            serde_json::from_slice::<Value>(&primary.answer),
            serde_json::from_slice::<Value>(&answer),
        ) else {
            self.shadow.window.record(now, ShadowFigures::failure());
            self.obs.metrics.traffic.shadow(candidate, "failed");
            return;
        };
        let a = Answer {
            body: primary_body,
            latency_ms: primary.latency.as_secs_f64() * 1000.0,
            cost_usd: primary.cost_usd,
        };
        let b = Answer {
            body: candidate_body,
            latency_ms: latency.as_secs_f64() * 1000.0,
            cost_usd: candidate_cost,
        };
        let d = crate::shadow::diff(&request, &a, &b);
        if let Some(cost) = candidate_cost {
            self.spend(cost);
        }
        let costs = a.cost_usd.zip(b.cost_usd);
        self.shadow
            .window
            .record(now, ShadowFigures::of_pair(&d, costs));
        self.obs.metrics.traffic.shadow(candidate, "sent");
        if d.differs() {
            self.obs.metrics.traffic.shadow(candidate, "differed");
            let secrets = self.secrets();
            let sample = ShadowSample {
                at: humantime::format_rfc3339_millis(self.clock.wall()).to_string(),
                model: crate::shadow::model_of(&request),
                diff: d,
                primary: Excerpt::of(&a, &secrets),
                candidate: Excerpt::of(&b, &secrets),
            };
            let mut samples = self.shadow.samples.lock();
            if samples.len() == SAMPLES_KEPT {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    }

    /// Adds `usd` to this hour's shadow spend; the first time the bound is reached in an
    /// hour, says so with an event.
    fn spend(&self, usd: f64) {
        let Some(max) = self.shadow.config.and_then(|c| c.max_usd_per_hour) else {
            return;
        };
        let hour = self.now().as_secs() / HOUR;
        let crossed = {
            let mut spend = self.shadow.spend.lock();
            if spend.0 != hour {
                *spend = (hour, 0.0);
            }
            let before = spend.1;
            spend.1 += usd;
            before < max && spend.1 >= max
        };
        if crossed {
            let reason = format!(
                "shadow spend reached max_usd_per_hour ({max}); sampled requests are shed until the hour ends"
            );
            self.publish(Event::new(
                EventKind::ShadowBudgetExhausted,
                self.clock.wall(),
                reason,
            ));
        }
    }

    /// Every key of both sides, for redaction.
    fn secrets(&self) -> Vec<String> {
        Side::BOTH
            .iter()
            .flat_map(|s| self.config.environments.get(*s).api_keys())
            .map(|k| k.expose().to_string())
            .collect()
    }

    /// `verdict`, or the shadow gates' failure when `verdict` passed (user-traffic gates
    /// first, then the shadow pairs of the policy's window).
    pub(crate) fn judge_shadow(
        &self,
        policy: &RollbackPolicy,
        now: Duration,
        verdict: Verdict,
    ) -> Verdict {
        if verdict != Verdict::Pass || !shadow_gates::has_shadow_gates(policy) {
            return verdict;
        }
        let f = self.shadow.window.figures(now, policy.window);
        shadow_gates::evaluate(policy, &f, false)
    }

    /// The verdict of a rollout step at weight 0 that runs on shadow traffic alone.
    pub(crate) fn judge_shadow_step(&self, policy: &RollbackPolicy) -> Verdict {
        let f = self.shadow.window.figures(self.now(), policy.window);
        shadow_gates::evaluate(policy, &f, true)
    }

    /// What a rollout step's `min_requests` counts, in total so far: shadow pairs (and the
    /// candidate's shadow failures) for a shadow step, the candidate's outcomes otherwise.
    pub(crate) fn step_total(&self, candidate: Side, shadow_step: bool) -> u64 {
        if shadow_step {
            let t = self.shadow.window.total();
            t.pairs + t.candidate_failures
        } else {
            self.control.total(candidate)
        }
    }
}

/// The request body of `call` as JSON.
fn request_of(call: &Call) -> Option<Value> {
    match (&call.body, &call.encoded) {
        (Some(body), _) => Some(body.clone()),
        (None, Some(e)) => serde_json::from_slice(&e.bytes).ok(),
        (None, None) => None,
    }
}

impl Client {
    /// The shadow traffic so far: counts, rates, this hour's spend, and the last differing
    /// pairs (content excerpts with every key redacted).
    pub fn shadow_report(&self) -> ShadowReport {
        let e = &self.engine;
        let spent = {
            let spend = e.shadow.spend.lock();
            if spend.0 == e.now().as_secs() / HOUR {
                spend.1
            } else {
                0.0
            }
        };
        ShadowReport::new(
            e.shadow.config.is_some(),
            e.traffic.peek().candidate(),
            (
                e.shadow.sampled.load(Ordering::Relaxed),
                e.shadow.shed.load(Ordering::Relaxed),
            ),
            e.shadow.window.total(),
            spent,
            e.shadow.samples.lock().iter().cloned().collect(),
        )
    }
}
