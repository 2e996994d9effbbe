//! Resilience: backoff, the retry budget, the circuit breaker, `Retry-After` parsing and the
//! classification of outcomes.

pub(crate) mod backoff;
pub(crate) mod budget;
pub(crate) mod circuit;
pub(crate) mod outcome;
pub(crate) mod retry_after;

pub use circuit::CircuitState;
pub use retry_after::retry_after_delay;
