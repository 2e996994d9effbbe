//! The client of the pipeline commands (`smoke`, `loadtest`): the app's own config, with
//! everything that would reach beyond this process, or hide the side's own behaviour, turned off.

use std::path::Path;

use turnout::config::StateConfig;
use turnout::{Client, Config};

/// Loads `path` and builds a client that only measures: no shared state (it must not take part
/// in the app's rollouts), no metrics listener (the app's port), no audit log or webhook, no
/// background probes, no cache, no client-side limits, one attempt per request (a retry would
/// hide the side's errors), and a circuit that opens only for a side failing every call.
pub fn client(path: &Path) -> Result<(Client, Config), String> {
    let mut config = Config::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    config.health_check.enabled = false;
    config.metrics.listen = None;
    config.state = StateConfig::default();
    config.audit_log = None;
    config.webhook = None;
    config.cache.enabled = false;
    config.rate_limit = None;
    config.retry.max_attempts = 1;
    config.circuit_breaker.failure_threshold = u32::MAX;
    config.circuit_breaker.failure_rate = 1.0;
    let client =
        Client::from_config(config.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((client, config))
}

/// `"green (v2) at http://…/v1"`: the side, its label and base URL, for headings.
pub fn describe(config: &Config, side: turnout::Side) -> String {
    let env = config.environments.get(side);
    match env.label_str() {
        Some(label) => format!("{side} ({label}) at {}", env.shown_url()),
        None => format!("{side} at {}", env.shown_url()),
    }
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not worth a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
