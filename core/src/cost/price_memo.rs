//! Prices resolved once per model name. The table's lookup is a tree search, and for a name it
//! does not hold exactly (`gpt-4o-2024-08-06`, `openai/gpt-4o`) a scan of every known name; an
//! answer's cost is charged on every request, so each name is looked up once and remembered.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::pricing::{PriceTable, cost_of};
use crate::config::Price;

/// Distinct names remembered; further ones are looked up in the table each time, so that
/// arbitrary model names cannot grow memory without bound.
const MAX_NAMES: usize = 256;

/// Hashed with foldhash: the map is bounded, so a hasher without SipHash's flood resistance
/// costs nothing in safety, and SipHash cost more than the lookup it saves.
type Seen = foldhash::HashMap<Box<str>, Option<Price>>;

/// A [`PriceTable`] with the price of each model name it was asked for remembered: read
/// without a lock (an immutable map, swapped whole when a name is added).
#[derive(Debug)]
pub(crate) struct PriceMemo {
    table: PriceTable,
    seen: ArcSwap<Seen>,
    /// Serialises additions, so that none is lost between a load and a swap.
    adding: Mutex<()>,
}

impl PriceMemo {
    pub fn new(table: PriceTable) -> Self {
        Self {
            table,
            seen: ArcSwap::default(),
            adding: Mutex::new(()),
        }
    }

    /// The price of `model`, as [`PriceTable::lookup`] gives it.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        let seen = self.seen.load();
        if let Some(price) = seen.get(model) {
            return *price;
        }
        let price = self.table.lookup(model);
        if seen.len() < MAX_NAMES {
            drop(seen);
            self.remember(model, price);
        }
        price
    }

    /// The cost in USD of `prompt_tokens` and `completion_tokens` of `model`, as
    /// [`PriceTable::cost`] gives it.
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<f64> {
        self.lookup(model)
            .map(|price| cost_of(price, prompt_tokens, completion_tokens))
    }

    fn remember(&self, model: &str, price: Option<Price>) {
        let _adding = self.adding.lock();
        let seen = self.seen.load();
        if seen.len() >= MAX_NAMES || seen.contains_key(model) {
            return;
        }
        let mut next = Seen::clone(&seen);
        next.insert(model.into(), price);
        self.seen.store(Arc::new(next));
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
        assert_eq!(memo.seen.load().len(), 7);
    }

    #[test]
    fn names_are_bounded_and_still_priced_past_the_bound() {
        let memo = memo();
        for i in 0..MAX_NAMES + 10 {
            assert!(memo.lookup(&format!("model-{i}")).is_none());
        }
        assert_eq!(memo.seen.load().len(), MAX_NAMES);
        assert_eq!(
            memo.lookup("gpt-4o-2024-08-06").map(|p| p.input),
            Some(2.5),
            "a name past the bound is looked up in the table"
        );
        assert_eq!(memo.seen.load().len(), MAX_NAMES);
    }
}
