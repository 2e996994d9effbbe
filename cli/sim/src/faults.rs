//! Fault injection settings, replaceable while the simulator runs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::draws::Draws;

/// The faults the simulator injects into its `/v1` answers; the default injects none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share (0..=1) of requests answered with `error_status`.
    pub error_rate: f64,
    /// Status of injected error answers (default 500).
    pub error_status: u16,
    /// The next N requests fail with `error_status` (counts down as they are served).
    pub fail_next: u32,
    /// Seconds sent as `Retry-After` on injected error answers (plus `retry-after-ms` when fractional).
    pub retry_after: Option<f64>,
    /// Latency added before answering, in milliseconds.
    pub latency_ms: u64,
    /// Extra latency drawn uniformly from `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Streams: delay between the response headers and the first event, in milliseconds.
    pub first_byte_delay_ms: u64,
    /// Streams: cut the connection after N content chunks, without a finish chunk or `[DONE]`.
    pub truncate_after: Option<u32>,
    /// Answer 200 with a body that is not valid JSON (streams: a malformed `data:` line).
    pub malformed_json: bool,
    /// Close the TCP connection without any HTTP answer.
    pub drop_connection: bool,
    /// Models that answer 404 `model_not_found`.
    pub missing_models: Vec<String>,
    /// When set, injected error answers carry `x-should-retry: true|false`.
    pub should_retry: Option<bool>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            error_status: 500,
            fail_next: 0,
            retry_after: None,
            latency_ms: 0,
            jitter_ms: 0,
            first_byte_delay_ms: 0,
            truncate_after: None,
            malformed_json: false,
            drop_connection: false,
            missing_models: Vec::new(),
            should_retry: None,
        }
    }
}

/// Errors of the simulator's own API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A fault setting is out of range; `field` names it.
    #[error("{field} {message}")]
    InvalidFault {
        /// The offending field of [`Faults`].
        field: &'static str,
        /// What is wrong with it, including the value given.
        message: String,
    },
    /// A fault document is not a JSON object of known fields.
    #[error("invalid faults: {0}")]
    InvalidDocument(String),
}

impl Faults {
    /// These faults with the fields of `changes` replacing theirs (a JSON merge), unknown
    /// fields rejected: what `PATCH /_sim/faults` applies.
    pub fn merged(&self, changes: Map<String, Value>) -> Result<Faults, serde_json::Error> {
        let mut current = match serde_json::to_value(self)? {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        current.extend(changes);
        serde_json::from_value(Value::Object(current))
    }

    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<(), SimError> {
        let invalid = |field, message: String| Err(SimError::InvalidFault { field, message });
        if !(0.0..=1.0).contains(&self.error_rate) {
            return invalid(
                "error_rate",
                format!("must be within 0..=1, got {}", self.error_rate),
            );
        }
        if !(400..=599).contains(&self.error_status) {
            return invalid(
                "error_status",
                format!("must be within 400..=599, got {}", self.error_status),
            );
        }
        if let Some(secs) = self.retry_after
            && !(secs.is_finite() && (0.0..=86_400.0).contains(&secs))
        {
            return invalid(
                "retry_after",
                format!("must be within 0..=86400 seconds, got {secs}"),
            );
        }
        Ok(())
    }

    /// The latency to add before answering (`latency_ms` plus jitter drawn from `rng`), if any.
    pub(crate) fn delay(&self, rng: &Draws) -> Option<std::time::Duration> {
        if self.latency_ms == 0 && self.jitter_ms == 0 {
            return None;
        }
        let jitter = if self.jitter_ms > 0 {
            rng.up_to(self.jitter_ms)
        } else {
            0
        };
        Some(std::time::Duration::from_millis(
            self.latency_ms.saturating_add(jitter),
        ))
    }
}
