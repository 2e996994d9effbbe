//! `turnout._turnout`: the native module behind the `turnout` Python package.
//!
//! The binding converts values, maps errors, bridges async and adapts callbacks; every routing
//! decision is made by the `turnout` crate.

mod bridge;
mod client;
mod config;
mod convert;
mod errors;
mod events;
mod logs;
mod passthrough;
mod route;
mod runtime;
mod stream;

use pyo3::prelude::*;

/// The sticky bucket (0..10000) of `key` under `salt`: the routing function every turnout
/// client shares, exposed for the conformance tests.
#[pyfunction]
fn bucket(salt: &str, key: &str) -> u32 {
    turnout::routing::bucket(salt, key)
}

/// Test-only (not part of the API): panics inside turnout at `at` — `"block_on"` (a blocking
/// request's wait), `"detached"` (an operation), `"async"` (an awaitable's task) or `"result"`
/// (making an awaitable's result) — so that the suite can check the caller gets a
/// `TurnoutError`, never a hang or an abort. Always compiled: a panic hook has to be tested in
/// the wheel users get.
#[pyfunction]
fn _test_panic(py: Python<'_>, at: &str) -> PyResult<Py<PyAny>> {
    fn injected() -> ! {
        panic!("injected panic (turnout test hook)")
    }
    async fn injected_task() -> PyResult<route::Deferred> {
        injected()
    }
    match at {
        "block_on" => runtime::wait(py, async { injected() }).map(|()| py.None()),
        "detached" => runtime::detached(py, || injected()).map(|()| py.None()),
        "async" => runtime::future_into_py(py, injected_task()).map(Bound::unbind),
        "result" => runtime::future_into_py(py, async {
            Ok(route::Deferred::new(|_py| -> PyResult<Py<PyAny>> {
                injected()
            }))
        })
        .map(Bound::unbind),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "unknown panic site {other:?}"
        ))),
    }
}

#[pymodule]
fn _turnout(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    logs::register(m)?;
    m.add_function(wrap_pyfunction!(_test_panic, m)?)?;
    m.add_class::<client::BaseClient>()?;
    m.add_class::<config::Environment>()?;
    m.add_class::<config::Rule>()?;
    m.add_class::<config::RetryPolicy>()?;
    m.add_class::<config::HealthCheck>()?;
    m.add_class::<config::CircuitBreaker>()?;
    m.add_class::<config::RollbackPolicy>()?;
    m.add_class::<config::RateLimit>()?;
    m.add_class::<config::Step>()?;
    m.add_class::<config::RolloutPlan>()?;
    m.add_class::<route::Route>()?;
    m.add_class::<stream::Stream>()?;
    m.add_class::<events::EventSubscription>()?;
    m.add_class::<bridge::LoopBridge>()?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(config::_suggest, m)?)?;
    m.add(
        "METRICS_CONTENT_TYPE",
        turnout::Client::metrics_content_type(),
    )?;
    Ok(())
}
