//! The attempt loop: select a side, send, classify, then retry with backoff, fail over, or walk
//! the model fallback chain (SEMANTICS.md, *Attempts, retries, failover* and *Model fallbacks*).

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use super::call_kind::CallKind;
use super::deadline::{AnswerBy, Deadline};
use super::engine::Engine;
use super::observe::{Admission, Ticket};
use super::options::RequestOptions;
use super::route::{RouteInfo, Routed};
use super::stream::{self, RoutedStream};
use crate::cost::{KnownUsage, usage_of};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::resilience::backoff;
use crate::resilience::circuit::Pass;
use crate::resilience::outcome::classify;
use crate::routing::affinity::{Lookup, created_id};
use crate::routing::{Reason, RequestAttrs, select};
use crate::stats::Outcome;
use crate::transport::{Exchange, idempotency_header};

/// One logical request, before routing.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    /// Set instead of `body` by a typed request when nothing needs the body as a JSON value
    /// (see [`super::observe::Observer::needs_json_body`]): it is serialised once, straight to
    /// bytes, rather than to a `Value` and then to bytes.
    pub encoded: Option<Encoded>,
    pub options: RequestOptions,
    /// A pass-through request's own headers, forwarded (see [`super::raw`]).
    pub headers: Option<reqwest::header::HeaderMap>,
    /// The caller's own timeout, which bounds every attempt's (see
    /// [`super::raw::RawRequest::timeout_at_most`]).
    pub timeout_cap: Option<Duration>,
    /// When the caller must have its answer (see
    /// [`super::raw::RawRequest::answer_within`]).
    pub answer_by: Option<AnswerBy>,
}

/// A request body already encoded, with the fields routing reads from it.
pub(crate) struct Encoded {
    pub bytes: Bytes,
    pub model: Option<String>,
    pub user: Option<String>,
}

impl Call {
    pub fn new(method: Method, path: &str, body: Option<Value>, options: RequestOptions) -> Self {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Self {
            method,
            path,
            body,
            encoded: None,
            options,
            headers: None,
            timeout_cap: None,
            answer_by: None,
        }
    }

    /// A call whose body is already encoded.
    pub fn encoded(method: Method, path: &str, encoded: Encoded, options: RequestOptions) -> Self {
        Self {
            encoded: Some(encoded),
            ..Self::new(method, path, None, options)
        }
    }

    /// One attempt's HTTP exchange: this call's method, path and headers, with `body`,
    /// `timeout` and the cursor's `Idempotency-Key`.
    pub(super) fn exchange<'a>(
        &'a self,
        body: Option<Bytes>,
        timeout: Duration,
        idempotency: Option<&'a HeaderValue>,
    ) -> Exchange<'a> {
        Exchange {
            method: self.method.clone(),
            path: &self.path,
            body,
            timeout,
            idempotency,
            headers: self.headers.as_ref(),
        }
    }

    /// A string field of the body (`model`, `user`).
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        if let Some(e) = &self.encoded {
            return match name {
                "model" => e.model.as_deref(),
                "user" => e.user.as_deref(),
                _ => None,
            };
        }
        self.body.as_ref()?.get(name)?.as_str()
    }
}

/// Where the loop stands: which side and model, and what it has spent.
pub(super) struct Cursor {
    pub(super) side: Side,
    pub(super) pinned: bool,
    pub(super) models: Vec<Option<String>>,
    pub(super) model_index: usize,
    pub(super) attempts: u32,
    pub(super) model_attempts: u32,
    pub(super) retries: u32,
    pub(super) failed_over: bool,
    /// The encoded body and the side it was encoded for (sides may name the model apart).
    pub(super) body: Option<(Side, Bytes)>,
    /// The circuit's leave for the current attempt.
    pub(super) pass: Pass,
    pub(super) deadline: Deadline,
    pub(super) kind: CallKind,
    /// The `Idempotency-Key` header, made once from the call's key (boxed: most calls have
    /// none, and the cursor lives in the request's future); a call with one is repeatable
    /// even when it writes.
    pub(super) idempotency: Option<Box<HeaderValue>>,
    /// Why the first side was chosen.
    pub(super) reason: Reason,
    /// The call names an object no answer here has shown (a 404 may mean the other side has it).
    pub(super) unknown_object: bool,
}

