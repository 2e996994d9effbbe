//! Key pools on the request path and at run time: another key after a 401/403, the
//! `key_revoked` event, and [`Client::rotate_keys`].

use std::sync::Arc;

use super::Client;
use super::engine::Engine;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::secret::ApiKey;

impl Engine {
    /// Whether an attempt on `side` that failed with `error` is tried again at once with
    /// another key: a 401/403 took its key out of the pool, a live key remains, and the
    /// model still has attempts left.
    pub(super) fn another_key(&self, side: Side, error: &Error, model_attempts: u32) -> bool {
        matches!(error.status(), Some(401 | 403))
            && model_attempts < self.config.retry.max_attempts
            && self.side(side).endpoint.keys.has_live_key()
    }

    /// Publishes a `key_revoked` event whenever a pool takes a key out.
    pub(super) fn watch_keys(self: &Arc<Self>) {
        for side in Side::BOTH {
            let weak = Arc::downgrade(self);
            self.side(side)
                .endpoint
                .keys
                .on_revoked(Box::new(move |side, fingerprint, status| {
                    let Some(engine) = weak.upgrade() else { return };
                    let reason = format!(
                        "key {fingerprint} of {side} was answered {status}; taken out of the pool"
                    );
                    let event = Event::new(EventKind::KeyRevoked, engine.clock.wall(), reason)
                        .environment(side)
                        .detail("key", fingerprint)
                        .detail("status", status);
                    engine.publish(event);
                }));
        }
    }
}

impl Client {
    /// Replaces `side`'s keys at run time. Requests in flight finish with the key they were
    /// sent with; the next attempts use the new keys. A key already in the pool keeps its
    /// state (a revoked key stays out). Publishes a `keys_rotated` event with the new keys'
    /// fingerprints.
    pub fn rotate_keys(&self, side: Side, keys: Vec<ApiKey>) -> Result<()> {
        self.ensure_open()?;
        let e = &self.engine;
        let fingerprints = e.side(side).endpoint.keys.rotate(keys)?;
        let reason = format!("{} key(s) of {side} rotated in", fingerprints.len());
        let event = Event::new(EventKind::KeysRotated, e.clock.wall(), reason)
            .environment(side)
            .detail("keys", fingerprints);
        e.publish(event);
        Ok(())
    }
}
