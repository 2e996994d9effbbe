//! What a load test counts while it runs: outcomes, sends, lateness and the latency
//! histogram, shared by the request tasks.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use turnout::{Error, ErrorKind};

/// Histogram range: 1 µs to an hour, three significant digits.
const MAX_MICROS: u64 = 3_600_000_000;
/// How a request ended.
#[derive(Debug, Clone, Copy)]
pub(super) enum Class {
    Success,
    /// Connect errors, timeouts, 5xx, 401/403, undecodable answers, cut streams.
    SideFailure,
    /// The side refused the request itself: another 4xx.
    CallerError,
    /// 429.
    RateLimited,
}

pub(super) fn classify(e: &Error) -> Class {
    if e.status() == Some(429) {
        Class::RateLimited
    } else if e.is_side_failure()
        || matches!(
            e.kind(),
            ErrorKind::StreamInterrupted | ErrorKind::NoHealthyEnvironment | ErrorKind::Closed
        )
    {
        Class::SideFailure
    } else {
        Class::CallerError
    }
}

/// What the run has counted so far, shared by the request tasks.
pub(super) struct Tally {
    pub(super) latency_us: Mutex<Histogram<u64>>,
    pub(super) outcomes: [AtomicU64; 4],
    pub(super) sent: AtomicU64,
    pub(super) late: AtomicU64,
    pub(super) dropped: AtomicU64,
    /// Microseconds from the start to the latest actual send.
    pub(super) last_send_us: AtomicU64,
}

impl Tally {
    pub(super) fn new() -> Result<Self, String> {
        let hist = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .map_err(|e| format!("cannot build the latency histogram: {e}"))?;
        Ok(Tally {
            latency_us: Mutex::new(hist),
            outcomes: Default::default(),
            sent: AtomicU64::new(0),
            late: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_send_us: AtomicU64::new(0),
        })
    }

    pub(super) fn outcome(&self, class: Class) -> u64 {
        self.outcomes[class as usize].load(Ordering::Relaxed)
    }

    pub(super) fn completed(&self) -> u64 {
        self.outcomes
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub(super) fn error_rate(&self) -> f64 {
        let done = self.completed();
        if done == 0 {
            0.0
        } else {
            self.outcome(Class::SideFailure) as f64 / done as f64
        }
    }

    pub(super) fn quantile_ms(&self, q: f64) -> f64 {
        let h = self.latency_us.lock();
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    }
}
