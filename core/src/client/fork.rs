//! [`Client::after_fork`]: the client of a forked child process.
//!
//! A child forked after the parent used its client inherits the client's memory but none of
//! its threads: its connection pool, tasks and runtime belong to the parent. The child gets a
//! new engine built from the same config, which takes over what defines the rollout — the
//! traffic state (version and salt included; the shared store's when one answers, since it may
//! be newer than the parent's last sync), the checkpoints and a running rollout — and
//! starts its own background tasks (health probes, the rollback guard, the rollout's task,
//! the state store's sync, the webhook and audit writers), because each process routes its
//! own requests and must judge and follow them.
//!
//! The metrics listener stays with the parent: `metrics.listen` names one port, which the
//! parent keeps serving; a child binding it would fail (or steal it with `SO_REUSEPORT`
//! semantics the operator did not ask for). A child's metrics are its own, read with
//! [`Client::metrics_text`]. Statistics windows, circuits, health, costs, metrics and the event
//! history start empty in the child: they describe the requests each process made.

use std::sync::Arc;

use super::Client;
use super::engine::Engine;
use crate::error::Result;

impl Client {
    /// A client for a forked child process, carrying over this client's traffic state
    /// (version included), checkpoints and running rollout; see the module documentation of
    /// `fork.rs` for what starts afresh. Call it in the child, inside the child's tokio runtime
    /// (as for [`Client::from_config`]), and leak the inherited client there
    /// (`std::mem::forget`): its pool and tasks belong to the parent. Event subscriptions are
    /// not carried over. A closed client gives a closed client.
    pub fn after_fork(&self) -> Result<Client> {
        let parent = &self.engine;
        let mut config = parent.config.clone();
        config.metrics.listen = None;
        let engine = Engine::start_with_clock(config, Arc::clone(&parent.clock))?;
        // A shared store the child has just read is newer than the parent's snapshot (a
        // rollback may have landed since the parent last synced); serving the snapshot there
        // would last until the stored version next moves. Without a store, or with one that
        // did not answer, the parent's state is the best the child has.
        if !(engine.shared.is_shared() && engine.shared.is_connected()) {
            engine.traffic.replace((*parent.traffic.load()).clone());
        }
        if let Some(rollout) = engine.control.inherit(&parent.control)
            && let Some(runtime) = engine.control.runtime.clone()
        {
            engine.spawn_rollout_task(&runtime, rollout.id, rollout.plan.interval);
        }
        if parent.is_closed() {
            engine.close();
        }
        Ok(Client { engine })
    }
}
