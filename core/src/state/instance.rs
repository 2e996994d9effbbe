//! Who wrote an operation: the names instances and the CLI sign with.

use crate::config::StateConfig;

/// The host's name, from the kernel or the environment.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// This instance's id: the configured `state.instance_id`, else `host:pid`.
pub fn instance_id(config: &StateConfig) -> String {
    match config.instance_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => format!("{}:{}", hostname(), std::process::id()),
    }
}
