//! Per-side statistics over a sliding time window: outcomes by class and latency quantiles.

mod llm_window;
mod window;

pub use llm_window::LlmFigures;
pub(crate) use llm_window::{LlmWindow, Usage as LlmUsage};
pub(crate) use window::StatsWindow;
pub use window::{Outcome, WindowStats};
