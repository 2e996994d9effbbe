//! The verdict of a load test: what it measured, against which thresholds, as text or JSON.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use turnout::Side;

use super::tally::{Class, Tally};
use super::{LoadArgs, Run};

/// A threshold and how the run fared against it.
struct Threshold {
    name: &'static str,
    limit: f64,
    value: f64,
    passed: bool,
}

/// Everything the run measured.
pub(super) struct Report {
    environment: Side,
    label: Option<String>,
    model: String,
    target_rps: f64,
    duration_s: f64,
    concurrency: Option<usize>,
    scheduled: u64,
    sent: u64,
    late: u64,
    dropped: u64,
    achieved_rps: f64,
    outcomes: [u64; 4],
    error_rate: f64,
    /// p50, p90, p99, p99.9, max, mean.
    latency_ms: [f64; 6],
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
    stopped: Option<String>,
    late_ms: f64,
    thresholds: Vec<Threshold>,
}

impl Report {
    pub(super) fn new(
        args: &LoadArgs,
        config: &turnout::Config,
        model: &str,
        tally: &Tally,
        run: &Run,
        costs: &turnout::CostTotals,
    ) -> Self {
        let h = tally.latency_us.lock();
        let q = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let latency_ms = [
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            },
            if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
        ];
        drop(h);
        let sent = tally.sent.load(Ordering::Relaxed);
        let error_rate = tally.error_rate();
        let mut thresholds = Vec::new();
        if let Some(limit) = args.max_p99_ms {
            thresholds.push(Threshold {
                name: "p99_ms",
                limit,
                value: latency_ms[2],
                passed: latency_ms[2] <= limit,
            });
        }
        if let Some(limit) = args.max_error_rate {
            thresholds.push(Threshold {
                name: "error_rate",
                limit,
                value: error_rate,
                passed: error_rate <= limit,
            });
        }
        if let Some(limit) = args.max_cost_usd {
            thresholds.push(Threshold {
                name: "cost_usd",
                limit,
                value: costs.cost_usd,
                passed: costs.cost_usd < limit && run.stopped.is_none(),
            });
        }
        Report {
            environment: args.env,
            label: config
                .environments
                .get(args.env)
                .label_str()
                .map(str::to_string),
            model: model.to_string(),
            target_rps: args.rps,
            duration_s: args.duration.as_secs_f64(),
            concurrency: args.concurrency,
            scheduled: run.scheduled,
            sent,
            late: tally.late.load(Ordering::Relaxed),
            dropped: tally.dropped.load(Ordering::Relaxed),
            achieved_rps: sent as f64 / run.span.as_secs_f64().max(1e-9),
            outcomes: [
                tally.outcome(Class::Success),
                tally.outcome(Class::SideFailure),
                tally.outcome(Class::CallerError),
                tally.outcome(Class::RateLimited),
            ],
            error_rate,
            latency_ms,
            prompt_tokens: costs.prompt_tokens,
            completion_tokens: costs.completion_tokens,
            cost_usd: costs.cost_usd,
            stopped: run.stopped.clone(),
            late_ms: args.late_ms,
            thresholds,
        }
    }

    pub(super) fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
    }

    pub(super) fn to_json(&self) -> Value {
        let [p50, p90, p99, p999, max, mean] = self.latency_ms;
        let [success, side_failure, caller_error, rate_limited] = self.outcomes;
        json!({
            "environment": self.environment,
            "label": self.label,
            "model": self.model,
            "target_rps": self.target_rps,
            "duration_s": self.duration_s,
            "concurrency": self.concurrency,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "late": self.late,
            "late_ms": self.late_ms,
            "dropped": self.dropped,
            "completed": success + side_failure + caller_error + rate_limited,
            "achieved_rps": self.achieved_rps,
            "outcomes": {
                "success": success,
                "side_failure": side_failure,
                "caller_error": caller_error,
                "rate_limited": rate_limited,
            },
            "error_rate": self.error_rate,
            "latency_ms": {
                "p50": p50, "p90": p90, "p99": p99, "p99_9": p999, "max": max, "mean": mean,
            },
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "stopped": self.stopped,
            "thresholds": self.thresholds.iter().map(|t| json!({
                "name": t.name, "limit": t.limit, "value": t.value, "passed": t.passed,
            })).collect::<Vec<_>>(),
            "passed": self.passed(),
        })
    }

    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        let [p50, p90, p99, p999, max, mean] = self.latency_ms;
        let [success, side_failure, caller_error, rate_limited] = self.outcomes;
        let _ = writeln!(
            out,
            "sent       {} of {} due ({} late by > {} ms, {} dropped); achieved {:.1} rps of {}",
            self.sent,
            self.scheduled,
            self.late,
            self.late_ms,
            self.dropped,
            self.achieved_rps,
            self.target_rps
        );
        let _ = writeln!(
            out,
            "outcomes   success {success}, side failure {side_failure}, caller error {caller_error}, rate limited {rate_limited}; error rate {:.2}%",
            self.error_rate * 100.0
        );
        let _ = writeln!(
            out,
            "latency    p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms, p99.9 {p999:.1} ms, max {max:.1} ms, mean {mean:.1} ms (from the due time)"
        );
        let _ = writeln!(
            out,
            "spent      {} tokens ({} prompt, {} completion), ${:.6} estimated",
            self.prompt_tokens + self.completion_tokens,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost_usd
        );
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "stopped    {why}");
        }
        for t in &self.thresholds {
            let _ = writeln!(
                out,
                "threshold  {} <= {}: {:.4} {}",
                t.name,
                t.limit,
                t.value,
                if t.passed { "ok" } else { "BREACHED" }
            );
        }
        let _ = writeln!(
            out,
            "result     {}",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        out
    }
}
