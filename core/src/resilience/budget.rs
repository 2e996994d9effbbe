//! The retry budget of one side (tower/Finagle `TpsBudget`): each request deposits 1, each
//! retry withdraws `1 / ratio`, over a sliding window, with a floor of retries per second.
//! An empty budget ends retrying, which prevents retry storms against a side that is down.

use std::time::Duration;

use parking_lot::Mutex;

/// Scale so that fractional withdrawals stay integers.
const UNIT: i64 = 1000;
/// The window is made of this many slots.
const SLOTS: usize = 10;

#[derive(Debug)]
pub(crate) struct RetryBudget {
    slot_len: Duration,
    withdraw_cost: i64,
    reserve: i64,
    inner: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    slots: [i64; SLOTS],
    /// Index of the slot of `generation`.
    head: usize,
    /// Slot number (time / slot_len) of the head.
    generation: u64,
}

impl RetryBudget {
    /// A budget over `window` letting retries add `ratio` extra load, never fewer than
    /// `min_per_sec` retries per second.
    pub fn new(window: Duration, ratio: f64, min_per_sec: u32) -> Self {
        let ratio = ratio.clamp(0.0, 1.0);
        let withdraw_cost = if ratio > 0.0 {
            (UNIT as f64 / ratio) as i64
        } else {
            i64::MAX / 4
        };
        let reserve = i64::from(min_per_sec)
            .saturating_mul(window.as_secs().max(1) as i64)
            .saturating_mul(withdraw_cost.min(i64::MAX / 1_000_000));
        Self {
            slot_len: window / SLOTS as u32,
            withdraw_cost,
            reserve,
            inner: Mutex::new(Ring {
                slots: [0; SLOTS],
                head: 0,
                generation: 0,
            }),
        }
    }

    /// Records a request.
    pub fn deposit(&self, now: Duration) {
        let mut ring = self.inner.lock();
        self.rotate(&mut ring, now);
        let head = ring.head;
        ring.slots[head] += UNIT;
    }

    /// Takes one retry from the budget; false when it is empty.
    pub fn withdraw(&self, now: Duration) -> bool {
        let mut ring = self.inner.lock();
        self.rotate(&mut ring, now);
        let balance: i64 = ring.slots.iter().sum::<i64>() + self.reserve;
        if balance < self.withdraw_cost {
            return false;
        }
        // Take from the oldest slots first, as tower does, so that the debt expires soonest.
        let mut owed = self.withdraw_cost;
        for i in 1..=SLOTS {
            let idx = (ring.head + i) % SLOTS;
            let take = ring.slots[idx].max(0).min(owed);
            ring.slots[idx] -= take;
            owed -= take;
            if owed == 0 {
                break;
            }
        }
        // Whatever the deposits could not cover is drawn from the reserve, recorded as debt.
        let head = ring.head;
        ring.slots[head] -= owed;
        true
    }

    fn rotate(&self, ring: &mut Ring, now: Duration) {
        let nanos = self.slot_len.as_nanos().max(1);
        let generation = (now.as_nanos() / nanos) as u64;
        if generation <= ring.generation {
            return;
        }
        let steps = (generation - ring.generation).min(SLOTS as u64) as usize;
        for _ in 0..steps {
            ring.head = (ring.head + 1) % SLOTS;
            let head = ring.head;
            ring.slots[head] = 0;
        }
        ring.generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    #[test]
    fn deposits_buy_retries_at_the_ratio() {
        let b = RetryBudget::new(WINDOW, 0.2, 0);
        let now = Duration::from_secs(1);
        for _ in 0..50 {
            b.deposit(now);
        }
        let granted = (0..100).filter(|_| b.withdraw(now)).count();
        assert_eq!(granted, 10, "50 requests at 20% buy 10 retries");
    }

    #[test]
    fn the_floor_allows_retries_without_traffic() {
        let b = RetryBudget::new(WINDOW, 0.2, 1);
        let granted = (0..100).filter(|_| b.withdraw(Duration::ZERO)).count();
        assert_eq!(granted, 10, "1 retry/s over a 10 s window");
    }

    #[test]
    fn deposits_expire_with_the_window() {
        let b = RetryBudget::new(WINDOW, 0.5, 0);
        for _ in 0..10 {
            b.deposit(Duration::from_secs(1));
        }
        assert!(
            !b.withdraw(Duration::from_secs(12)),
            "10 s later the deposits are gone"
        );
        let b = RetryBudget::new(WINDOW, 0.5, 0);
        for _ in 0..10 {
            b.deposit(Duration::from_secs(1));
        }
        assert!(
            b.withdraw(Duration::from_secs(9)),
            "still inside the window"
        );
    }
}
