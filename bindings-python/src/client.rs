//! `BaseClient`: the native half of `turnout.Client` and `turnout.AsyncClient` (the Python
//! classes subclass it and add the OpenAI-style resources).
//!
//! Fork safety: the core client holds a connection pool bound to the runtime of the process
//! that built it. Each call checks the pid; a forked child rebuilds the core client with
//! `turnout::Client::after_fork` (traffic state, version, checkpoints and a running rollout
//! carried over; the metrics listener left to the parent), re-attaches the event callbacks,
//! and leaks the parent's core client, whose sockets and tasks belong to the parent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::{ClientArgs, config_from_source};
use crate::convert::{self, serde_to_py, text_to_py, to_py, to_value};
use crate::errors::to_py_err;
use crate::events::{EventSubscription, Listeners};
use crate::passthrough;
use crate::route::{Deferred, Route};
use crate::runtime;
use crate::stream::{Stream, pump};

/// The core client of one process.
struct Slot {
    pid: u32,
    core: turnout::Client,
    _events: turnout::events::Subscription,
}

/// The native client: configuration, the per-process core client, event callbacks.
#[pyclass(subclass, frozen, module = "turnout._turnout")]
pub struct BaseClient {
    config: turnout::Config,
    slot: AtomicPtr<Slot>,
    listeners: Arc<Listeners>,
    closed: AtomicBool,
}

impl Drop for BaseClient {
    fn drop(&mut self) {
        let slot = *self.slot.get_mut();
        // SAFETY: the slot came from `Box::into_raw`; it is freed only here, and only in the
        // process that built it (a child leaks its parent's, see the module doc).
        unsafe {
            if !slot.is_null() && (*slot).pid == std::process::id() {
                drop(Box::from_raw(slot));
            }
        }
    }
}

/// Starts a core client inside the runtime (its health probes are tasks).
fn start(
    py: Python<'_>,
    config: turnout::Config,
    listeners: &Arc<Listeners>,
) -> PyResult<Box<Slot>> {
    let runtime = runtime::get()?;
    let _entered = runtime.enter();
    let core = turnout::Client::from_config(config).map_err(|e| to_py_err(py, e))?;
    let events = listeners.attach(&core);
    Ok(Box::new(Slot {
        pid: std::process::id(),
        core,
        _events: events,
    }))
}

/// The core client of a forked child, rebuilt from the parent's (`Client::after_fork`).
fn start_forked(
    py: Python<'_>,
    parent: &turnout::Client,
    listeners: &Arc<Listeners>,
) -> PyResult<Box<Slot>> {
    let runtime = runtime::get()?;
    let _entered = runtime.enter();
    let core = parent.after_fork().map_err(|e| to_py_err(py, e))?;
    let events = listeners.attach(&core);
    Ok(Box::new(Slot {
        pid: std::process::id(),
        core,
        _events: events,
    }))
}

impl BaseClient {
    fn with_config(py: Python<'_>, config: turnout::Config) -> PyResult<Self> {
        crate::logs::refresh(py)?;
        let listeners = Listeners::new(py);
        let slot = start(py, config.clone(), &listeners)?;
        Ok(Self {
            config,
            slot: AtomicPtr::new(Box::into_raw(slot)),
            listeners,
            closed: AtomicBool::new(false),
        })
    }

    /// The core client of this process, rebuilt after a fork.
    fn core(&self, py: Python<'_>) -> PyResult<&turnout::Client> {
        let pid = std::process::id();
        let current = self.slot.load(Ordering::Acquire);
        // SAFETY: never null after construction; slots live as long as `self`.
        let slot = unsafe { &*current };
        if slot.pid == pid {
            return Ok(&slot.core);
        }
        // A forked child: the core carries the traffic state, checkpoints and rollout over.
        let fresh = Box::into_raw(start_forked(py, &slot.core, &self.listeners)?);
        if self.closed.load(Ordering::Acquire) {
            // SAFETY: just built, not yet shared.
            unsafe { (*fresh).core.close() };
        }
        match self
            .slot
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // The parent's slot is leaked on purpose.
            // SAFETY: published; lives as long as `self`.
            Ok(_) => Ok(unsafe { &(*fresh).core }),
            Err(winner) => {
                // SAFETY: ours was never published; the winner lives as long as `self`.
                unsafe {
                    drop(Box::from_raw(fresh));
                    Ok(&(*winner).core)
                }
            }
        }
    }

    /// What every request needs, converted while the GIL is held.
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        body: Option<&Bound<'_, PyAny>>,
        routing_key: Option<&Bound<'_, PyAny>>,
        environment: Option<&str>,
        metadata: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        priority: Option<&str>,
    ) -> PyResult<Call> {
        let mut options = convert::options(py, routing_key, environment, metadata, timeout)?;
        options.deadline = deadline
            .map(|d| convert::seconds("deadline", d))
            .transpose()?;
        if let Some(p) = priority {
            options.priority = p.parse().map_err(|e| to_py_err(py, e))?;
        }
        Ok(Call {
            core: self.core(py)?.clone(),
            method: convert::method(method)?,
            path: path.to_owned(),
            body: body.map(to_value).transpose()?,
            options,
        })
    }
}

