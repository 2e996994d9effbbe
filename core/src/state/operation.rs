//! Operations: every change of the shared traffic state is one, with an id, an author and a
//! reason, and is applied to the *stored* state by the store in one atomic step
//! (SEMANTICS.md, *Fleet*). [`apply`] is the transition function of the memory and file
//! stores and of every client's local view; the Redis store runs the same rules in Lua
//! (`redis_store.rs`), and `core/tests/state.rs` runs one scenario list against all three.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::rollout::RolloutRecord;
use crate::environment::Side;
use crate::events::EventKind;
use crate::rollout::RolloutState;
use crate::routing::TrafficState;

/// Where a change came from, as the `source` of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A call on this client.
    Local,
    /// The rollback guard of this client.
    Guard,
    /// A rollout run by this client.
    Rollout,
    /// Adopted from the shared store.
    Store,
    /// The `turnout` CLI.
    Cli,
}

impl Source {
    /// The name, e.g. `"guard"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Guard => "guard",
            Self::Rollout => "rollout",
            Self::Store => "store",
            Self::Cli => "cli",
        }
    }
}

/// The canary a rollback rolls back, or the state a rollout step expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// The active side at decision time.
    pub active: Side,
    /// The candidate's weight at decision time.
    pub weight_bp: u32,
    /// The salt at decision time.
    pub salt: String,
}

impl Canary {
    /// The canary of `state`.
    pub fn of(state: &TrafficState) -> Self {
        Self {
            active: state.active,
            weight_bp: state.weight_bp,
            salt: state.salt.clone(),
        }
    }

    fn matches(&self, s: &TrafficState) -> bool {
        self.active == s.active && self.weight_bp == s.weight_bp && self.salt == s.salt
    }

    /// Whether this canary still runs in `stored`, so a rollback of it applies: the same state, or
    /// the same rollout's canary, only moved on by its own steps (same active side and salt,
    /// weight still above 0, the last change a rollout step: an operator's change of weight
    /// is a `weight_changed`, and ends the rollout). A guard's rollback then still stops the
    /// candidate the analyst just advanced, and only an operator's change supersedes it.
    fn still_runs_in(&self, stored: &StoredState) -> bool {
        let s = &stored.traffic;
        self.matches(s)
            || (self.active == s.active
                && self.salt == s.salt
                && self.weight_bp > 0
                && s.weight_bp > 0
                && stored.last_change == EventKind::RolloutStep.as_str())
    }
}

/// What an operation changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// `to` active, weight 0.
    Switch {
        /// The side to make active.
        to: Side,
    },
    /// The candidate at `weight_bp`.
    SetWeight {
        /// Basis points, 0..=10000.
        weight_bp: u32,
    },
    /// The candidate active, weight 0.
    Promote,
    /// Undo the last release step: weight 0 if a canary runs; else the previous active side if
    /// the last change made a side active; nothing when the last change was a rollback.
    Rollback {
        /// The canary this rollback is about; the rollback is `superseded` when the state no
        /// longer is that canary (its rollout's own later steps still are: see
        /// `Canary::still_runs_in`). `None`: whatever runs now (the CLI's rollback, written
        /// straight to the store; a client's names the state it was decided on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        canary: Option<Canary>,
    },
    /// Re-apply a checkpoint's traffic state.
    Restore {
        /// The checkpoint's id.
        checkpoint: String,
        /// Its active side.
        active: Side,
        /// Its weight.
        weight_bp: u32,
        /// Its salt.
        salt: String,
    },
    /// A rollout starts: a new salt and its first step's weight.
    RolloutStart {
        /// The rollout's id.
        rollout: String,
        /// The first step's weight.
        weight_bp: u32,
        /// The rollout's salt.
        salt: String,
        /// The candidate it rolls out.
        candidate: Side,
    },
    /// A rollout moves to a step; refused when the state is not the one the step follows.
    RolloutStep {
        /// The rollout's id.
        rollout: String,
        /// The step entered (0-based).
        step: usize,
        /// Its weight.
        weight_bp: u32,
        /// The state the step follows.
        expect: Canary,
    },
    /// A rollout promotes its candidate; refused when the state is not the rollout's.
    RolloutPromote {
        /// The rollout's id.
        rollout: String,
        /// The state the promotion follows.
        expect: Canary,
    },
    /// A running rollout pauses at its step (the operation's record says why).
    RolloutPause {
        /// The rollout's id.
        rollout: String,
        /// The record's `rev` this follows.
        rev: u64,
    },
    /// A paused rollout runs again.
    RolloutResume {
        /// The rollout's id.
        rollout: String,
        /// The record's `rev` this follows.
        rev: u64,
    },
    /// The analyst counted a failed evaluation of the gates (within `failure_limit`).
    RolloutCount {
        /// The rollout's id.
        rollout: String,
        /// The record's `rev` this follows.
        rev: u64,
    },
    /// A live rollout is aborted: the candidate's weight goes back to 0.
    RolloutAbort {
        /// The rollout's id.
        rollout: String,
    },
}

