//! What a store keeps for the fleet besides the traffic state (SEMANTICS.md, *Fleet*): the
//! analyst lease, per-second window buckets per side, the analyst's last figures, and the
//! fleet-wide rate-limit cells. [`FleetLedger`] is the memory and file back ends' version;
//! the Redis one keeps the same in keys of its own (`redis_store.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::environment::Side;
use crate::stats::fleet::FleetCounts;

/// One instance's counts of one side for one second, to be added into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondCounts {
    /// The second (Unix time).
    pub second: u64,
    /// The side.
    pub side: Side,
    /// What ended in it.
    pub counts: FleetCounts,
}

/// The answer of a fleet-wide rate-limit cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gcra {
    /// Admitted now.
    Admitted,
    /// Not before this much time.
    Wait(Duration),
}

/// The holder of the analyst lease and until when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    pub holder: String,
    pub until_ms: u64,
}

/// The fleet part of a memory or file ledger.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FleetLedger {
    #[serde(default)]
    pub lease: Option<Lease>,
    /// Second → `[blue, green]` counts.
    #[serde(default)]
    pub seconds: BTreeMap<u64, [FleetCounts; 2]>,
    /// Judged requests per side since the store began.
    #[serde(default)]
    pub totals: [u64; 2],
    /// Second until which each second's buckets are kept.
    #[serde(default)]
    pub keep_until: BTreeMap<u64, u64>,
    #[serde(default)]
    pub analysis: Option<serde_json::Value>,
    /// Rate-limit cell → theoretical arrival time (Unix µs).
    #[serde(default)]
    pub gcra: BTreeMap<String, u64>,
    /// The ids of the last batches added, oldest first, so that one sent again is added once.
    #[serde(default)]
    pub flushed: VecDeque<String>,
}

/// Batch ids remembered by a memory or file ledger.
const FLUSHED_KEPT: usize = 64;

impl FleetLedger {
    /// `SET NX PX`: takes the lease when it is free or lapsed.
    pub fn try_lease(&mut self, holder: &str, ttl: Duration, now_ms: u64) -> bool {
        if self.lease.as_ref().is_some_and(|l| l.until_ms > now_ms) {
            return false;
        }
        self.lease = Some(Lease {
            holder: holder.to_string(),
            until_ms: now_ms + ms(ttl),
        });
        true
    }

    /// Compare-and-renew: extends the lease only for its holder.
    pub fn renew_lease(&mut self, holder: &str, ttl: Duration, now_ms: u64) -> bool {
        match &mut self.lease {
            Some(l) if l.holder == holder && l.until_ms > now_ms => {
                l.until_ms = now_ms + ms(ttl);
                true
            }
            _ => false,
        }
    }

    /// Compare-and-delete.
    pub fn release_lease(&mut self, holder: &str) {
        if self.lease.as_ref().is_some_and(|l| l.holder == holder) {
            self.lease = None;
        }
    }

    pub fn holder(&self, now_ms: u64) -> Option<String> {
        self.lease
            .as_ref()
            .filter(|l| l.until_ms > now_ms)
            .map(|l| l.holder.clone())
    }

    /// Adds the batch `batch` of seconds, unless it was added before; drops the seconds whose
    /// keep time has passed.
    pub fn flush(&mut self, batch: &str, counts: &[SecondCounts], keep: Duration, now_s: u64) {
        let seen = self.flushed.iter().any(|b| b == batch);
        if !seen {
            self.flushed.push_back(batch.to_string());
            if self.flushed.len() > FLUSHED_KEPT {
                self.flushed.pop_front();
            }
        }
        for c in counts.iter().filter(|_| !seen) {
            let slot = self.seconds.entry(c.second).or_default();
            slot[c.side.index()].add(&c.counts);
            self.totals[c.side.index()] += c.counts.judged();
            let until = self.keep_until.entry(c.second).or_default();
            *until = (*until).max(c.second + keep.as_secs());
        }
        let expired: Vec<u64> = self
            .keep_until
            .iter()
            .filter(|(_, until)| **until < now_s)
            .map(|(s, _)| *s)
            .collect();
        for s in expired {
            self.keep_until.remove(&s);
            self.seconds.remove(&s);
        }
    }

    /// The sum of `side`'s seconds `from..=to`.
    pub fn window(&self, side: Side, from: u64, to: u64) -> FleetCounts {
        let mut sum = FleetCounts::default();
        if from > to {
            // A window ending before it starts (a stored start ahead of this clock) is empty;
            // `range` would panic on it.
            return sum;
        }
        for (_, sides) in self.seconds.range(from..=to) {
            sum.add(&sides[side.index()]);
        }
        sum
    }

    /// GCRA: admits `cost` when the cell's theoretical arrival time, minus the burst
    /// tolerance, is not in the future.
    pub fn gcra(
        &mut self,
        key: &str,
        emission: Duration,
        burst: u64,
        cost: u64,
        now_us: u64,
    ) -> Gcra {
        let (t, increment) = (us(emission), us(emission) * cost);
        let tolerance = t * burst.saturating_sub(1);
        let tat = self.gcra.get(key).copied().unwrap_or(now_us).max(now_us);
        let new_tat = tat + increment;
        let allow_at = new_tat.saturating_sub(tolerance + t);
        if allow_at > now_us {
            return Gcra::Wait(Duration::from_micros(allow_at - now_us));
        }
        self.gcra.insert(key.to_string(), new_tat);
        Gcra::Admitted
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4)
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 4)
}

/// Unix time now in ms (the memory and file stores' clock).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_goes_to_one_holder_and_lapses() {
        let mut l = FleetLedger::default();
        let ttl = Duration::from_secs(10);
        assert!(l.try_lease("a", ttl, 0));
        assert!(!l.try_lease("b", ttl, 5_000));
        assert!(!l.renew_lease("b", ttl, 5_000));
        assert!(l.renew_lease("a", ttl, 5_000));
        assert!(!l.try_lease("b", ttl, 14_999));
        assert!(l.try_lease("b", ttl, 15_000));
        assert!(!l.renew_lease("a", ttl, 15_001));
        assert_eq!(l.holder(15_001).as_deref(), Some("b"));
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_empty() {
        // A stored start ahead of this clock made `from > to`, and `range` panicked.
        let l = FleetLedger::default();
        assert_eq!(l.window(Side::Green, 10, 5), FleetCounts::default());
    }

    #[test]
    fn gcra_admits_the_burst_then_one_per_emission_interval() {
        let mut l = FleetLedger::default();
        let t = Duration::from_secs(6); // 10 per minute
        let admitted = (0..30)
            .filter(|_| l.gcra("rpm", t, 10, 1, 1_000_000) == Gcra::Admitted)
            .count();
        assert_eq!(admitted, 10);
        assert!(matches!(l.gcra("rpm", t, 10, 1, 1_000_000), Gcra::Wait(_)));
        assert_eq!(l.gcra("rpm", t, 10, 1, 7_000_000), Gcra::Admitted);
    }
}
