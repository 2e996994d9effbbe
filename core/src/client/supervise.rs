//! Background tasks that survive a panic: each one is restarted after a short backoff, and the
//! restart is reported as a `task_restarted` event, a `turnout_task_restarts_total{task}` count
//! and an error log (SEMANTICS.md, *Bounds*: background tasks that die are restarted and
//! reported).
//!
//! A task is given as a function that makes its future, so that a restart starts it afresh
//! from the state it keeps outside the future (its queue, its receiver, the engine).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures_util::FutureExt;

use super::engine::Engine;
use crate::events::{Event, EventKind};

/// The names of the supervised tasks (the `task` label of the restart metric).
pub(crate) const TASKS: [&str; 8] = [
    HEALTH_PROBE,
    GUARD,
    ROLLOUT,
    STATE_SYNC,
    METRICS_LISTENER,
    WEBHOOK,
    AUDIT_WRITER,
    ANALYST,
];
/// The per-side health probe loop.
pub(crate) const HEALTH_PROBE: &str = "health_probe";
/// The rollback guard's once-a-second check.
pub(crate) const GUARD: &str = "guard";
/// A running rollout's step evaluation.
pub(crate) const ROLLOUT: &str = "rollout";
/// The shared state store's sync.
pub(crate) const STATE_SYNC: &str = "state_sync";
/// The built-in `/metrics` listener.
pub(crate) const METRICS_LISTENER: &str = "metrics_listener";
/// The webhook's delivery.
pub(crate) const WEBHOOK: &str = "webhook";
/// The audit log's writer thread.
pub(crate) const AUDIT_WRITER: &str = "audit_writer";
/// The fleet link: window flushes, the analyst lease, the fleet's rollout controller.
pub(crate) const ANALYST: &str = "analyst";

/// The wait before the first restart; it doubles with each panic of the same task, so that a
/// task that panics at once every time costs little.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Restarts the engine's background tasks and reports their panics. Cheap to clone. The
/// webhook and audit writers start before the engine exists: their restarts are reported to
/// the engine once it is bound, and only logged before.
#[derive(Debug, Clone, Default)]
pub(crate) struct Supervisor {
    engine: Arc<OnceLock<Weak<Engine>>>,
}

impl Supervisor {
    /// Reports later restarts to `engine`.
    pub fn bind(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    /// Spawns the future `make` returns on `handle`, and spawns it again each time it panics.
    /// A task that returns is not restarted.
    pub fn spawn<F, Fut>(&self, handle: &tokio::runtime::Handle, task: &'static str, mut make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let me = self.clone();
        handle.spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                // Nothing the future shares is used after a panic except through `make`,
                // which rebuilds the task from state that is consistent between its steps.
                let Err(payload) = AssertUnwindSafe(make()).catch_unwind().await else {
                    return;
                };
                if !me.restarted(task, &panic_message(payload.as_ref())) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
            }
        });
    }

    /// Runs `body` on the current (dedicated) thread, again each time it panics.
    pub fn run_blocking(&self, task: &'static str, mut body: impl FnMut()) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(&mut body)) else {
                return;
            };
            if !self.restarted(task, &panic_message(payload.as_ref())) {
                return;
            }
            std::thread::sleep(backoff);
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }

    /// Reports a panic of `task`; false when the engine it served is gone (no restart then).
    fn restarted(&self, task: &'static str, message: &str) -> bool {
        let engine = match self.engine.get() {
            None => None,
            Some(weak) => match weak.upgrade() {
                Some(engine) => Some(engine),
                None => return false,
            },
        };
        tracing::error!(target: "turnout::supervise", task, panic = message, "a background task panicked; restarting it");
        if let Some(engine) = engine {
            engine.obs.metrics.task_restart(task);
            engine.publish(
                Event::new(
                    EventKind::TaskRestarted,
                    engine.clock.wall(),
                    format!("the {task} task panicked and was restarted: {message}"),
                )
                .detail("task", task)
                .detail("panic", message),
            );
        }
        true
    }
}

/// The message a panic was raised with (`panic!("...")`'s text), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn client() -> Client {
        let side =
            |url: &str| crate::Environment::new(url, crate::ApiKey::new("sk-test-0000000000"));
        Client::builder()
            .blue(side("http://127.0.0.1:9/v1"))
            .green(side("http://127.0.0.1:9/v1"))
            .health_check(crate::config::HealthCheck {
                enabled: false,
                ..crate::config::HealthCheck::default()
            })
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_with_an_event_and_a_metric() {
        let client = client();
        let engine = &client.engine;
        let runs = Arc::new(AtomicU32::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<u32>();
        let mut done_tx = Some(done_tx);
        let counted = Arc::clone(&runs);
        engine
            .supervisor
            .spawn(&tokio::runtime::Handle::current(), GUARD, move || {
                let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let done = if run == 3 { done_tx.take() } else { None };
                async move {
                    tokio::task::yield_now().await;
                    if let Some(done) = done {
                        let _ = done.send(run);
                        return;
                    }
                    panic!("injected panic number {run}");
                }
            });
        // The third run returns normally: two panics, two restarts, and then no more runs.
        assert_eq!(done_rx.await.unwrap(), 3);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        let restarts: Vec<_> = client
            .history()
            .into_iter()
            .filter(|e| e.kind == EventKind::TaskRestarted)
            .collect();
        assert_eq!(restarts.len(), 2);
        assert_eq!(restarts[0].details["task"], "guard");
        assert_eq!(restarts[0].details["panic"], "injected panic number 1");
        assert!(restarts[1].reason.contains("injected panic number 2"));

        let text = client.metrics_text();
        assert!(
            text.contains("turnout_task_restarts_total{task=\"guard\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("turnout_task_restarts_total{task=\"webhook\"} 0"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_restart_once_the_engine_is_gone() {
        let client = client();
        let supervisor = client.engine.supervisor.clone();
        drop(client);
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        supervisor.spawn(&tokio::runtime::Handle::current(), GUARD, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("injected") }
        });
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_dedicated_thread_is_restarted_too() {
        let supervisor = Supervisor::default();
        let mut runs = 0;
        supervisor.run_blocking(AUDIT_WRITER, || {
            runs += 1;
            if runs < 2 {
                panic!("injected");
            }
        });
        assert_eq!(runs, 2);
    }

    #[test]
    fn panic_messages() {
        let caught = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "plain");
        let caught = std::panic::catch_unwind(|| panic!("formatted {}", 7)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "formatted 7");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "a panic without a message");
    }
}
