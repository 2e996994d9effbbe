//! Running cost totals by environment, model and tag: what `Client::costs()` returns.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::Serialize;

use super::usage::Tokens;
use crate::environment::Side;
use crate::name_map::MAX_NAME_BYTES;

/// Distinct models, and distinct tag values (beside `"(untagged)"`), kept; further ones are
/// totalled under `"(other)"`, so that arbitrary model names or tag values cannot grow memory
/// without bound.
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
    tag: String,
    totals: Mutex<Totals>,
}

/// What [`CostBook`] keeps: the sides and untagged requests in fields of their own, so that a
/// charge searches one map (the model's) in the common case, not three.
#[derive(Debug, Default)]
struct Totals {
    total: CostTotals,
    by_side: [CostTotals; 2],
    by_model: BTreeMap<String, CostTotals>,
    untagged: CostTotals,
    by_tag: BTreeMap<String, CostTotals>,
}

impl CostBook {
    pub fn new(tag: &str) -> Self {
        Self {
            tag: tag.to_string(),
            totals: Mutex::new(Totals::default()),
        }
    }

    /// Adds one answer to every total (one short critical section).
    pub fn charge(&self, c: &Charge<'_>) {
        let mut totals = self.totals.lock();
        let totals = &mut *totals;
        totals.total.add(c.usage, c.cost_usd);
        totals.by_side[c.environment.index()].add(c.usage, c.cost_usd);
        add_to(&mut totals.by_model, c.model.unwrap_or(UNKNOWN_MODEL), c);
        match c.tag {
            Some(tag) => add_to(&mut totals.by_tag, tag, c),
            None => totals.untagged.add(c.usage, c.cost_usd),
        }
    }

    pub fn snapshot(&self) -> Costs {
        let totals = self.totals.lock();
        let by_environment = [Side::Blue, Side::Green]
            .into_iter()
            .filter(|side| totals.by_side[side.index()].requests > 0)
            .map(|side| {
                (
                    side.as_str().to_string(),
                    totals.by_side[side.index()].clone(),
                )
            })
            .collect();
        let mut by_tag = totals.by_tag.clone();
        if totals.untagged.requests > 0 {
            by_tag.insert(UNTAGGED.to_string(), totals.untagged.clone());
        }
        Costs {
            tag: self.tag.clone(),
            total: totals.total.clone(),
            by_environment,
            by_model: totals.by_model.clone(),
            by_tag,
        }
    }
}

/// Adds `c` to the totals of `key` (or of `"(other)"` once the map is full, or for a key
/// longer than [`MAX_NAME_BYTES`]). A key seen
/// before costs no allocation: this runs on every answer, under the lock.
fn add_to(map: &mut BTreeMap<String, CostTotals>, key: &str, c: &Charge<'_>) {
    if let Some(totals) = map.get_mut(key) {
        totals.add(c.usage, c.cost_usd);
        return;
    }
    let key = if map.len() < MAX_KEYS && key.len() <= MAX_NAME_BYTES {
        key
    } else {
        OTHER
    };
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
    fn a_snapshot_names_only_what_was_charged() {
        let book = CostBook::new("team");
        assert_eq!(
            book.snapshot(),
            Costs {
                tag: "team".to_string(),
                ..Costs::default()
            }
        );
        book.charge(&Charge {
            environment: Side::Green,
            model: Some("m"),
            tag: Some("search"),
            usage: usage(1, 1),
            cost_usd: Some(0.25),
        });
        let c = book.snapshot();
        assert_eq!(c.by_environment.keys().collect::<Vec<_>>(), ["green"]);
        assert_eq!(c.by_tag.keys().collect::<Vec<_>>(), ["search"]);
        assert_eq!(c.by_environment["green"], c.total);
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

    #[test]
    fn a_key_over_the_length_bound_is_counted_as_other() {
        let book = CostBook::new("team");
        let huge = "m".repeat(MAX_NAME_BYTES + 1);
        book.charge(&Charge {
            environment: Side::Blue,
            model: Some(&huge),
            tag: Some(&huge),
            usage: usage(1, 1),
            cost_usd: Some(0.0),
        });
        let c = book.snapshot();
        assert_eq!(c.by_model.keys().collect::<Vec<_>>(), ["(other)"]);
        assert_eq!(c.by_tag.keys().collect::<Vec<_>>(), ["(other)"]);
    }
}
