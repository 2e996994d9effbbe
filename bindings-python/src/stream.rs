//! `Stream`: a routed stream read from Python, synchronously (`__next__`) or from asyncio
//! (`_anext`): decoded chunks (dicts) for turnout's own clients, or the side's bytes as they
//! arrive for the httpx transports.
//!
//! A task on the runtime pumps the core's stream into a small channel, so that reading the
//! network overlaps with the caller's work. Closing the stream, or dropping it, ends that task,
//! which drops the core stream and so cancels the upstream request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::value::RawValue;
use tokio::sync::{Mutex, Notify, mpsc};

use crate::convert::text_to_py;
use crate::errors::to_py_err;
use crate::route::{Deferred, Route};
use crate::runtime;

/// Chunks buffered ahead of the reader.
const BUFFER: usize = 32;

/// One piece of a stream: a chunk's JSON text (decoded by Python's `json.loads` when read, as
/// openai-python decodes it), or bytes passed through.
pub enum Chunk {
    Json(Box<RawValue>),
    Bytes(bytes::Bytes),
}

type Item = Result<Chunk, turnout::Error>;
type Receiver = mpsc::Receiver<Item>;
type Source = std::pin::Pin<Box<dyn futures_util::Stream<Item = Item> + Send>>;

/// A started pump: its receiver, the route, and the signal that stops it.
pub struct Pumped {
    rx: Receiver,
    route: turnout::RouteInfo,
    stop: Arc<Notify>,
}

/// Starts pumping a stream of JSON chunks into a channel the Python iterators read.
pub fn pump(stream: turnout::RoutedStream<Box<RawValue>>) -> Pumped {
    let route = stream.route().clone();
    pump_from(Box::pin(stream.map(|r| r.map(Chunk::Json))), route)
}

/// Starts pumping a pass-through stream's bytes.
pub fn pump_bytes(stream: turnout::RawStream, route: turnout::RouteInfo) -> Pumped {
    pump_from(Box::pin(stream.map(|r| r.map(Chunk::Bytes))), route)
}

fn pump_from(stream: Source, route: turnout::RouteInfo) -> Pumped {
    let (tx, rx) = mpsc::channel(BUFFER);
    let stop = Arc::new(Notify::new());
    let (failed, side) = (tx.clone(), route.environment);
    let task = AssertUnwindSafe(run(stream, tx, Arc::clone(&stop))).catch_unwind();
    runtime::handle().spawn(async move {
        // A panic ends the stream with an error, never as if it had ended cleanly.
        if let Err(panic) = task.await {
            let message = format!(
                "internal error in turnout (a bug; please report it): {}",
                turnout::panic_message(panic.as_ref())
            );
            let _ = failed
                .send(Err(turnout::Error::StreamInterrupted {
                    environment: side,
                    message,
                }))
                .await;
        }
    });
    Pumped { rx, route, stop }
}

async fn run(mut stream: Source, tx: mpsc::Sender<Item>, stop: Arc<Notify>) {
    loop {
        let item = tokio::select! {
            biased;
            _ = tx.closed() => return,
            _ = stop.notified() => return,
            item = stream.next() => item,
        };
        let Some(item) = item else { return };
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}

/// A stream of chunks (dicts), or of the side's bytes for the httpx transports.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct Stream {
    rx: Arc<Mutex<Option<Receiver>>>,
    stop: Arc<Notify>,
    route: Py<Route>,
}

impl Stream {
    pub fn new(py: Python<'_>, pumped: Pumped) -> PyResult<Self> {
        Ok(Self {
            rx: Arc::new(Mutex::new(Some(pumped.rx))),
            stop: pumped.stop,
            route: Py::new(py, Route::from(&pumped.route))?,
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// The Python value of one received item; `None` at the end.
fn convert(py: Python<'_>, item: Option<Item>) -> PyResult<Option<Py<PyAny>>> {
    match item {
        Some(Ok(Chunk::Json(text))) => text_to_py(py, text.get()).map(Some),
        Some(Ok(Chunk::Bytes(bytes))) => Ok(Some(PyBytes::new(py, &bytes).into_any().unbind())),
        Some(Err(e)) => Err(to_py_err(py, e)),
        None => Ok(None),
    }
}

#[pymethods]
impl Stream {
    /// How the stream was routed.
    #[getter]
    fn route(&self, py: Python<'_>) -> Py<Route> {
        self.route.clone_ref(py)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next chunk, waiting with the GIL released.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Ok(mut guard) = self.rx.try_lock() else {
            return Err(PyRuntimeError::new_err(
                "this stream is already being read elsewhere",
            ));
        };
        let item = match guard.as_mut() {
            None => None,
            Some(rx) => match rx.try_recv() {
                Ok(item) => Some(item),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => runtime::wait(py, rx.recv())?,
            },
        };
        match convert(py, item)? {
            Some(value) => Ok(value),
            None => {
                *guard = None;
                Err(PyStopIteration::new_err(()))
            }
        }
    }

    /// An awaitable of the next chunk, or of None at the end.
    fn _anext<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = Arc::clone(&self.rx);
        runtime::future_into_py(py, async move {
            let item = {
                let mut guard = rx.lock().await;
                match guard.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => None,
                }
            };
            Ok(Deferred::new(move |py| {
                Ok(convert(py, item)?.unwrap_or_else(|| py.None()))
            }))
        })
    }

    /// Stops reading and cancels the upstream request. Idempotent.
    fn close(&self) {
        self.stop.notify_one();
        if let Ok(mut guard) = self.rx.try_lock() {
            *guard = None;
        }
    }
}
