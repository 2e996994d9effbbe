//! Per-side statistics over a sliding time window: outcomes by class and latency quantiles;
//! [`fleet`] holds the same figures as a fleet's instances add them up in a shared store.

pub mod fleet;
mod llm_window;
mod window;

pub use llm_window::LlmFigures;
pub(crate) use llm_window::{LlmWindow, Usage as LlmUsage};
pub(crate) use window::StatsWindow;
pub use window::{Outcome, WindowStats};
