//! What `shadow_report()` returns: counts, the window's rates, and a sample of differing
//! pairs with every secret redacted.

use serde::Serialize;
use serde_json::Value;

use super::diff::{Answer, PairDiff};
use super::window::ShadowFigures;
use crate::environment::Side;

/// Characters of each answer's content kept in a sample.
const EXCERPT_CHARS: usize = 200;

/// The shadow traffic of a client.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowReport {
    /// Whether shadow traffic is configured.
    pub enabled: bool,
    /// The side shadow requests go to (the candidate).
    pub candidate: Side,
    /// Requests sampled for shadowing.
    pub sampled: u64,
    /// Sampled requests shed (concurrency or spend bound).
    pub shed: u64,
    /// Totals since the client started.
    pub totals: ShadowFigures,
    /// Tool-call mismatches / pairs, over the totals.
    pub tool_mismatch_rate: f64,
    /// Invalid structured outputs / pairs that asked for one.
    pub invalid_json_rate: f64,
    /// `finish_reason` mismatches / pairs.
    pub finish_mismatch_rate: f64,
    /// Candidate cost / stable cost over the priced pairs.
    pub cost_ratio: f64,
    /// Mean latency of the candidate minus the stable side's, ms.
    pub mean_latency_delta_ms: f64,
    /// Spend on shadow requests this clock hour, USD.
    pub spent_this_hour_usd: f64,
    /// The last differing pairs (at most 20), oldest first.
    pub samples: Vec<ShadowSample>,
}

impl ShadowReport {
    /// A report of `totals` and the other counts.
    pub(crate) fn new(
        enabled: bool,
        candidate: Side,
        counts: (u64, u64),
        totals: ShadowFigures,
        spent_this_hour_usd: f64,
        samples: Vec<ShadowSample>,
    ) -> Self {
        Self {
            enabled,
            candidate,
            sampled: counts.0,
            shed: counts.1,
            tool_mismatch_rate: totals.tool_mismatch_rate(),
            invalid_json_rate: totals.invalid_json_rate(),
            finish_mismatch_rate: totals.finish_mismatch_rate(),
            cost_ratio: totals.cost_ratio(),
            mean_latency_delta_ms: totals.mean_latency_delta_ms(),
            totals,
            spent_this_hour_usd,
            samples,
        }
    }
}

/// One differing pair.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowSample {
    /// When, RFC 3339.
    pub at: String,
    /// The model asked for.
    pub model: Option<String>,
    /// How the answers differ.
    pub diff: PairDiff,
    /// The stable side's answer, in short.
    pub primary: Excerpt,
    /// The candidate's answer, in short.
    pub candidate: Excerpt,
}

/// An answer in short: its finish reason, the tools it called, the start of its content.
#[derive(Debug, Clone, Serialize)]
pub struct Excerpt {
    /// `finish_reason`.
    pub finish_reason: Option<String>,
    /// Names of the tools called, in order.
    pub tool_calls: Vec<String>,
    /// The first characters of the content, secrets redacted.
    pub content: Option<String>,
}

impl Excerpt {
    /// The excerpt of `a`, with every string of `secrets` and every `sk-…` token redacted.
    pub(crate) fn of(a: &Answer, secrets: &[String]) -> Self {
        let choice = &a.body["choices"][0];
        let tool_calls = choice["message"]["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| c["function"]["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let content = choice["message"]["content"].as_str().map(|c| {
            let short: String = c.chars().take(EXCERPT_CHARS).collect();
            redact(&short, secrets)
        });
        Self {
            finish_reason: choice["finish_reason"].as_str().map(str::to_string),
            tool_calls,
            content,
        }
    }
}

/// `text` with each of `secrets` and each token that looks like an API key (`sk-` and 16 or
/// more key characters) replaced by `[redacted]`.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = secrets
        .iter()
        .filter(|s| s.len() >= 6)
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[redacted]"));
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut from = 0;
    while let Some(i) = out[from..].find("sk-").map(|i| i + from) {
        let end = out[i..]
            .find(|c: char| !is_key_char(c))
            .map_or(out.len(), |e| i + e);
        if end - i >= 19 {
            out.replace_range(i..end, "[redacted]");
            from = i + "[redacted]".len();
        } else {
            from = i + 3;
        }
    }
    out
}

/// The model field of a request body.
pub(crate) fn model_of(request: &Value) -> Option<String> {
    request["model"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted_from_samples() {
        let secrets = vec!["my-custom-secret-value".to_string()];
        let text = "use sk-proj-ABCDEFGHIJKLMNOP1234 or my-custom-secret-value; sk-short stays";
        assert_eq!(
            redact(text, &secrets),
            "use [redacted] or [redacted]; sk-short stays"
        );
    }
}
