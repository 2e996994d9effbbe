//! Rollout control: the always-on rollback guard, progressive rollouts, and checkpoints
//! (SEMANTICS.md, *Automatic rollback*, *Progressive rollout*, *Checkpoints and history*).
//!
//! - [`gates`]: a [`crate::config::RollbackPolicy`] judged over a window — pass, fail (which
//!   gate, what figures) or inconclusive.
//! - [`RolloutPlan`]: steps of rising weight with holds and request minimums, the gates, the
//!   interval, the failure limit and the step deadline.
//! - The controller: the state machine a rollout runs through; see [`RolloutStatus`].
//! - [`Checkpoint`]: the traffic state and routing config, hashed; one is taken before every
//!   change, the last ten are kept.
//! - The guard: runs after each of the candidate's outcomes and every second.
//!
//! `docs/rollout.md` describes the behaviour end to end.

mod checkpoint;
pub(crate) mod control;
mod controller;
pub mod gates;
pub(crate) mod guard;
mod plan;

pub use checkpoint::{Checkpoint, KEPT as CHECKPOINTS_KEPT, canonical_json, content_hash};
pub use controller::{RolloutState, RolloutStatus};
pub use guard::{QUANTILE_EVERY, TICK as GUARD_TICK};
pub use plan::{RolloutPlan, Step};