impl Cursor {
    /// The model of the current attempt.
    pub(super) fn model(&self) -> Option<&str> {
        self.models[self.model_index].as_deref()
    }
}

/// What to do after a failed attempt.
enum Next {
    /// Try again now (failover, or the next model).
    Now,
    /// Try again after this delay on the same side.
    After(Duration),
    /// Give up with this error.
    Fail(Error),
}

impl Engine {
    /// Runs `call` to completion on `engine` (borrowed, or an `Arc` for a future that owns
    /// it), the call in a box of its own beside the future rather than inside it
    /// (`docs/decisions.md`, *Request futures under 1 KB*).
    pub(crate) fn run<T: DeserializeOwned + KnownUsage>(
        engine: impl Deref<Target = Engine>,
        call: Call,
    ) -> impl Future<Output = Result<Routed<T>>> {
        let call = Box::new(call);
        async move { engine.execute(&call).await }
    }

    /// Runs a non-streaming call to completion.
    pub(crate) async fn execute<T: DeserializeOwned + KnownUsage>(
        &self,
        call: &Call,
    ) -> Result<Routed<T>> {
        self.resolve_objects(call).await;
        let started = Instant::now();
        let mut cur = self
            .begin(call)
            .map_err(|e| self.refused(call.field("model"), e))?;
        let mut ticket = match self
            .admit::<T>(call, true, cur.side, cur.deadline, started)
            .await?
        {
            Admission::Go(ticket) => ticket,
            Admission::Cached(hit) => return Ok(hit),
        };
        loop {
            if let Err(e) = self.permit(&mut cur) {
                return Err(self.gave_up(&ticket, cur.side, cur.model(), cur.attempts, e));
            }
            let (side, timeout, by_deadline) = self.attempt_target(call, &cur);
            let body = self.body_for(call, &mut cur)?;
            let sent = Instant::now();
            let span = ticket.attempt_span(side, cur.model(), cur.attempts);
            let hedge = self.hedge_plan(cur.kind, side, cur.attempts, cur.pass);
            // The answer is matched where it is awaited, not held in a local: a local would
            // be kept (a whole `T`) in the future's state across the failure's await below.
            let error = match self
                .race(side, hedge, || {
                    let exchange = call.exchange(body.clone(), timeout, cur.idempotency.as_deref());
                    Box::pin(self.exchange::<T>(side, exchange))
                })
                .instrument(span)
                .await
            {
                Ok((data, raw)) => {
                    let elapsed = sent.elapsed();
                    self.record(side, Outcome::Success, cur.pass, elapsed, None);
                    let model = cur.model();
                    self.observe_attempt(
                        &ticket,
                        side,
                        model,
                        Outcome::Success,
                        None,
                        elapsed,
                        None,
                    );
                    self.learn_objects(call, cur.kind, side, &raw);
                    let mut route = self.route_info(&mut cur, started);
                    let usage = data.known_usage().unwrap_or_else(|| usage_of(&raw));
                    self.settle(ticket, &mut route, &raw, usage);
                    if self.config.shadow.is_some() {
                        self.shadow_after(call, super::shadow::Primary::of(&route, raw, elapsed));
                    }
                    return Ok(Routed { data, route });
                }
                Err(e) => e,
            };
            Box::pin(self.attempt_failed(&ticket, &mut cur, side, sent, by_deadline, error))
                .await?;
        }
    }

