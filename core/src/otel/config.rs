//! The `otel` config section: where spans go and how this service is named.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::secs;

/// OpenTelemetry trace export over OTLP/HTTP (protobuf). Needs the crate's `otel` feature;
/// the Python and Node packages have it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtelConfig {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); spans are POSTed to
    /// `{endpoint}/v1/traces` (or to the endpoint itself when it already ends so).
    pub endpoint: String,
    /// `service.name` of the exported resource \[turnout\].
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Headers sent with every export, e.g. a collector's auth token (never shown).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Time between two exports of the spans ended meanwhile [1 s].
    #[serde(default = "default_interval", with = "secs")]
    pub export_interval: Duration,
}

impl std::fmt::Debug for OtelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelConfig")
            .field("endpoint", &crate::secret::masked_url(&self.endpoint))
            .field("service_name", &self.service_name)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("export_interval", &self.export_interval)
            .finish()
    }
}

impl OtelConfig {
    /// Export to `endpoint` with every default.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            service_name: default_service_name(),
            headers: BTreeMap::new(),
            export_interval: default_interval(),
        }
    }

    /// The URL spans are POSTed to.
    pub fn traces_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{base}/v1/traces")
        }
    }
}

fn default_service_name() -> String {
    "turnout".to_string()
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}

/// Validates the section; the message names the field.
pub(crate) fn check(otel: Option<&OtelConfig>) -> Result<(), String> {
    let Some(otel) = otel else {
        return Ok(());
    };
    if !cfg!(feature = "otel") {
        return Err(
            "otel is set, but this build of turnout has no `otel` feature (cargo feature \"otel\")"
                .to_string(),
        );
    }
    let url = otel.traces_url();
    if reqwest::Url::parse(&url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
        return Err(format!(
            "otel.endpoint must be an http(s) URL, got {:?}",
            otel.endpoint
        ));
    }
    if otel.service_name.is_empty() {
        return Err("otel.service_name must not be empty".to_string());
    }
    if otel.export_interval.is_zero() {
        return Err("otel.export_interval must be above 0".to_string());
    }
    for (name, value) in &otel.headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "otel.headers has an invalid header name, got {name:?}"
            ));
        }
        // The value is not shown: it is usually a credential.
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(format!("otel.headers.{name} is not a valid header value"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_a_token_in_the_endpoint() {
        let config = OtelConfig {
            endpoint: "https://collector.example/ingest/tok3nABCdef123456789?api_key=k-42".into(),
            service_name: "s".into(),
            headers: BTreeMap::from([("authorization".into(), "Bearer secret-9".into())]),
            export_interval: Duration::from_secs(1),
        };
        let shown = format!("{config:?}");
        for secret in ["tok3nABCdef123456789", "k-42", "secret-9"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
