//! Keeping the traffic state in step with the shared store (file or Redis): local changes are
//! written with a compare-and-swap on `version`, in order, by one background task; newer
//! versions written elsewhere (another instance, the `turnout` CLI) are adopted.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::engine::Engine;
use crate::config::StateConfig;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::routing::TrafficState;
use crate::state::Store;

/// How long to wait before trying an unreachable store again.
const RECONNECT: Duration = Duration::from_secs(5);

/// One local change to write to the store.
#[derive(Debug)]
pub(crate) struct Write {
    expected: u64,
    state: TrafficState,
    event: Event,
}

/// The engine's link to the store: a queue of writes, absent for the memory backend.
#[derive(Debug, Default)]
pub(crate) struct SharedState {
    writes: Option<mpsc::UnboundedSender<Write>>,
}

impl SharedState {
    /// A link for `config`, and the receiving end for the sync task when the state is shared.
    pub fn new(config: &StateConfig) -> (Self, Option<mpsc::UnboundedReceiver<Write>>) {
        if config.backend == crate::config::StateBackend::Memory {
            return (Self::default(), None);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { writes: Some(tx) }, Some(rx))
    }
}

impl Engine {
    /// Queues a local change for the store (no-op in memory).
    pub(crate) fn share(&self, old: &TrafficState, new: &TrafficState, event: &Event) {
        if let Some(tx) = &self.shared.writes {
            let mut event = event.clone();
            event.version = new.version;
            // The receiver lives as long as the engine's runtime; a closed one means shutdown.
            let _ = tx.send(Write {
                expected: old.version,
                state: new.clone(),
                event,
            });
        }
    }

    /// Starts the sync task on the current runtime.
    pub(crate) fn spawn_state_sync(
        self: &Arc<Self>,
        writes: mpsc::UnboundedReceiver<Write>,
    ) -> Result<()> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "a shared state store is kept in sync by a background task: build the client inside a tokio runtime".to_string(),
            )
        })?;
        // The receiver outlives a panicking run of the loop, so a restart loses no write.
        let writes = Arc::new(tokio::sync::Mutex::new(writes));
        let (weak, config, shutdown) = (
            Arc::downgrade(self),
            self.config.state.clone(),
            self.shutdown_signal(),
        );
        self.supervisor
            .spawn(&handle, super::supervise::STATE_SYNC, move || {
                sync_loop(
                    weak.clone(),
                    config.clone(),
                    Arc::clone(&writes),
                    shutdown.clone(),
                )
            });
        Ok(())
    }

    /// Takes a state written elsewhere, exactly (version included), and says so.
    fn adopt(&self, stored: TrafficState) {
        let old = self.traffic.load();
        if *old == stored {
            return;
        }
        self.traffic.replace(stored.clone());
        let kind = if old.active != stored.active {
            EventKind::Switch
        } else {
            EventKind::WeightChanged
        };
        let event = Event::new(
            kind,
            self.clock.wall(),
            format!(
                "adopted version {} from the shared state store (written by another instance or the CLI)",
                stored.version
            ),
        )
        .detail("from_active", old.active.as_str())
        .detail("active", stored.active.as_str())
        .detail("from_weight", old.canary_weight())
        .detail("canary_weight", stored.canary_weight())
        .detail("source", "store");
        self.publish(event);
    }
}

async fn sync_loop(
    engine: Weak<Engine>,
    config: StateConfig,
    writes: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Write>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut writes = writes.lock().await;
    let store = loop {
        match Store::open(&config).await {
            Ok(store) => break store,
            Err(e) => {
                tracing::error!(target: "turnout::state", error = %e, "cannot open the shared state store; retrying");
                tokio::select! {
                    () = tokio::time::sleep(RECONNECT) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    // Seed an empty store with our state, or adopt what is there.
    if let Some(e) = engine.upgrade() {
        let local = (*e.traffic.load()).clone();
        match store.load().await {
            Ok(Some(stored)) => e.adopt(stored),
            Ok(None) => {
                if !matches!(store.compare_and_swap(None, &local).await, Ok(true)) {
                    reload(&e, &store).await;
                }
            }
            Err(err) => {
                tracing::error!(target: "turnout::state", error = %err, "cannot read the shared state")
            }
        }
    }
    loop {
        tokio::select! {
            w = writes.recv() => {
                let Some(w) = w else { return };
                let Some(e) = engine.upgrade() else { return };
                match store.compare_and_swap(Some(w.expected), &w.state).await {
                    Ok(true) => {
                        if let Err(err) = store.append_event(&w.event).await {
                            tracing::warn!(target: "turnout::state", error = %err, "cannot append to the shared history");
                        }
                    }
                    Ok(false) => {
                        tracing::warn!(target: "turnout::state", version = w.state.version,
                            "another writer changed the shared state first; adopting theirs");
                        reload(&e, &store).await;
                    }
                    Err(err) => tracing::error!(target: "turnout::state", error = %err, "cannot write the shared state"),
                }
            }
            () = store.changed() => {
                let Some(e) = engine.upgrade() else { return };
                reload(&e, &store).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Adopts the stored state when it is newer than ours, or differs at the same version.
async fn reload(engine: &Engine, store: &Store) {
    match store.load().await {
        Ok(Some(stored)) if stored.version >= engine.traffic.peek().version => engine.adopt(stored),
        Ok(_) => {}
        Err(err) => {
            tracing::error!(target: "turnout::state", error = %err, "cannot read the shared state")
        }
    }
}
