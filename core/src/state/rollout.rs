//! The rollout as the store holds it (SEMANTICS.md, *Fleet*): plan, step, state, when the step
//! began, failures and reason, so that any instance holding the analyst lease (or the CLI) can
//! carry it on from where it stands.

use serde::{Deserialize, Serialize};

use crate::environment::Side;
use crate::rollout::{RolloutPlan, RolloutState};

/// A rollout stored with the traffic state. Every write of it bumps `rev`; the operations that
/// change it name the `rev` (or the step) they follow, so a stale writer is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutRecord {
    /// Unique, e.g. `r-3f2a9c`.
    pub id: String,
    /// The plan as started.
    pub plan: RolloutPlan,
    /// The side rolled out.
    pub candidate: Side,
    /// Index of the current step (0-based).
    pub step: usize,
    /// Running, paused or how it ended.
    pub state: RolloutState,
    /// When the current step began (RFC 3339).
    pub step_started_at: String,
    /// The same, in milliseconds since the Unix epoch (the hold counts from here).
    pub step_started_ms: u64,
    /// When the rollout started, epoch ms (the gates' window never reaches before it).
    pub started_ms: u64,
    /// When the step deadline counts from (the step's start or the last resume), epoch ms.
    pub deadline_from_ms: u64,
    /// The fleet's judged candidate requests when the step began (`min_requests` counts from
    /// here); `None` when the starter could not know it, and the analyst counts from when it
    /// first saw the step.
    #[serde(default)]
    pub requests_at_entry: Option<u64>,
    /// Failed evaluations so far.
    pub failures: u32,
    /// Why it is paused or ended.
    #[serde(default)]
    pub reason: Option<String>,
    /// Who started it.
    pub started_by: String,
    /// Bumped by every write.
    pub rev: u64,
}

impl RolloutRecord {
    /// Running or paused.
    pub fn is_live(&self) -> bool {
        self.state.is_live()
    }

    /// This record moved to `state` (paused, or how it ended) for `reason`: one write more.
    #[must_use]
    pub fn with_state(&self, state: RolloutState, reason: String) -> Self {
        Self {
            state,
            reason: Some(reason),
            rev: self.rev + 1,
            ..self.clone()
        }
    }
}