impl Change {
    /// The kind of event this change is recorded as.
    pub fn event_kind(&self) -> EventKind {
        match self {
            Self::Switch { .. } => EventKind::Switch,
            Self::SetWeight { .. } => EventKind::WeightChanged,
            Self::Promote | Self::RolloutPromote { .. } => EventKind::Promote,
            Self::Rollback { .. } => EventKind::Rollback,
            Self::Restore { .. } => EventKind::CheckpointRestored,
            Self::RolloutStart { .. } => EventKind::RolloutStarted,
            Self::RolloutStep { .. } => EventKind::RolloutStep,
            Self::RolloutPause { .. } => EventKind::RolloutPaused,
            Self::RolloutResume { .. } => EventKind::RolloutResumed,
            Self::RolloutCount { .. } => EventKind::RolloutGateFailed,
            Self::RolloutAbort { .. } => EventKind::RolloutAborted,
        }
    }

    /// The rollout this change names, if it is a rollout's own.
    pub fn rollout_id(&self) -> Option<&str> {
        match self {
            Self::RolloutStart { rollout, .. }
            | Self::RolloutStep { rollout, .. }
            | Self::RolloutPromote { rollout, .. }
            | Self::RolloutPause { rollout, .. }
            | Self::RolloutResume { rollout, .. }
            | Self::RolloutCount { rollout, .. }
            | Self::RolloutAbort { rollout } => Some(rollout),
            _ => None,
        }
    }

    /// Whether this is a safety decision that a full queue never drops: a rollback, or a
    /// rollout's abort (the candidate's weight back to 0 too).
    pub fn is_safety(&self) -> bool {
        matches!(self, Self::Rollback { .. } | Self::RolloutAbort { .. })
    }
}

/// One change, as submitted to a store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Unique; a store applies an id once (a retried submission gets the first result).
    pub id: String,
    /// Who asked: an instance id (`host:pid` or the configured `instance_id`) or
    /// `cli:user@host`.
    pub author: String,
    /// Why, in words.
    pub reason: String,
    /// What decided it: `local` (a call), `guard`, `rollout` or `cli`.
    #[serde(default)]
    pub source: String,
    /// When it was decided (RFC 3339).
    pub at: String,
    /// What it changes.
    #[serde(flatten)]
    pub change: Change,
    /// Refuse unless the stored version is this one (the CLI's `--if-version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
    /// The rollout record this operation stores when applied (a rollout's own operations, and
    /// the analyst's rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RolloutRecord>,
}

impl Operation {
    /// A new operation with a fresh id.
    pub fn new(author: &str, reason: impl Into<String>, change: Change, at: SystemTime) -> Self {
        Self {
            id: format!(
                "op-{:016x}{:08x}",
                rand::random::<u64>(),
                rand::random::<u32>()
            ),
            author: author.to_string(),
            reason: reason.into(),
            source: String::new(),
            at: humantime::format_rfc3339_millis(at).to_string(),
            change,
            if_version: None,
            record: None,
        }
    }
}

/// The state a store holds: the traffic state and what [`Change::Rollback`] needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredState {
    /// The traffic state.
    #[serde(flatten)]
    pub traffic: TrafficState,
    /// The event kind of the last change that changed something (`rollback`, `promote`…).
    #[serde(default)]
    pub last_change: String,
    /// The side that was active before the last change of the active side, with its salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<(Side, String)>,
    /// Who made the last change.
    #[serde(default)]
    pub updated_by: String,
    /// When (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
    /// The reason of the last change.
    #[serde(default)]
    pub last_reason: String,
    /// The current or last rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutRecord>,
}

impl StoredState {
    /// A state nobody changed yet.
    pub fn initial(traffic: TrafficState) -> Self {
        Self {
            traffic,
            last_change: String::new(),
            undo: None,
            updated_by: String::new(),
            updated_at: String::new(),
            last_reason: String::new(),
            rollout: None,
        }
    }

    /// The live rollout, if one runs or is paused.
    pub fn live_rollout(&self) -> Option<&RolloutRecord> {
        self.rollout.as_ref().filter(|r| r.is_live())
    }
}

