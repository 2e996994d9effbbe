//! Rust futures as asyncio futures, completed in batches on the event loop's own thread.
//!
//! Each event loop gets a socket pair that the loop watches (`add_reader`). A finished task
//! queues its result and writes one byte — only if the queue was empty, so a burst of
//! completions costs one wake-up. The loop drains the queue and sets the futures' results.
//! Nothing takes the GIL on the runtime's threads and no thread is handed the result, which is
//! what makes this cheaper than a completion per `call_soon_threadsafe` from a blocking thread.
//!
//! Cancelling the asyncio future aborts the Rust task (dropping the request). A panic in the
//! task, or in making its result, fails the future with a `TurnoutError`: it never stays
//! pending.

use std::cell::RefCell;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, types::PyCFunction, types::PyTuple};

use crate::errors::panic_error;
use crate::route::Deferred;
use crate::runtime;

/// A finished task: the future to complete and how to make its result.
struct Done {
    future: Py<PyAny>,
    result: PyResult<Deferred>,
}

/// What the runtime's threads share with one event loop.
struct Queue {
    done: Mutex<Vec<Done>>,
    /// A byte is in the pipe (or about to be): the loop will drain.
    signalled: AtomicBool,
    writer: UnixStream,
}

impl Queue {
    fn push(&self, done: Done) {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(done);
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full pipe already holds a wake-up, so a failed write loses nothing.
            let _ = (&self.writer).write(&[1]);
        }
    }
}

/// The loop's side: the reader it watches and the drain it calls.
#[pyclass(frozen, module = "turnout._turnout")]
pub struct LoopBridge {
    queue: Arc<Queue>,
    reader: UnixStream,
}

#[pymethods]
impl LoopBridge {
    /// Completes every queued future (called by the event loop when the reader is readable).
    fn _drain(&self, py: Python<'_>) {
        let mut buf = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(n) if n == buf.len() => continue,
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.queue.signalled.store(false, Ordering::Release);
        let batch = std::mem::take(
            &mut *self
                .queue
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for done in batch {
            if let Err(e) = complete(py, done) {
                e.print(py);
            }
        }
    }
}

fn complete(py: Python<'_>, done: Done) -> PyResult<()> {
    let future = done.future.bind(py);
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(()); // cancelled meanwhile
    }
    let made = std::panic::catch_unwind(AssertUnwindSafe(|| {
        done.result.and_then(|deferred| deferred.into_py(py))
    }))
    .unwrap_or_else(|panic| Err(panic_error(panic.as_ref())));
    match made {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(err) => future.call_method1(intern!(py, "set_exception"), (err.into_value(py),))?,
    };
    Ok(())
}

thread_local! {
    /// The loop this thread last ran, and its queue.
    static CURRENT: RefCell<Option<(Py<PyAny>, Arc<Queue>)>> = const { RefCell::new(None) };
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The running loop and its queue, set up on first use.
fn current(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Arc<Queue>)> {
    let get = GET_RUNNING_LOOP.get_or_try_init(py, || {
        PyResult::Ok(py.import("asyncio")?.getattr("get_running_loop")?.unbind())
    })?;
    let event_loop = get.bind(py).call0()?;
    let cached = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(l, _)| l.bind(py).is(&event_loop))
            .map(|(_, q)| Arc::clone(q))
    });
    if let Some(queue) = cached {
        return Ok((event_loop, queue));
    }
    let (reader, writer) = UnixStream::pair()
        .and_then(|(r, w)| {
            r.set_nonblocking(true)?;
            w.set_nonblocking(true)?;
            Ok((r, w))
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot set up the asyncio bridge: {e}")))?;
    let queue = Arc::new(Queue {
        done: Mutex::new(Vec::new()),
        signalled: AtomicBool::new(false),
        writer,
    });
    let fd = reader.as_raw_fd();
    let bridge = Bound::new(
        py,
        LoopBridge {
            queue: Arc::clone(&queue),
            reader,
        },
    )?;
    event_loop.call_method1(
        intern!(py, "add_reader"),
        (fd, bridge.getattr(intern!(py, "_drain"))?),
    )?;
    CURRENT.with(|c| *c.borrow_mut() = Some((event_loop.clone().unbind(), Arc::clone(&queue))));
    Ok((event_loop, queue))
}

/// Runs `fut` on the runtime; returns an asyncio future of the running loop that completes
/// with its result. Cancelling that future aborts the task.
pub fn spawn<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<Deferred>> + Send + 'static,
{
    let (event_loop, queue) = current(py)?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let target = future.clone().unbind();
    let task = runtime::get()?.spawn(async move {
        // A panic must still complete the future, or its awaiter would wait forever.
        let result = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(panic_error(panic.as_ref())),
        };
        queue.push(Done {
            future: target,
            result,
        });
    });
    let abort = task.abort_handle();
    let on_done = PyCFunction::new_closure(py, None, None, move |args: &Bound<'_, PyTuple>, _| {
        let cancelled = args
            .get_item(0)
            .and_then(|f| f.call_method0("cancelled"))
            .and_then(|c| c.is_truthy())
            .unwrap_or(false);
        if cancelled {
            abort.abort();
        }
    })?;
    future.call_method1(intern!(py, "add_done_callback"), (on_done,))?;
    Ok(future)
}
