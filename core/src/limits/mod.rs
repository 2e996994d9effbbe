//! Client-side limits: token buckets for requests and tokens per minute (tokens estimated
//! before the call, corrected by the answer's `usage`) and a cap on requests in flight.

mod bucket;
mod estimate;
mod fleet;
mod limiter;
mod priority;

pub(crate) use estimate::estimate_tokens;
pub(crate) use fleet::{FleetLimits, Mode as LimitMode};
pub(crate) use limiter::{Limiter, Permit};
pub use priority::Priority;
