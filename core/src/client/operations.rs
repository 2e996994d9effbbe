//! Operations on the traffic state and views of it: switch, weight, promote, rollback, status,
//! health checks, history.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Client;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, Subscription};
use crate::health::ProbeResult;
use crate::resilience::CircuitState;
use crate::routing::TrafficState;
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
}

/// One side in `status()`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    /// Its label.
    pub label: Option<String>,
    /// Its base URL.
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
                    base_url: env.base_url().to_string(),
                    key: env.api_key().fingerprint(),
                    healthy: s.health.is_healthy(),
                    last_probe: s.health.last(),
                    circuit: s.circuit.state(now),
                    window: s.stats.snapshot(now),
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
        }
    }

    /// Makes `side` active with no canary: an instant, reversible blue/green switch.
    pub fn switch_to(&self, side: Side) -> TrafficState {
        self.change(EventKind::Switch, format!("switched to {side}"), |s| {
            TrafficState {
                active: side,
                weight_bp: 0,
                ..s.clone()
            }
        })
    }

    /// Sends `percent` (0..=100) of traffic to the candidate.
    pub fn set_canary_weight(&self, percent: f64) -> Result<TrafficState> {
        self.ensure_open()?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(Error::Config(format!(
                "canary_weight must be within 0..=100, got {percent}"
            )));
        }
        let bp = crate::routing::percent_to_bp(percent);
        Ok(self.change(
            EventKind::WeightChanged,
            format!("canary weight set to {percent}%"),
            |s| TrafficState {
                weight_bp: bp,
                ..s.clone()
            },
        ))
    }

    /// Makes the candidate active, weight back to 0.
    pub fn promote(&self) -> TrafficState {
        let candidate = self.engine.traffic.peek().candidate();
        self.change(EventKind::Promote, format!("promoted {candidate}"), |s| {
            TrafficState {
                active: s.candidate(),
                weight_bp: 0,
                ..s.clone()
            }
        })
    }

    /// Returns to the last known-good state: weight 0 when a canary is running, else the
    /// previous active side (the newest checkpoint with the other side active, its salt
    /// included). A live rollout is aborted.
    pub fn rollback(&self, reason: &str) -> TrafficState {
        self.change(EventKind::Rollback, reason.to_string(), |s| {
            self.engine.last_known_good(s)
        })
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
    /// changes traffic refuses on a closed client (the bindings check it before those that
    /// cannot fail otherwise).
    pub fn ensure_open(&self) -> Result<()> {
        if self.engine.is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn change(
        &self,
        kind: EventKind,
        reason: String,
        f: impl FnOnce(&TrafficState) -> TrafficState,
    ) -> TrafficState {
        // A checkpoint is taken first; a live rollout is superseded (rollout/control.rs).
        self.engine.manual_change(kind, reason, f)
    }
}
