//! The opt-in response cache: an in-memory LRU with a time to live, keyed by a canonical hash
//! of the request, for non-streaming requests only.

mod key;
mod lru;

use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::SharedClock;
use crate::config::CacheConfig;
pub(crate) use key::{CacheKey, cache_key};
pub(crate) use lru::Lru;

/// Answers by request key, each fresh for `ttl` on the engine's clock.
#[derive(Debug)]
pub(crate) struct ResponseCache<V> {
    entries: Mutex<Lru<CacheKey, (Duration, V)>>,
    ttl: Duration,
    clock: SharedClock,
}

impl<V: Clone> ResponseCache<V> {
    pub fn new(config: &CacheConfig, clock: SharedClock) -> Self {
        Self {
            entries: Mutex::new(Lru::new(config.max_entries)),
            ttl: config.ttl,
            clock,
        }
    }

    /// The fresh answer of `key`; an expired one is dropped.
    pub fn get(&self, key: &CacheKey) -> Option<V> {
        let now = self.clock.now();
        let mut entries = self.entries.lock();
        let (stored, value) = entries.get(key)?;
        if now.saturating_sub(*stored) >= self.ttl {
            entries.remove(key);
            return None;
        }
        Some(value.clone())
    }

    pub fn put(&self, key: CacheKey, value: V) {
        let now = self.clock.now();
        self.entries.lock().put(key, (now, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::sync::Arc;

    #[test]
    fn entries_expire_after_the_ttl() {
        let clock = Arc::new(ManualClock::new());
        let config = CacheConfig {
            enabled: true,
            max_entries: 10,
            ttl: Duration::from_secs(60),
        };
        let cache = ResponseCache::new(&config, clock.clone());
        let key = cache_key(crate::environment::Side::Blue, "GET", "/models", None);
        cache.put(key, 7);
        clock.advance(Duration::from_secs(59));
        assert_eq!(cache.get(&key), Some(7));
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get(&key), None);
        assert_eq!(cache.entries.lock().len(), 0);
    }
}
