//! The configuration classes (`Environment`, `Rule`, `RetryPolicy`, …) and the building of a
//! `turnout::Config` from the constructor's arguments: everything becomes one JSON value of the
//! config-file shape and goes through `Config::from_value`, so validation stays in the core.

use std::collections::BTreeMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::convert::{quote, to_py, to_value};
use crate::errors::{config_error, to_py_err};

/// `api_key`: one key, or a list of keys (a pool used round-robin).
#[derive(FromPyObject)]
enum Keys {
    One(String),
    Many(Vec<String>),
}

/// One upstream: base URL, its own key and how it is sent, a label, extra headers, a query,
/// model names, a timeout.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct Environment {
    base_url: String,
    api_key: turnout::ApiKey,
    /// Further keys of a pool (`api_key` given as a list).
    more_keys: Vec<turnout::ApiKey>,
    auth: Option<String>,
    label: Option<String>,
    headers: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
    models: BTreeMap<String, String>,
    timeout: Option<f64>,
}

#[pymethods]
impl Environment {
    #[new]
    #[pyo3(signature = (base_url, api_key=None, *, label=None, headers=None, timeout=None, auth=None, query=None, models=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        base_url: String,
        api_key: Option<Keys>,
        label: Option<String>,
        headers: Option<BTreeMap<String, String>>,
        timeout: Option<f64>,
        auth: Option<String>,
        query: Option<BTreeMap<String, String>>,
        models: Option<BTreeMap<String, String>>,
    ) -> Self {
        let mut keys = match api_key {
            None => Vec::new(),
            Some(Keys::One(k)) => vec![k],
            Some(Keys::Many(ks)) => ks,
        }
        .into_iter()
        .map(turnout::ApiKey::new);
        Self {
            base_url,
            api_key: keys.next().unwrap_or_else(|| turnout::ApiKey::new("")),
            more_keys: keys.collect(),
            auth,
            label,
            headers: headers.unwrap_or_default(),
            query: query.unwrap_or_default(),
            models: models.unwrap_or_default(),
            timeout,
        }
    }

    /// How the key is sent: `"bearer"` (default), `"api-key"` or `"x-api-key"`.
    #[getter]
    fn auth(&self) -> &str {
        self.auth.as_deref().unwrap_or("bearer")
    }

    /// Query parameters sent with every request to this environment.
    #[getter]
    fn query(&self) -> BTreeMap<String, String> {
        self.query.clone()
    }

    /// The names this side knows models by.
    #[getter]
    fn models(&self) -> BTreeMap<String, String> {
        self.models.clone()
    }

    /// The base URL, e.g. `https://api.openai.com/v1`.
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The label shown in routes, status and events.
    #[getter]
    fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Extra headers sent with every request to this environment.
    #[getter]
    fn headers(&self) -> BTreeMap<String, String> {
        self.headers.clone()
    }

    /// This environment's own request timeout in seconds, if set.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.timeout
    }

    /// A fingerprint of the key (`sk-…abcd`); the key itself is never readable.
    #[getter]
    fn key_fingerprint(&self) -> String {
        self.api_key.fingerprint()
    }

    fn __repr__(&self) -> String {
        let shown = turnout::SecretUrl::from(self.base_url.as_str()).to_string();
        let mut s = format!("Environment({}", quote(&shown));
        if let Some(label) = &self.label {
            s.push_str(&format!(", label={}", quote(label)));
        }
        s.push_str(&format!(
            ", api_key={})",
            quote(&self.api_key.fingerprint())
        ));
        s
    }
}

impl Environment {
    /// The config-file form, key included (it goes to the core only).
    fn to_config(&self) -> Value {
        let mut map = Map::new();
        map.insert("base_url".into(), json!(self.base_url));
        if self.more_keys.is_empty() {
            map.insert("api_key".into(), json!(self.api_key.expose()));
        } else {
            let all: Vec<&str> = std::iter::once(&self.api_key)
                .chain(&self.more_keys)
                .map(turnout::ApiKey::expose)
                .collect();
            map.insert("api_key".into(), json!(all));
        }
        if let Some(label) = &self.label {
            map.insert("label".into(), json!(label));
        }
        if !self.headers.is_empty() {
            map.insert("headers".into(), json!(self.headers));
        }
        if let Some(t) = self.timeout {
            map.insert("timeout".into(), json!(t));
        }
        if let Some(auth) = &self.auth {
            map.insert("auth".into(), json!(auth));
        }
        if !self.query.is_empty() {
            map.insert("query".into(), json!(self.query));
        }
        if !self.models.is_empty() {
            map.insert("models".into(), json!(self.models));
        }
        Value::Object(map)
    }
}

