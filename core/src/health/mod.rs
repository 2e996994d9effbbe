//! Active health checks: thresholded per-side health fed by probes.

mod state;

pub(crate) use state::Health;
pub use state::ProbeResult;
