//! Events: what changed, when and why; kept in a bounded history and fanned out to subscribers.

mod bus;
mod event;

pub(crate) use bus::EventBus;
pub use bus::Subscription;
pub use event::{Event, EventKind};
