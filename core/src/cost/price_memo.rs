//! Prices resolved once per model name. The table's lookup is a tree search, and for a name it
//! does not hold exactly (`gpt-4o-2024-08-06`, `openai/gpt-4o`) a scan of every known name; an
//! answer's cost is charged on every request, so each name is looked up once and remembered.

use super::pricing::{PriceTable, cost_of};
use crate::config::Price;
use crate::name_map::NameMap;

/// Distinct names remembered; further ones are looked up in the table each time, so that
/// arbitrary model names cannot grow memory without bound.
const MAX_NAMES: usize = 256;

/// A [`PriceTable`] with the price of each model name it was asked for remembered (unpriced
/// names too), read without a lock.
#[derive(Debug)]
pub(crate) struct PriceMemo {
    table: PriceTable,
    seen: NameMap<Option<Price>>,
}

impl PriceMemo {
    pub fn new(table: PriceTable) -> Self {
        Self {
            table,
            seen: NameMap::new(MAX_NAMES),
        }
    }

    /// The price of `model`, as [`PriceTable::lookup`] gives it.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        self.seen.with(
            model,
            || self.table.lookup(model),
            |price| match price {
                Some(price) => *price,
                None => self.table.lookup(model),
            },
        )
    }

    /// The cost in USD of `prompt_tokens` and `completion_tokens` of `model`, as
    /// [`PriceTable::cost`] gives it.
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<f64> {
        self.lookup(model)
            .map(|price| cost_of(price, prompt_tokens, completion_tokens))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn memo() -> PriceMemo {
        let overrides = BTreeMap::from([(
            "house-model".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        )]);
        PriceMemo::new(PriceTable::new(&overrides))
    }

    #[test]
    fn answers_as_the_table_does_the_first_time_and_after() {
        let memo = memo();
        let table = memo.table.clone();
        for name in [
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "gpt-4o-mini-2024-07-18",
            "openai/gpt-4.1",
            "gpt-4.10",
            "house-model",
            "unknown-model",
        ] {
            for _ in 0..2 {
                assert_eq!(memo.lookup(name), table.lookup(name), "{name}");
                assert_eq!(
                    memo.cost(name, 1000, 500),
                    table.cost(name, 1000, 500),
                    "{name}"
                );
            }
        }
        // Unknown names are remembered as unpriced too: 7 names, each once.
        assert_eq!(memo.seen.len(), 7);
    }

    #[test]
    fn names_are_bounded_and_still_priced_past_the_bound() {
        let memo = memo();
        for i in 0..MAX_NAMES + 10 {
            assert!(memo.lookup(&format!("model-{i}")).is_none());
        }
        assert_eq!(memo.seen.len(), MAX_NAMES);
        assert_eq!(
            memo.lookup("gpt-4o-2024-08-06").map(|p| p.input),
            Some(2.5),
            "a name past the bound is looked up in the table"
        );
        assert_eq!(memo.seen.len(), MAX_NAMES);
    }
}
