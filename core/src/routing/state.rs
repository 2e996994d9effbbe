//! The traffic state: which side is active and how much the candidate gets, swapped atomically.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::environment::Side;

/// An immutable snapshot of who gets traffic. Every change makes a new one with `version + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficState {
    /// The stable side.
    pub active: Side,
    /// The candidate's share in basis points (0..=10000).
    pub weight_bp: u32,
    /// The bucketing salt; fixed for a rollout, shared by every instance.
    pub salt: String,
    /// Bumped by every change.
    pub version: u64,
}

impl TrafficState {
    /// The side that is not active.
    pub fn candidate(&self) -> Side {
        self.active.other()
    }

    /// The candidate's share in percent.
    pub fn canary_weight(&self) -> f64 {
        f64::from(self.weight_bp) / 100.0
    }

    /// `side` active, no canary: a blue/green switch.
    pub fn switched(&self, side: Side) -> Self {
        Self {
            active: side,
            weight_bp: 0,
            ..self.clone()
        }
    }

    /// The candidate at `weight_bp` basis points.
    pub fn weighted(&self, weight_bp: u32) -> Self {
        Self {
            weight_bp: weight_bp.min(10_000),
            ..self.clone()
        }
    }

    /// The candidate made active, weight 0.
    pub fn promoted(&self) -> Self {
        self.switched(self.candidate())
    }

    /// Back to safety without history: weight 0 when a canary runs, else the other side active.
    pub fn reverted(&self) -> Self {
        if self.weight_bp > 0 {
            self.weighted(0)
        } else {
            self.switched(self.candidate())
        }
    }
}

/// Percent to basis points, rounded to the nearest and clamped to 0..=10000.
pub fn percent_to_bp(percent: f64) -> u32 {
    (percent * 100.0).round().clamp(0.0, 10_000.0) as u32
}

/// The live traffic state: readers load a snapshot without blocking; writers serialise on a
/// mutex so that read-modify-write changes never lose an update.
#[derive(Debug)]
pub(crate) struct TrafficCell {
    current: ArcSwap<TrafficState>,
    writer: Mutex<()>,
}

impl TrafficCell {
    pub fn new(state: TrafficState) -> Self {
        Self {
            current: ArcSwap::from_pointee(state),
            writer: Mutex::new(()),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<TrafficState> {
        self.current.load_full()
    }

    /// A cheap guard for the hot path.
    pub fn peek(&self) -> arc_swap::Guard<Arc<TrafficState>> {
        self.current.load()
    }

    /// Replaces the state exactly, version included (a state adopted from the shared store).
    pub fn replace(&self, state: TrafficState) {
        let _guard = self.writer.lock();
        self.current.store(Arc::new(state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_to_basis_points() {
        assert_eq!(percent_to_bp(12.5), 1250);
        assert_eq!(percent_to_bp(0.004), 0);
        assert_eq!(percent_to_bp(100.0), 10_000);
    }
}
