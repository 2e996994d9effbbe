//! The metrics of hedging, priorities and shadow traffic, registered beside the others.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::labels::SideLabels;
use crate::environment::Side;

/// Seconds waited for a limiter permit.
const WAIT_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct PriorityLabels {
    pub priority: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ShadowLabels {
    pub environment: &'static str,
    pub outcome: &'static str,
}

type WaitFamily = Family<PriorityLabels, Histogram, fn() -> Histogram>;

/// Hedges, limiter waits by priority, shadow requests.
#[derive(Debug)]
pub(crate) struct TrafficMetrics {
    hedges: Family<SideLabels, Counter>,
    hedges_cancelled: Family<SideLabels, Counter>,
    wait: WaitFamily,
    waiting: Family<PriorityLabels, Gauge>,
    shadow: Family<ShadowLabels, Counter>,
}

fn side(s: Side) -> SideLabels {
    SideLabels {
        environment: s.as_str(),
    }
}

impl TrafficMetrics {
    /// The metrics, registered in `r`.
    pub fn register(r: &mut Registry) -> Self {
        let m = Self {
            hedges: Family::default(),
            hedges_cancelled: Family::default(),
            wait: Family::new_with_constructor(|| Histogram::new(WAIT_BUCKETS)),
            waiting: Family::default(),
            shadow: Family::default(),
        };
        r.register(
            "turnout_hedges",
            "Hedged attempts sent, by environment",
            m.hedges.clone(),
        );
        r.register(
            "turnout_hedges_cancelled",
            "Attempts cancelled because another attempt of the same call answered first",
            m.hedges_cancelled.clone(),
        );
        r.register(
            "turnout_limiter_wait_seconds",
            "Time requests waited for a client-side limit, by priority",
            m.wait.clone(),
        );
        r.register(
            "turnout_limiter_waiting",
            "Requests waiting for a client-side limit now, by priority",
            m.waiting.clone(),
        );
        r.register(
            "turnout_shadow_requests",
            "Shadow requests by candidate environment and outcome (sent, differed, shed, failed)",
            m.shadow.clone(),
        );
        m
    }

    /// A hedge was sent to `s`.
    pub fn hedge_sent(&self, s: Side) {
        self.hedges.get_or_create(&side(s)).inc();
    }

    /// A hedged attempt answered; `cancelled` others were dropped.
    pub fn hedge_ended(&self, s: Side, cancelled: usize) {
        self.hedges_cancelled
            .get_or_create(&side(s))
            .inc_by(cancelled as u64);
    }

    /// A request of `priority` waited `waited` for its permit.
    pub fn waited(&self, priority: &'static str, waited: Duration) {
        self.wait
            .get_or_create(&PriorityLabels { priority })
            .observe(waited.as_secs_f64());
    }

    /// Sets the gauges of requests waiting, by priority (high, normal, low).
    pub fn set_waiting(&self, waiting: [usize; 3]) {
        for (p, n) in crate::limits::Priority::ALL.into_iter().zip(waiting) {
            self.waiting
                .get_or_create(&PriorityLabels {
                    priority: p.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// A shadow request to `s` ended as `outcome`.
    pub fn shadow(&self, s: Side, outcome: &'static str) {
        self.shadow
            .get_or_create(&ShadowLabels {
                environment: s.as_str(),
                outcome,
            })
            .inc();
    }
}
