//! The exception hierarchy (names follow openai-python) and the one mapping from
//! `turnout::Error` to it.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use serde_json::Value;

use crate::convert::to_py;

create_exception!(
    turnout,
    TurnoutError,
    PyException,
    "Base of every turnout error."
);
create_exception!(
    turnout,
    ConfigError,
    TurnoutError,
    "The configuration is invalid; the message names the field."
);
create_exception!(
    turnout,
    NoHealthyEnvironmentError,
    TurnoutError,
    "Both environments are unavailable (circuits open), or the pinned one is."
);
create_exception!(
    turnout,
    ClientRateLimitError,
    TurnoutError,
    "turnout's own rate limit gave no permit within the request's timeout."
);
create_exception!(
    turnout,
    ClientClosedError,
    TurnoutError,
    "The client was closed."
);
create_exception!(
    turnout,
    APIError,
    TurnoutError,
    "An error talking to an upstream environment."
);
create_exception!(
    turnout,
    APIConnectionError,
    APIError,
    "The upstream could not be reached."
);
create_exception!(
    turnout,
    APITimeoutError,
    APIConnectionError,
    "The upstream did not answer in time."
);
create_exception!(
    turnout,
    StreamInterruptedError,
    APIError,
    "A stream was cut after data had reached the caller (never retried)."
);
create_exception!(
    turnout,
    APIStatusError,
    APIError,
    "The upstream answered with an error status."
);
create_exception!(turnout, BadRequestError, APIStatusError, "HTTP 400.");
create_exception!(turnout, AuthenticationError, APIStatusError, "HTTP 401.");
create_exception!(turnout, PermissionDeniedError, APIStatusError, "HTTP 403.");
create_exception!(turnout, NotFoundError, APIStatusError, "HTTP 404.");
create_exception!(
    turnout,
    UnprocessableEntityError,
    APIStatusError,
    "HTTP 422."
);
create_exception!(
    turnout,
    StoreError,
    TurnoutError,
    "The shared state store is unreachable, or holds contents turnout refuses."
);
create_exception!(
    turnout,
    NoRolloutError,
    TurnoutError,
    "A rollout operation was asked for while no rollout is running."
);
create_exception!(
    turnout,
    UnknownCheckpointError,
    TurnoutError,
    "No checkpoint has the id asked for."
);
create_exception!(
    turnout,
    RefusedError,
    TurnoutError,
    "A change was refused: it sends traffic to an unavailable side (pass force=True), or its precondition no longer holds."
);
create_exception!(turnout, RateLimitError, APIStatusError, "HTTP 429.");
create_exception!(turnout, InternalServerError, APIStatusError, "HTTP 5xx.");

