//! The memory back end, and the ledger the memory and file back ends share: the stored state,
//! its last checkpoints and the outcomes of the last operations (so a retry applies once).

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::fleet::FleetLedger;
use super::operation::{Operation, Outcome, StoredState, Verdict, apply};
use super::store::recorded;
use crate::events::Event;
use crate::rollout::Checkpoint;
use crate::routing::TrafficState;

/// Checkpoints kept.
const CHECKPOINTS: usize = 10;
/// Outcomes remembered for retried submissions.
const OUTCOMES: usize = 200;
/// Events kept.
pub(crate) const EVENTS: usize = 1000;

/// What a store holds besides its history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Ledger {
    pub state: Option<StoredState>,
    #[serde(default)]
    pub checkpoints: VecDeque<StoredState>,
    #[serde(default)]
    pub outcomes: VecDeque<Outcome>,
    #[serde(default)]
    pub fleet: FleetLedger,
    /// Named checkpoints taken from the CLI, oldest first.
    #[serde(default)]
    pub named: VecDeque<Checkpoint>,
}

impl Ledger {
    /// Applies `op`; returns its outcome and, unless it was refused or is a retry, the event
    /// to append to the history.
    pub fn apply(&mut self, op: &Operation, init: &TrafficState) -> (Outcome, Option<Event>) {
        if let Some(done) = self.outcomes.iter().find(|o| o.id == op.id) {
            return (done.clone(), None);
        }
        let current = self
            .state
            .clone()
            .unwrap_or_else(|| StoredState::initial(init.clone()));
        let outcome = apply(&current, op);
        if outcome.verdict == Verdict::Refused {
            return (outcome, None);
        }
        if outcome.verdict == Verdict::Applied {
            // A checkpoint is the traffic the change replaced; a change of the rollout record
            // alone (pause, resume, a counted failure) replaces none.
            if moved(&current, &outcome.state) {
                if self.checkpoints.len() == CHECKPOINTS {
                    self.checkpoints.pop_front();
                }
                self.checkpoints.push_back(StoredState {
                    rollout: None,
                    ..current.clone()
                });
            }
            self.state = Some(outcome.state.clone());
        }
        if self.outcomes.len() == OUTCOMES {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(outcome.clone());
        let event = recorded(op, &current.traffic, &outcome);
        (outcome, Some(event))
    }
}

fn moved(a: &StoredState, b: &StoredState) -> bool {
    let (a, b) = (&a.traffic, &b.traffic);
    a.active != b.active || a.weight_bp != b.weight_bp || a.salt != b.salt
}

/// A store in this process only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<(Ledger, VecDeque<Event>)>,
}

impl MemoryStore {
    pub(crate) fn load(&self) -> Option<StoredState> {
        self.inner.lock().0.state.clone()
    }

    pub(crate) fn apply(&self, op: &Operation, init: &TrafficState) -> Outcome {
        let mut inner = self.inner.lock();
        let (outcome, event) = inner.0.apply(op, init);
        if let Some(e) = event {
            push(&mut inner.1, e);
        }
        outcome
    }

    pub(crate) fn append(&self, event: Event) {
        push(&mut self.inner.lock().1, event);
    }

    pub(crate) fn events(&self, limit: usize) -> Vec<Event> {
        let inner = self.inner.lock();
        let skip = inner.1.len().saturating_sub(limit);
        inner.1.iter().skip(skip).cloned().collect()
    }

    pub(crate) fn checkpoints(&self) -> Vec<StoredState> {
        self.inner.lock().0.checkpoints.iter().cloned().collect()
    }

    pub(crate) fn put_checkpoint(&self, cp: Checkpoint, event: Event) {
        let mut inner = self.inner.lock();
        keep_named(&mut inner.0.named, cp);
        push(&mut inner.1, event);
    }

    pub(crate) fn named(&self) -> Vec<Checkpoint> {
        self.inner.lock().0.named.iter().cloned().collect()
    }

    /// Runs `f` on the fleet part of the ledger.
    pub(crate) fn fleet<T>(&self, f: impl FnOnce(&mut FleetLedger) -> T) -> T {
        f(&mut self.inner.lock().0.fleet)
    }
}

fn push(events: &mut VecDeque<Event>, e: Event) {
    if events.len() == EVENTS {
        events.pop_front();
    }
    events.push_back(e);
}

/// Keeps the last [`CHECKPOINTS`] named checkpoints.
pub(crate) fn keep_named(named: &mut VecDeque<Checkpoint>, cp: Checkpoint) {
    if named.len() == CHECKPOINTS {
        named.pop_front();
    }
    named.push_back(cp);
}