    /// Runs a streaming call until its first event has arrived (nothing is retried after
    /// that), then hands the rest of the stream to the caller.
    pub(crate) async fn execute_stream<T: DeserializeOwned + Send + 'static>(
        self: Arc<Self>,
        mut call: Call,
    ) -> Result<RoutedStream<T>> {
        let usage_asked = call.path == "/chat/completions" && ask_for_usage(&mut call.body);
        self.resolve_objects(&call).await;
        let started = Instant::now();
        let mut cur = self
            .begin(&call)
            .map_err(|e| self.refused(call.field("model"), e))?;
        let mut ticket = self
            .admit_stream(&call, cur.side, cur.deadline, started)
            .await?;
        loop {
            if let Err(e) = self.permit(&mut cur) {
                return Err(self.gave_up(&ticket, cur.side, cur.model(), cur.attempts, e));
            }
            let (side, timeout, by_deadline) = self.attempt_target(&call, &cur);
            let body = self.body_for(&call, &mut cur)?;
            let sent = Instant::now();
            let span = ticket.attempt_span(side, cur.model(), cur.attempts);
            let hedge = self.hedge_plan(cur.kind, side, cur.attempts, cur.pass);
            // A hedged stream races to its first event.
            let open = || async {
                let exchange = call.exchange(body.clone(), timeout, cur.idempotency.as_deref());
                let reading = stream::Reading {
                    side,
                    idle_timeout: timeout,
                    first_event_timeout: self.config.stream_first_event_timeout,
                    deadline: cur.deadline,
                    max_event_bytes: self.config.bounds.sse_event_bytes,
                    hide_usage_chunk: usage_asked,
                };
                match self
                    .transport
                    .send(&self.side(side).endpoint, exchange)
                    .await
                {
                    Ok(resp) => stream::open::<T>(resp, reading).await,
                    Err(e) => Err(e),
                }
            };
            let opened = self.race(side, hedge, open).instrument(span).await;
            match opened {
                Ok(first) => {
                    if let Some(id) = &first.reader.created {
                        self.remember_object(id, side);
                    }
                    let route = self.route_info(&mut cur, started);
                    let ttft = sent.elapsed();
                    return Ok(stream::committed(
                        Arc::clone(&self),
                        first,
                        route,
                        stream::Started {
                            sent,
                            ttft,
                            pass: cur.pass,
                        },
                        ticket,
                    ));
                }
                Err(e) => {
                    Box::pin(self.attempt_failed(&ticket, &mut cur, side, sent, by_deadline, e))
                        .await?;
                }
            }
        }
    }

    /// Counts a failed attempt — the side's window and circuit, metrics, its span — and
    /// decides what follows: `Ok` to go on (after the backoff, slept here), or the error to
    /// give up with, the request's end noted.
    pub(super) async fn attempt_failed(
        &self,
        ticket: &Ticket,
        cur: &mut Cursor,
        side: Side,
        sent: Instant,
        by_deadline: bool,
        error: Error,
    ) -> Result<()> {
        let elapsed = sent.elapsed();
        let class = attempt_class(Err(&error), by_deadline);
        self.record(side, class, cur.pass, elapsed, None);
        self.observe_attempt(
            ticket,
            side,
            cur.model(),
            class,
            Some(&error),
            elapsed,
            None,
        );
        match self.after_failure(cur, error) {
            Next::Now => Ok(()),
            Next::After(delay) => {
                // Boxed: a backoff's timer adds nothing to the future of a request without one.
                Box::pin(tokio::time::sleep(delay)).await;
                Ok(())
            }
            Next::Fail(e) => Err(self.gave_up(ticket, side, cur.model(), cur.attempts, e)),
        }
    }

    /// Selects the first side and prepares the cursor.
    pub(super) fn begin(&self, call: &Call) -> Result<Cursor> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let idempotency = call
            .options
            .idempotency_key
            .as_deref()
            .map(|key| idempotency_header(key).map(Box::new))
            .transpose()?;
        let state = self.traffic.peek();
        let lookup = if call.options.environment.is_none() {
            self.affinity.lookup(&call.path, call.body.as_ref())
        } else {
            Lookup::default()
        };
        let attrs = RequestAttrs {
            pinned: call.options.environment.or(lookup.side),
            metadata: call.options.metadata.as_ref(),
            routing_key: call.options.routing_key.as_deref().or(call.field("user")),
        };
        let draw = if attrs.routing_key.is_some() && self.config.sticky {
            0
        } else {
            rand::random_range(0..10_000)
        };
        let now = self.now();
        let sel = select(
            &state,
            &self.config.rules,
            self.config.sticky,
            &attrs,
            draw,
            self.availability(now),
        )
        .map_err(|e| match lookup.side {
            Some(side) if call.options.environment.is_none() => Error::NoHealthyEnvironment(
                format!("{side} holds an object the request names, and its circuit is open"),
            ),
            _ => e,
        })?;
        let keyed = attrs.routing_key.is_some() && self.config.sticky;
        let sel = self.balanced(sel, keyed, call.field("model"));
        let reason = if call.options.environment.is_none() && lookup.side.is_some() {
            Reason::Affinity
        } else {
            sel.reason
        };
        if let Some(from) = sel.failed_over_from {
            self.note_failover(from, "is unavailable");
        }
        self.side(sel.side).budget.deposit(now);
        let requested = call.field("model");
        let mut models = vec![requested.map(str::to_string)];
        if let Some(chain) = requested.and_then(|m| self.config.model_fallbacks.get(m)) {
            models.extend(chain.iter().cloned().map(Some));
        }
        Ok(Cursor {
            side: sel.side,
            pinned: sel.pinned,
            models,
            model_index: 0,
            attempts: 0,
            model_attempts: 0,
            retries: 0,
            failed_over: false,
            body: None,
            pass: Pass::CLOSED,
            deadline: Deadline::new(call.options.deadline.or(self.config.deadline))
                .answer_by(call.answer_by),
            kind: CallKind::of(&call.method, &call.path),
            idempotency,
            reason,
            unknown_object: lookup.unknown && lookup.side.is_none(),
        })
    }

    /// Takes the circuit's permission for the next attempt. Selection saw the side available,
    /// but a concurrent request may have taken its one half-open trial since: then the other
    /// side serves, unless the request is pinned or has already failed over.
    pub(super) fn permit(&self, cur: &mut Cursor) -> Result<()> {
        if cur.deadline.passed() {
            return Err(cur.deadline.error(cur.side));
        }
        let now = self.now();
        if let Some(pass) = self.side(cur.side).circuit.begin(now) {
            cur.pass = pass;
            return Ok(());
        }
        let other = cur.side.other();
        if !cur.pinned
            && !cur.failed_over
            && self.is_available(other, now)
            && let Some(pass) = self.side(other).circuit.begin(now)
        {
            self.note_failover(cur.side, "is unavailable");
            cur.side = other;
            cur.failed_over = true;
            cur.pass = pass;
            return Ok(());
        }
        Err(Error::NoHealthyEnvironment(format!(
            "the circuit of {} is open",
            cur.side
        )))
    }

    /// The side of the next attempt, its timeout, and whether the call's deadline is what
    /// bounds that timeout.
    pub(super) fn attempt_target(&self, call: &Call, cur: &Cursor) -> (Side, Duration, bool) {
        let (timeout, by_deadline) = cur.deadline.clip(self.attempt_timeout(call, cur.side));
        (cur.side, timeout, by_deadline)
    }

    /// The timeout of an attempt on `side`, before the call's deadline shortens it: the
    /// request's, else the side's, else the client's, capped by the caller's.
    pub(super) fn attempt_timeout(&self, call: &Call, side: Side) -> Duration {
        let timeout = call
            .options
            .timeout
            .or(self.side(side).endpoint.timeout)
            .unwrap_or(self.config.timeout);
        call.timeout_cap.map_or(timeout, |cap| timeout.min(cap))
    }

    /// Counts an attempt and returns the serialised body for the cursor's model as the
    /// cursor's side knows it (its `models` map), built once per model and side.
    pub(super) fn body_for(&self, call: &Call, cur: &mut Cursor) -> Result<Option<Bytes>> {
        cur.attempts += 1;
        cur.model_attempts += 1;
        if cur.body.as_ref().is_some_and(|(side, _)| *side == cur.side) {
            return Ok(cur.body.as_ref().map(|(_, b)| b.clone()));
        }
        let asked = cur.models[cur.model_index].as_deref();
        let sent = asked.map(|m| self.config.environments.get(cur.side).upstream_model(m));
        // The body is re-encoded only when the model it names must change.
        let rename = (cur.model_index > 0 || sent != asked)
            .then_some(sent)
            .flatten();
        let encode_err = |e: serde_json::Error| {
            Error::Config(format!("the request body cannot be encoded: {e}"))
        };
        let bytes = match (&call.encoded, &call.body, rename) {
            (Some(encoded), _, None) => Some(encoded.bytes.clone()),
            (Some(encoded), _, Some(model)) => {
                let mut body: Value = serde_json::from_slice(&encoded.bytes).map_err(encode_err)?;
                body["model"] = Value::String(model.to_string());
                Some(Bytes::from(serde_json::to_vec(&body).map_err(encode_err)?))
            }
            (None, Some(body), None) => {
                Some(Bytes::from(serde_json::to_vec(body).map_err(encode_err)?))
            }
            (None, Some(body), Some(model)) => {
                let mut body = body.clone();
                body["model"] = Value::String(model.to_string());
                Some(Bytes::from(serde_json::to_vec(&body).map_err(encode_err)?))
            }
            (None, None, _) => None,
        };
        cur.body = bytes.clone().map(|b| (cur.side, b));
        Ok(bytes)
    }

    /// One HTTP exchange of a non-streaming call, decoded, with the raw body (for its usage
    /// and the response cache).
    async fn exchange<T: DeserializeOwned>(
        &self,
        side: Side,
        exchange: Exchange<'_>,
    ) -> Result<(T, Bytes)> {
        let bytes = self
            .transport
            .fetch(&self.side(side).endpoint, exchange)
            .await?;
        let data = serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            environment: side,
            message: e.to_string(),
            excerpt: crate::error::excerpt(&bytes),
        })?;
        Ok((data, bytes))
    }

    /// Decides what follows a failed attempt.
    fn after_failure(&self, cur: &mut Cursor, error: Error) -> Next {
        if cur.deadline.passed() {
            return Next::Fail(match error {
                Error::Timeout { .. } => cur.deadline.error(cur.side),
                other => other,
            });
        }
        // An object this process has not seen may live on the other side: one look there.
        if error.status() == Some(404)
            && cur.kind == CallKind::Read
            && cur.unknown_object
            && !cur.pinned
            && !cur.failed_over
        {
            cur.side = cur.side.other();
            cur.failed_over = true;
            return Next::Now;
        }
        let has_next_model = cur.model_index + 1 < cur.models.len();
        let model_unavailable = error.is_model_unavailable()
            || (error.status() == Some(404) && cur.kind == CallKind::Inference);
        if model_unavailable && has_next_model {
            self.next_model(cur);
            return Next::Now;
        }
        if self.another_key(cur.side, &error, cur.model_attempts) {
            return Next::Now;
        }
        if !error.is_retryable() {
            return Next::Fail(error);
        }
        // A write may have created something already: sent again only when it surely was not
        // sent, or when its idempotency key makes a repeat harmless — and then on the same side,
        // which is the one that knows the key.
        let repeatable =
            cur.kind != CallKind::Write || cur.idempotency.is_some() || error.nothing_sent();
        if !repeatable {
            return Next::Fail(error);
        }
        if cur.model_attempts >= self.config.retry.max_attempts {
            if has_next_model {
                self.next_model(cur);
                return Next::Now;
            }
            return Next::Fail(error);
        }
        let now = self.now();
        let other = cur.side.other();
        let may_fail_over = cur.kind != CallKind::Write || error.nothing_sent();
        if !cur.pinned && !cur.failed_over && may_fail_over && self.is_available(other, now) {
            self.note_failover(cur.side, &format!("failed ({})", error.kind().as_str()));
            cur.side = other;
            cur.failed_over = true;
            return Next::Now;
        }
        // A retry is a request like any other: the failure just recorded may have opened the
        // side's circuit, and an open circuit lets nothing through.
        if !self.side(cur.side).circuit.allows(now) {
            return Next::Fail(error);
        }
        let delay = match error.retry_after() {
            Some(d) if d > self.config.retry.max_retry_after => return Next::Fail(error),
            Some(d) => d,
            None => backoff::delay(&self.config.retry, cur.retries, rand::random::<f64>()),
        };
        if !cur.deadline.allows_sleep(delay) {
            tracing::debug!(side = %cur.side, "the next retry would end after the deadline");
            return Next::Fail(error);
        }
        if !self.side(cur.side).budget.withdraw(now) {
            tracing::debug!(side = %cur.side, "retry budget empty; not retrying");
            return Next::Fail(error);
        }
        cur.retries += 1;
        self.obs.metrics.retry(cur.side);
        Next::After(delay)
    }

    /// Records the object an answer shows (created, or read) as living on `side`. Inference
    /// answers that never name such objects are not looked at (the hot path).
    pub(super) fn learn_objects(&self, call: &Call, kind: CallKind, side: Side, answer: &[u8]) {
        let path = call.path.split('?').next().unwrap_or(&call.path);
        // Of the inference calls only a stored response is an object; model lists name none.
        if (kind == CallKind::Inference && path != "/responses") || path.starts_with("/models") {
            return;
        }
        if let Some(id) = created_id(answer) {
            self.remember_object(&id, side);
        }
    }

    fn next_model(&self, cur: &mut Cursor) {
        self.obs.metrics.fallback(cur.model());
        cur.model_index += 1;
        cur.model_attempts = 0;
        cur.body = None;
    }

    /// How the call was routed, once it is answered. The cursor's models move into the route
    /// (no copy): the call is answered, so no later attempt reads them.
    pub(super) fn route_info(&self, cur: &mut Cursor, started: Instant) -> RouteInfo {
        let model = cur.models[cur.model_index].take();
        let upstream_model = model.as_deref().map(|m| {
            self.config
                .environments
                .get(cur.side)
                .upstream_model(m)
                .to_string()
        });
        RouteInfo {
            upstream_model,
            reason: cur.reason.as_str(),
            environment: cur.side,
            label: self
                .config
                .environments
                .get(cur.side)
                .label_str()
                .map(str::to_string),
            fallback_from: (cur.model_index > 0)
                .then(|| cur.models[0].take())
                .flatten(),
            model,
            attempts: cur.attempts,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            cost_usd: None,
            cached: false,
        }
    }
}

/// Sets `stream_options.include_usage` unless the caller set `stream_options` themselves;
/// returns whether it did (the usage-only chunk is then hidden from the caller).
fn ask_for_usage(body: &mut Option<Value>) -> bool {
    if let Some(Value::Object(map)) = body
        && !map.contains_key("stream_options")
    {
        map.insert(
            "stream_options".to_string(),
            serde_json::json!({ "include_usage": true }),
        );
        return true;
    }
    false
}

/// The class of an attempt that ended with `result`; a timeout set by the call's own deadline
/// is the caller's, not the side's (SEMANTICS.md, *What counts against a side*).
fn attempt_class(result: std::result::Result<(), &Error>, by_deadline: bool) -> Outcome {
    match result {
        Err(Error::Timeout { .. }) if by_deadline => Outcome::Cancelled,
        r => classify(r),
    }
}
