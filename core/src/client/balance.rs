//! Opt-in active-active balancing on the request path: an unpinned, non-sticky request (a
//! random draw) goes to the side with the lower peak-EWMA latency, or the lower price for its
//! model — only while no canary weight and no rollout are live, and both sides are available.

use super::engine::Engine;
use crate::environment::Side;
use crate::routing::balance::{Balance, lower};
use crate::routing::{Reason, Selection};

impl Engine {
    /// `sel`, or the balanced choice when balancing applies to it; `keyed` says the request
    /// was bucketed by its routing key (sticky), which balancing never moves.
    pub(crate) fn balanced(&self, sel: Selection, keyed: bool, model: Option<&str>) -> Selection {
        let Some(mode) = self.config.balance else {
            return sel;
        };
        // At weight 0 selection says `sticky` for every unruled request, keyed or not.
        let drawn = matches!(sel.reason, Reason::Random | Reason::Sticky) && !keyed;
        if !drawn || sel.pinned || sel.failed_over_from.is_some() {
            return sel;
        }
        let now = self.now();
        if self.traffic.peek().weight_bp > 0
            || !Side::BOTH.iter().all(|s| self.is_available(*s, now))
            || self.rollout_status().is_some_and(|r| r.state.is_live())
        {
            return sel;
        }
        let latency = self.peak_ewma.figures(now);
        let coin = rand::random::<bool>();
        let side = match mode {
            Balance::Latency => lower(latency, coin),
            Balance::Cost => {
                let price = |s: Side| {
                    let m = model?;
                    let upstream = self.config.environments.get(s).upstream_model(m);
                    // The price of a typical call: a million tokens in, a million out.
                    self.obs.prices.cost(upstream, 1_000_000, 1_000_000)
                };
                match (price(Side::Blue), price(Side::Green)) {
                    (Some(b), Some(g)) if b != g => lower([b, g], coin),
                    _ => lower(latency, coin),
                }
            }
        };
        Selection {
            side,
            reason: Reason::Balanced,
            ..sel
        }
    }
}
