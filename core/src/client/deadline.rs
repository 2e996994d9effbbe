//! The deadline of one call (SEMANTICS.md, *Bounds*): one instant that bounds the limiter
//! wait, every attempt, every backoff and `Retry-After` sleep, and a stream to its end.

use std::time::Duration;

use tokio::time::Instant;

use crate::environment::Side;
use crate::error::Error;

/// When a call must be over, if it must.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The instant, and the length it was set with (for messages).
    at: Option<(Instant, Duration)>,
}

impl Deadline {
    /// A deadline `after` from now, or none.
    pub fn new(after: Option<Duration>) -> Self {
        Self {
            at: after.map(|d| (Instant::now().checked_add(d).unwrap_or_else(far_future), d)),
        }
    }

    /// Time left (zero once passed), or `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|(at, _)| at.saturating_duration_since(Instant::now()))
    }

    /// `timeout` shortened to the time left; the flag says whether the deadline is what bounds
    /// it (a timeout then is the caller's, not the side's).
    pub fn clip(&self, timeout: Duration) -> (Duration, bool) {
        match self.remaining() {
            Some(left) if left <= timeout => (left, true),
            _ => (timeout, false),
        }
    }

    /// Whether a sleep of `delay` ends before the deadline.
    pub fn allows_sleep(&self, delay: Duration) -> bool {
        self.remaining().is_none_or(|left| delay < left)
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// The error of a call whose deadline passed, last on `side`.
    pub fn error(&self, side: Side) -> Error {
        Error::Timeout {
            environment: side,
            after: self.at.map_or(Duration::ZERO, |(_, d)| d),
        }
    }
}

/// An instant as far ahead as tokio's clock allows (a deadline of years is no deadline).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn clips_timeouts_and_sleeps_to_the_time_left() {
        let d = Deadline::new(Some(Duration::from_secs(10)));
        assert_eq!(
            d.clip(Duration::from_secs(30)),
            (Duration::from_secs(10), true)
        );
        assert_eq!(
            d.clip(Duration::from_secs(3)),
            (Duration::from_secs(3), false)
        );
        tokio::time::advance(Duration::from_secs(8)).await;
        assert!(d.allows_sleep(Duration::from_secs(1)));
        assert!(!d.allows_sleep(Duration::from_secs(2)));
        assert!(!d.passed());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(d.passed());
        assert_eq!(d.clip(Duration::from_secs(3)), (Duration::ZERO, true));
    }

    #[test]
    fn no_deadline_bounds_nothing_and_a_huge_one_does_not_overflow() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(
                Deadline::new(None).clip(Duration::from_secs(5)),
                (Duration::from_secs(5), false)
            );
            assert!(Deadline::new(None).allows_sleep(Duration::MAX));
            let huge = Deadline::new(Some(Duration::MAX));
            assert!(!huge.passed());
        });
    }
}
