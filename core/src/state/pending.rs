//! An instance's fleet counts not yet added to the store: every ended request is recorded here
//! (one short lock), and the fleet link takes them all once a second for [`Store::flush`].
//!
//! [`Store::flush`]: super::Store::flush

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

use super::fleet::SecondCounts;
use crate::environment::Side;
use crate::stats::Outcome;
use crate::stats::fleet::FleetCounts;

/// At most this many unflushed (second, side) counts wait for an unreachable store — five
/// minutes of both sides; the oldest go first.
pub const MAX_UNFLUSHED: usize = 600;

/// Unflushed counts by (Unix second, side).
///
/// ```
/// use std::time::Duration;
/// use turnout::Side;
/// use turnout::state::PendingSeconds;
/// use turnout::stats::Outcome;
///
/// let pending = PendingSeconds::default();
/// pending.record(1_700_000_000, Side::Green, Outcome::Success, Duration::from_millis(80), None);
/// let taken = pending.take();
/// assert_eq!(taken.len(), 1);
/// assert_eq!(taken[0].counts.successes, 1);
/// assert!(pending.take().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct PendingSeconds {
    counts: Mutex<BTreeMap<(u64, Side), FleetCounts>>,
}

impl PendingSeconds {
    /// Adds one ended request of `side` at Unix second `second`, keeping the newest
    /// [`MAX_UNFLUSHED`] (second, side) counts.
    pub fn record(
        &self,
        second: u64,
        side: Side,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let mut counts = self.counts.lock();
        counts
            .entry((second, side))
            .or_default()
            .record(outcome, latency, ttft);
        if counts.len() > MAX_UNFLUSHED {
            counts.pop_first();
        }
    }

    /// Takes every unflushed count, oldest second first.
    pub fn take(&self) -> Vec<SecondCounts> {
        std::mem::take(&mut *self.counts.lock())
            .into_iter()
            .map(|((second, side), counts)| SecondCounts {
                second,
                side,
                counts,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_newest_seconds_are_kept() {
        let pending = PendingSeconds::default();
        for second in 0..(MAX_UNFLUSHED as u64 + 5) {
            pending.record(second, Side::Green, Outcome::Success, MS, None);
        }
        let kept = pending.take();
        assert_eq!(kept.len(), MAX_UNFLUSHED);
        assert_eq!(kept[0].second, 5, "the oldest seconds went first");
    }
}
