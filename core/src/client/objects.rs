//! Object affinity shared by a fleet: what this process learns goes to the store, and an
//! object it has not seen is looked up there before routing (SEMANTICS.md, *Under the
//! official SDKs*). Without a Redis store this is the in-process map alone.

use std::sync::Arc;
use std::time::Duration;

use super::attempt::Call;
use super::engine::Engine;
use crate::environment::Side;
use crate::state::Store;

/// Longest wait for the store's answer about an object; past it the request routes as if the
/// object were unknown (a GET of it still gets its one look on the other side).
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(250);

impl Engine {
    /// Records that `side` holds object `id`: here, and in the fleet's store.
    pub(crate) fn remember_object(&self, id: &str, side: Side) {
        self.affinity.record(id, side);
        let Some(store) = self.shared.object_store() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, id) = (Arc::clone(store), id.to_string());
        runtime.spawn(async move {
            if let Err(e) = store.record_object(&id, side).await {
                tracing::debug!(error = %e, "the store did not take an object's side");
            }
        });
    }

    /// Asks the fleet's store about the objects `call` names that this process has not seen,
    /// and keeps what it knows. Requests that name no object, or that are pinned, ask nothing;
    /// the lookups are boxed so that they add nothing to the future of a request without them.
    pub(crate) async fn resolve_objects(&self, call: &Call) {
        let Some(store) = self.shared.object_store() else {
            return;
        };
        if call.options.environment.is_some() {
            return;
        }
        let ids = self.affinity.unknown_ids(&call.path, call.body.as_ref());
        if !ids.is_empty() {
            Box::pin(self.look_up_objects(store, ids)).await;
        }
    }

    /// Asks `store` where each of `ids` lives, one at a time, within [`LOOKUP_TIMEOUT`] each.
    async fn look_up_objects(&self, store: &Store, ids: Vec<String>) {
        for id in ids {
            match tokio::time::timeout(LOOKUP_TIMEOUT, store.object_side(&id)).await {
                Ok(Ok(Some(side))) => self.affinity.record(&id, side),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "the store could not say where an object lives")
                }
                Err(_) => tracing::debug!("the store took too long to say where an object lives"),
            }
        }
    }
}
