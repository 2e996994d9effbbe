//! Operations on the traffic state and views of it: switch, weight, promote, rollback, status,
//! health checks, history.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Client;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, Subscription};
use crate::health::ProbeResult;
use crate::resilience::CircuitState;
use crate::routing::TrafficState;
use crate::state::{Canary, Change};
use crate::stats::WindowStats;

/// What `status()` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The stable side.
    pub active: Side,
    /// The candidate's share in percent.
    pub canary_weight: f64,
    /// The traffic state's version.
    pub version: u64,
    /// The bucketing salt.
    pub salt: String,
    /// Each side's health, circuit and window.
    pub environments: BTreeMap<Side, EnvironmentStatus>,
    /// The current or last rollout's progress.
    pub rollout: Option<crate::rollout::RolloutStatus>,
    /// The link to the state store.
    pub store: super::shared_state::StoreStatus,
}

/// One side in `status()`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    /// Its label.
    pub label: Option<String>,
    /// Its base URL, with any secret in it masked.
    pub base_url: String,
    /// A fingerprint of its key (never the key).
    pub key: String,
    /// The thresholded health of its probes.
    pub healthy: bool,
    /// The last probe's result, if a probe has run.
    pub last_probe: Option<ProbeResult>,
    /// Its circuit.
    pub circuit: CircuitState,
    /// Its sliding window.
    pub window: WindowStats,
    /// Each key of its pool: fingerprint and state (active, cooling, revoked).
    pub keys: Vec<crate::keys::KeyStatus>,
}

impl Client {
    /// The current traffic state.
    pub fn traffic(&self) -> TrafficState {
        (*self.engine.traffic.load()).clone()
    }

    /// A view of the traffic state, per-side health, circuits and window statistics.
    pub fn status(&self) -> Status {
        let e = &self.engine;
        let state = e.traffic.load();
        let now = e.now();
        let environments = Side::BOTH
            .into_iter()
            .map(|side| {
                let s = e.side(side);
                let env = e.config.environments.get(side);
                let status = EnvironmentStatus {
                    label: env.label_str().map(str::to_string),
                    base_url: crate::secret::masked_url(env.base_url()),
                    key: env.api_key().fingerprint(),
                    healthy: s.health.is_healthy(),
                    last_probe: s.health.last(),
                    circuit: s.circuit.state(now),
                    window: s.stats.snapshot(now),
                    keys: s.endpoint.keys.status(),
                };
                (side, status)
            })
            .collect();
        Status {
            active: state.active,
            canary_weight: state.canary_weight(),
            version: state.version,
            salt: state.salt.clone(),
            environments,
            rollout: e.rollout_status(),
            store: e.shared.status(),
        }
    }

    /// Makes `side` active with no canary: an instant, reversible blue/green switch. Refused
    /// when `side` is unavailable (circuit open, or unhealthy): see [`Client::switch_to_with`].
    pub fn switch_to(&self, side: Side) -> Result<TrafficState> {
        self.switch_to_with(side, false)
    }

    /// [`Client::switch_to`]; `force` sends traffic to `side` even when it is unavailable.
    pub fn switch_to_with(&self, side: Side, force: bool) -> Result<TrafficState> {
        self.ensure_open()?;
        self.engine.manual_change(
            |_| Change::Switch { to: side },
            format!("switched to {side}"),
            force,
        )
    }

    /// Sends `percent` (0..=100) of traffic to the candidate.
    pub fn set_canary_weight(&self, percent: f64) -> Result<TrafficState> {
        self.set_canary_weight_with(percent, false)
    }

    /// [`Client::set_canary_weight`]; `force` raises the weight of an unavailable candidate.
    pub fn set_canary_weight_with(&self, percent: f64, force: bool) -> Result<TrafficState> {
        self.ensure_open()?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(Error::Config(format!(
                "canary_weight must be within 0..=100, got {percent}"
            )));
        }
        let weight_bp = crate::routing::percent_to_bp(percent);
        self.engine.manual_change(
            |_| Change::SetWeight { weight_bp },
            format!("canary weight set to {percent}%"),
            force,
        )
    }

    /// Makes the candidate active, weight back to 0.
    pub fn promote(&self) -> Result<TrafficState> {
        self.promote_with(false)
    }

    /// [`Client::promote`]; `force` promotes an unavailable candidate.
    pub fn promote_with(&self, force: bool) -> Result<TrafficState> {
        self.ensure_open()?;
        let candidate = self.engine.traffic.peek().candidate();
        self.engine
            .manual_change(|_| Change::Promote, format!("promoted {candidate}"), force)
    }

    /// Undoes the last release step: weight 0 when a canary runs; else, when the last change
    /// made a side active (promote, switch, restore), the side active before it (with its
    /// salt). When the last change already was a rollback it changes nothing (the event says
    /// `already rolled back`), so repeating a rollback never puts a failed release live. A live
    /// rollout is aborted. With a shared store it rolls back the state it was decided on: if
    /// an operator changed the stored state before it got there (say it waited out an outage),
    /// it is recorded as `superseded` and changes nothing.
    pub fn rollback(&self, reason: &str) -> Result<TrafficState> {
        self.rollback_with(reason, false)
    }

    /// [`Client::rollback`]; `force` goes back to a side that is unavailable.
    pub fn rollback_with(&self, reason: &str, force: bool) -> Result<TrafficState> {
        self.ensure_open()?;
        // It names the state it was decided on: queued while the store is unreachable, it is
        // `superseded` if an operator changed the state meanwhile, never applied to that.
        self.engine.manual_change(
            |decided| Change::Rollback {
                canary: Some(Canary::of(decided)),
            },
            reason.to_string(),
            force,
        )
    }

    /// Probes `side` now and returns this probe's result (it also counts toward the
    /// thresholds).
    pub async fn health_check(&self, side: Side) -> ProbeResult {
        self.engine.probe(side).await
    }

    /// The events kept in memory (the last 1000), oldest first.
    pub fn history(&self) -> Vec<Event> {
        self.engine.events.history()
    }

    /// Calls `callback` for every future event until the subscription is dropped. A panic in
    /// the callback is caught and logged.
    pub fn subscribe(&self, callback: impl Fn(&Event) + Send + Sync + 'static) -> Subscription {
        self.engine.events.subscribe(callback)
    }

    /// Stops background tasks; later requests fail with [`Error::Closed`]. Returns once the
    /// audit log has written every event published before (at most two seconds).
    pub fn close(&self) {
        self.engine.close();
    }

    /// Fails with [`Error::Closed`] once [`Client::close`] was called: every operation that
    /// changes traffic refuses on a closed client.
    pub fn ensure_open(&self) -> Result<()> {
        if self.engine.is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }
}
