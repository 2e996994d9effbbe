//! A token bucket refilled continuously, on the engine's clock.

use std::time::Duration;

/// Holds up to `capacity` tokens and refills `capacity` per minute. Taking more than is there
/// (an answer whose usage exceeded its estimate) leaves a debt that the refill repays first.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    level: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens per minute.
    pub fn per_minute(capacity: u64, now: Duration) -> Self {
        let capacity = capacity as f64;
        Self {
            capacity,
            per_sec: capacity / 60.0,
            level: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Duration) {
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            self.level = (self.level + dt * self.per_sec).min(self.capacity);
            self.last = now;
        }
    }

    /// How long until `n` tokens can be taken (zero: now).
    pub fn wait_for(&mut self, n: u64, now: Duration) -> Duration {
        self.refill(now);
        let n = (n as f64).min(self.capacity);
        if self.level >= n || self.per_sec <= 0.0 {
            return Duration::ZERO;
        }
        // A debt so deep that its wait does not fit a Duration waits "forever" (and a waiting
        // request is refused at its timeout), never panics.
        Duration::try_from_secs_f64((n - self.level) / self.per_sec).unwrap_or(Duration::MAX)
    }

    /// Takes `n` tokens; call after [`TokenBucket::wait_for`] said zero.
    pub fn take(&mut self, n: u64) {
        self.level -= n as f64;
    }

    /// Gives back `n` tokens (an over-estimate), up to the capacity.
    pub fn give(&mut self, n: u64) {
        self.level = (self.level + n as f64).min(self.capacity);
    }

    /// The tokens there now (negative: a debt).
    #[cfg(test)]
    pub fn level(&mut self, now: Duration) -> f64 {
        self.refill(now);
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn refills_per_minute_and_caps_at_capacity() {
        let mut b = TokenBucket::per_minute(60, S(0));
        assert_eq!(b.wait_for(60, S(0)), Duration::ZERO);
        b.take(60);
        assert_eq!(b.wait_for(1, S(0)), S(1));
        assert_eq!(b.wait_for(10, S(4)), S(6));
        assert_eq!(b.level(S(1000)), 60.0);
    }

    #[test]
    fn a_request_larger_than_the_bucket_waits_for_a_full_bucket_and_leaves_a_debt() {
        let mut b = TokenBucket::per_minute(60, S(0));
        assert_eq!(b.wait_for(600, S(0)), Duration::ZERO);
        b.take(600);
        assert_eq!(b.level(S(0)), -540.0);
        assert_eq!(b.wait_for(1, S(0)), S(541));
    }

    #[test]
    fn an_immense_debt_saturates_instead_of_panicking() {
        let mut b = TokenBucket::per_minute(1, S(0));
        b.take(u64::MAX);
        assert_eq!(b.wait_for(1, S(0)), Duration::MAX);
    }

    #[test]
    fn give_back_is_capped() {
        let mut b = TokenBucket::per_minute(60, S(0));
        b.take(10);
        b.give(100);
        assert_eq!(b.level(S(0)), 60.0);
    }
}