/// What became of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The state changed (version + 1).
    Applied,
    /// Nothing to change (already so, or already rolled back); recorded, no new version.
    Unchanged,
    /// A rollback whose canary is gone: recorded as `superseded`, nothing changed.
    Superseded,
    /// A precondition failed (`if_version`, a stale rollout step); not recorded.
    Refused,
}

/// The result of applying an operation: the verdict, why, and the state after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The operation's id.
    pub id: String,
    /// What became of it.
    pub verdict: Verdict,
    /// Why, when nothing changed.
    #[serde(default)]
    pub note: String,
    /// The stored state after it.
    pub state: StoredState,
}

/// Applies `op` to `stored` (pure: the store persists the result). The version moves only when
/// the state changes: the traffic, or the rollout record.
pub fn apply(stored: &StoredState, op: &Operation) -> Outcome {
    let s = &stored.traffic;
    let done = |verdict: Verdict, note: String| Outcome {
        id: op.id.clone(),
        verdict,
        note,
        state: stored.clone(),
    };
    if let Some(v) = op.if_version
        && v != s.version
    {
        return done(
            Verdict::Refused,
            format!("the state is at version {}, not {v}", s.version),
        );
    }
    if let Err(note) = rollout_precondition(stored.rollout.as_ref(), &op.change) {
        return done(Verdict::Refused, note);
    }
    let next = match &op.change {
        Change::Switch { to } => s.switched(*to),
        Change::SetWeight { weight_bp } => s.weighted(*weight_bp),
        Change::Promote => s.promoted(),
        Change::RolloutStart {
            weight_bp,
            salt,
            candidate,
            ..
        } => {
            if s.candidate() != *candidate {
                return done(
                    Verdict::Refused,
                    format!("{candidate} is no longer the candidate"),
                );
            }
            TrafficState {
                salt: salt.clone(),
                ..s.weighted(*weight_bp)
            }
        }
        Change::RolloutStep {
            weight_bp, expect, ..
        } => {
            if !expect.matches(s) {
                return done(Verdict::Refused, stale(s));
            }
            s.weighted(*weight_bp)
        }
        Change::RolloutPromote { expect, .. } => {
            if !expect.matches(s) {
                return done(Verdict::Refused, stale(s));
            }
            s.promoted()
        }
        Change::RolloutPause { .. }
        | Change::RolloutResume { .. }
        | Change::RolloutCount { .. } => s.clone(),
        Change::RolloutAbort { .. } => s.weighted(0),
        Change::Restore {
            active,
            weight_bp,
            salt,
            ..
        } => TrafficState {
            active: *active,
            salt: salt.clone(),
            ..s.weighted(*weight_bp)
        },
        Change::Rollback { canary } => {
            if let Some(c) = canary
                && !c.still_runs_in(stored)
            {
                return done(Verdict::Superseded, stale(s));
            }
            match rolled_back(stored) {
                Ok(next) => next,
                Err(note) => return done(Verdict::Unchanged, note.to_string()),
            }
        }
    };
    let moved = !(next.active == s.active && next.weight_bp == s.weight_bp && next.salt == s.salt);
    let rollout = next_rollout(stored, op, moved);
    if !moved && rollout.is_none() {
        return done(Verdict::Unchanged, "no change: already so".to_string());
    }
    // What a rollback would go back to: the side this change made inactive, and only that. A
    // change that moves traffic but keeps the active side forgets an older one, which a
    // rollback after it would otherwise take for the side this change replaced.
    let undo = (next.active != s.active).then(|| (s.active, s.salt.clone()));
    let mut state = StoredState {
        traffic: TrafficState {
            version: s.version + 1,
            ..next
        },
        rollout: rollout.or_else(|| stored.rollout.clone()),
        ..stored.clone()
    };
    if moved {
        state.last_change = op.change.event_kind().as_str().to_string();
        state.undo = undo;
        state.updated_by = op.author.clone();
        state.updated_at = op.at.clone();
        state.last_reason = op.reason.clone();
    }
    Outcome {
        id: op.id.clone(),
        verdict: Verdict::Applied,
        note: String::new(),
        state,
    }
}

