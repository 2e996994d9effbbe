//! Events: what changed, when and why; kept in a bounded history and fanned out to subscribers,
//! to the audit log (`config.audit_log`, one JSON line each) and to the webhook
//! (`config.webhook`, one POST each, off the request path).

mod audit;
mod bus;
mod event;
pub mod webhook;

pub(crate) use bus::EventBus;
pub use bus::Subscription;
pub use event::{Event, EventKind};
