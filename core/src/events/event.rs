//! The event type.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::environment::Side;

/// The kinds of event, named as in API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The active side changed (weight 0).
    Switch,
    /// The candidate's weight changed.
    WeightChanged,
    /// The candidate became active.
    Promote,
    /// Traffic went back to the last known-good state.
    Rollback,
    /// A rollout started.
    RolloutStarted,
    /// A rollout moved to its next step.
    RolloutStep,
    /// A rollout promoted its candidate.
    RolloutCompleted,
    /// A rollout was paused.
    RolloutPaused,
    /// A rollout was resumed.
    RolloutResumed,
    /// A rollout was aborted.
    RolloutAborted,
    /// Probes changed a side's health.
    HealthChanged,
    /// A side's circuit opened.
    CircuitOpened,
    /// A side's circuit closed.
    CircuitClosed,
    /// Requests were sent to the other side because the chosen one was unavailable.
    Failover,
    /// A checkpoint was taken.
    CheckpointCreated,
    /// A checkpoint was restored.
    CheckpointRestored,
    /// A gate failed while the policy only alerts.
    Alert,
    /// A background task panicked and was restarted (`task`, `panic` say which and why).
    TaskRestarted,
    /// An operation found the state changed under it (a rollback of a canary that is gone) and
    /// did nothing.
    Superseded,
    /// The link to the shared state store was lost.
    StoreDisconnected,
    /// The link to the shared state store is back.
    StoreReconnected,
    /// A key of a side's pool was answered 401 or 403 and taken out (`key` is its fingerprint).
    KeyRevoked,
    /// A side's keys were replaced at run time (`keys` are their fingerprints).
    KeysRotated,
    /// Shadow spend reached `shadow.max_usd_per_hour`: sampled requests are shed this hour.
    ShadowBudgetExhausted,
    /// This instance took the analyst lease: it now runs the fleet's rollout controller.
    LeaseAcquired,
    /// This instance no longer holds the analyst lease.
    LeaseLost,
    /// A rollout's gates failed over the fleet's window, within the plan's `failure_limit`.
    RolloutGateFailed,
    /// The fleet-wide rate limits cannot be reached (or are back): local buckets meanwhile.
    RateLimitsLocal,
}

impl EventKind {
    /// The name of the kind, e.g. `"weight_changed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Switch => "switch",
            Self::WeightChanged => "weight_changed",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::RolloutStarted => "rollout_started",
            Self::RolloutStep => "rollout_step",
            Self::RolloutCompleted => "rollout_completed",
            Self::RolloutPaused => "rollout_paused",
            Self::RolloutResumed => "rollout_resumed",
            Self::RolloutAborted => "rollout_aborted",
            Self::HealthChanged => "health_changed",
            Self::CircuitOpened => "circuit_opened",
            Self::CircuitClosed => "circuit_closed",
            Self::Failover => "failover",
            Self::CheckpointCreated => "checkpoint_created",
            Self::CheckpointRestored => "checkpoint_restored",
            Self::Alert => "alert",
            Self::TaskRestarted => "task_restarted",
            Self::Superseded => "superseded",
            Self::StoreDisconnected => "store_disconnected",
            Self::StoreReconnected => "store_reconnected",
            Self::KeyRevoked => "key_revoked",
            Self::KeysRotated => "keys_rotated",
            Self::ShadowBudgetExhausted => "shadow_budget_exhausted",
            Self::LeaseAcquired => "lease_acquired",
            Self::LeaseLost => "lease_lost",
            Self::RolloutGateFailed => "rollout_gate_failed",
            Self::RateLimitsLocal => "rate_limits_local",
        }
    }
}

/// One event: `{type, at, reason, environment?, ...details}` when serialised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When, as RFC 3339.
    pub at: String,
    /// Why, in words.
    pub reason: String,
    /// The side concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Side>,
    /// The traffic version after the event.
    #[serde(default)]
    pub version: u64,
    /// Figures and fields specific to the kind (window stats of a rollback, step of a rollout…).
    #[serde(flatten)]
    pub details: serde_json::Map<String, Value>,
}

impl Event {
    /// A new event at `when`.
    pub fn new(kind: EventKind, when: SystemTime, reason: impl Into<String>) -> Self {
        Self {
            kind,
            at: humantime::format_rfc3339_millis(when).to_string(),
            reason: reason.into(),
            environment: None,
            version: 0,
            details: serde_json::Map::new(),
        }
    }

    /// Sets the side concerned.
    pub fn environment(mut self, side: Side) -> Self {
        self.environment = Some(side);
        self
    }

    /// Adds a detail field.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// The event as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