impl BaseClient {
    /// Runs an operation on the core client with the GIL released (an event callback it
    /// triggers takes the GIL again) and inside the runtime (it may start tasks).
    fn op<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&turnout::Client) -> T + Send,
    ) -> PyResult<T> {
        let core = self.core(py)?;
        runtime::detached(py, || f(core))
    }

    /// Runs an operation that changes traffic: refused with `ClientClosedError` once the
    /// client is closed (the core's check), its error mapped.
    fn change<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&turnout::Client) -> turnout::Result<T> + Send,
    ) -> PyResult<T> {
        self.op(py, |core| core.ensure_open().and_then(|()| f(core)))?
            .map_err(|e| to_py_err(py, e))
    }
}

/// One request, ready to go to the runtime, its body a JSON value (`B = Value`) or JSON text
/// (`B = Bytes`). Answers come back as text and are decoded by Python's `json.loads`, as
/// openai-python decodes them (an integer past 64 bits stays an exact `int`).
struct Call<B = Value> {
    core: turnout::Client,
    method: turnout::Method,
    path: String,
    body: Option<B>,
    options: turnout::RequestOptions,
}

impl Call {
    /// The call with its body encoded as JSON text here, on the caller's thread (see
    /// [`convert::to_text`]): an asyncio call's future runs on the runtime's thread, and body
    /// and answer cross it as one buffer each, not as trees of values allocated on one thread
    /// and freed on the other.
    fn into_text(self) -> PyResult<Call<bytes::Bytes>> {
        Ok(Call {
            body: self.body.as_ref().map(convert::to_text).transpose()?,
            core: self.core,
            method: self.method,
            path: self.path,
            options: self.options,
        })
    }

    async fn stream(self) -> turnout::Result<turnout::RoutedStream<Box<RawValue>>> {
        self.core
            .stream_text(self.method, &self.path, self.body, self.options)
            .await
    }
}

impl Call<bytes::Bytes> {
    async fn send(self) -> turnout::Result<turnout::Routed<Box<RawValue>>> {
        self.core
            .request_text(self.method, &self.path, self.body, self.options)
            .await
    }
}

/// `(data, route)`.
fn answer(py: Python<'_>, routed: turnout::Routed<Box<RawValue>>) -> PyResult<Py<PyAny>> {
    let data = text_to_py(py, routed.data.get())?;
    let route = Py::new(py, Route::from(&routed.route))?;
    Ok(PyTuple::new(py, [data, route.into_any()])?
        .into_any()
        .unbind())
}

