//! `on_event`: Python callbacks for the core's events.
//!
//! The core calls subscribers on whichever thread the event happens (a Python thread for
//! `switch_to`, a runtime thread for a circuit opening). The callbacks are kept in a Python
//! list, guarded by the GIL rather than by a lock of ours, so that no lock can be left held
//! across a `fork()`. An exception in a callback is logged on the `turnout` logger and never
//! reaches the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::to_py;

/// The Python callbacks of one client.
pub struct Listeners {
    callbacks: Py<PyList>,
    /// How many there are: lets events skip taking the GIL when nobody listens.
    count: AtomicUsize,
}

impl Listeners {
    pub fn new(py: Python<'_>) -> Arc<Self> {
        Arc::new(Self {
            callbacks: PyList::empty(py).unbind(),
            count: AtomicUsize::new(0),
        })
    }

    /// Subscribes these listeners to `core`'s events.
    pub fn attach(self: &Arc<Self>, core: &turnout::Client) -> turnout::events::Subscription {
        let me = Arc::clone(self);
        core.subscribe(move |event| me.dispatch(event))
    }

    fn dispatch(&self, event: &turnout::events::Event) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let value = event.to_json();
        // Not during interpreter shutdown: there is nobody left to tell.
        let _ = Python::try_attach(|py| {
            let callbacks: Vec<Bound<'_, PyAny>> = self.callbacks.bind(py).iter().collect();
            for callback in callbacks {
                let result = to_py(py, &value).and_then(|arg| callback.call1((arg,)));
                if let Err(err) = result {
                    log_callback_error(py, err);
                }
            }
        });
    }

    pub fn add(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        self.callbacks.bind(py).append(callback)?;
        self.count.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Reports the callback list to the garbage collector.
    pub fn traverse(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.callbacks)
    }

    /// Drops every callback (breaking reference cycles for the garbage collector).
    pub fn clear(&self, py: Python<'_>) {
        let list = self.callbacks.bind(py);
        let _ = list.call_method0("clear");
        self.count.store(0, Ordering::Release);
    }

    /// Removes one registration of `callback`; false if it was not registered.
    pub fn remove(&self, py: Python<'_>, callback: &Bound<'_, PyAny>) -> PyResult<bool> {
        let list = self.callbacks.bind(py);
        for (i, item) in list.iter().enumerate() {
            if item.is(callback) {
                list.del_item(i)?;
                self.count.fetch_sub(1, Ordering::AcqRel);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Logs a callback's exception with its traceback on the `turnout` logger.
fn log_callback_error(py: Python<'_>, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("turnout",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", err.clone_ref(py).into_value(py))?;
        logger.call_method(
            "error",
            ("an on_event callback raised; the event was still applied",),
            Some(&kwargs),
        )?;
        Ok(())
    })();
    if logged.is_err() {
        err.print(py);
    }
}

/// A registration made by `on_event`; `unsubscribe()` ends it.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct EventSubscription {
    listeners: Arc<Listeners>,
    callback: Py<PyAny>,
}

impl EventSubscription {
    pub fn new(listeners: Arc<Listeners>, callback: Py<PyAny>) -> Self {
        Self {
            listeners,
            callback,
        }
    }
}

#[pymethods]
impl EventSubscription {
    /// Stops calling the callback. Returns False if it was already unsubscribed.
    fn unsubscribe(&self, py: Python<'_>) -> PyResult<bool> {
        self.listeners.remove(py, self.callback.bind(py))
    }

    /// The registered callback.
    #[getter]
    fn callback(&self, py: Python<'_>) -> Py<PyAny> {
        self.callback.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "EventSubscription({})",
            self.callback.bind(py).repr()?
        ))
    }
}
