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
    /// Adds one ended request of `side` at Unix second `second`.
    pub fn record(
        &self,
        second: u64,
        side: Side,
        outcome: Outcome,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        self.counts
            .lock()
            .entry((second, side))
            .or_default()
            .record(outcome, latency, ttft);
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

    /// Puts back counts the store did not take (added to any recorded since), keeping the
    /// newest [`MAX_UNFLUSHED`].
    pub fn put_back(&self, counts: Vec<SecondCounts>) {
        let mut pending = self.counts.lock();
        for c in counts {
            pending
                .entry((c.second, c.side))
                .or_default()
                .add(&c.counts);
        }
        while pending.len() > MAX_UNFLUSHED {
            pending.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn put_back_adds_to_what_came_since_and_keeps_the_newest() {
        let pending = PendingSeconds::default();
        pending.record(10, Side::Blue, Outcome::Success, MS, None);
        let taken = pending.take();
        pending.record(10, Side::Blue, Outcome::Failure, MS, None);
        pending.put_back(taken);
        let again = pending.take();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].counts.successes, again[0].counts.failures),
            (1, 1)
        );

        for second in 0..(MAX_UNFLUSHED as u64 + 5) {
            pending.record(second, Side::Green, Outcome::Success, MS, None);
        }
        pending.put_back(Vec::new());
        let kept = pending.take();
        assert_eq!(kept.len(), MAX_UNFLUSHED);
        assert_eq!(kept[0].second, 5, "the oldest seconds went first");
    }
}
