//! `NativeClient`: the engine behind the JS `Client` class of `lib/index.js`.
//!
//! Request and response bodies cross the boundary as JSON text: `JSON.stringify`/`JSON.parse`
//! on the JS side are faster than building objects one napi call per field, and the
//! `client.fetch` adapter hands the text to a `Response` untouched.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Buffer, PromiseRaw, Unknown, within_runtime_if_available};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::watch;

use crate::convert;
use crate::errors::{IntoNapi, config, guard, guarded, to_napi};
use crate::raw::{RawAnswer, byte_string};
use crate::stream::NativeStream;

/// Per-request routing options (`{ routingKey, environment, metadata, timeoutMs, deadlineMs }`).
#[napi(object)]
#[derive(Default)]
pub struct CallOptions {
    /// The sticky routing key; defaults to the body's `user` field.
    pub routing_key: Option<String>,
    /// Pins the request to `"blue"` or `"green"` (no failover).
    pub environment: Option<String>,
    /// Metadata matched against rules and used as the cost tag.
    pub metadata: Option<HashMap<String, String>>,
    /// Overrides the request timeout, in milliseconds.
    pub timeout_ms: Option<f64>,
    /// Bounds the whole call (limiter wait, attempts, backoff, a stream to its end), in ms.
    pub deadline_ms: Option<f64>,
    /// `"high"`, `"normal"` or `"low"`: the order of admission when limits make requests wait.
    pub priority: Option<String>,
}

impl CallOptions {
    fn into_core(self) -> napi::Result<turnout::RequestOptions> {
        let environment = match self.environment {
            Some(side) => Some(side.parse::<turnout::Side>().napi()?),
            None => None,
        };
        let millis = |name: &str, ms: Option<f64>| -> napi::Result<Option<Duration>> {
            ms.map(|ms| {
                Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
                    config(format!(
                        "{name} must be a finite, non-negative number, got {ms}"
                    ))
                })
            })
            .transpose()
        };
        Ok(turnout::RequestOptions {
            routing_key: self.routing_key,
            environment,
            metadata: self.metadata.map(|m| m.into_iter().collect()),
            timeout: millis("timeoutMs", self.timeout_ms)?,
            deadline: millis("deadlineMs", self.deadline_ms)?,
            priority: match self.priority {
                Some(p) => p.parse().napi()?,
                None => turnout::Priority::default(),
            },
            ..Default::default()
        })
    }
}

/// An answer: the upstream's JSON body as text, and how it was routed, as JSON text too
/// (one `JSON.parse` is cheaper than an object built one napi call per field).
#[napi(object)]
pub struct Answer {
    /// The JSON body, as the side sent it.
    pub body: String,
    /// `{ environment, label, model, fallbackFrom, attempts, latencyMs, costUsd, cached }`.
    pub route: String,
}

/// Cancels the native work of one request: the JS side calls `cancel()` when its
/// `AbortSignal` fires, and the request's future is dropped.
#[napi]
pub struct CancelToken {
    tx: watch::Sender<bool>,
}

#[napi]
impl CancelToken {
    /// A token not yet cancelled.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(false),
        }
    }

    /// Cancels the request (idempotent).
    #[napi]
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

