//! Routing: the traffic state, sticky bucketing, rules and the selection of a side.

pub(crate) mod affinity;
pub mod balance;
mod bucket;
mod rules;
mod select;
mod state;

pub use bucket::{bucket, is_candidate};
pub use select::{Availability, Reason, RequestAttrs, Selection, select};
pub(crate) use state::TrafficCell;
pub use state::TrafficState;
pub use state::percent_to_bp;
