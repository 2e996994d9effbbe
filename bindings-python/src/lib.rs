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

#[pymodule]
fn _turnout(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
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