/// Sends the requests whose metadata has every `match` pair to `environment`.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct Rule {
    value: Value,
}

#[pymethods]
impl Rule {
    #[new]
    #[pyo3(signature = (r#match, environment))]
    fn new(r#match: &Bound<'_, PyDict>, environment: &str) -> PyResult<Self> {
        let value = json!({ "match": to_value(r#match.as_any())?, "environment": environment });
        let value = typed::<turnout::config::Rule>("rule", value)?;
        Ok(Self { value })
    }

    /// The metadata pairs a request must have.
    #[getter(r#match)]
    fn get_match(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.value["match"])
    }

    /// The side matching requests go to.
    #[getter]
    fn environment(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.value["environment"])
    }

    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(py, "Rule", &self.value, &["match", "environment"])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Self>()
            .is_ok_and(|o| o.get().value == self.value)
    }
}

impl Rule {
    /// The rule's config value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// Deserializes `value` as `T` (naming the offending field) and serializes it back, defaults
/// filled in.
fn typed<T: Serialize + DeserializeOwned>(section: &str, value: Value) -> PyResult<Value> {
    let parsed: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            config_error(format!("{section}: {}", e.inner()))
        } else {
            config_error(format!("{section}.{path}: {}", e.inner()))
        }
    })?;
    serde_json::to_value(parsed).map_err(|e| config_error(format!("{section}: {e}")))
}

/// A section's value: the core's defaults, overridden by the keyword arguments given (an
/// explicit `None` included: it turns an optional gate off).
fn section<T: Serialize + DeserializeOwned + Default>(
    class: &str,
    section: &str,
    fields: &[&str],
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Value> {
    let mut map = match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let name = k.cast::<PyString>()?.to_str()?.to_owned();
            if !fields.contains(&name.as_str()) {
                let hint = turnout::config::suggest(&name, fields)
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return Err(PyTypeError::new_err(format!(
                    "{class}() got an unexpected keyword argument '{name}'{hint}"
                )));
            }
            map.insert(name, to_value(&v)?);
        }
    }
    typed::<T>(section, Value::Object(map))
}

/// `Name(a=1, b='x')` from the fields of a JSON object, Python reprs for the values.
fn repr(py: Python<'_>, class: &str, value: &Value, fields: &[&str]) -> PyResult<String> {
    let mut parts = Vec::with_capacity(fields.len());
    for field in fields {
        let v = value.get(*field).unwrap_or(&Value::Null);
        let r = to_py(py, v)?.bind(py).repr()?.to_string();
        parts.push(format!("{field}={r}"));
    }
    Ok(format!("{class}({})", parts.join(", ")))
}

/// A configuration section class wrapping one of the core's policy structs: keyword-only
/// arguments, the core's defaults, one read-only attribute per field.
macro_rules! section_class {
    ($(#[$doc:meta])* $name:ident, $core:ty, $section:literal, $sig:literal, [$($field:ident),+ $(,)?]) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "turnout._turnout")]
        pub struct $name {
            value: Value,
        }

        #[pymethods]
        impl $name {
            #[new]
            #[pyo3(signature = (**kwargs), text_signature = $sig)]
            fn new(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
                let value = section::<$core>(
                    stringify!($name),
                    $section,
                    &[$(stringify!($field)),+],
                    kwargs,
                )?;
                Ok(Self { value })
            }

            $(
                #[getter]
                fn $field(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                    to_py(py, self.value.get(stringify!($field)).unwrap_or(&Value::Null))
                }
            )+

            /// The config-file form of this section.
            fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                to_py(py, &self.value)
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                repr(py, stringify!($name), &self.value, &[$(stringify!($field)),+])
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other
                    .cast::<Self>()
                    .is_ok_and(|o| o.get().value == self.value)
            }
        }

        impl $name {
            /// The section's config value.
            pub fn value(&self) -> &Value {
                &self.value
            }
        }
    };
}

section_class!(
    /// Retries: attempts (failovers included), backoff, `Retry-After` cap and retry budget.
    RetryPolicy,
    turnout::config::RetryPolicy,
    "retry",
    "(*, max_attempts=..., initial_backoff=..., max_backoff=..., multiplier=..., jitter=..., max_retry_after=..., budget_ratio=..., budget_min_per_sec=...)",
    [max_attempts, initial_backoff, max_backoff, multiplier, jitter, max_retry_after, budget_ratio, budget_min_per_sec]
);

section_class!(
    /// Active health probes of each side.
    HealthCheck,
    turnout::config::HealthCheck,
    "health_check",
    "(*, enabled=..., interval=..., timeout=..., path=..., unhealthy_threshold=..., healthy_threshold=...)",
    [enabled, interval, timeout, path, unhealthy_threshold, healthy_threshold]
);

