//! `Route`: how one answer was served, and `Deferred`, a value converted to Python only once
//! the GIL is held (the results of asyncio futures are built on the event loop's thread, never
//! on the runtime's).

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// How one request was served.
#[pyclass(frozen, get_all, module = "turnout._turnout")]
pub struct Route {
    /// `"blue"` or `"green"`.
    environment: String,
    /// That side's label.
    label: Option<String>,
    /// The model that answered.
    model: Option<String>,
    /// The model asked for, when a fallback answered instead.
    fallback_from: Option<String>,
    /// The model name sent to the side, after its `models` map.
    upstream_model: Option<String>,
    /// Why the first side was chosen: `pinned`, `rule`, `sticky`, `random` or `affinity`.
    reason: &'static str,
    /// HTTP attempts made, failovers included.
    attempts: u32,
    /// Time from the call to the answer (streams: to the first chunk), in ms.
    latency_ms: f64,
    /// Cost in USD, when the model's price and the usage are known.
    cost_usd: Option<f64>,
    /// Whether the answer came from the response cache.
    cached: bool,
}

impl From<&turnout::RouteInfo> for Route {
    fn from(r: &turnout::RouteInfo) -> Self {
        Self {
            environment: r.environment.as_str().to_owned(),
            label: r.label.clone(),
            model: r.model.clone(),
            fallback_from: r.fallback_from.clone(),
            upstream_model: r.upstream_model.clone(),
            reason: r.reason,
            attempts: r.attempts,
            latency_ms: r.latency_ms,
            cost_usd: r.cost_usd,
            cached: r.cached,
        }
    }
}

#[pymethods]
impl Route {
    /// The route as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("environment", &self.environment)?;
        d.set_item("label", &self.label)?;
        d.set_item("model", &self.model)?;
        d.set_item("fallback_from", &self.fallback_from)?;
        d.set_item("upstream_model", &self.upstream_model)?;
        d.set_item("reason", self.reason)?;
        d.set_item("attempts", self.attempts)?;
        d.set_item("latency_ms", self.latency_ms)?;
        d.set_item("cost_usd", self.cost_usd)?;
        d.set_item("cached", self.cached)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Route(environment={}, label={}, model={}, fallback_from={}, attempts={}, latency_ms={:.1}, cost_usd={})",
            crate::convert::quote(&self.environment),
            opt(&self.label),
            opt(&self.model),
            opt(&self.fallback_from),
            self.attempts,
            self.latency_ms,
            self.cost_usd.map_or("None".to_owned(), |c| c.to_string()),
        )
    }
}

fn opt(s: &Option<String>) -> String {
    s.as_ref()
        .map_or("None".to_owned(), |s| crate::convert::quote(s))
}

type Convert = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send>;

/// The result of an asyncio future, converted to Python when the event loop sets it. An `Err`
/// becomes the future's exception.
pub struct Deferred(Convert);

impl Deferred {
    /// A result made by `f` once the GIL is held.
    pub fn new(
        f: impl for<'py> FnOnce(Python<'py>) -> PyResult<Py<PyAny>> + Send + 'static,
    ) -> Self {
        Self(Box::new(f))
    }

    /// Makes the value (the GIL is held).
    pub fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        (self.0)(py)
    }
}
