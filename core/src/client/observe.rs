//! What the engine observes about each request: the response cache, client-side limits,
//! tracing spans, metrics, and token and cost accounting. The attempt loop calls in here at a
//! few points; everything else about observation lives in `metrics`, `cost`, `limits` and
//! `cache`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tracing::{Instrument, Span, field};

use super::Client;
use super::attempt::Call;
use super::deadline::Deadline;
use super::engine::Engine;
use super::route::{RouteInfo, Routed};
use crate::cache::{CacheKey, ResponseCache, cache_key};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::cost::{Charge, CostBook, Costs, PriceMemo, PriceTable, Tokens};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::limits::{Limiter, Permit, estimate_tokens};
use crate::metrics::{Metrics, Outcome};
use crate::stats::Outcome as Class;

/// An answer kept by the response cache.
#[derive(Debug, Clone)]
pub(crate) struct CachedAnswer {
    body: Bytes,
    route: RouteInfo,
}

/// The engine's observers: one per client.
#[derive(Debug)]
pub(crate) struct Observer {
    pub metrics: Metrics,
    pub prices: PriceMemo,
    costs: CostBook,
    limits: Limiter,
    cache: Option<ResponseCache<CachedAnswer>>,
    cost_tag: String,
    listening: OnceLock<SocketAddr>,
    otel: crate::otel::Tracer,
}

impl Observer {
    /// Whether requests must carry their body as a JSON value: the response cache keys
    /// answers by it and token limits estimate from it.
    pub fn needs_json_body(&self) -> bool {
        self.cache.is_some() || self.limits.counts_tokens()
    }

    pub fn new(config: &Config, clock: &SharedClock) -> Self {
        let envs = &config.environments;
        Self {
            metrics: Metrics::new([envs.blue.label_str(), envs.green.label_str()]),
            prices: PriceMemo::new(PriceTable::new(&config.pricing)),
            costs: CostBook::new(&config.cost_tag),
            limits: Limiter::new(config.rate_limit.as_ref(), Arc::clone(clock)),
            cache: config
                .cache
                .enabled
                .then(|| ResponseCache::new(&config.cache, Arc::clone(clock))),
            cost_tag: config.cost_tag.clone(),
            listening: OnceLock::new(),
            otel: crate::otel::Tracer::new(config),
        }
    }
}

/// What a request carries from admission to its end (a stream's end, for streams): its
/// concurrency slot and token estimate, its cost tag, its cache key and its tracing spans.
#[derive(Debug)]
pub(crate) struct Ticket {
    permit: Option<Permit>,
    tag: Option<String>,
    /// The cache key, for the side the request was routed to first.
    key: Option<(Side, CacheKey)>,
    span: Span,
    attempt: Option<Span>,
    otel: crate::otel::RequestTrace,
}

impl Ticket {
    /// The span of attempt number `attempt` (from 1), a child of the request's span; it is
    /// also the one whose outcome the request's end records.
    pub fn attempt_span(&mut self, side: Side, model: Option<&str>, attempt: u32) -> Span {
        let span = tracing::info_span!(
            parent: &self.span,
            "turnout.attempt",
            side = side.as_str(),
            model = model.unwrap_or(""),
            attempt,
            outcome = field::Empty,
        );
        self.attempt = Some(span.clone());
        span
    }

    fn end(&self, side: Option<Side>, model: Option<&str>, attempts: u32, outcome: Outcome) {
        self.otel.end(side, model, outcome.as_str());
        let span = &self.span;
        if let Some(side) = side {
            span.record("side", side.as_str());
        }
        span.record("model", model.unwrap_or(""));
        span.record("attempts", attempts);
        span.record("outcome", outcome.as_str());
    }
}

/// A request past the cache's lookup: when it began, its span, its cache key.
struct Admitting {
    started: Instant,
    span: Span,
    key: Option<(Side, CacheKey)>,
}

/// What the cache's lookup found.
enum Looked<T> {
    /// The cache's answer.
    Hit(Routed<T>),
    /// No answer: the request goes on to the limits.
    Miss(Admitting),
}

