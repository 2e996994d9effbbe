//! One tokio runtime per process, rebuilt in a forked child, and the two ways Python waits on
//! it: blocking waits (GIL released, Ctrl-C honoured) and asyncio futures (see `bridge`).
//!
//! Why per process: a child forked after the parent used a runtime inherits its epoll state
//! but none of its threads, so it hangs on its first call (and can disturb the parent). The
//! child therefore builds a fresh runtime and *leaks* the parent's: dropping it would try to
//! join threads that do not exist in the child.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::panic_error;

/// How often a blocking wait wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The runtime of one process.
struct Slot {
    pid: u32,
    runtime: Runtime,
}

/// The current process' runtime. Replaced slots are leaked on purpose (see the module doc).
static SLOT: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// The pid of the process building a runtime right now, or 0. A pid other than ours was left
/// by a parent that forked mid-build: it is taken over, never waited for (no lock survives a
/// fork in a usable state).
static BUILDING: AtomicU32 = AtomicU32::new(0);

/// The runtime of this process, built on first use and again after a fork.
pub fn get() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    loop {
        // SAFETY: slots are only ever created by `Box::into_raw` below and never freed.
        if let Some(slot) = unsafe { SLOT.load(Ordering::Acquire).as_ref() }
            && slot.pid == pid
        {
            return Ok(&slot.runtime);
        }
        let builder = BUILDING.load(Ordering::Acquire);
        if builder == pid {
            std::thread::yield_now();
            continue;
        }
        if BUILDING
            .compare_exchange(builder, pid, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        let threads = match worker_threads() {
            Ok(threads) => threads,
            Err(e) => {
                BUILDING.store(0, Ordering::Release);
                return Err(e);
            }
        };
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .thread_name("turnout-rt")
            .build();
        let runtime = match built {
            Ok(runtime) => runtime,
            Err(e) => {
                BUILDING.store(0, Ordering::Release);
                return Err(PyRuntimeError::new_err(format!(
                    "cannot start the tokio runtime: {e}"
                )));
            }
        };
        let fresh = Box::into_raw(Box::new(Slot { pid, runtime }));
        SLOT.store(fresh, Ordering::Release);
        BUILDING.store(0, Ordering::Release);
        // SAFETY: `fresh` was just leaked from a Box and is published for good.
        return Ok(unsafe { &(*fresh).runtime });
    }
}

/// The runtime's worker threads: `TURNOUT_RUNTIME_THREADS`, 1 by default.
///
/// One is enough for a Python process (the GIL serialises Python's side; a blocking call's
/// request work runs on the calling thread; the workers drive sockets and timers), and a second
/// worker costs every sequential call two more context switches (tokio wakes it to steal work
/// that is not there): measured 3.4 instead of 5.6 switches per call and about 1.5× the
/// sequential calls/s, with the same asyncio throughput at 64 concurrent calls.
fn worker_threads() -> PyResult<usize> {
    let Some(raw) = std::env::var_os(THREADS_VAR) else {
        return Ok(1);
    };
    raw.to_str()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|n| (1..=MAX_THREADS).contains(n))
        .ok_or_else(|| {
            PyRuntimeError::new_err(format!(
                "{THREADS_VAR} must be a whole number from 1 to {MAX_THREADS}, got {raw:?}"
            ))
        })
}

/// The variable that sets the runtime's worker threads.
const THREADS_VAR: &str = "TURNOUT_RUNTIME_THREADS";

/// The most worker threads `TURNOUT_RUNTIME_THREADS` may ask for.
const MAX_THREADS: usize = 256;

/// Whether the current thread is one of the runtime's own (an event callback, say), where a
/// blocking wait would deadlock.
fn inside_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Waits for `fut` on this thread with the GIL released, checking for signals every 100 ms
/// (no task is spawned: `fut` may borrow). A panic in `fut` is raised as a `TurnoutError`.
///
/// The future is polled here, inside the runtime's context, and the thread sleeps in
/// `park_timeout` between wake-ups: the signal check is an OS timeout, not a tokio timer, so a
/// call registers no timer of its own and never wakes the runtime's I/O driver to arm one.
pub fn wait<F: Future + Send>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F::Output: Send,
{
    if inside_runtime() {
        return Err(PyRuntimeError::new_err(
            "a blocking turnout call cannot run on turnout's own threads",
        ));
    }
    let runtime = get()?;
    let wake = Arc::new(ThreadWake {
        thread: std::thread::current(),
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(Arc::clone(&wake));
    // A future that panicked is never polled again: the loop returns at once.
    let mut fut = std::pin::pin!(AssertUnwindSafe(fut).catch_unwind());
    loop {
        let polled = py.detach(|| {
            let _entered = runtime.enter();
            let mut cx = Context::from_waker(&waker);
            let until = Instant::now() + SIGNAL_CHECK;
            loop {
                if wake.woken.swap(false, Ordering::Acquire) {
                    if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                        return Some(out);
                    }
                    continue;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                std::thread::park_timeout(left);
            }
        });
        match polled {
            Some(Ok(value)) => return Ok(value),
            Some(Err(panic)) => return Err(panic_error(panic.as_ref())),
            None => py.check_signals()?,
        }
    }
}

/// The waker of a blocking wait: marks the wait as woken and unparks its thread.
struct ThreadWake {
    thread: std::thread::Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `f` with the GIL released, inside the runtime (it may start tasks); a panic in `f`
/// is raised as a `TurnoutError`.
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let runtime = get()?;
    py.detach(|| {
        let _entered = runtime.enter();
        std::panic::catch_unwind(AssertUnwindSafe(f))
    })
    .map_err(|panic| panic_error(panic.as_ref()))
}

/// Wraps `fut` in an asyncio future of the running event loop; cancelling that future cancels
/// the Rust task, and a panic in it fails the future with a `TurnoutError`.
pub fn future_into_py<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<crate::route::Deferred>> + Send + 'static,
{
    crate::bridge::spawn(py, fut)
}

/// A handle on the runtime, for spawning. Cannot fail in practice: every entry point has
/// already built the runtime with `get()`.
pub fn handle() -> tokio::runtime::Handle {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        return handle;
    }
    match get() {
        Ok(runtime) => runtime.handle().clone(),
        // Only reachable if the OS refuses threads: nothing sensible is left to do.
        Err(e) => panic!("turnout: {e}"),
    }
}