section_class!(
    /// The circuit breaker of each side.
    CircuitBreaker,
    turnout::config::CircuitBreaker,
    "circuit_breaker",
    "(*, failure_threshold=..., failure_rate=..., window_size=..., min_calls=..., cooldown=...)",
    [failure_threshold, failure_rate, window_size, min_calls, cooldown]
);

section_class!(
    /// The gates judging the candidate (automatic rollback, rollout gates).
    RollbackPolicy,
    turnout::config::RollbackPolicy,
    "rollback",
    "(*, max_error_rate=..., min_success_rate=..., max_p99_latency_ms=..., max_p99_ttft_ms=..., max_error_rate_delta=..., max_rate_limited_rate=..., window=..., min_requests=..., action=..., max_cost_per_request_usd=..., max_cost_ratio=..., max_output_tokens_ratio=..., min_cached_token_share=..., shadow_max_tool_mismatch_rate=..., shadow_max_invalid_json_rate=..., shadow_max_cost_ratio=...)",
    [max_error_rate, min_success_rate, max_p99_latency_ms, max_p99_ttft_ms, max_error_rate_delta, max_rate_limited_rate, window, min_requests, action, max_cost_per_request_usd, max_cost_ratio, max_output_tokens_ratio, min_cached_token_share, shadow_max_tool_mismatch_rate, shadow_max_invalid_json_rate, shadow_max_cost_ratio]
);

section_class!(
    /// Client-side limits: requests and tokens per minute, requests in flight.
    RateLimit,
    turnout::config::RateLimit,
    "rate_limit",
    "(*, requests_per_minute=..., tokens_per_minute=..., max_concurrency=..., priority_aging=...)",
    [requests_per_minute, tokens_per_minute, max_concurrency, priority_aging]
);

/// One step of a progressive rollout: the candidate's weight (percent), how long to hold it
/// (seconds), and how many candidate requests it must see before the next step.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct Step {
    value: Value,
}

#[pymethods]
impl Step {
    #[new]
    #[pyo3(signature = (weight, hold=0.0, min_requests=0, shadow=false))]
    fn new(weight: f64, hold: f64, min_requests: u64, shadow: bool) -> PyResult<Self> {
        let mut value = json!({ "weight": weight, "hold": hold, "min_requests": min_requests });
        if shadow {
            value["shadow"] = Value::Bool(true);
        }
        Ok(Self {
            value: typed::<turnout::Step>("step", value)?,
        })
    }

    /// The candidate's share in percent.
    #[getter]
    fn weight(&self) -> f64 {
        self.value["weight"].as_f64().unwrap_or_default()
    }

    /// The least time spent at this step, in seconds.
    #[getter]
    fn hold(&self) -> f64 {
        self.value["hold"].as_f64().unwrap_or_default()
    }

    /// The least candidate requests seen at this step before it may advance.
    #[getter]
    fn min_requests(&self) -> u64 {
        self.value["min_requests"].as_u64().unwrap_or_default()
    }

    /// A first step at weight 0 judged on shadow traffic alone.
    #[getter]
    fn shadow(&self) -> bool {
        self.value["shadow"].as_bool().unwrap_or_default()
    }

    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(py, "Step", &self.value, &["weight", "hold", "min_requests"])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Self>()
            .is_ok_and(|o| o.get().value == self.value)
    }
}

impl Step {
    /// The step's value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// A progressive rollout: steps of rising weight (the last at 100), judged by `gates` every
/// `interval` seconds; `failure_limit` failed evaluations are tolerated; past
/// `step_deadline` without enough data the rollout pauses.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct RolloutPlan {
    value: Value,
}

#[pymethods]
impl RolloutPlan {
    #[new]
    #[pyo3(signature = (steps, *, gates=None, interval=None, failure_limit=None, step_deadline=None))]
    fn new(
        steps: &Bound<'_, PyAny>,
        gates: Option<&Bound<'_, PyAny>>,
        interval: Option<f64>,
        failure_limit: Option<u32>,
        step_deadline: Option<f64>,
    ) -> PyResult<Self> {
        let mut list = Vec::new();
        for step in steps.try_iter()? {
            list.push(section_value::<Step>(&step?, Step::value)?);
        }
        let mut map = Map::new();
        map.insert("steps".into(), Value::Array(list));
        if let Some(gates) = gates {
            map.insert(
                "gates".into(),
                section_value::<RollbackPolicy>(gates, RollbackPolicy::value)?,
            );
        }
        if let Some(i) = interval {
            map.insert("interval".into(), json!(i));
        }
        if let Some(n) = failure_limit {
            map.insert("failure_limit".into(), json!(n));
        }
        if let Some(d) = step_deadline {
            map.insert("step_deadline".into(), json!(d));
        }
        Ok(Self {
            value: plan_value(Value::Object(map))?,
        })
    }

