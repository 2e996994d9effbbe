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
//!
//! Everything here is pure (figures in, decisions out): the parts that act on a client — the
//! guard that runs after each of the candidate's outcomes and every second, and the rollout
//! and checkpoint operations — live in `client/guard.rs` and `client/control.rs`, so that
//! `client` depends on `rollout` and never the other way round (ARCHITECTURE.md, *Data plane
//! and control plane*). `docs/rollout.md` describes the behaviour end to end.

use std::time::Duration;

pub(crate) mod checkpoint;
pub(crate) mod controller;
pub mod fleet;
pub mod gates;
pub mod llm_gates;
pub(crate) mod plan;
pub mod shadow_gates;

pub use checkpoint::{Checkpoint, KEPT as CHECKPOINTS_KEPT, canonical_json, content_hash};
pub use controller::{RolloutState, RolloutStatus};
pub use plan::{RolloutPlan, Step};

/// Quantile gates run on the request path at most this often.
pub const QUANTILE_EVERY: Duration = Duration::from_millis(250);
/// The background task judges every gate this often.
pub const GUARD_TICK: Duration = Duration::from_secs(1);
