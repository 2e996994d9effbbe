//! What each side's answers cost and how many tokens they used, per second, for the LLM gates
//! (`max_cost_per_request_usd`, `max_cost_ratio`, `max_output_tokens_ratio`,
//! `min_cached_token_share`).
//!
//! Sums are kept per second of the engine's clock and judged over any window up to
//! [`MAX_SECONDS`], so the guard's window and a rollout's own window read the same record.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

/// The longest window the record covers: one hour.
pub const MAX_SECONDS: u64 = 3600;

/// Token and cost sums over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LlmFigures {
    /// Answers that reported their usage.
    pub answers: u64,
    /// Of those, answers whose model has a price.
    pub priced: u64,
    /// Total cost of the priced answers, in USD.
    pub cost_usd: f64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
}

impl LlmFigures {
    /// Mean cost of a priced answer (0 without any).
    pub fn mean_cost_usd(&self) -> f64 {
        ratio(self.cost_usd, self.priced as f64)
    }

    /// Mean output tokens of an answer (0 without any).
    pub fn mean_output_tokens(&self) -> f64 {
        ratio(self.completion_tokens as f64, self.answers as f64)
    }

    /// Cached prompt tokens / prompt tokens (0 without prompt tokens).
    pub fn cached_share(&self) -> f64 {
        ratio(self.cached_tokens as f64, self.prompt_tokens as f64)
    }

    fn add(&mut self, other: &LlmFigures) {
        self.answers += other.answers;
        self.priced += other.priced;
        self.cost_usd += other.cost_usd;
        self.prompt_tokens += other.prompt_tokens;
        self.cached_tokens += other.cached_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// One answer's usage, as recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    pub prompt: u64,
    pub cached: u64,
    pub completion: u64,
    pub cost_usd: Option<f64>,
}

/// The per-second record of one side.
#[derive(Debug, Default)]
pub(crate) struct LlmWindow {
    /// (second of the clock, sums of that second), oldest first; only seconds with answers.
    seconds: Mutex<VecDeque<(u64, LlmFigures)>>,
}

impl LlmWindow {
    /// Records one answer's usage at `now`.
    pub fn record(&self, now: Duration, usage: Usage) {
        let second = now.as_secs();
        let mut seconds = self.seconds.lock();
        while seconds
            .front()
            .is_some_and(|(s, _)| second.saturating_sub(*s) >= MAX_SECONDS)
        {
            seconds.pop_front();
        }
        let entry = match seconds.back_mut() {
            Some((s, f)) if *s == second => f,
            _ => {
                seconds.push_back((second, LlmFigures::default()));
                match seconds.back_mut() {
                    Some((_, f)) => f,
                    None => return,
                }
            }
        };
        entry.add(&LlmFigures {
            answers: 1,
            priced: u64::from(usage.cost_usd.is_some()),
            cost_usd: usage.cost_usd.unwrap_or(0.0),
            prompt_tokens: usage.prompt,
            cached_tokens: usage.cached,
            completion_tokens: usage.completion,
        });
    }

    /// The sums over the last `window` (whole seconds, at most [`MAX_SECONDS`]) up to `now`.
    pub fn figures(&self, now: Duration, window: Duration) -> LlmFigures {
        let second = now.as_secs();
        let span = window.as_secs().clamp(1, MAX_SECONDS);
        let mut out = LlmFigures::default();
        for (s, f) in self.seconds.lock().iter().rev() {
            if second.saturating_sub(*s) >= span {
                break;
            }
            out.add(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, cached: u64, completion: u64, cost: Option<f64>) -> Usage {
        Usage {
            prompt,
            cached,
            completion,
            cost_usd: cost,
        }
    }

    #[test]
    fn sums_cover_the_window_and_nothing_older() {
        let w = LlmWindow::default();
        let s = Duration::from_secs;
        w.record(s(0), usage(100, 50, 10, Some(0.01)));
        w.record(s(30), usage(100, 0, 30, Some(0.03)));
        w.record(s(30), usage(100, 100, 20, None));
        let all = w.figures(s(59), s(60));
        assert_eq!((all.answers, all.priced), (3, 2));
        assert!((all.mean_cost_usd() - 0.02).abs() < 1e-12);
        assert!((all.mean_output_tokens() - 20.0).abs() < 1e-12);
        assert!((all.cached_share() - 0.5).abs() < 1e-12);
        // At 60 s the answer of second 0 has left a 60 s window.
        let later = w.figures(s(60), s(60));
        assert_eq!(later.answers, 2);
        assert_eq!(w.figures(s(200), s(60)), LlmFigures::default());
    }

    #[test]
    fn old_seconds_are_dropped_past_the_longest_window() {
        let w = LlmWindow::default();
        w.record(Duration::ZERO, usage(1, 0, 1, None));
        w.record(Duration::from_secs(MAX_SECONDS + 5), usage(1, 0, 1, None));
        assert_eq!(w.seconds.lock().len(), 1);
    }

    #[test]
    fn empty_figures_have_zero_means() {
        let f = LlmFigures::default();
        assert_eq!(
            (f.mean_cost_usd(), f.mean_output_tokens(), f.cached_share()),
            (0.0, 0.0, 0.0)
        );
    }
}
