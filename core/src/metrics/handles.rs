//! Handles on series, resolved once. A family's `get_or_create` takes its lock and hashes the
//! whole label set; the hot path instead keeps the series it got the first time
//! (prometheus-client's metrics are `Arc`s: a clone is the same series). A series still
//! appears in the exposition only once something is recorded in it.

use std::hash::Hash;
use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};

use super::labels::RequestLabels;
use super::outcome::Outcome;
use crate::environment::Side;

/// One series of a family, resolved on first use.
#[derive(Debug)]
pub(crate) struct Handle<M>(OnceLock<M>);

impl<M> Default for Handle<M> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<M: Clone> Handle<M> {
    /// The series, created in `family` under `labels()` the first time.
    pub fn get<S, C>(&self, family: &Family<S, M, C>, labels: impl FnOnce() -> S) -> &M
    where
        S: Clone + Hash + Eq,
        C: MetricConstructor<M>,
    {
        self.0.get_or_init(|| family.get_or_create_owned(&labels()))
    }
}

/// The `turnout_requests_total` series of one model label, by environment (none, blue, green)
/// and outcome.
#[derive(Debug)]
pub(crate) struct ModelSeries {
    label: Box<str>,
    requests: [[Handle<Counter>; Outcome::COUNT]; 3],
}

impl ModelSeries {
    /// The series of the model label `label`, none created yet.
    pub fn new(label: &str) -> Self {
        Self {
            label: label.into(),
            requests: Default::default(),
        }
    }

    /// The model label value.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The counter of requests to `environment` (`None`: no side tried) that ended as
    /// `outcome`, created in `family` the first time; `side_labels` are the sides' labels.
    pub fn requests(
        &self,
        family: &Family<RequestLabels, Counter>,
        side_labels: &[String; 2],
        environment: Option<Side>,
        outcome: Outcome,
    ) -> &Counter {
        let row = environment.map_or(0, |s| s.index() + 1);
        self.requests[row][outcome.index()].get(family, || RequestLabels {
            environment: environment.map_or("", Side::as_str),
            label: environment.map_or_else(String::new, |s| side_labels[s.index()].clone()),
            model: self.label.to_string(),
            outcome: outcome.as_str(),
        })
    }
}
