//! The event bus: a bounded in-memory history plus subscribers.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::Event;
use super::audit::AuditLog;
use super::webhook::Webhook;
use crate::client::supervise::Supervisor;
use crate::config::Config;
use crate::error::{Error, Result};

/// How many events the in-memory history keeps.
pub(crate) const HISTORY: usize = 1000;

type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Keeps a subscriber registered while alive; dropping it unsubscribes.
#[must_use = "dropping the subscription unsubscribes"]
pub struct Subscription {
    bus: std::sync::Weak<BusInner>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            bus.subscribers.write().retain(|(id, _)| *id != self.id);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscription({})", self.id)
    }
}

#[derive(Default)]
struct BusInner {
    history: Mutex<VecDeque<Event>>,
    subscribers: RwLock<Vec<(u64, Callback)>>,
    next_id: Mutex<u64>,
    /// `config.audit_log`: each event as a JSON line, written off the publishing thread.
    audit: Option<AuditLog>,
    /// `config.webhook`: each event POSTed from a background task.
    webhook: Option<Webhook>,
}

/// Publishes events to the history and every subscriber.
#[derive(Clone, Default)]
pub(crate) struct EventBus {
    inner: Arc<BusInner>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl EventBus {
    /// A bus with the audit log and webhook of `config`, when set. The webhook's task runs on
    /// the current tokio runtime, so a webhook needs one.
    pub fn new(config: &Config, supervisor: &Supervisor) -> Result<Self> {
        let audit = config
            .audit_log
            .as_deref()
            .map(|path| AuditLog::open(path, supervisor))
            .transpose()?;
        let webhook = match &config.webhook {
            None => None,
            Some(url) => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    Error::Config(
                        "webhook delivery runs as a background task: build the client inside a tokio runtime".to_string(),
                    )
                })?;
                Some(Webhook::start(url, &runtime, supervisor)?)
            }
        };
        Ok(Self {
            inner: Arc::new(BusInner {
                audit,
                webhook,
                ..BusInner::default()
            }),
        })
    }

    /// Waits (up to two seconds) until the audit log has written every event published so
    /// far. The webhook keeps delivering its queue in the background.
    pub fn close(&self) {
        if let Some(audit) = &self.inner.audit
            && !audit.flush(std::time::Duration::from_secs(2))
        {
            tracing::warn!(target: "turnout::audit", "the audit log did not finish writing within 2 s");
        }
    }

    /// Records `event` and calls every subscriber. A panicking subscriber is caught and
    /// logged, so that a bad callback never breaks the engine.
    pub fn publish(&self, event: Event) {
        tracing::info!(target: "turnout::events", kind = event.kind.as_str(), reason = %event.reason, "event");
        let subscribers: Vec<Callback> = self
            .inner
            .subscribers
            .read()
            .iter()
            .map(|(_, cb)| Arc::clone(cb))
            .collect();
        for cb in subscribers {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&event)));
            if result.is_err() {
                tracing::error!(target: "turnout::events", "an event subscriber panicked; it stays registered");
            }
        }
        let mut history = self.inner.history.lock();
        if history.len() == HISTORY {
            history.pop_front();
        }
        // Handed to the sinks under the history lock, so the audit log and the webhook see
        // events in history order. Both only queue: no I/O here.
        if self.inner.audit.is_some() || self.inner.webhook.is_some() {
            let line = serde_json::to_string(&event).unwrap_or_default();
            if let Some(webhook) = &self.inner.webhook {
                webhook.send(line.clone());
            }
            if let Some(audit) = &self.inner.audit {
                audit.append(line);
            }
        }
        history.push_back(event);
    }

    /// Every event kept, oldest first.
    pub fn history(&self) -> Vec<Event> {
        self.inner.history.lock().iter().cloned().collect()
    }

    /// Registers `callback` for every future event.
    pub fn subscribe(&self, callback: impl Fn(&Event) + Send + Sync + 'static) -> Subscription {
        let id = {
            let mut next = self.inner.next_id.lock();
            *next += 1;
            *next
        };
        self.inner
            .subscribers
            .write()
            .push((id, Arc::new(callback)));
        Subscription {
            bus: Arc::downgrade(&self.inner),
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::SystemTime;

    #[test]
    fn history_is_bounded_and_ordered() {
        let bus = EventBus::default();
        for i in 0..HISTORY + 5 {
            bus.publish(Event::new(
                EventKind::Failover,
                SystemTime::now(),
                format!("{i}"),
            ));
        }
        let h = bus.history();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].reason, "5");
        assert_eq!(h[HISTORY - 1].reason, format!("{}", HISTORY + 4));
    }

    #[test]
    fn subscribers_get_events_until_dropped_and_panics_are_contained() {
        let bus = EventBus::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = Arc::clone(&seen);
        let sub = bus.subscribe(move |_| {
            s2.fetch_add(1, Ordering::SeqCst);
        });
        let _bad = bus.subscribe(|_| panic!("bad callback"));
        bus.publish(Event::new(EventKind::Switch, SystemTime::now(), "a"));
        drop(sub);
        bus.publish(Event::new(EventKind::Switch, SystemTime::now(), "b"));
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert_eq!(bus.history().len(), 2);
    }
}
