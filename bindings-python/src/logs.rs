//! turnout's Rust log records (`tracing`) → Python's `logging`, on the `turnout` logger.
//!
//! Installed when the module loads, as the process' global `tracing` subscriber unless one is
//! already set (a host's subscriber is never replaced). The logger's level is read then, each
//! time a client is built, and by `_refresh_logging()`; it is cached, so a record below it
//! costs one comparison and never takes the GIL.

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use pyo3::{intern, wrap_pyfunction};
use tracing::Level;
use turnout::logging::{LogForwarder, LogRecord};

type Forwarder = LogForwarder<fn(&LogRecord)>;

/// The installed forwarder; unset when another subscriber was there first.
static FORWARDER: OnceLock<Arc<Forwarder>> = OnceLock::new();
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Python's level numbers, most verbose first (TRACE has none of its own: 5).
const LEVELS: [(Level, i32); 5] = [
    (Level::TRACE, 5),
    (Level::DEBUG, 10),
    (Level::INFO, 20),
    (Level::WARN, 30),
    (Level::ERROR, 40),
];

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            PyResult::Ok(
                py.import("logging")?
                    .call_method1("getLogger", ("turnout",))?
                    .unbind(),
            )
        })
        .map(|l| l.bind(py))
}

/// Installs the forwarder (once) and registers `_refresh_logging`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let forwarder = Arc::new(LogForwarder::new(None, emit as fn(&LogRecord)));
    if tracing::subscriber::set_global_default(Arc::clone(&forwarder)).is_ok() {
        let _ = FORWARDER.set(forwarder);
    }
    refresh(m.py())?;
    m.add_function(wrap_pyfunction!(_refresh_logging, m)?)
}

/// Reads the `turnout` logger's level again (after `setLevel` or `logging.disable`).
pub fn refresh(py: Python<'_>) -> PyResult<()> {
    let Some(forwarder) = FORWARDER.get() else {
        return Ok(());
    };
    let logger = logger(py)?;
    let mut level = None;
    for (tracing_level, number) in LEVELS {
        if logger
            .call_method1(intern!(py, "isEnabledFor"), (number,))?
            .is_truthy()?
        {
            level = Some(tracing_level);
            break;
        }
    }
    forwarder.set_level(level);
    Ok(())
}

/// Reads the level of the `turnout` logger again: turnout caches it when the module loads and
/// when a client is built, so call this after changing it later.
#[pyfunction]
fn _refresh_logging(py: Python<'_>) -> PyResult<()> {
    refresh(py)
}

fn emit(record: &LogRecord) {
    // Not during interpreter shutdown: there is nobody left to tell.
    let _ = Python::try_attach(|py| {
        let logged = (|| -> PyResult<()> {
            let level = LEVELS
                .iter()
                .find(|(l, _)| *l == record.level)
                .map_or(40, |(_, n)| *n);
            let extra = PyDict::new(py);
            extra.set_item("turnout_target", record.target.as_str())?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("extra", extra)?;
            logger(py)?.call_method(
                intern!(py, "log"),
                (level, "%s", record.message.as_str()),
                Some(&kwargs),
            )?;
            Ok(())
        })();
        if let Err(e) = logged {
            e.print(py);
        }
    });
}
