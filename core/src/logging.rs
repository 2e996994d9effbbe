//! A `tracing` subscriber that hands turnout's log records to a function: what the bindings
//! install to send them to Python's `logging` or to Node's stderr (the core itself never
//! installs a subscriber; a Rust application keeps its own).
//!
//! Only events whose target starts with `turnout` pass; spans are not recorded. The level is
//! a number read with one atomic load, and reported to `tracing` as the maximum level, so a
//! disabled `debug!` costs a comparison.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// One log record: its level, its target (`turnout::state`, …) and its text (the message and
/// then `key=value` for each other field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The level.
    pub level: Level,
    /// The module or area that logged it, e.g. `turnout::state`.
    pub target: String,
    /// The message followed by the record's fields.
    pub message: String,
}

/// Forwards turnout's log records at or above a level to a function.
pub struct LogForwarder<F> {
    /// 0 = off, 1 = error … 5 = trace.
    level: AtomicU8,
    sink: F,
}

fn rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

impl<F: Fn(&LogRecord) + Send + Sync + 'static> LogForwarder<F> {
    /// A forwarder of records at `level` and above (`None`: nothing) to `sink`.
    pub fn new(level: Option<Level>, sink: F) -> Self {
        Self {
            level: AtomicU8::new(level.map_or(0, rank)),
            sink,
        }
    }

    /// Changes the level (`None`: nothing passes).
    pub fn set_level(&self, level: Option<Level>) {
        let new = level.map_or(0, rank);
        if self.level.swap(new, Ordering::Relaxed) != new {
            // `tracing` caches the maximum level of every subscriber.
            tracing::callsite::rebuild_interest_cache();
        }
    }

    /// The level records pass at, if any.
    pub fn level(&self) -> Option<Level> {
        match self.level.load(Ordering::Relaxed) {
            1 => Some(Level::ERROR),
            2 => Some(Level::WARN),
            3 => Some(Level::INFO),
            4 => Some(Level::DEBUG),
            5 => Some(Level::TRACE),
            _ => None,
        }
    }
}

fn ours(metadata: &Metadata<'_>) -> bool {
    metadata.is_event() && metadata.target().starts_with("turnout")
}

impl<F: Fn(&LogRecord) + Send + Sync + 'static> Subscriber for LogForwarder<F> {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if ours(metadata) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        ours(metadata) && rank(*metadata.level()) <= self.level.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from(self.level()))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Never called for enabled spans (there are none); an id is still owed.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        (self.sink)(&LogRecord {
            level: *metadata.level(),
            target: metadata.target().to_string(),
            message: text.message + &text.fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The message and the other fields of one event.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn records_pass_at_their_level_with_their_fields() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let forwarder = Arc::new(LogForwarder::new(
            Some(Level::INFO),
            move |r: &LogRecord| {
                sink.lock().unwrap().push(r.clone());
            },
        ));
        tracing::subscriber::with_default(Arc::clone(&forwarder), || {
            tracing::debug!(target: "turnout::state", "hidden");
            tracing::warn!(target: "turnout::state", version = 3, error = %"refused", "cannot write");
            tracing::error!(target: "hyper::proto", "not ours");
            forwarder.set_level(Some(Level::DEBUG));
            tracing::debug!(target: "turnout::attempt", "now shown");
            forwarder.set_level(None);
            tracing::error!(target: "turnout::state", "off");
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].level, Level::WARN);
        assert_eq!(seen[0].target, "turnout::state");
        assert_eq!(seen[0].message, "cannot write version=3 error=refused");
        assert_eq!(seen[1].message, "now shown");
    }
}
