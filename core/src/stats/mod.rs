//! Per-side statistics over a sliding time window: outcomes by class and latency quantiles.

mod window;

pub(crate) use window::StatsWindow;
pub use window::{Outcome, WindowStats};