/// Refuses a rollout's operation that does not follow the stored rollout: another rollout is
/// live (start), the rollout is another or not at the step before (step), or its record moved
/// (pause, resume, count).
fn rollout_precondition(cur: Option<&RolloutRecord>, change: &Change) -> Result<(), String> {
    let live = cur.filter(|r| r.is_live());
    let describe = |r: &RolloutRecord| {
        format!(
            "rollout {} is {} at step {} of {}",
            r.id,
            r.state.as_str(),
            r.step + 1,
            r.plan.steps.len()
        )
    };
    let named = |id: &str| match live {
        Some(r) if r.id == id => Ok(r),
        Some(r) => Err(format!("{}, not {id}", describe(r))),
        None => Err(match cur {
            Some(r) => format!("{}: it is not live", describe(r)),
            None => "no rollout was started".to_string(),
        }),
    };
    match change {
        Change::RolloutStart { .. } => match live {
            Some(r) => Err(format!("{}; abort it before starting another", describe(r))),
            None => Ok(()),
        },
        // A rollout of one process (memory store) keeps no record: its steps follow the
        // traffic they expect, nothing more.
        Change::RolloutStep { .. } | Change::RolloutPromote { .. } if cur.is_none() => Ok(()),
        Change::RolloutStep { rollout, step, .. } => {
            let r = named(rollout)?;
            if r.state != RolloutState::Running || r.step + 1 != *step {
                return Err(format!("stale step {}: {}", step + 1, describe(r)));
            }
            Ok(())
        }
        Change::RolloutPromote { rollout, .. } => {
            let r = named(rollout)?;
            if r.state != RolloutState::Running || r.step + 1 != r.plan.steps.len() {
                return Err(format!("stale promotion: {}", describe(r)));
            }
            Ok(())
        }
        Change::RolloutPause { rollout, rev }
        | Change::RolloutResume { rollout, rev }
        | Change::RolloutCount { rollout, rev } => {
            let r = named(rollout)?;
            if r.rev != *rev {
                return Err(format!(
                    "the rollout record moved meanwhile (rev {}, not {rev})",
                    r.rev
                ));
            }
            Ok(())
        }
        Change::RolloutAbort { rollout } => named(rollout).map(|_| ()),
        _ => Ok(()),
    }
}

/// The rollout record after `op`: the operation's own for a rollout's operations (and an
/// analyst's rollback that carries one); a live rollout ended when any other change moved the
/// traffic; `None` when the record stays.
fn next_rollout(stored: &StoredState, op: &Operation, moved: bool) -> Option<RolloutRecord> {
    let own = op.change.rollout_id().is_some() || matches!(op.change, Change::Rollback { .. });
    if own && let Some(r) = &op.record {
        return Some(RolloutRecord {
            rev: stored.rollout.as_ref().map_or(0, |c| c.rev) + 1,
            ..r.clone()
        });
    }
    let live = stored.live_rollout()?;
    if !moved || op.change.rollout_id().is_some() {
        return None;
    }
    Some(match op.change {
        Change::Rollback { .. } => live.with_state(RolloutState::RolledBack, op.reason.clone()),
        _ => live.with_state(
            RolloutState::Aborted,
            format!(
                "superseded by a {}: {}",
                op.change.event_kind().as_str(),
                op.reason
            ),
        ),
    })
}

fn stale(s: &TrafficState) -> String {
    format!(
        "the state changed meanwhile (now {} active, {}% to {}, version {})",
        s.active,
        s.canary_weight(),
        s.candidate(),
        s.version
    )
}

