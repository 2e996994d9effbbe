//! Rollout control on [`Client`]: progressive rollouts, checkpoints, and the periodic tick.
//! The behaviour lives in `crate::rollout`; these are its public doors.

use super::Client;
use crate::error::Result;
use crate::rollout::fleet::RolloutAction;
use crate::rollout::{Checkpoint, RolloutPlan, RolloutStatus};
use crate::routing::TrafficState;

impl Client {
    /// Starts a progressive rollout of the current candidate: a new bucketing salt, the
    /// candidate's windows cleared (it is judged afresh), the weight set to the first step, a
    /// `rollout_started` event. A background task on the client's runtime evaluates the plan's
    /// gates every `plan.interval` (see `docs/rollout.md`); the rollback guard keeps running.
    ///
    /// Fails when the plan is invalid, when a rollout is already running or paused, or when
    /// the client was built outside a tokio runtime.
    pub fn start_rollout(&self, plan: RolloutPlan) -> Result<()> {
        self.ensure_open()?;
        let shadow_first = plan.steps.first().is_some_and(|s| s.shadow);
        if shadow_first && self.engine.config.shadow.is_none() {
            return Err(crate::Error::Config(
                "steps[0] is a shadow step, but the client has no shadow config (shadow={sample, ...})"
                    .to_string(),
            ));
        }
        if self.engine.shared.is_shared() {
            // Shadow diffs are judged in the process that made them; the fleet's analyst
            // judges the fleet's windows, which carry no shadow pairs.
            if shadow_first {
                return Err(crate::Error::Config(
                    "a shadow step is judged per process: start it on a client without a shared state store"
                        .to_string(),
                ));
            }
            plan.validate()?;
            return self.engine.start_fleet_rollout(plan);
        }
        self.engine.start_rollout(plan)
    }

    /// Pauses the rollout at its step (`rollout_paused`); the weight stays and the guard keeps
    /// watching. Fails when no rollout is running or paused.
    pub fn pause_rollout(&self) -> Result<()> {
        self.ensure_open()?;
        if self.engine.shared.is_shared() {
            return self
                .engine
                .change_fleet_rollout(RolloutAction::Pause, "paused by request");
        }
        self.engine.pause_rollout("paused by request")
    }

    /// Resumes a paused rollout (`rollout_resumed`); its step deadline counts again from now.
    /// Fails when no rollout is running or paused.
    pub fn resume_rollout(&self) -> Result<()> {
        self.ensure_open()?;
        if self.engine.shared.is_shared() {
            return self
                .engine
                .change_fleet_rollout(RolloutAction::Resume, "resumed");
        }
        self.engine.resume_rollout()
    }

    /// Aborts the rollout: the candidate's weight goes back to 0 (`rollback`), then
    /// `rollout_aborted`. Fails when no rollout is running or paused.
    pub fn abort_rollout(&self, reason: &str) -> Result<()> {
        self.ensure_open()?;
        if self.engine.shared.is_shared() {
            return self
                .engine
                .change_fleet_rollout(RolloutAction::Abort, reason);
        }
        self.engine.abort_rollout(reason)
    }

    /// The current rollout's progress, or the last one's outcome; `None` before the first.
    pub fn rollout(&self) -> Option<RolloutStatus> {
        self.engine.rollout_status()
    }

    /// Takes a checkpoint of the current traffic state and routing config, named `name`
    /// (`checkpoint_created`). The last ten checkpoints are kept, automatic ones included.
    pub fn checkpoint(&self, name: &str) -> Checkpoint {
        self.engine.take_checkpoint(name)
    }

    /// The checkpoints kept, oldest first.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.engine.control.checkpoints.list()
    }

    /// Re-applies checkpoint `id`'s traffic state — active side, weight and salt, exactly
    /// (`checkpoint_restored`); a live rollout is aborted. Fails when no checkpoint has this
    /// id, or it was taken with another routing config.
    pub fn restore_checkpoint(&self, id: &str) -> Result<TrafficState> {
        self.restore_checkpoint_with(id, false)
    }

    /// [`Client::restore_checkpoint`]; `force` restores a state that sends traffic to an
    /// unavailable side.
    pub fn restore_checkpoint_with(&self, id: &str, force: bool) -> Result<TrafficState> {
        self.ensure_open()?;
        self.engine.restore_checkpoint(id, force)
    }

    /// Runs the periodic checks now, at the client's clock: the guard judges every gate, and
    /// a running rollout is evaluated once (as if its interval had come). Background tasks do
    /// this on their own (the guard every second, a rollout every interval); tests driving a
    /// [`crate::ManualClock`] call it after advancing the clock.
    pub fn tick(&self) {
        self.engine.guard_tick();
        self.engine.rollout_tick();
    }
}
