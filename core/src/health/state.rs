//! The thresholded health of one side: unhealthy after N consecutive failed probes, healthy
//! again after M consecutive good ones.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use crate::environment::Side;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// The side probed.
    pub environment: Side,
    /// Whether this probe succeeded.
    pub healthy: bool,
    /// How long it took.
    pub latency_ms: f64,
    /// What went wrong, if it failed.
    pub error: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Health {
    unhealthy_threshold: u32,
    healthy_threshold: u32,
    healthy: AtomicBool,
    streak: Mutex<Streak>,
}

#[derive(Debug, Default)]
struct Streak {
    failures: u32,
    successes: u32,
    last: Option<ProbeResult>,
}

impl Health {
    pub fn new(unhealthy_threshold: u32, healthy_threshold: u32) -> Self {
        Self {
            unhealthy_threshold: unhealthy_threshold.max(1),
            healthy_threshold: healthy_threshold.max(1),
            healthy: AtomicBool::new(true),
            streak: Mutex::new(Streak::default()),
        }
    }

    /// The thresholded state.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// The last probe's result.
    pub fn last(&self) -> Option<ProbeResult> {
        self.streak.lock().last.clone()
    }

    /// Counts a probe; returns the new state when it changed.
    pub fn record(&self, result: ProbeResult) -> Option<bool> {
        let mut streak = self.streak.lock();
        let ok = result.healthy;
        streak.last = Some(result);
        if ok {
            streak.successes += 1;
            streak.failures = 0;
        } else {
            streak.failures += 1;
            streak.successes = 0;
        }
        let healthy = self.is_healthy();
        let flip = if healthy {
            streak.failures >= self.unhealthy_threshold
        } else {
            streak.successes >= self.healthy_threshold
        };
        if !flip {
            return None;
        }
        self.healthy.store(!healthy, Ordering::Release);
        Some(!healthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(healthy: bool) -> ProbeResult {
        ProbeResult {
            environment: Side::Green,
            healthy,
            latency_ms: 1.0,
            error: (!healthy).then(|| "refused".to_string()),
        }
    }

    #[test]
    fn thresholds_in_both_directions() {
        let h = Health::new(3, 2);
        assert_eq!(h.record(probe(false)), None);
        assert_eq!(h.record(probe(false)), None);
        assert_eq!(h.record(probe(false)), Some(false));
        assert!(!h.is_healthy());
        assert_eq!(h.record(probe(false)), None);
        assert_eq!(h.record(probe(true)), None);
        assert_eq!(
            h.record(probe(false)),
            None,
            "a failure breaks the good streak"
        );
        assert_eq!(h.record(probe(true)), None);
        assert_eq!(h.record(probe(true)), Some(true));
        assert_eq!(h.last().map(|p| p.healthy), Some(true));
    }
}
