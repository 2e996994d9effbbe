//! The table printed at the end of the demo.

use std::time::Duration;

use turnout::{Side, Status};

use super::style::Style;
use super::traffic::Tally;

/// The figures the demo reports.
#[derive(Debug, Default)]
pub struct Summary {
    /// Time from the fault to the automatic rollback.
    pub reaction_ms: Option<f64>,
    /// Requests the failing candidate received between the fault and the rollback.
    pub reaction_requests: Option<u64>,
    /// Errors callers had seen when the rollback happened.
    pub errors_before_fix: u64,
    /// Time the healthy rollout took to promote.
    pub promoted_after_ms: Option<f64>,
    served: [u64; 2],
    upstream: [u64; 2],
    errors: u64,
    calls: u64,
    active: Option<Side>,
    elapsed: Duration,
}

impl Summary {
    /// Takes the final figures.
    pub fn finish(
        &mut self,
        tally: &Tally,
        status: &Status,
        upstream: [u64; 2],
        elapsed: Duration,
    ) {
        self.served = [tally.served(Side::Blue), tally.served(Side::Green)];
        self.upstream = upstream;
        self.errors = tally.errors();
        self.calls = tally.total();
        self.active = Some(status.active);
        self.elapsed = elapsed;
    }

    /// Prints the table.
    pub fn print(&self, style: Style) {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} ms"));
        say!("\n{}", style.bold("Summary"));
        say!("  {:<44} {:>10} {:>10}", "", "blue (v1)", "green (v2)");
        say!(
            "  {:<44} {:>10} {:>10}",
            "answers served to callers",
            self.served[0],
            self.served[1]
        );
        say!(
            "  {:<44} {:>10} {:>10}",
            "requests seen by the upstream",
            self.upstream[0],
            self.upstream[1]
        );
        say!(
            "  {:<44} {:>10}",
            "errors seen by callers",
            format!(
                "{} of {} ({:.2}%)",
                self.errors,
                self.calls,
                self.errors as f64 * 100.0 / self.calls.max(1) as f64
            )
        );
        say!(
            "  {:<44} {:>10}",
            "rollback reaction: candidate requests",
            self.reaction_requests
                .map_or("-".to_string(), |n| n.to_string())
        );
        say!(
            "  {:<44} {:>10}",
            "rollback reaction: time after the fault",
            opt(self.reaction_ms)
        );
        say!(
            "  {:<44} {:>10}",
            "healthy rollout promoted after",
            opt(self.promoted_after_ms)
        );
        say!(
            "  {:<44} {:>10}",
            "active side now",
            self.active.map_or("-", Side::as_str)
        );
        say!(
            "  {:<44} {:>10.1} s",
            "demo duration",
            self.elapsed.as_secs_f64()
        );
    }
}
