//! Without the `otel` feature: the same calls, doing nothing, so that the request path needs
//! no `cfg`. (A config with an `otel` section is refused by validation in such a build.)

use std::time::Duration;

use crate::config::Config;
use crate::environment::Side;
use crate::error::Error;
use crate::rollout::RolloutStatus;

/// The span factory of one client: inert.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracer;

impl Tracer {
    pub fn new(_config: &Config) -> Self {
        Self
    }

    pub fn request(
        &self,
        _path: &str,
        _model: Option<&str>,
        _rollout: impl FnOnce() -> Option<RolloutStatus>,
    ) -> RequestTrace {
        RequestTrace
    }
}

/// The trace of one request: inert.
#[derive(Debug)]
pub(crate) struct RequestTrace;

impl RequestTrace {
    pub fn attempt(
        &self,
        _side: Side,
        _model: Option<&str>,
        _result: Result<(), &Error>,
        _latency: Duration,
    ) {
    }

    pub fn usage(&self, _prompt: u64, _completion: u64) {}

    pub fn answered(&self, _body: &[u8]) {}

    pub fn end(&self, _side: Option<Side>, _model: Option<&str>, _outcome: &str) {}
}
