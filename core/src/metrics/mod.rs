//! Prometheus metrics: a `prometheus-client` registry per client, encoded as OpenMetrics text
//! by `Client::metrics_text()` and, optionally, served on `metrics.listen`.
//!
//! Labels are only `environment`, `label`, `model`, `outcome`, `kind`, `task` and `priority`: never a key,
//! a prompt, a routing key or metadata.

mod handles;
mod labels;
#[cfg(feature = "metrics-listener")]
mod listener;
mod models;
mod outcome;
mod recorder;
#[cfg(test)]
mod tests;
mod traffic;

#[cfg(feature = "metrics-listener")]
pub(crate) use listener::spawn;
pub(crate) use outcome::Outcome;
pub(crate) use recorder::Metrics;

/// The content type of `prometheus-client`'s OpenMetrics text encoding.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Without the `metrics-listener` feature there is no built-in listener: `metrics.listen` is
/// refused when the client starts (apps serve `Client::metrics_text()` themselves).
#[cfg(not(feature = "metrics-listener"))]
pub(crate) fn spawn(
    _handle: &tokio::runtime::Handle,
    _supervisor: &crate::client::supervise::Supervisor,
    _addr: std::net::SocketAddr,
    _scrape: impl Fn() -> Option<String> + Send + Sync + 'static,
    _stop: tokio::sync::watch::Receiver<bool>,
) -> crate::error::Result<std::net::SocketAddr> {
    Err(crate::error::Error::Config(
        "metrics.listen needs turnout's `metrics-listener` feature (on by default); this build has it off".to_string(),
    ))
}