    /// The steps.
    #[getter]
    fn steps(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = pyo3::types::PyList::empty(py);
        for step in self.value["steps"].as_array().into_iter().flatten() {
            list.append(Py::new(
                py,
                Step {
                    value: step.clone(),
                },
            )?)?;
        }
        Ok(list.into_any().unbind())
    }

    /// The gates judging each step.
    #[getter]
    fn gates(&self) -> RollbackPolicy {
        RollbackPolicy {
            value: self.value["gates"].clone(),
        }
    }

    /// Seconds between evaluations.
    #[getter]
    fn interval(&self) -> f64 {
        self.value["interval"].as_f64().unwrap_or_default()
    }

    /// Failed evaluations tolerated over the whole rollout.
    #[getter]
    fn failure_limit(&self) -> u64 {
        self.value["failure_limit"].as_u64().unwrap_or_default()
    }

    /// Longest time (seconds) a step may wait for enough data before the rollout pauses.
    #[getter]
    fn step_deadline(&self) -> Option<f64> {
        self.value["step_deadline"].as_f64()
    }

    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_py(py, &self.value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let steps = self.value["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|step| repr(py, "Step", step, &["weight", "hold", "min_requests"]))
            .collect::<PyResult<Vec<_>>>()?;
        let gates = self.gates().__repr__(py)?;
        let rest = repr(
            py,
            "",
            &self.value,
            &["interval", "failure_limit", "step_deadline"],
        )?;
        Ok(format!(
            "RolloutPlan(steps=[{}], gates={gates}, {}",
            steps.join(", "),
            rest.trim_start_matches('(')
        ))
    }
}

/// A plan's value, validated by the core (which names the offending field).
fn plan_value(value: Value) -> PyResult<Value> {
    let plan = turnout::RolloutPlan::from_value(value)
        .map_err(|e| Python::attach(|py| to_py_err(py, e)))?;
    serde_json::to_value(plan).map_err(|e| config_error(format!("rollout plan: {e}")))
}

/// A rollout plan argument: a `RolloutPlan` or a dict of the same shape.
pub fn rollout_plan(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<turnout::RolloutPlan> {
    let value = section_value::<RolloutPlan>(obj, RolloutPlan::value)?;
    turnout::RolloutPlan::from_value(value).map_err(|e| to_py_err(py, e))
}

impl RolloutPlan {
    /// The plan's value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// The value of one section argument: the section class, or a plain dict.
fn section_value<T>(obj: &Bound<'_, PyAny>, get: fn(&T) -> &Value) -> PyResult<Value>
where
    T: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync,
{
    match obj.cast::<T>() {
        Ok(section) => Ok(get(section.get()).clone()),
        Err(_) => to_value(obj),
    }
}

/// An environment argument: an `Environment`, a base URL, or a dict of the file form.
fn environment_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(env) = obj.cast::<Environment>() {
        return Ok(env.get().to_config());
    }
    if let Ok(url) = obj.cast::<PyString>() {
        return Ok(json!({ "base_url": url.to_str()? }));
    }
    to_value(obj)
}

/// The keyword arguments of the client constructors.
pub struct ClientArgs<'py> {
    pub blue: Option<Bound<'py, PyAny>>,
    pub green: Option<Bound<'py, PyAny>>,
    pub active: Option<String>,
    pub canary_weight: Option<f64>,
    pub sticky: Option<bool>,
    pub rules: Option<Bound<'py, PyAny>>,
    pub retry: Option<Bound<'py, PyAny>>,
    pub model_fallbacks: Option<Bound<'py, PyAny>>,
    pub health_check: Option<Bound<'py, PyAny>>,
    pub circuit_breaker: Option<Bound<'py, PyAny>>,
    pub rollback: Option<Bound<'py, PyAny>>,
    pub timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub deadline: Option<f64>,
    pub stream_first_event_timeout: Option<f64>,
    pub bounds: Option<Bound<'py, PyAny>>,
    pub stats_window: Option<f64>,
    pub rate_limit: Option<Bound<'py, PyAny>>,
    pub pricing: Option<Bound<'py, PyAny>>,
    pub state: Option<Bound<'py, PyAny>>,
    pub audit_log: Option<Bound<'py, PyAny>>,
    pub webhook: Option<String>,
    pub cost_tag: Option<String>,
    pub metrics: Option<Bound<'py, PyAny>>,
    pub cache: Option<Bound<'py, PyAny>>,
    pub hedge: Option<Bound<'py, PyAny>>,
    pub shadow: Option<Bound<'py, PyAny>>,
    pub balance: Option<String>,
}

impl ClientArgs<'_> {
    /// The config these arguments describe, validated by the core.
    pub fn into_config(self, py: Python<'_>) -> PyResult<turnout::Config> {
        let mut map = Map::new();
        let mut envs = Map::new();
        if let Some(blue) = &self.blue {
            envs.insert("blue".into(), environment_value(blue)?);
        }
        if let Some(green) = &self.green {
            envs.insert("green".into(), environment_value(green)?);
        }
        map.insert("environments".into(), Value::Object(envs));
        if let Some(active) = self.active {
            map.insert("active".into(), json!(active));
        }
        if let Some(w) = self.canary_weight {
            map.insert("canary_weight".into(), json!(w));
        }
        if let Some(sticky) = self.sticky {
            map.insert("sticky".into(), json!(sticky));
        }
        if let Some(rules) = &self.rules {
            let mut list = Vec::new();
            for rule in rules.try_iter()? {
                let rule = rule?;
                list.push(section_value::<Rule>(&rule, Rule::value)?);
            }
            map.insert("rules".into(), Value::Array(list));
        }
        let sections = [
            ("retry", &self.retry),
            ("health_check", &self.health_check),
            ("circuit_breaker", &self.circuit_breaker),
            ("rollback", &self.rollback),
            ("rate_limit", &self.rate_limit),
        ];
        for (key, obj) in sections {
            if let Some(obj) = obj {
                let value = match key {
                    "retry" => section_value::<RetryPolicy>(obj, RetryPolicy::value)?,
                    "health_check" => section_value::<HealthCheck>(obj, HealthCheck::value)?,
                    "circuit_breaker" => {
                        section_value::<CircuitBreaker>(obj, CircuitBreaker::value)?
                    }
                    "rollback" => section_value::<RollbackPolicy>(obj, RollbackPolicy::value)?,
                    _ => section_value::<RateLimit>(obj, RateLimit::value)?,
                };
                map.insert(key.into(), value);
            }
        }
        for (key, obj) in [
            ("model_fallbacks", &self.model_fallbacks),
            ("pricing", &self.pricing),
            ("state", &self.state),
            ("metrics", &self.metrics),
            ("cache", &self.cache),
            ("bounds", &self.bounds),
            ("hedge", &self.hedge),
            ("shadow", &self.shadow),
        ] {
            if let Some(obj) = obj {
                map.insert(key.into(), to_value(obj)?);
            }
        }
        for (key, secs) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("deadline", self.deadline),
            (
                "stream_first_event_timeout",
                self.stream_first_event_timeout,
            ),
            ("stats_window", self.stats_window),
        ] {
            if let Some(secs) = secs {
                map.insert(key.into(), json!(secs));
            }
        }
        if let Some(path) = &self.audit_log {
            let os = py.import("os")?;
            let path = os.call_method1("fspath", (path,))?;
            map.insert("audit_log".into(), to_value(&path)?);
        }
        if let Some(url) = self.webhook {
            map.insert("webhook".into(), json!(url));
        }
        if let Some(tag) = self.cost_tag {
            map.insert("cost_tag".into(), json!(tag));
        }
        if let Some(balance) = self.balance {
            map.insert("balance".into(), json!(balance));
        }
        turnout::Config::from_value(Value::Object(map)).map_err(|e| to_py_err(py, e))
    }
}

/// A config from a file path (YAML, TOML or JSON) or a dict of the same shape.
pub fn config_from_source(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<turnout::Config> {
    if source.cast::<PyDict>().is_ok() {
        return turnout::Config::from_value(to_value(source)?).map_err(|e| to_py_err(py, e));
    }
    let os = py.import("os")?;
    let path = os.call_method1("fspath", (source,)).map_err(|_| {
        PyTypeError::new_err("from_config takes a path (str or os.PathLike) or a dict")
    })?;
    let path: String = path.extract()?;
    turnout::Config::from_file(path).map_err(|e| to_py_err(py, e))
}

/// The name in `candidates` that `unknown` most likely meant (a typo, or another case
/// convention), by the rule config files use; `None` when none is close.
#[pyfunction]
pub fn _suggest(unknown: &str, candidates: Vec<String>) -> Option<String> {
    let names: Vec<&str> = candidates.iter().map(String::as_str).collect();
    turnout::config::suggest(unknown, &names).map(str::to_owned)
}
