//! The simulator's random draws (error rate, jitter): seeded for reproducible fault sequences.

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A random source shared by every connection; with a seed, the same requests in the same
/// order meet the same faults.
pub(crate) struct Draws {
    seed: Option<u64>,
    rng: Mutex<StdRng>,
}

impl Draws {
    pub(crate) fn new(seed: Option<u64>) -> Draws {
        Draws {
            seed,
            rng: Mutex::new(Self::fresh(seed)),
        }
    }

    fn fresh(seed: Option<u64>) -> StdRng {
        match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        }
    }

    /// Starts the sequence again from the seed (a fresh random one without a seed).
    pub(crate) fn restart(&self) {
        *self.rng.lock() = Self::fresh(self.seed);
    }

    /// `true` with probability `p`.
    pub(crate) fn chance(&self, p: f64) -> bool {
        self.rng.lock().random::<f64>() < p
    }

    /// A whole number drawn uniformly from `0..=max`.
    pub(crate) fn up_to(&self, max: u64) -> u64 {
        self.rng.lock().random_range(0..=max)
    }
}
