//! The event bus: a bounded in-memory history plus subscribers.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::Event;

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
