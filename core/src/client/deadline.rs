//! The deadline of one call (SEMANTICS.md, *Bounds*): one instant that bounds the limiter
//! wait, every attempt, every backoff and `Retry-After` sleep, and a stream to its end; and,
//! for a caller with a timeout of its own ([`super::raw::RawRequest::answer_within`]), a
//! second instant that bounds all of these until the answer is handed over.

use std::time::Duration;

use tokio::time::Instant;

use crate::environment::Side;
use crate::error::Error;

/// The most turnout keeps between the answer it hands over and the caller's own timeout.
pub(crate) const MAX_HANDOVER_MARGIN: Duration = Duration::from_millis(250);

/// The time before a caller's timeout of `limit` by which turnout hands over its answer: a
/// tenth of it, at most [`MAX_HANDOVER_MARGIN`]. It covers what lies between the caller's
/// clock and turnout's (the caller's own work before and after the call, its event loop, the
/// timers' slack), so that the answer arrives before the caller gives up and retries.
pub(crate) fn handover_margin(limit: Duration) -> Duration {
    (limit / 10).min(MAX_HANDOVER_MARGIN)
}

/// When a caller that gives up `limit` from now must have its answer: `limit` less the
/// [`handover_margin`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerBy {
    at: Instant,
    after: Duration,
}

impl AnswerBy {
    /// For a caller that gives up `limit` from now.
    pub fn from_now(limit: Duration) -> Self {
        let after = limit - handover_margin(limit);
        Self {
            at: Instant::now().checked_add(after).unwrap_or_else(far_future),
            after,
        }
    }
}

/// When a call must be over, if it must.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The instant, and the length it was set with (for messages).
    at: Option<(Instant, Duration)>,
    /// When the answer must be handed over (the caller's timeout, less a margin); it no
    /// longer bounds a committed stream once that is handed over.
    answer_by: Option<AnswerBy>,
}

impl Deadline {
    /// A deadline `after` from now, or none.
    pub fn new(after: Option<Duration>) -> Self {
        Self {
            at: after.map(|d| (Instant::now().checked_add(d).unwrap_or_else(far_future), d)),
            answer_by: None,
        }
    }

    /// This deadline, and until the answer is handed over also `answer_by`.
    pub fn answer_by(self, answer_by: Option<AnswerBy>) -> Self {
        Self { answer_by, ..self }
    }

    /// This deadline once the answer is handed over: the caller's wait for it is over, and
    /// only the call's own deadline still bounds the stream.
    pub fn handed_over(self) -> Self {
        Self {
            answer_by: None,
            ..self
        }
    }

    /// The earlier of the two instants, and the length it was set with.
    fn earliest(&self) -> Option<(Instant, Duration)> {
        let answer_by = self.answer_by.map(|a| (a.at, a.after));
        match (self.at, answer_by) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Time left (zero once passed), or `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.earliest()
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
            after: self.earliest().map_or(Duration::ZERO, |(_, d)| d),
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
    fn the_handover_margin_is_a_tenth_at_most_250_ms() {
        assert_eq!(
            handover_margin(Duration::from_secs(1)),
            Duration::from_millis(100)
        );
        assert_eq!(
            handover_margin(Duration::from_secs(600)),
            MAX_HANDOVER_MARGIN
        );
        assert_eq!(handover_margin(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_answer_instant_bounds_until_the_handover_only() {
        let d = Deadline::new(Some(Duration::from_secs(10)))
            .answer_by(Some(AnswerBy::from_now(Duration::from_secs(2))));
        assert_eq!(
            d.clip(Duration::from_secs(30)),
            (Duration::from_millis(1800), true)
        );
        tokio::time::advance(Duration::from_millis(1800)).await;
        assert!(d.passed());
        assert!(matches!(
            d.error(Side::Blue),
            Error::Timeout { after, .. } if after == Duration::from_millis(1800)
        ));
        // Handed over, the call's own deadline alone bounds the stream.
        let streaming = d.handed_over();
        assert!(!streaming.passed());
        assert_eq!(streaming.remaining(), Some(Duration::from_millis(8200)));
        // Without a deadline of its own, the caller's alone bounds the call until then.
        let only = Deadline::new(None).answer_by(Some(AnswerBy::from_now(Duration::from_secs(1))));
        assert_eq!(only.remaining(), Some(Duration::from_millis(900)));
        assert_eq!(only.handed_over().remaining(), None);
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