/// Where a rollback goes from `stored`, or why it goes nowhere.
fn rolled_back(stored: &StoredState) -> Result<TrafficState, &'static str> {
    let s = &stored.traffic;
    if s.weight_bp > 0 {
        return Ok(s.weighted(0));
    }
    if stored.last_change == EventKind::Rollback.as_str() {
        return Err("already rolled back");
    }
    let made_active = [
        EventKind::Switch,
        EventKind::Promote,
        EventKind::CheckpointRestored,
    ]
    .iter()
    .any(|k| k.as_str() == stored.last_change);
    match &stored.undo {
        Some((side, salt)) if made_active && *side != s.active => Ok(TrafficState {
            active: *side,
            weight_bp: 0,
            salt: salt.clone(),
            version: s.version,
        }),
        _ => Err("nothing to roll back: no canary runs and the last change made no side active"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(active: Side, weight_bp: u32) -> StoredState {
        StoredState::initial(TrafficState {
            active,
            weight_bp,
            salt: "s".into(),
            version: 3,
        })
    }

    fn op(change: Change) -> Operation {
        Operation::new("test:1", "why", change, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn a_change_bumps_the_version_and_remembers_the_previous_side() {
        let out = apply(&stored(Side::Blue, 0), &op(Change::Promote));
        assert_eq!(out.verdict, Verdict::Applied);
        assert_eq!(out.state.traffic.active, Side::Green);
        assert_eq!(out.state.traffic.version, 4);
        assert_eq!(out.state.undo, Some((Side::Blue, "s".to_string())));
        assert_eq!(out.state.last_change, "promote");
    }

    #[test]
    fn rollback_undoes_once_then_says_already_rolled_back() {
        let promoted = apply(&stored(Side::Blue, 0), &op(Change::Promote)).state;
        let back = apply(&promoted, &op(Change::Rollback { canary: None }));
        assert_eq!(back.verdict, Verdict::Applied);
        assert_eq!(back.state.traffic.active, Side::Blue);
        let again = apply(&back.state, &op(Change::Rollback { canary: None }));
        assert_eq!(again.verdict, Verdict::Unchanged);
        assert_eq!(again.note, "already rolled back");
        assert_eq!(again.state, back.state);
    }

    #[test]
    fn a_rollback_after_a_change_that_kept_the_active_side_changes_nothing() {
        // Green was active once and blue replaced it: green is what a rollback would restore.
        let switched = apply(
            &stored(Side::Green, 0),
            &op(Change::Switch { to: Side::Blue }),
        );
        let canary = apply(&switched.state, &op(Change::SetWeight { weight_bp: 1000 }));
        let restore = Change::Restore {
            checkpoint: "cp".into(),
            active: Side::Blue,
            weight_bp: 0,
            salt: "s".into(),
        };
        for ended in [Change::Switch { to: Side::Blue }, restore] {
            let ended = apply(&canary.state, &op(ended));
            assert_eq!(ended.verdict, Verdict::Applied);
            assert_eq!(ended.state.undo, None);
            let back = apply(&ended.state, &op(Change::Rollback { canary: None }));
            assert_eq!(back.verdict, Verdict::Unchanged, "{}", back.note);
            assert_eq!(back.state.traffic.active, Side::Blue);
        }
    }

    #[test]
    fn a_rollback_of_a_canary_that_is_gone_is_superseded() {
        let s = stored(Side::Blue, 500);
        let canary = Canary::of(&TrafficState {
            weight_bp: 900,
            ..s.traffic.clone()
        });
        let out = apply(
            &s,
            &op(Change::Rollback {
                canary: Some(canary),
            }),
        );
        assert_eq!(out.verdict, Verdict::Superseded);
        assert_eq!(out.state, s);
    }

    #[test]
    fn a_rollback_of_a_canary_its_rollout_moved_on_still_applies() {
        let start = op(Change::RolloutStart {
            rollout: "r1".into(),
            weight_bp: 1000,
            salt: "r1-salt".into(),
            candidate: Side::Green,
        });
        let at_10 = apply(&stored(Side::Blue, 0), &start).state;
        // The guard decides at 10 %; the analyst enters the next step before it lands.
        let guard = op(Change::Rollback {
            canary: Some(Canary::of(&at_10.traffic)),
        });
        let step = op(Change::RolloutStep {
            rollout: "r1".into(),
            step: 1,
            weight_bp: 2500,
            expect: Canary::of(&at_10.traffic),
        });
        let at_25 = apply(&at_10, &step);
        assert_eq!(at_25.verdict, Verdict::Applied);
        let out = apply(&at_25.state, &guard);
        assert_eq!(out.verdict, Verdict::Applied, "{}", out.note);
        assert_eq!(out.state.traffic.weight_bp, 0);
        assert_eq!(out.state.traffic.active, Side::Blue);

        // An operator's weight (same side, same salt) supersedes it.
        let manual = apply(&at_10, &op(Change::SetWeight { weight_bp: 2500 })).state;
        assert_eq!(apply(&manual, &guard).verdict, Verdict::Superseded);
        // A canary another instance already stopped is gone too: nothing is undone twice.
        let stopped = apply(&at_25.state, &op(Change::Rollback { canary: None }));
        assert_eq!(stopped.state.traffic.weight_bp, 0);
        assert_eq!(apply(&stopped.state, &guard).verdict, Verdict::Superseded);
        // And another rollout (another salt).
        let other = TrafficState {
            salt: "r2-salt".into(),
            ..at_25.state.traffic.clone()
        };
        let other = StoredState {
            traffic: other,
            ..at_25.state.clone()
        };
        assert_eq!(apply(&other, &guard).verdict, Verdict::Superseded);
    }

    #[test]
    fn if_version_refuses_a_moved_state() {
        let mut o = op(Change::SetWeight { weight_bp: 100 });
        o.if_version = Some(2);
        assert_eq!(apply(&stored(Side::Blue, 0), &o).verdict, Verdict::Refused);
        o.if_version = Some(3);
        assert_eq!(apply(&stored(Side::Blue, 0), &o).verdict, Verdict::Applied);
    }
}
