//! `TURNOUT_LOG=debug` (or `error`, `warn`, `info`, `trace`), or `DEBUG=turnout`: turnout's
//! log records written to stderr, one line each (`turnout WARN turnout::state: …`). Read
//! once, when the first client is built; without either variable nothing is installed and
//! logging costs nothing. A `tracing` subscriber set up before is never replaced.

use std::sync::Once;

use tracing::Level;
use turnout::logging::{LogForwarder, LogRecord};

static INSTALL: Once = Once::new();

/// Installs the stderr writer when the environment asks for it (once per process).
pub fn init() {
    INSTALL.call_once(|| {
        let level = level_from(
            std::env::var("TURNOUT_LOG").ok().as_deref(),
            std::env::var("DEBUG").ok().as_deref(),
        );
        if let Some(level) = level {
            let forwarder = LogForwarder::new(Some(level), write as fn(&LogRecord));
            let _ = tracing::subscriber::set_global_default(forwarder);
        }
    });
}

/// The level `TURNOUT_LOG` names, else debug when `DEBUG` lists `turnout` (or `*`, `turnout*`).
fn level_from(turnout_log: Option<&str>, debug: Option<&str>) -> Option<Level> {
    if let Some(name) = turnout_log.map(str::trim).filter(|n| !n.is_empty()) {
        return match name.to_ascii_lowercase().as_str() {
            "error" => Some(Level::ERROR),
            "warn" | "warning" => Some(Level::WARN),
            "info" => Some(Level::INFO),
            "debug" => Some(Level::DEBUG),
            "trace" => Some(Level::TRACE),
            _ => None,
        };
    }
    debug
        .into_iter()
        .flat_map(|d| d.split([',', ' ']))
        .any(|name| matches!(name.trim(), "turnout" | "turnout*" | "*"))
        .then_some(Level::DEBUG)
}

fn write(record: &LogRecord) {
    eprintln!(
        "turnout {} {}: {}",
        record.level, record.target, record.message
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switches() {
        assert_eq!(level_from(Some("debug"), None), Some(Level::DEBUG));
        assert_eq!(level_from(Some("WARN"), Some("turnout")), Some(Level::WARN));
        assert_eq!(level_from(Some("off"), Some("turnout")), None);
        assert_eq!(
            level_from(None, Some("express,turnout")),
            Some(Level::DEBUG)
        );
        assert_eq!(level_from(None, Some("*")), Some(Level::DEBUG));
        assert_eq!(level_from(None, Some("express")), None);
        assert_eq!(level_from(None, None), None);
    }
}
