//! Object affinity shared by a fleet: what this process learns goes to the store, and an
//! object it has not seen is looked up there before routing (SEMANTICS.md, *Under the
//! official SDKs*). Without a Redis store this is the in-process map alone.

use std::sync::Arc;
use std::time::Duration;

use super::attempt::Call;
use super::engine::Engine;
use crate::environment::Side;

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
    /// and keeps what it knows. Requests that name no object, or that are pinned, ask nothing.
    pub(crate) async fn resolve_objects(&self, call: &Call) {
        let Some(store) = self.shared.object_store() else {
            return;
        };
        if call.options.environment.is_some() {
            return;
        }
        for id in self.affinity.unknown_ids(&call.path, call.body.as_ref()) {
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