/// The class an upstream status maps to.
fn status_class(py: Python<'_>, status: u16) -> Bound<'_, PyType> {
    match status {
        400 => py.get_type::<BadRequestError>(),
        401 => py.get_type::<AuthenticationError>(),
        403 => py.get_type::<PermissionDeniedError>(),
        404 => py.get_type::<NotFoundError>(),
        422 => py.get_type::<UnprocessableEntityError>(),
        429 => py.get_type::<RateLimitError>(),
        500..=599 => py.get_type::<InternalServerError>(),
        _ => py.get_type::<APIStatusError>(),
    }
}

/// Maps every kind of `turnout::Error` to its exception, with `kind`, `environment`,
/// `status_code`, `body`, `message`, `code`, `type`, `param` and `retry_after` set.
/// Exhaustive over `ErrorKind`, so that a new kind in the core fails to compile here.
pub fn to_py_err(py: Python<'_>, err: turnout::Error) -> PyErr {
    use turnout::ErrorKind as K;
    {
        let class = match err.kind() {
            K::Config => py.get_type::<ConfigError>(),
            K::Connect => py.get_type::<APIConnectionError>(),
            K::Timeout => py.get_type::<APITimeoutError>(),
            K::Status => status_class(py, err.status().unwrap_or(500)),
            K::Decode => py.get_type::<APIError>(),
            K::StreamInterrupted => py.get_type::<StreamInterruptedError>(),
            K::NoHealthyEnvironment => py.get_type::<NoHealthyEnvironmentError>(),
            K::RateLimited => py.get_type::<ClientRateLimitError>(),
            K::Closed => py.get_type::<ClientClosedError>(),
            K::Store => py.get_type::<StoreError>(),
            K::NoRollout => py.get_type::<NoRolloutError>(),
            K::UnknownCheckpoint => py.get_type::<UnknownCheckpointError>(),
            K::Refused => py.get_type::<RefusedError>(),
        };
        match build(py, &class, &err) {
            Ok(e) => e,
            Err(e) => e,
        }
    }
}

/// Instantiates `class` with the error's message and sets its attributes.
fn build(py: Python<'_>, class: &Bound<'_, PyType>, err: &turnout::Error) -> PyResult<PyErr> {
    let message = err.to_string();
    let exc = class.call1((message.as_str(),))?;
    exc.setattr("message", message.as_str())?;
    exc.setattr("kind", err.kind().as_str())?;
    exc.setattr("environment", err.environment().map(|s| s.as_str()))?;
    exc.setattr("retry_after", err.retry_after().map(|d| d.as_secs_f64()))?;
    if let Some(status) = err.status() {
        exc.setattr("status_code", status)?;
        let raw = err.body().unwrap_or_default();
        exc.setattr("_raw_body", raw)?;
        let parsed: Option<Value> = serde_json::from_str(raw).ok();
        // Like openai-python: `body` is the `error` object when there is one.
        let inner = parsed.as_ref().map(|v| match v.get("error") {
            Some(e @ Value::Object(_)) => e,
            _ => v,
        });
        match inner {
            Some(body) => {
                exc.setattr("body", to_py(py, body)?)?;
                for field in ["code", "type", "param"] {
                    if let Some(v) = body.get(field).filter(|v| !v.is_null()) {
                        exc.setattr(field, to_py(py, v)?)?;
                    }
                }
            }
            None => exc.setattr("body", raw)?,
        }
    }
    Ok(PyErr::from_value(exc))
}

/// Registers the classes in the module and gives them class-level defaults for every
/// attribute, so that reading `e.status_code` on any APIStatusError, or `e.environment` on any
/// TurnoutError, never fails.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<TurnoutError>();
    for (name, value) in [
        ("message", py.None()),
        ("kind", py.None()),
        ("environment", py.None()),
        ("retry_after", py.None()),
    ] {
        base.setattr(name, value)?;
    }
    let api = py.get_type::<APIError>();
    for name in ["code", "type", "param", "body"] {
        api.setattr(name, py.None())?;
    }
    let status = py.get_type::<APIStatusError>();
    status.setattr("status_code", 0)?;
    status.setattr("_raw_body", "")?;
    m.add("TurnoutError", base)?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add(
        "NoHealthyEnvironmentError",
        py.get_type::<NoHealthyEnvironmentError>(),
    )?;
    m.add(
        "ClientRateLimitError",
        py.get_type::<ClientRateLimitError>(),
    )?;
    m.add("ClientClosedError", py.get_type::<ClientClosedError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("NoRolloutError", py.get_type::<NoRolloutError>())?;
    m.add(
        "UnknownCheckpointError",
        py.get_type::<UnknownCheckpointError>(),
    )?;
    m.add("RefusedError", py.get_type::<RefusedError>())?;
    m.add("APIError", api)?;
    m.add("APIConnectionError", py.get_type::<APIConnectionError>())?;
    m.add("APITimeoutError", py.get_type::<APITimeoutError>())?;
    m.add(
        "StreamInterruptedError",
        py.get_type::<StreamInterruptedError>(),
    )?;
    m.add("APIStatusError", status)?;
    m.add("BadRequestError", py.get_type::<BadRequestError>())?;
    m.add("AuthenticationError", py.get_type::<AuthenticationError>())?;
    m.add(
        "PermissionDeniedError",
        py.get_type::<PermissionDeniedError>(),
    )?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add(
        "UnprocessableEntityError",
        py.get_type::<UnprocessableEntityError>(),
    )?;
    m.add("RateLimitError", py.get_type::<RateLimitError>())?;
    m.add("InternalServerError", py.get_type::<InternalServerError>())?;
    Ok(())
}

/// A `ConfigError` with this message (for values the binding checks itself).
pub fn config_error(message: impl Into<String>) -> PyErr {
    ConfigError::new_err(message.into())
}

/// A panic inside turnout as the caller's exception: a `TurnoutError` carrying the panic's
/// message (never Python's `PanicException`, which `except Exception` does not catch). Made
/// lazily, so any thread may build it without the GIL.
pub fn panic_error(payload: &(dyn std::any::Any + Send)) -> PyErr {
    TurnoutError::new_err(format!(
        "internal error in turnout (a bug; please report it): {}",
        turnout::panic_message(payload)
    ))
}
