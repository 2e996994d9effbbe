//! A bounded, append-only map from names to values, read without a lock: what the request path
//! resolves once per model name (its metric series, its price) and then finds on every request.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

/// Hashed with foldhash: the map is bounded, so a hasher without SipHash's flood resistance
/// costs nothing in safety, and SipHash cost more per request than the lookup it serves.
type Seen<V> = foldhash::HashMap<Box<str>, V>;

/// The longest name kept: names come from requests and answers, and a bound on their number
/// alone would let a few huge ones take the memory.
pub(crate) const MAX_NAME_BYTES: usize = 256;

/// Names and their values, at most `max` of them: an immutable map swapped whole when a name is
/// added, so that a lookup takes no lock. Names are never removed: a full map stays full.
#[derive(Debug)]
pub(crate) struct NameMap<V> {
    seen: ArcSwap<Seen<V>>,
    /// Serialises additions, so that none is lost between a load and a swap.
    adding: Mutex<()>,
    max: usize,
}

impl<V: Clone> NameMap<V> {
    pub fn new(max: usize) -> Self {
        Self {
            seen: ArcSwap::default(),
            adding: Mutex::new(()),
            max,
        }
    }

    /// `f` applied to the value of `name`: the one remembered, else `make()`'s, remembered while
    /// the map has room; `f` gets `None` when the map is full and does not hold `name`, or
    /// when `name` is longer than [`MAX_NAME_BYTES`].
    pub fn with<R>(
        &self,
        name: &str,
        make: impl FnOnce() -> V,
        f: impl FnOnce(Option<&V>) -> R,
    ) -> R {
        let seen = self.seen.load();
        if let Some(value) = seen.get(name) {
            return f(Some(value));
        }
        if seen.len() >= self.max || name.len() > MAX_NAME_BYTES {
            return f(None);
        }
        drop(seen);
        f(self.add(name, make).as_ref())
    }

    /// Adds `name` unless another thread did first or the map filled meanwhile.
    fn add(&self, name: &str, make: impl FnOnce() -> V) -> Option<V> {
        let _adding = self.adding.lock();
        let seen = self.seen.load();
        if let Some(value) = seen.get(name) {
            return Some(value.clone());
        }
        if seen.len() >= self.max {
            return None;
        }
        let value = make();
        let mut next = Seen::clone(&seen);
        next.insert(name.into(), value.clone());
        self.seen.store(Arc::new(next));
        Some(value)
    }

    /// Names held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.load().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_name_is_made_once_and_found_after() {
        let map = NameMap::new(4);
        let made = AtomicUsize::new(0);
        let make = || made.fetch_add(1, Ordering::Relaxed) + 10;
        assert_eq!(map.with("a", make, |v| v.copied()), Some(10));
        assert_eq!(map.with("a", make, |v| v.copied()), Some(10));
        assert_eq!(map.with("b", make, |v| v.copied()), Some(11));
        assert_eq!(made.load(Ordering::Relaxed), 2);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_full_map_keeps_its_names_and_makes_no_more() {
        let map = NameMap::new(2);
        for name in ["a", "b"] {
            assert!(map.with(name, || 1, |v| v.is_some()));
        }
        assert_eq!(
            map.with("c", || panic!("made past the bound"), |v| v.copied()),
            None
        );
        assert_eq!(
            map.with("a", || panic!("made twice"), |v| v.copied()),
            Some(1)
        );
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_name_over_the_length_bound_is_not_kept() {
        let map = NameMap::new(4);
        let huge = "m".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(map.with(&huge, || 1, |v| v.copied()), None);
        assert_eq!(map.len(), 0);
        let longest = "m".repeat(MAX_NAME_BYTES);
        assert_eq!(map.with(&longest, || 1, |v| v.copied()), Some(1));
    }

    #[test]
    fn the_bound_holds_under_concurrent_additions() {
        let map = NameMap::new(100);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let map = &map;
                scope.spawn(move || {
                    for i in 0..100 {
                        map.with(&format!("t{t}-{i}"), || i, |_| ());
                    }
                });
            }
        });
        assert_eq!(map.len(), 100);
    }
}
