//! The pricing table: USD per million prompt and completion tokens, by model.

use std::collections::BTreeMap;

use crate::config::Price;

/// The built-in prices, USD per million input / output tokens, from the providers' public
/// price lists as of 2025-11 (standard tier, no batch or cache discounts). They go stale:
/// override them with the `pricing` section of the config. `docs/observability.md` lists them.
pub const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    // OpenAI
    ("gpt-5", 1.25, 10.00),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("o3", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
    // Anthropic (both spellings of the version: the API's ids use a dash)
    ("claude-sonnet-4.5", 3.00, 15.00),
    ("claude-sonnet-4-5", 3.00, 15.00),
    ("claude-haiku-4.5", 1.00, 5.00),
    ("claude-haiku-4-5", 1.00, 5.00),
    ("claude-opus-4.1", 15.00, 75.00),
    ("claude-opus-4-1", 15.00, 75.00),
    // Google (prompts up to 200k tokens)
    ("gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    // DeepSeek (V3.2 is what `deepseek-chat` and `deepseek-reasoner` serve; cache-miss input)
    ("deepseek-v3.2", 0.28, 0.42),
    ("deepseek-chat", 0.28, 0.42),
    ("deepseek-reasoner", 0.28, 0.42),
];

/// Prices by model: the built-in table with the config's `pricing` merged over it.
///
/// A model is priced by its exact name, else by the longest known name it starts with followed
/// by a separator (`gpt-4o-2024-08-06` prices as `gpt-4o`, `gpt-4o-mini-2024-07-18` as
/// `gpt-4o-mini`), else by the part after a provider prefix (`openai/gpt-4o`).
///
/// ```
/// use turnout::cost::PriceTable;
/// let table = PriceTable::default();
/// let price = table.lookup("gpt-4o-2024-08-06").unwrap();
/// assert_eq!((price.input, price.output), (2.5, 10.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::new(&BTreeMap::new())
    }
}

impl PriceTable {
    /// The built-in table with `overrides` merged over it.
    pub fn new(overrides: &BTreeMap<String, Price>) -> Self {
        let mut prices: BTreeMap<String, Price> = DEFAULT_PRICES
            .iter()
            .map(|&(model, input, output)| (model.to_string(), Price { input, output }))
            .collect();
        prices.extend(overrides.iter().map(|(m, p)| (m.clone(), *p)));
        Self { prices }
    }

    /// Every model with a price.
    pub fn models(&self) -> impl Iterator<Item = (&str, Price)> {
        self.prices.iter().map(|(m, p)| (m.as_str(), *p))
    }

    /// The price of `model`, if it is known.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        self.lookup_exact_or_prefix(model).or_else(|| {
            let (_, bare) = model.rsplit_once('/')?;
            self.lookup_exact_or_prefix(bare)
        })
    }

    fn lookup_exact_or_prefix(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        // The longest known name that `model` starts with, followed by a separator, so that
        // `gpt-4.10` is not taken for `gpt-4.1`.
        self.prices
            .iter()
            .filter(|(known, _)| {
                model.strip_prefix(known.as_str()).is_some_and(|rest| {
                    rest.starts_with(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                })
            })
            .max_by_key(|(known, _)| known.len())
            .map(|(_, p)| *p)
    }

    /// The cost in USD of `prompt_tokens` and `completion_tokens` of `model`, if the model
    /// has a price.
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<f64> {
        self.lookup(model)
            .map(|price| cost_of(price, prompt_tokens, completion_tokens))
    }
}

/// `prompt_tokens · input + completion_tokens · output`, prices being USD per million tokens.
///
/// ```
/// use turnout::config::Price;
/// let c = turnout::cost::cost_of(Price { input: 2.0, output: 8.0 }, 1000, 500);
/// assert!((c - 0.006).abs() < 1e-12);
/// ```
pub fn cost_of(price: Price, prompt_tokens: u64, completion_tokens: u64) -> f64 {
    (prompt_tokens as f64 * price.input + completion_tokens as f64 * price.output) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: f64, output: f64) -> Price {
        Price { input, output }
    }

    #[test]
    fn exact_then_longest_prefix_with_a_separator() {
        let t = PriceTable::default();
        assert_eq!(t.lookup("gpt-4o"), Some(price(2.5, 10.0)));
        assert_eq!(t.lookup("gpt-4o-2024-08-06"), Some(price(2.5, 10.0)));
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18"), Some(price(0.15, 0.6)));
        assert_eq!(t.lookup("gpt-4.1-2025-04-14"), Some(price(2.0, 8.0)));
        assert_eq!(t.lookup("gpt-4.10"), None);
        assert_eq!(t.lookup("gpt-4omega"), None);
        assert_eq!(
            t.lookup("gemini-2.5-flash-preview-05-20"),
            Some(price(0.3, 2.5))
        );
        assert_eq!(t.lookup("openai/gpt-4o-mini"), Some(price(0.15, 0.6)));
        assert_eq!(t.lookup("my-model"), None);
    }

    #[test]
    fn overrides_win_and_add_models() {
        let overrides = [
            ("gpt-4o".to_string(), price(1.0, 2.0)),
            ("my-model".to_string(), price(0.5, 1.5)),
        ]
        .into_iter()
        .collect();
        let t = PriceTable::new(&overrides);
        assert_eq!(t.lookup("gpt-4o-2024-08-06"), Some(price(1.0, 2.0)));
        assert_eq!(t.lookup("my-model-v2"), Some(price(0.5, 1.5)));
        assert_eq!(t.lookup("gpt-4.1"), Some(price(2.0, 8.0)));
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let c = cost_of(price(2.0, 8.0), 1000, 500);
        assert!((c - 0.006).abs() < 1e-12, "{c}");
        assert_eq!(PriceTable::default().cost("nope", 1, 1), None);
    }
}
