//! Per-request routing options.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::environment::Side;

/// What a caller can say about one request besides its body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    /// The sticky routing key; defaults to the body's `user` field.
    pub routing_key: Option<String>,
    /// Pin the request to this side (no failover; model fallbacks still apply).
    pub environment: Option<crate::environment::Side>,
    /// Metadata matched against rules, and used as the cost tag.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Overrides the request timeout (per attempt; for streams, per chunk).
    pub timeout: Option<Duration>,
    /// Bounds the whole call — limiter wait, attempts, backoff and `Retry-After` sleeps, and a
    /// stream to its end; overrides the client's `deadline`.
    pub deadline: Option<Duration>,
    /// The request's `Idempotency-Key`: a write that carries one may be retried after it was
    /// sent (the upstream answers a repeat with the first answer).
    pub idempotency_key: Option<String>,
    /// How urgent the request is when client-side limits make requests wait \[normal\].
    pub priority: crate::limits::Priority,
}

impl RequestOptions {
    /// Sets the routing key.
    pub fn routing_key(mut self, key: impl Into<String>) -> Self {
        self.routing_key = Some(key.into());
        self
    }

    /// Pins the request to `side`.
    pub fn environment(mut self, side: Side) -> Self {
        self.environment = Some(side);
        self
    }

    /// Adds a metadata pair.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the idempotency key (what an `Idempotency-Key` header carries).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the priority under client-side limits.
    pub fn priority(mut self, priority: crate::limits::Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the deadline of the whole call.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}
