//! Active-active balancing (opt-in): a peak-EWMA latency per side, and the choice between the
//! two sides by it or by price.
//!
//! Peak-EWMA (Finagle): a slower answer than the average replaces it at once (the peak), a
//! faster one pulls it down with weight `1 − e^(−Δt/τ)`; while a side sees no answers its
//! figure decays toward zero over the same τ, so a side left alone is tried again.

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::environment::Side;

/// How an opt-in active-active client spreads unpinned, non-sticky requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    /// The side with the lower peak-EWMA latency.
    Latency,
    /// The side where the model is cheaper (by the pricing table and each side's model
    /// names); latency decides between equal prices.
    Cost,
}

/// The decay time constant.
const TAU: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    ms: f64,
    at: Duration,
}

impl Ewma {
    fn decayed(self, now: Duration) -> f64 {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        self.ms * (-dt / TAU.as_secs_f64()).exp()
    }
}

/// The peak-EWMA latency of each side.
#[derive(Debug, Default)]
pub struct PeakEwma {
    sides: Mutex<[Ewma; 2]>,
}

impl PeakEwma {
    /// Adds a successful answer of `side` that took `latency`, at `now`.
    pub fn observe(&self, side: Side, latency: Duration, now: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        let mut sides = self.sides.lock();
        let e = &mut sides[side.index()];
        let current = e.decayed(now);
        let w = (-(now.saturating_sub(e.at)).as_secs_f64() / TAU.as_secs_f64()).exp();
        e.ms = if ms > current {
            ms
        } else {
            current * w + ms * (1.0 - w)
        };
        e.at = now;
    }

    /// Each side's figure now, ms.
    pub fn figures(&self, now: Duration) -> [f64; 2] {
        let sides = self.sides.lock();
        [sides[0].decayed(now), sides[1].decayed(now)]
    }
}

/// The side with the lower `score`; `coin` (true: blue) breaks ties, so equal sides share.
pub fn lower(score: [f64; 2], coin: bool) -> Side {
    if score[0] < score[1] || (score[0] == score[1] && coin) {
        Side::Blue
    } else {
        Side::Green
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_slow_answer_is_a_peak_and_fast_ones_pull_it_down() {
        let p = PeakEwma::default();
        p.observe(Side::Blue, Duration::from_millis(100), S);
        assert_eq!(p.figures(S)[0], 100.0);
        p.observe(Side::Blue, Duration::from_millis(500), S);
        assert_eq!(p.figures(S)[0], 500.0, "the peak replaces the average");
        p.observe(Side::Blue, Duration::from_millis(100), S * 6);
        let after = p.figures(S * 6)[0];
        assert!(after < 500.0 * (-0.5f64).exp() && after > 100.0, "{after}");
    }

    #[test]
    fn a_side_left_alone_decays_toward_zero() {
        let p = PeakEwma::default();
        p.observe(Side::Green, Duration::from_millis(800), S);
        let later = p.figures(S * 31)[1];
        assert!(later < 800.0 * 0.05, "{later}");
    }

    #[test]
    fn the_lower_score_wins_and_the_coin_breaks_ties() {
        assert_eq!(lower([1.0, 2.0], false), Side::Blue);
        assert_eq!(lower([3.0, 2.0], true), Side::Green);
        assert_eq!(lower([2.0, 2.0], true), Side::Blue);
        assert_eq!(lower([2.0, 2.0], false), Side::Green);
    }
}
