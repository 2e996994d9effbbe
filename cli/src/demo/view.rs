//! The live view: a few redrawn lines on a terminal, plain lines otherwise.

use std::io::Write;

use turnout::stats::WindowStats;
use turnout::{Side, Status};

use super::style::Style;

/// Renders the demo's progress.
pub struct View {
    style: Style,
    drawn: usize,
}

impl View {
    /// A view on stdout, in `style`.
    pub fn new(style: Style) -> Self {
        Self { style, drawn: 0 }
    }

    /// A headline, printed once.
    pub fn phase(&mut self, text: &str) {
        self.clear();
        say!("\n{}", self.style.bold(text));
    }

    /// An event line, kept on screen.
    pub fn event(&mut self, elapsed_s: f64, kind: &str, reason: &str) {
        self.clear();
        say!("  [{elapsed_s:6.2}s] {kind:<18} {reason}");
    }

    /// The live panel: share, error rate and p99 per side, and the rollout step.
    pub fn panel(&mut self, status: &Status, step: &str, served: [u64; 2], final_line: bool) {
        let lines = panel_lines(status, step, served);
        if self.style.redraw {
            self.clear();
            for l in &lines {
                say!("{l}");
            }
            self.drawn = lines.len();
        } else if final_line {
            for l in &lines {
                say!("{l}");
            }
        }
        let _ = std::io::stdout().flush();
    }

    fn clear(&mut self) {
        if self.style.redraw && self.drawn > 0 {
            print!("\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }
}

fn panel_lines(status: &Status, step: &str, served: [u64; 2]) -> Vec<String> {
    // The live share is of the sliding window, so that it follows the rollout's steps.
    let window_total = Side::BOTH
        .iter()
        .map(|s| status.environments[s].window.requests)
        .sum::<u64>()
        .max(1) as f64;
    let mut lines = vec![format!(
        "  active {:<5}  canary {:>5.1}%  {step}",
        status.active.as_str(),
        status.canary_weight
    )];
    for side in Side::BOTH {
        let env = &status.environments[&side];
        let w: &WindowStats = &env.window;
        let share = w.requests as f64 / window_total * 100.0;
        lines.push(format!(
            "  {:<5} {:<4} share {:>5.1}%  served {:>6}  err {:>5.1}%  p99 {:>7.1} ms  circuit {:<9} {}",
            side.as_str(),
            env.label.as_deref().unwrap_or(""),
            share,
            served[side.index()],
            w.error_rate * 100.0,
            w.p99_ms,
            env.circuit.as_str(),
            if env.healthy { "healthy" } else { "UNHEALTHY" },
        ));
    }
    lines
}
