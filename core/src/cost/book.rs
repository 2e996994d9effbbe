//! Running cost totals by environment, model and tag: what `Client::costs()` returns.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::Serialize;

use super::usage::Tokens;
use crate::environment::Side;

/// Distinct models and tags kept; further ones are totalled under `"(other)"`, so that
/// arbitrary model names or tag values cannot grow memory without bound.
const MAX_KEYS: usize = 1000;
/// The key of answers whose model is unknown.
const UNKNOWN_MODEL: &str = "(unknown)";
/// The key of requests without the tag in their metadata.
const UNTAGGED: &str = "(untagged)";
const OTHER: &str = "(other)";

/// Token and cost totals of a set of answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostTotals {
    /// Answers that reported their usage.
    pub requests: u64,
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
    /// USD, over the answers whose model has a price.
    pub cost_usd: f64,
    /// Answers whose model has no price (their tokens are counted, their cost is not).
    pub unpriced_requests: u64,
}

impl CostTotals {
    fn add(&mut self, usage: Tokens, cost: Option<f64>) {
        self.requests += 1;
        self.prompt_tokens += usage.prompt;
        self.completion_tokens += usage.completion;
        match cost {
            Some(c) => self.cost_usd += c,
            None => self.unpriced_requests += 1,
        }
    }
}

/// What `Client::costs()` returns: totals since the client was built, overall and by
/// environment, by the model that answered, and by the value of the metadata key `tag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Costs {
    /// The metadata key the `by_tag` totals are keyed by (config `cost_tag`, default `team`).
    pub tag: String,
    /// Everything.
    pub total: CostTotals,
    /// By side: `blue`, `green`.
    pub by_environment: BTreeMap<String, CostTotals>,
    /// By the model that answered (`(unknown)` when none was named).
    pub by_model: BTreeMap<String, CostTotals>,
    /// By the tag's value (`(untagged)` for requests without it).
    pub by_tag: BTreeMap<String, CostTotals>,
}

/// One answer's usage, as charged.
pub(crate) struct Charge<'a> {
    pub environment: Side,
    pub model: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub usage: Tokens,
    pub cost_usd: Option<f64>,
}

/// The live totals behind [`Costs`].
#[derive(Debug)]
pub(crate) struct CostBook {
    costs: Mutex<Costs>,
}

impl CostBook {
    pub fn new(tag: &str) -> Self {
        Self {
            costs: Mutex::new(Costs {
                tag: tag.to_string(),
                ..Costs::default()
            }),
        }
    }

    /// Adds one answer to every total (one short critical section).
    pub fn charge(&self, c: &Charge<'_>) {
        let mut costs = self.costs.lock();
        let costs = &mut *costs;
        costs.total.add(c.usage, c.cost_usd);
        add_to(&mut costs.by_environment, c.environment.as_str(), c);
        add_to(&mut costs.by_model, c.model.unwrap_or(UNKNOWN_MODEL), c);
        add_to(&mut costs.by_tag, c.tag.unwrap_or(UNTAGGED), c);
    }

    pub fn snapshot(&self) -> Costs {
        self.costs.lock().clone()
    }
}

/// Adds `c` to the totals of `key` (or of `"(other)"` once the map is full). A key seen
/// before costs no allocation: this runs on every answer, under the lock.
fn add_to(map: &mut BTreeMap<String, CostTotals>, key: &str, c: &Charge<'_>) {
    if let Some(totals) = map.get_mut(key) {
        totals.add(c.usage, c.cost_usd);
        return;
    }
    let key = if map.len() < MAX_KEYS { key } else { OTHER };
    map.entry(key.to_string())
        .or_default()
        .add(c.usage, c.cost_usd);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Tokens {
        Tokens {
            prompt,
            completion,
            cached: 0,
        }
    }

    #[test]
    fn totals_by_environment_model_and_tag() {
        let book = CostBook::new("team");
        book.charge(&Charge {
            environment: Side::Blue,
            model: Some("gpt-4o"),
            tag: Some("search"),
            usage: usage(10, 5),
            cost_usd: Some(0.5),
        });
        book.charge(&Charge {
            environment: Side::Green,
            model: None,
            tag: None,
            usage: usage(1, 2),
            cost_usd: None,
        });
        let c = book.snapshot();
        assert_eq!(c.tag, "team");
        assert_eq!(
            (
                c.total.requests,
                c.total.prompt_tokens,
                c.total.completion_tokens
            ),
            (2, 11, 7)
        );
        assert_eq!(c.total.cost_usd, 0.5);
        assert_eq!(c.total.unpriced_requests, 1);
        assert_eq!(c.by_environment["blue"].cost_usd, 0.5);
        assert_eq!(c.by_model["(unknown)"].unpriced_requests, 1);
        assert_eq!(c.by_tag["search"].requests, 1);
        assert_eq!(c.by_tag["(untagged)"].requests, 1);
    }

    #[test]
    fn keys_are_bounded() {
        let book = CostBook::new("team");
        for i in 0..MAX_KEYS + 10 {
            let tag = format!("t{i}");
            book.charge(&Charge {
                environment: Side::Blue,
                model: Some("m"),
                tag: Some(&tag),
                usage: usage(1, 1),
                cost_usd: Some(0.0),
            });
        }
        let c = book.snapshot();
        assert_eq!(c.by_tag.len(), MAX_KEYS + 1);
        assert_eq!(c.by_tag["(other)"].requests, 10);
    }
}
