//! Prometheus metrics: a `prometheus-client` registry per client, encoded as OpenMetrics text
//! by `Client::metrics_text()` and, optionally, served on `metrics.listen`.
//!
//! Labels are only `environment`, `label`, `model`, `outcome`, `kind`, `task` and `priority`: never a key,
//! a prompt, a routing key or metadata.

mod labels;
mod listener;
mod outcome;
mod recorder;
mod traffic;

pub(crate) use listener::{CONTENT_TYPE, spawn};
pub(crate) use outcome::Outcome;
pub(crate) use recorder::Metrics;
