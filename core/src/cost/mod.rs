//! Cost accounting: a pricing table (USD per million tokens), the usage of answers, and the
//! running totals that `Client::costs()` returns.

mod book;
mod price_memo;
mod pricing;
mod usage;

pub(crate) use book::{Charge, CostBook};
pub use book::{CostTotals, Costs};
pub(crate) use price_memo::PriceMemo;
pub use pricing::{DEFAULT_PRICES, PriceTable, cost_of};
pub(crate) use usage::{KnownUsage, Tokens, usage_of, usage_of_event};