#[pymethods]
impl BaseClient {
    #[new]
    #[pyo3(signature = (
        blue=None, green=None, *, active=None, canary_weight=None, sticky=None, rules=None,
        retry=None, model_fallbacks=None, health_check=None, circuit_breaker=None,
        rollback=None, timeout=None, connect_timeout=None, deadline=None,
        stream_first_event_timeout=None, bounds=None, stats_window=None, rate_limit=None,
        pricing=None, state=None, audit_log=None, webhook=None, cost_tag=None, metrics=None,
        cache=None, hedge=None, shadow=None, balance=None, _config=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new<'py>(
        py: Python<'py>,
        blue: Option<Bound<'py, PyAny>>,
        green: Option<Bound<'py, PyAny>>,
        active: Option<String>,
        canary_weight: Option<f64>,
        sticky: Option<bool>,
        rules: Option<Bound<'py, PyAny>>,
        retry: Option<Bound<'py, PyAny>>,
        model_fallbacks: Option<Bound<'py, PyAny>>,
        health_check: Option<Bound<'py, PyAny>>,
        circuit_breaker: Option<Bound<'py, PyAny>>,
        rollback: Option<Bound<'py, PyAny>>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        deadline: Option<f64>,
        stream_first_event_timeout: Option<f64>,
        bounds: Option<Bound<'py, PyAny>>,
        stats_window: Option<f64>,
        rate_limit: Option<Bound<'py, PyAny>>,
        pricing: Option<Bound<'py, PyAny>>,
        state: Option<Bound<'py, PyAny>>,
        audit_log: Option<Bound<'py, PyAny>>,
        webhook: Option<String>,
        cost_tag: Option<String>,
        metrics: Option<Bound<'py, PyAny>>,
        cache: Option<Bound<'py, PyAny>>,
        hedge: Option<Bound<'py, PyAny>>,
        shadow: Option<Bound<'py, PyAny>>,
        balance: Option<String>,
        _config: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let config = match _config {
            Some(source) => config_from_source(py, &source)?,
            None => ClientArgs {
                blue,
                green,
                active,
                canary_weight,
                sticky,
                rules,
                retry,
                model_fallbacks,
                health_check,
                circuit_breaker,
                rollback,
                timeout,
                connect_timeout,
                deadline,
                stream_first_event_timeout,
                bounds,
                stats_window,
                rate_limit,
                pricing,
                state,
                audit_log,
                webhook,
                cost_tag,
                metrics,
                cache,
                hedge,
                shadow,
                balance,
            }
            .into_config(py)?,
        };
        Self::with_config(py, config)
    }

    /// A client from a config file (YAML, TOML or JSON) or a dict of the same shape;
    /// `${VAR}` expands from the environment.
    #[classmethod]
    fn from_config<'py>(
        cls: &Bound<'py, PyType>,
        source: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(cls.py());
        kwargs.set_item("_config", source)?;
        cls.call((), Some(&kwargs))
    }

    /// Sends a request and returns `(data, route)`.
    #[pyo3(signature = (method, path, body=None, routing_key=None, environment=None, metadata=None, timeout=None, deadline=None, priority=None))]
    #[allow(clippy::too_many_arguments)]
    fn _request(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        body: Option<&Bound<'_, PyAny>>,
        routing_key: Option<&Bound<'_, PyAny>>,
        environment: Option<&str>,
        metadata: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        priority: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let call = self
            .prepare(
                py,
                method,
                path,
                body,
                routing_key,
                environment,
                metadata,
                timeout,
                deadline,
                priority,
            )?
            .into_text()?;
        let routed = runtime::wait(py, call.send())?.map_err(|e| to_py_err(py, e))?;
        answer(py, routed)
    }

    /// Opens a stream (returns once its first chunk has arrived).
    #[pyo3(signature = (method, path, body=None, routing_key=None, environment=None, metadata=None, timeout=None, deadline=None, priority=None))]
    #[allow(clippy::too_many_arguments)]
    fn _stream(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        body: Option<&Bound<'_, PyAny>>,
        routing_key: Option<&Bound<'_, PyAny>>,
        environment: Option<&str>,
        metadata: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        priority: Option<&str>,
    ) -> PyResult<Stream> {
        let call = self.prepare(
            py,
            method,
            path,
            body,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline,
            priority,
        )?;
        let pumped = runtime::wait(py, async move { call.stream().await.map(pump) })?
            .map_err(|e| to_py_err(py, e))?;
        Stream::new(py, pumped)
    }

    /// An awaitable of `(data, route)`.
    #[pyo3(signature = (method, path, body=None, routing_key=None, environment=None, metadata=None, timeout=None, deadline=None, priority=None))]
    #[allow(clippy::too_many_arguments)]
    fn _arequest<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        body: Option<&Bound<'py, PyAny>>,
        routing_key: Option<&Bound<'_, PyAny>>,
        environment: Option<&str>,
        metadata: Option<&Bound<'py, PyDict>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        priority: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = self
            .prepare(
                py,
                method,
                path,
                body,
                routing_key,
                environment,
                metadata,
                timeout,
                deadline,
                priority,
            )?
            .into_text()?;
        runtime::future_into_py(py, async move {
            let result = call.send().await;
            Ok(Deferred::new(move |py| match result {
                Ok(routed) => answer(py, routed),
                Err(e) => Err(to_py_err(py, e)),
            }))
        })
    }

    /// An awaitable of a `Stream` (resolved once its first chunk has arrived).
    #[pyo3(signature = (method, path, body=None, routing_key=None, environment=None, metadata=None, timeout=None, deadline=None, priority=None))]
    #[allow(clippy::too_many_arguments)]
    fn _astream<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        body: Option<&Bound<'py, PyAny>>,
        routing_key: Option<&Bound<'_, PyAny>>,
        environment: Option<&str>,
        metadata: Option<&Bound<'py, PyDict>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        priority: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = self.prepare(
            py,
            method,
            path,
            body,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline,
            priority,
        )?;
        runtime::future_into_py(py, async move {
            let result = call.stream().await.map(pump);
            Ok(Deferred::new(move |py| match result {
                Ok(pumped) => Ok(Py::new(py, Stream::new(py, pumped)?)?.into_any()),
                Err(e) => Err(to_py_err(py, e)),
            }))
        })
    }

    /// For the httpx transports: passes a request through and returns
    /// `(status, headers, body bytes | Stream)` — the side's answer as sent, or the synthetic
    /// answer standing for a failure without one.
    #[pyo3(signature = (method, path, headers, body=None, timeout=None))]
    fn _passthrough(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: passthrough::Headers,
        body: Option<Vec<u8>>,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let request = match passthrough::request(method, path, headers, body, timeout) {
            Ok(r) => r,
            Err(e) => return passthrough::answer(py, turnout::RawResponse::from_error(&e)),
        };
        let core = self.core(py)?.clone();
        let answer = runtime::wait(py, async move { core.send_raw(request).await })?
            .unwrap_or_else(|e| turnout::RawResponse::from_error(&e));
        passthrough::answer(py, answer)
    }

    /// The awaitable form of `_passthrough`.
    #[pyo3(signature = (method, path, headers, body=None, timeout=None))]
    fn _apassthrough<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        headers: passthrough::Headers,
        body: Option<Vec<u8>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = passthrough::request(method, path, headers, body, timeout);
        let core = self.core(py)?.clone();
        runtime::future_into_py(py, async move {
            let answer = match request {
                Ok(r) => core
                    .send_raw(r)
                    .await
                    .unwrap_or_else(|e| turnout::RawResponse::from_error(&e)),
                Err(e) => turnout::RawResponse::from_error(&e),
            };
            Ok(Deferred::new(move |py| passthrough::answer(py, answer)))
        })
    }

    /// The traffic state, per-side health, circuits and window statistics.
    fn _status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let status = self.op(py, |core| core.status())?;
        serde_to_py(py, &status)
    }

    /// Makes `environment` active with no canary (`force`: even when it is unavailable).
    #[pyo3(signature = (environment, force = false))]
    fn _switch_to(&self, py: Python<'_>, environment: &str, force: bool) -> PyResult<Py<PyAny>> {
        let side = convert::side(py, environment)?;
        let state = self.change(py, |core| core.switch_to_with(side, force))?;
        convert::traffic(py, &state)
    }

    /// Sends `percent` (0..=100) of traffic to the candidate.
    #[pyo3(signature = (percent, force = false))]
    fn _set_canary_weight(&self, py: Python<'_>, percent: f64, force: bool) -> PyResult<Py<PyAny>> {
        let state = self.change(py, |core| core.set_canary_weight_with(percent, force))?;
        convert::traffic(py, &state)
    }

    /// Makes the candidate active, weight back to 0.
    #[pyo3(signature = (force = false))]
    fn _promote(&self, py: Python<'_>, force: bool) -> PyResult<Py<PyAny>> {
        let state = self.change(py, |core| core.promote_with(force))?;
        convert::traffic(py, &state)
    }

    /// Undoes the last release step (nothing when the last change was a rollback).
    #[pyo3(signature = (reason, force = false))]
    fn _rollback(&self, py: Python<'_>, reason: &str, force: bool) -> PyResult<Py<PyAny>> {
        let state = self.change(py, |core| core.rollback_with(reason, force))?;
        convert::traffic(py, &state)
    }

    /// Probes `environment` now (blocking).
    fn _health_check(&self, py: Python<'_>, environment: &str) -> PyResult<Py<PyAny>> {
        let side = convert::side(py, environment)?;
        let core = self.core(py)?.clone();
        let probe = runtime::wait(py, async move { core.health_check(side).await })?;
        serde_to_py(py, &probe)
    }

    /// An awaitable probe of `environment`.
    fn _ahealth_check<'py>(
        &self,
        py: Python<'py>,
        environment: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let side = convert::side(py, environment)?;
        let core = self.core(py)?.clone();
        runtime::future_into_py(py, async move {
            let probe = core.health_check(side).await;
            Ok(Deferred::new(move |py| serde_to_py(py, &probe)))
        })
    }

    /// The events kept in memory, oldest first.
    fn _history(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let events = self.op(py, |core| core.history())?;
        let values: Vec<Value> = events.iter().map(|e| e.to_json()).collect();
        to_py(py, &Value::Array(values))
    }

    /// Calls `callback(event)` for every future event.
    fn _on_event(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<EventSubscription> {
        if !callback.bind(py).is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "on_event takes a callable",
            ));
        }
        self.core(py)?;
        self.listeners.add(py, callback.clone_ref(py))?;
        Ok(EventSubscription::new(
            Arc::clone(&self.listeners),
            callback,
        ))
    }

    /// Stops background tasks; later requests raise ClientClosedError.
    fn _close(&self, py: Python<'_>) -> PyResult<()> {
        self.closed.store(true, Ordering::Release);
        self.op(py, |core| core.close())
    }

    /// Starts a progressive rollout of the candidate.
    fn _start_rollout(&self, py: Python<'_>, plan: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let plan = crate::config::rollout_plan(py, plan)?;
        let status = self.change(py, move |core| {
            core.start_rollout(plan).map(|()| core.rollout())
        })?;
        serde_to_py(py, &status)
    }

    /// Pauses the rollout at its step.
    fn _pause_rollout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let status = self.change(py, |core| core.pause_rollout().map(|()| core.rollout()))?;
        serde_to_py(py, &status)
    }

    /// Resumes a paused rollout.
    fn _resume_rollout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let status = self.change(py, |core| core.resume_rollout().map(|()| core.rollout()))?;
        serde_to_py(py, &status)
    }

    /// Aborts the rollout: the candidate's weight goes back to 0.
    fn _abort_rollout(&self, py: Python<'_>, reason: &str) -> PyResult<Py<PyAny>> {
        let status = self.change(py, |core| {
            core.abort_rollout(reason).map(|()| core.rollout())
        })?;
        serde_to_py(py, &status)
    }

    /// Runs the guard's checks and one rollout evaluation now.
    fn _tick(&self, py: Python<'_>) -> PyResult<()> {
        self.op(py, |core| core.tick())
    }

    /// The current (or last) rollout's progress, or None before the first.
    fn _rollout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let status = self.op(py, |core| core.rollout())?;
        serde_to_py(py, &status)
    }

    /// Takes a checkpoint named `name`.
    fn _checkpoint(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let checkpoint = self.change(py, |core| Ok(core.checkpoint(name)))?;
        serde_to_py(py, &checkpoint)
    }

    /// The checkpoints kept, oldest first.
    fn _checkpoints(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = self.op(py, |core| core.checkpoints())?;
        serde_to_py(py, &list)
    }

    /// Re-applies checkpoint `id`'s traffic state (`force`: even to an unavailable side).
    #[pyo3(signature = (id, force = false))]
    fn _restore_checkpoint(&self, py: Python<'_>, id: &str, force: bool) -> PyResult<Py<PyAny>> {
        let state = self.change(py, |core| core.restore_checkpoint_with(id, force))?;
        convert::traffic(py, &state)
    }

    /// The Prometheus metrics, as OpenMetrics text.
    fn _metrics_text(&self, py: Python<'_>) -> PyResult<String> {
        self.op(py, |core| core.metrics_text())
    }

    /// The address the built-in metrics listener serves on (`metrics.listen`), if any.
    fn _metrics_address(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.op(py, |core| core.metrics_addr().map(|a| a.to_string()))
    }

    /// Token and cost totals: overall, by environment, by model and by tag.
    fn _costs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let costs = self.op(py, |core| core.costs())?;
        serde_to_py(py, &costs)
    }

    /// Replaces `environment`'s keys at run time; requests in flight keep theirs.
    fn _rotate_keys(&self, py: Python<'_>, environment: &str, keys: Vec<String>) -> PyResult<()> {
        let side = convert::side(py, environment)?;
        let keys = keys.into_iter().map(turnout::ApiKey::new).collect();
        self.change(py, |core| core.rotate_keys(side, keys))
    }

    /// The shadow traffic so far, samples redacted.
    fn _shadow_report(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let report = self.op(py, |core| core.shadow_report())?;
        serde_to_py(py, &report)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        self.listeners.traverse(visit)
    }

    fn __clear__(&self) {
        // A callback that refers to its client makes a cycle through the callback list.
        Python::attach(|py| self.listeners.clear(py));
    }

    /// Whether `close()` was called.
    #[getter]
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let me = slf.get();
        let name = slf.get_type().name()?;
        let core = me.core(py)?;
        let state = core.traffic();
        let env = |side: turnout::Side| {
            let e = me.config.environments.get(side);
            match e.label_str() {
                Some(label) => format!("{side}={} ({label})", convert::quote(&e.shown_url())),
                None => format!("{side}={}", convert::quote(&e.shown_url())),
            }
        };
        Ok(format!(
            "<turnout.{name} {}, {}, active={}, canary_weight={}>",
            env(turnout::Side::Blue),
            env(turnout::Side::Green),
            state.active,
            state.canary_weight()
        ))
    }
}
