//! The `shadow` section: sampled requests sent again to the candidate, for comparison only.

use serde::{Deserialize, Serialize};

/// Shadow traffic: a `sample` share of the chat completions the stable side serves is sent
/// again to the candidate once the caller has its answer; the pair is diffed. At most
/// `max_concurrency` shadow requests run at once and at most `max_usd_per_hour` is spent on
/// them; past either bound a sampled request is shed (never delayed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    /// Share of eligible requests shadowed, 0..=1.
    pub sample: f64,
    /// Shadow requests in flight at most \[4\].
    #[serde(default = "four")]
    pub max_concurrency: u32,
    /// Spend on shadow requests per clock hour at most, USD \[unbounded\].
    #[serde(default)]
    pub max_usd_per_hour: Option<f64>,
}

fn four() -> u32 {
    4
}

impl Shadow {
    /// The first invalid field, as a message.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if !(0.0..=1.0).contains(&self.sample) {
            return Err(format!(
                "shadow.sample must be within 0..=1, got {}",
                self.sample
            ));
        }
        if self.max_concurrency == 0 {
            return Err("shadow.max_concurrency must be >= 1, got 0".to_string());
        }
        if let Some(usd) = self.max_usd_per_hour
            && !(usd > 0.0 && usd.is_finite())
        {
            return Err(format!(
                "shadow.max_usd_per_hour must be a finite number > 0, got {usd}"
            ));
        }
        Ok(())
    }
}
