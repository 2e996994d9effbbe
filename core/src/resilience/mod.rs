//! Resilience: backoff, the retry budget, the circuit breaker and `Retry-After` parsing.

pub(crate) mod backoff;
pub(crate) mod budget;
pub(crate) mod circuit;
pub(crate) mod retry_after;

pub use circuit::CircuitState;
pub use retry_after::retry_after_delay;