/// Resolves when `rx` turns true; never when there is no token.
pub(crate) async fn cancelled(rx: Option<watch::Receiver<bool>>) {
    match rx {
        Some(mut rx) => {
            // An error means the token was dropped without a cancel: wait forever.
            if rx.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

fn aborted() -> napi::Error {
    napi::Error::new(Status::Cancelled, "the request was aborted")
}

/// The `onEvent` subscriptions of one client, by id. The client owns them, so that a
/// subscription lives until `unsubscribe()` or `close()` even when JavaScript drops every
/// handle on it (its `EventSubscription` object may be garbage-collected at any time).
type Subscriptions = Arc<parking_lot::Mutex<HashMap<u64, turnout::events::Subscription>>>;

/// A subscription made by `onEvent`; `unsubscribe()` ends it. Dropping it does not.
#[napi]
pub struct EventSubscription {
    subscriptions: Weak<parking_lot::Mutex<HashMap<u64, turnout::events::Subscription>>>,
    id: u64,
}

#[napi]
impl EventSubscription {
    /// Stops the callback (idempotent).
    #[napi]
    pub fn unsubscribe(&self) -> napi::Result<()> {
        guard(|| {
            if let Some(subscriptions) = self.subscriptions.upgrade() {
                subscriptions.lock().remove(&self.id);
            }
            Ok(())
        })
    }
}

/// The callback of `onEvent`: called with each event as JSON text; weak, so that it never
/// keeps the process alive.
type EventCallback = ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true>;

/// The native client. Use the `Client` class of the package instead.
#[napi]
pub struct NativeClient {
    inner: turnout::Client,
    subscriptions: Subscriptions,
    next_subscription: AtomicU64,
}

fn parse_method(method: &str) -> napi::Result<turnout::Method> {
    turnout::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| config(format!("invalid HTTP method {method:?}")))
}

fn parse_body(body: Option<String>) -> napi::Result<Option<Value>> {
    body.map(|text| {
        serde_json::from_str(&text)
            .map_err(|e| config(format!("the request body is not valid JSON: {e}")))
    })
    .transpose()
}

#[napi]
impl NativeClient {
    /// A client from `new Client({...})` options (camelCase, milliseconds).
    #[napi(constructor)]
    pub fn new(options: Value) -> napi::Result<Self> {
        guard(|| {
            let value = crate::options::client_options(options).map_err(config)?;
            let config = turnout::Config::from_value(value).napi()?;
            Self::start(config)
        })
    }

    /// A client from a config file (YAML, TOML or JSON, by extension).
    #[napi(factory)]
    pub fn from_config_file(path: String) -> napi::Result<Self> {
        guard(|| Self::start(turnout::Config::from_file(path).napi()?))
    }

    /// A client from a config object in the file's shape (snake_case keys, seconds).
    #[napi(factory)]
    pub fn from_config_value(value: Value) -> napi::Result<Self> {
        guard(|| Self::start(turnout::Config::from_value(value).napi()?))
    }

    fn start(config: turnout::Config) -> napi::Result<Self> {
        crate::logs::init();
        // Health checks are spawned on the runtime napi drives futures with.
        let inner = within_runtime_if_available(|| turnout::Client::from_config(config)).napi()?;
        Ok(Self {
            inner,
            subscriptions: Subscriptions::default(),
            next_subscription: AtomicU64::new(1),
        })
    }

    /// Sends a request routed by turnout; resolves to the JSON answer and its route.
    #[napi(ts_return_type = "Promise<Answer>")]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        method: String,
        path: String,
        body: Option<String>,
        options: Option<CallOptions>,
        cancel: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'env, Answer>> {
        let method = parse_method(&method)?;
        let options = options.unwrap_or_default().into_core()?;
        let client = self.inner.clone();
        let cancel = cancel.map(|c| c.tx.subscribe());
        env.spawn_future(guarded(async move {
            let call = client.request_text(method, &path, body.map(Into::into), options);
            tokio::select! {
                result = call => {
                    let routed = result.map_err(|e| to_napi(&e))?;
                    Ok(Answer {
                        body: routed.data.get().to_string(),
                        route: convert::route(&routed.route).to_string(),
                    })
                }
                () = cancelled(cancel) => Err(aborted()),
            }
        }))
    }

    /// Opens a streaming request; resolves once its first event has arrived.
    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn stream<'env>(
        &self,
        env: &'env Env,
        method: String,
        path: String,
        body: Option<String>,
        options: Option<CallOptions>,
        cancel: Option<&CancelToken>,
    ) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let method = parse_method(&method)?;
        let body = parse_body(body)?;
        let options = options.unwrap_or_default().into_core()?;
        let client = self.inner.clone();
        let cancel = cancel.map(|c| c.tx.subscribe());
        env.spawn_future(guarded(async move {
            let call = client.stream_json(method, &path, body, options);
            tokio::select! {
                result = call => {
                    let stream = result.map_err(|e| to_napi(&e))?;
                    Ok(NativeStream::new(stream))
                }
                () = cancelled(cancel) => Err(aborted()),
            }
        }))
    }

    /// Passes a request through as it is (any method, `[name, value]` headers whose values are
    /// ByteStrings sent one byte per character as fetch sends them, body bytes) and
    /// resolves to the side's answer as it was sent. A failure without an HTTP answer resolves
    /// too, to the synthetic 400/502/503/504 answer an SDK raises at once; only an abort
    /// rejects. The answer comes before the SDK's own timeout — its `X-Stainless-Timeout`
    /// header, else `sdkTimeoutMs` — less `spentMs`, the time fetch spent on the request
    /// before this call, would make it give up
    /// ([`turnout::RawRequest::answer_within_sdk_timeout`]).
    #[napi(ts_return_type = "Promise<RawAnswer>")]
    // One positional argument per part of the request, as the other request methods take them.
    #[allow(clippy::too_many_arguments)]
    pub fn send_raw<'env>(
        &self,
        env: &'env Env,
        method: String,
        path: String,
        headers: Vec<Vec<String>>,
        body: Option<Buffer>,
        options: Option<CallOptions>,
        cancel: Option<&CancelToken>,
        sdk_timeout_ms: Option<f64>,
        spent_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, RawAnswer>> {
        let method = parse_method(&method)?;
        let options = options.unwrap_or_default().into_core()?;
        let sdk_timeout = sdk_timeout_ms
            .map(|ms| {
                Duration::try_from_secs_f64(ms / 1000.0)
                    .map_err(|_| config(format!("sdkTimeoutMs must be a duration, got {ms}")))
            })
            .transpose()?;
        // NaN, negative or endless: nothing spent.
        let spent =
            Duration::try_from_secs_f64(spent_ms.unwrap_or(0.0) / 1000.0).unwrap_or_default();
        let mut request = turnout::RawRequest::new(method, path).with_options(options);
        if let Some(body) = body {
            request = request.body(body.to_vec());
        }
        let built = headers
            .iter()
            .try_fold(request, |request, pair| match pair.as_slice() {
                // fetch sends a header value's characters as Latin-1 bytes, not UTF-8.
                [name, value] => match byte_string(value) {
                    Some(bytes) => request.header_bytes(name, &bytes),
                    None => Err(turnout::Error::Config(format!(
                        "the value of header {name:?} has a character above U+00FF"
                    ))),
                },
                _ => Err(turnout::Error::Config(
                    "headers must be [name, value] pairs".into(),
                )),
            })
            .map(|request| request.answer_within_sdk_timeout(sdk_timeout, spent));
        let client = self.inner.clone();
        let cancel = cancel.map(|c| c.tx.subscribe());
        env.spawn_future(guarded(async move {
            let call = async {
                let answer = match built {
                    Ok(request) => client.send_raw(request).await,
                    Err(e) => Err(e),
                };
                answer.unwrap_or_else(|e| turnout::RawResponse::from_error(&e))
            };
            tokio::select! {
                answer = call => Ok(RawAnswer::new(answer)),
                () = cancelled(cancel) => Err(aborted()),
            }
        }))
    }

    /// `{ active, canaryWeight, version, salt, environments: { blue, green } }`.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn status(&self) -> napi::Result<Value> {
        guard(|| convert::to_js(&self.inner.status()))
    }

    /// Makes `side` active with no canary.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn switch_to(&self, side: String, force: Option<bool>) -> napi::Result<Value> {
        guard(|| {
            let side = side.parse::<turnout::Side>().napi()?;
            let force = force.unwrap_or(false);
            convert::traffic(&self.inner.switch_to_with(side, force).napi()?)
        })
    }

    /// Sends `percent` (0..100) of traffic to the candidate.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn set_canary_weight(&self, percent: f64, force: Option<bool>) -> napi::Result<Value> {
        let force = force.unwrap_or(false);
        guard(|| convert::traffic(&self.inner.set_canary_weight_with(percent, force).napi()?))
    }

    /// Makes the candidate active, weight back to 0.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn promote(&self, force: Option<bool>) -> napi::Result<Value> {
        guard(|| convert::traffic(&self.inner.promote_with(force.unwrap_or(false)).napi()?))
    }

    /// Undoes the last release step (nothing when the last change was a rollback).
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn rollback(&self, reason: String, force: Option<bool>) -> napi::Result<Value> {
        let force = force.unwrap_or(false);
        guard(|| convert::traffic(&self.inner.rollback_with(&reason, force).napi()?))
    }

    /// Probes `side` now.
    #[napi(ts_return_type = "Promise<Record<string, any>>")]
    pub fn health_check<'env>(
        &self,
        env: &'env Env,
        side: String,
    ) -> napi::Result<PromiseRaw<'env, Value>> {
        let side = side.parse::<turnout::Side>().napi()?;
        let client = self.inner.clone();
        env.spawn_future(guarded(async move {
            convert::to_js(&client.health_check(side).await)
        }))
    }

    /// The events kept in memory, oldest first.
    #[napi(ts_return_type = "Array<Record<string, any>>")]
    pub fn history(&self) -> napi::Result<Value> {
        guard(|| convert::to_js(&self.inner.history()))
    }

    /// Calls `callback` with each future event as JSON text, until the subscription's
    /// `unsubscribe()` or the client's `close()`.
    #[napi(ts_args_type = "callback: (event: string) => void")]
    pub fn on_event(&self, callback: EventCallback) -> napi::Result<EventSubscription> {
        guard(|| {
            let subscription = self.inner.subscribe(move |event| {
                if let Ok(value) = convert::to_js(event) {
                    callback.call(value.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
                }
            });
            let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
            self.subscriptions.lock().insert(id, subscription);
            Ok(EventSubscription {
                subscriptions: Arc::downgrade(&self.subscriptions),
                id,
            })
        })
    }

    /// Starts a progressive rollout of the candidate (`{ steps, gates, intervalMs, ... }`).
    #[napi(
        ts_args_type = "plan: Record<string, any>",
        ts_return_type = "Record<string, any> | null"
    )]
    pub fn start_rollout(&self, plan: Value) -> napi::Result<Value> {
        guard(|| {
            let value = crate::options::rollout_plan(plan).map_err(config)?;
            let plan = turnout::RolloutPlan::from_value(value).napi()?;
            // The rollout's evaluations run as a task on the runtime napi drives futures with.
            within_runtime_if_available(|| self.inner.start_rollout(plan)).napi()?;
            self.rollout()
        })
    }

    /// Pauses the rollout at its step.
    #[napi(ts_return_type = "Record<string, any> | null")]
    pub fn pause_rollout(&self) -> napi::Result<Value> {
        guard(|| {
            self.inner.pause_rollout().napi()?;
            self.rollout()
        })
    }

    /// Resumes a paused rollout.
    #[napi(ts_return_type = "Record<string, any> | null")]
    pub fn resume_rollout(&self) -> napi::Result<Value> {
        guard(|| {
            within_runtime_if_available(|| self.inner.resume_rollout()).napi()?;
            self.rollout()
        })
    }

    /// Aborts the rollout: the candidate's weight back to 0.
    #[napi(ts_return_type = "Record<string, any> | null")]
    pub fn abort_rollout(&self, reason: String) -> napi::Result<Value> {
        guard(|| {
            self.inner.abort_rollout(&reason).napi()?;
            self.rollout()
        })
    }

    /// The current rollout's progress, or the last one's outcome; `null` before the first.
    #[napi(ts_return_type = "Record<string, any> | null")]
    pub fn rollout(&self) -> napi::Result<Value> {
        guard(|| match self.inner.rollout() {
            Some(status) => convert::to_js(&status),
            None => Ok(Value::Null),
        })
    }

    /// Takes a checkpoint of the traffic state and routing config.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn checkpoint(&self, name: String) -> napi::Result<Value> {
        self.inner.ensure_open().napi()?;
        guard(|| convert::checkpoint(&self.inner.checkpoint(&name)))
    }

    /// The checkpoints kept, oldest first.
    #[napi(ts_return_type = "Array<Record<string, any>>")]
    pub fn checkpoints(&self) -> napi::Result<Value> {
        guard(|| {
            self.inner
                .checkpoints()
                .iter()
                .map(convert::checkpoint)
                .collect::<napi::Result<Vec<_>>>()
                .map(Value::Array)
        })
    }

    /// Re-applies checkpoint `id`'s traffic state (`force`: even to an unavailable side).
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn restore_checkpoint(&self, id: String, force: Option<bool>) -> napi::Result<Value> {
        let force = force.unwrap_or(false);
        guard(|| convert::traffic(&self.inner.restore_checkpoint_with(&id, force).napi()?))
    }

    /// Replaces `side`'s keys at run time; requests in flight keep theirs.
    #[napi]
    pub fn rotate_keys(&self, side: String, keys: Vec<String>) -> napi::Result<()> {
        guard(|| {
            let side = side.parse::<turnout::Side>().napi()?;
            let keys = keys.into_iter().map(turnout::ApiKey::new).collect();
            self.inner.rotate_keys(side, keys).napi()
        })
    }

    /// The shadow traffic so far, samples redacted.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn shadow_report(&self) -> napi::Result<Value> {
        guard(|| convert::to_js(&self.inner.shadow_report()))
    }

    /// The Prometheus metrics of this client (OpenMetrics text).
    #[napi]
    pub fn metrics_text(&self) -> napi::Result<String> {
        guard(|| Ok(self.inner.metrics_text()))
    }

    /// The address the built-in metrics listener serves on (`metrics.listen`), if any.
    #[napi]
    pub fn metrics_addr(&self) -> napi::Result<Option<String>> {
        guard(|| Ok(self.inner.metrics_addr().map(|a| a.to_string())))
    }

    /// Token and cost totals: overall, by environment, by model and by tag.
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn costs(&self) -> napi::Result<Value> {
        guard(|| {
            convert::to_js_keeping(
                &self.inner.costs(),
                &["by_environment", "by_model", "by_tag"],
            )
        })
    }

    /// Runs the guard's checks and one rollout evaluation now.
    #[napi]
    pub fn tick(&self) {
        self.inner.tick();
    }

    /// Stops background tasks and ends every `onEvent` subscription; later requests fail
    /// with a `closed` error.
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        guard(|| {
            self.inner.close();
            self.subscriptions.lock().clear();
            Ok(())
        })
    }
}