/// The start of a request: go ahead with a ticket, or here is the cached answer.
pub(crate) enum Admission<T> {
    Go(Ticket),
    Cached(Routed<T>),
}

impl Engine {
    /// Once `side` is selected: answers from the cache when it holds an answer of that side
    /// (non-streaming calls only, and not calls pinned to a side), else waits for the
    /// client-side limits, no longer than the request's timeout or its deadline.
    ///
    /// Without limits nothing here waits; with them, the wait is boxed, so that its state adds
    /// nothing to the future of every request without them.
    pub(crate) async fn admit<T: DeserializeOwned>(
        &self,
        call: &Call,
        cacheable: bool,
        side: Side,
        deadline: Deadline,
        started: Instant,
    ) -> Result<Admission<T>> {
        let admitting = match self.look_up::<T>(call, cacheable, side, started)? {
            Looked::Hit(hit) => return Ok(Admission::Cached(hit)),
            Looked::Miss(admitting) => admitting,
        };
        match self.obs.limits.unlimited() {
            Some(permit) if !self.fleet_limits_on() => self.admitted(call, admitting, Ok(permit)),
            _ => Box::pin(self.admit_waiting(call, admitting, deadline)).await,
        }
    }

    /// The request's span, and its answer from the cache if the cache holds one (its latency
    /// counted from `started`, when the call began).
    fn look_up<T: DeserializeOwned>(
        &self,
        call: &Call,
        cacheable: bool,
        side: Side,
        started: Instant,
    ) -> Result<Looked<T>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let span = tracing::info_span!(
            "turnout.request",
            method = %call.method,
            path = %call.path,
            side = field::Empty,
            model = field::Empty,
            attempts = field::Empty,
            outcome = field::Empty,
        );
        let obs = &self.obs;
        let key = match &obs.cache {
            Some(_) if cacheable && call.options.environment.is_none() => Some((
                side,
                cache_key(side, call.method.as_str(), &call.path, call.body.as_ref()),
            )),
            _ => None,
        };
        if let Some(hit) = key
            .as_ref()
            .and_then(|(_, k)| self.cache_hit::<T>(k, started))
        {
            let route = &hit.route;
            let model = call.field("model");
            obs.metrics
                .request(Some(route.environment), model, Outcome::Cached);
            span.record("side", route.environment.as_str());
            span.record("model", model.unwrap_or(""));
            span.record("attempts", 0);
            span.record("outcome", Outcome::Cached.as_str());
            return Ok(Looked::Hit(hit));
        }
        Ok(Looked::Miss(Admitting { started, span, key }))
    }

    /// Waits for the fleet's limits first (Redis GCRA, when configured), then this process's
    /// buckets in priority order, within what is left of the request's timeout.
    async fn admit_waiting<T>(
        &self,
        call: &Call,
        admitting: Admitting,
        deadline: Deadline,
    ) -> Result<Admission<T>> {
        let obs = &self.obs;
        let (timeout, _) = deadline.clip(call.options.timeout.unwrap_or(self.config.timeout));
        let tokens = if obs.limits.counts_tokens() {
            estimate_tokens(call.body.as_ref())
        } else {
            0
        };
        let priority = call.options.priority;
        let waiting = Instant::now();
        let admitted = async {
            self.fleet_admit(tokens, timeout).await?;
            let left = timeout.saturating_sub(admitting.started.elapsed());
            obs.limits.acquire(tokens, left, priority).await
        }
        .instrument(admitting.span.clone())
        .await;
        if admitted.is_ok() && obs.limits.is_on() {
            obs.metrics
                .traffic
                .waited(priority.as_str(), waiting.elapsed());
        }
        self.admitted(call, admitting, admitted)
    }

    /// The ticket of an admitted request, or the refusal counted.
    fn admitted<T>(
        &self,
        call: &Call,
        admitting: Admitting,
        admitted: Result<Permit>,
    ) -> Result<Admission<T>> {
        let obs = &self.obs;
        let model = call.field("model");
        let permit = match admitted {
            Ok(p) => p,
            Err(e) => {
                obs.metrics.request(None, model, Outcome::of(Err(&e)));
                admitting
                    .span
                    .record("outcome", Outcome::of(Err(&e)).as_str());
                return Err(e);
            }
        };
        let tag = call
            .options
            .metadata
            .as_ref()
            .and_then(|m| m.get(&obs.cost_tag))
            .cloned();
        Ok(Admission::Go(Ticket {
            permit: Some(permit),
            tag,
            key: admitting.key,
            span: admitting.span,
            attempt: None,
            otel: obs
                .otel
                .request(&call.path, model, || self.rollout_status()),
        }))
    }

    /// [`Engine::admit`] for a stream: never cached.
    pub(crate) async fn admit_stream(
        &self,
        call: &Call,
        side: Side,
        deadline: Deadline,
        started: Instant,
    ) -> Result<Ticket> {
        match self
            .admit::<serde_json::Value>(call, false, side, deadline, started)
            .await?
        {
            Admission::Go(ticket) => Ok(ticket),
            // Not cacheable, so never a hit; refuse rather than panic all the same.
            Admission::Cached(_) => Err(Error::Config(
                "a streamed request cannot be answered from the cache".to_string(),
            )),
        }
    }

    fn cache_hit<T: DeserializeOwned>(
        &self,
        key: &CacheKey,
        started: Instant,
    ) -> Option<Routed<T>> {
        let hit = self.obs.cache.as_ref()?.get(key)?;
        // An entry that no longer decodes as `T` (another endpoint's type) is a miss.
        let data = serde_json::from_slice(&hit.body).ok()?;
        let route = RouteInfo {
            attempts: 0,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            cost_usd: Some(0.0),
            cached: true,
            ..hit.route
        };
        Some(Routed { data, route })
    }

    /// Refused before any attempt (no side available, or the client closed).
    pub(crate) fn refused(&self, model: Option<&str>, error: Error) -> Error {
        let outcome = Outcome::of(Err(&error));
        self.obs.metrics.request(None, model, outcome);
        tracing::debug!(outcome = outcome.as_str(), error = %error, "request refused");
        error
    }

    /// Counts one upstream attempt that ended (a stream's, at its end) and notes its outcome
    /// on its span.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe_attempt(
        &self,
        ticket: &Ticket,
        side: Side,
        model: Option<&str>,
        class: Class,
        error: Option<&Error>,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let outcome = Outcome::from(class);
        self.obs.metrics.request(Some(side), model, outcome);
        // Latency is the side's speed at serving: successes only, as in the windows.
        if class == Class::Success {
            self.obs.metrics.latency(side, latency, ttft);
        }
        ticket
            .otel
            .attempt(side, model, error.map_or(Ok(()), Err), latency);
        if let Some(span) = &ticket.attempt {
            span.record("outcome", outcome.as_str());
        }
    }

    /// The request failed: notes it on the request's span. Attempts are counted as they end;
    /// a request refused for want of an available side before its next attempt is counted
    /// here, as `unavailable`.
    pub(crate) fn gave_up(
        &self,
        ticket: &Ticket,
        side: Side,
        model: Option<&str>,
        attempts: u32,
        error: Error,
    ) -> Error {
        let outcome = Outcome::of(Err(&error));
        if outcome == Outcome::Unavailable {
            self.obs.metrics.request(None, model, outcome);
        }
        ticket.end(Some(side), model, attempts, outcome);
        error
    }

    /// A non-streaming answer arrived, reporting `usage`: its cost goes into `route`, the
    /// totals and metrics, the token estimate is corrected, and the answer is cached when the
    /// cache is on.
    pub(crate) fn settle(
        &self,
        ticket: Ticket,
        route: &mut RouteInfo,
        body: &Bytes,
        usage: Option<Tokens>,
    ) {
        ticket.otel.answered(body);
        route.cost_usd = self.account(&ticket, route.environment, route.model.as_deref(), usage);
        ticket.end(
            Some(route.environment),
            route.model.as_deref(),
            route.attempts,
            Outcome::Success,
        );
        if let (Some(cache), Some((side, key))) = (&self.obs.cache, ticket.key)
            && side == route.environment
        {
            cache.put(
                key,
                CachedAnswer {
                    body: body.clone(),
                    route: route.clone(),
                },
            );
        }
    }

    /// A committed stream ended (or was dropped): its attempt is counted, and its usage, from
    /// the final chunk, is charged.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn end_stream(
        &self,
        ticket: Ticket,
        side: Side,
        model: Option<&str>,
        attempts: u32,
        class: Class,
        latency: Duration,
        ttft: Duration,
        usage: Option<Tokens>,
    ) {
        self.observe_attempt(&ticket, side, model, class, None, latency, Some(ttft));
        self.account(&ticket, side, model, usage);
        ticket.end(Some(side), model, attempts, Outcome::from(class));
    }

    /// Charges an answer's usage: metrics, cost totals, and the correction of the token
    /// estimate. Returns its cost when its model has a price.
    fn account(
        &self,
        ticket: &Ticket,
        side: Side,
        model: Option<&str>,
        usage: Option<Tokens>,
    ) -> Option<f64> {
        let usage = usage?;
        ticket.otel.usage(usage.prompt, usage.completion);
        let obs = &self.obs;
        let cost = model.and_then(|m| obs.prices.cost(m, usage.prompt, usage.completion));
        obs.metrics.usage(usage, cost);
        self.llm[side.index()].record(
            self.now(),
            crate::stats::LlmUsage {
                prompt: usage.prompt,
                cached: usage.cached,
                completion: usage.completion,
                cost_usd: cost,
            },
        );
        obs.costs.charge(&Charge {
            environment: side,
            model,
            tag: ticket.tag.as_deref(),
            usage,
            cost_usd: cost,
        });
        if let Some(permit) = &ticket.permit {
            obs.limits.correct(permit, usage.prompt + usage.completion);
        }
        cost
    }

    /// The metrics, with the gauges read from the traffic state and circuits now.
    pub(crate) fn metrics_text(&self) -> String {
        let state = self.traffic.peek();
        let now = self.now();
        let circuits = Side::BOTH.map(|s| self.side(s).circuit.state(now));
        self.obs
            .metrics
            .set_state(state.active, state.canary_weight(), circuits);
        let store = self.shared.status();
        self.obs
            .metrics
            .set_store(store.connected, store.pending_ops);
        self.obs
            .metrics
            .traffic
            .set_waiting(self.obs.limits.waiting());
        self.obs.metrics.encode()
    }

    /// Starts the built-in metrics listener when `metrics.listen` is set; it stops when the
    /// client is closed or dropped.
    pub(crate) fn start_metrics_listener(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<()> {
        let Some(addr) = self.config.metrics.listen else {
            return Ok(());
        };
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "metrics.listen serves from a background task: build the client inside a tokio runtime".to_string(),
            )
        })?;
        let engine = Arc::downgrade(self);
        let local = crate::metrics::spawn(
            &handle,
            &self.supervisor,
            addr,
            move || engine.upgrade().map(|e| e.metrics_text()),
            shutdown,
        )?;
        let _ = self.obs.listening.set(local);
        Ok(())
    }
}

impl Client {
    /// The Prometheus metrics of this client, as OpenMetrics text (what `GET /metrics` of the
    /// built-in listener serves). See `docs/observability.md` for the names and labels.
    pub fn metrics_text(&self) -> String {
        self.engine.metrics_text()
    }

    /// The content type of [`Client::metrics_text`], for apps serving it themselves.
    pub fn metrics_content_type() -> &'static str {
        crate::metrics::CONTENT_TYPE
    }

    /// The address the built-in metrics listener serves on, when `metrics.listen` is set (the
    /// port actually bound, when it was 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.engine.obs.listening.get().copied()
    }

    /// Token and cost totals since the client was built: overall, by environment, by model
    /// and by the value of the `cost_tag` metadata key (default `team`).
    pub fn costs(&self) -> Costs {
        self.engine.obs.costs.snapshot()
    }
}
