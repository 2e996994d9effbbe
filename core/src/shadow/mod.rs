//! Shadow traffic: a sampled request served by the stable side is sent again to the
//! candidate, after the caller has its answer, and the two answers are compared. Nothing of
//! the shadow reaches the caller. The pieces here are pure: the structured diff of one pair,
//! a minimal JSON-schema check, the per-second window of diffs, and the report.

mod diff;
mod report;
mod schema;
mod window;

pub(crate) use diff::diff;
pub use diff::{Answer, PairDiff};
pub(crate) use report::model_of;
pub use report::{Excerpt, ShadowReport, ShadowSample};
pub use window::ShadowFigures;
pub(crate) use window::ShadowWindow;
