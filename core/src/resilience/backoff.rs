//! Exponential backoff with jitter: `min(max_backoff, initial · multiplier^n)`, randomised.

use std::time::Duration;

use crate::config::{Jitter, RetryPolicy};

/// The delay before retry number `n` (0 for the first retry); `unit` is a uniform draw in
/// `[0, 1)`, passed in so that the function stays pure and testable.
pub(crate) fn delay(policy: &RetryPolicy, n: u32, unit: f64) -> Duration {
    let exp = policy.multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX));
    let base = policy.initial_backoff.as_secs_f64() * exp;
    let capped = base.min(policy.max_backoff.as_secs_f64());
    let secs = match policy.jitter {
        Jitter::Full => capped * unit,
        Jitter::Equal => capped / 2.0 + capped / 2.0 * unit,
        Jitter::None => capped,
    };
    Duration::try_from_secs_f64(secs).unwrap_or(policy.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            multiplier: 2.0,
            jitter,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn grows_then_caps() {
        let p = policy(Jitter::None);
        let ms: Vec<u128> = (0..7).map(|n| delay(&p, n, 0.0).as_millis()).collect();
        assert_eq!(ms, vec![500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn full_jitter_spans_zero_to_cap() {
        let p = policy(Jitter::Full);
        assert_eq!(delay(&p, 2, 0.0), Duration::ZERO);
        assert_eq!(delay(&p, 2, 0.5), Duration::from_secs(1));
        assert!(delay(&p, 2, 0.999_999) < Duration::from_secs(2));
    }

    #[test]
    fn equal_jitter_keeps_half() {
        let p = policy(Jitter::Equal);
        assert_eq!(delay(&p, 1, 0.0), Duration::from_millis(500));
        assert_eq!(delay(&p, 1, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn huge_exponents_do_not_overflow() {
        let p = policy(Jitter::None);
        assert_eq!(delay(&p, u32::MAX, 0.0), Duration::from_secs(8));
    }
}
