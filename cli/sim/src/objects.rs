//! The objects one simulator remembers (responses, files, batches), each under an id no other
//! simulator makes, so that a request sent to the wrong instance meets a real 404.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Responses and batches kept; the oldest are forgotten first.
const MAX_OBJECTS: usize = 10_000;
/// Files kept, and their total bytes.
const MAX_FILES: usize = 1_000;
const MAX_FILE_BYTES: usize = 256 << 20;

/// An uploaded file: its `File` object and the bytes as uploaded.
#[derive(Clone)]
pub(crate) struct StoredFile {
    pub object: Value,
    pub content: Bytes,
}

/// Everything a simulator remembers.
pub(crate) struct Objects {
    /// Drawn from the OS at start, never from the seed: two simulators never share ids, and
    /// minting ids does not shift the seeded fault sequence.
    salt: u32,
    next: AtomicU64,
    pub responses: Mutex<Bounded<Value>>,
    pub files: Mutex<Bounded<StoredFile>>,
    pub batches: Mutex<Bounded<Value>>,
}

impl Default for Objects {
    fn default() -> Self {
        Objects {
            salt: StdRng::from_os_rng().random(),
            next: AtomicU64::new(1),
            responses: Mutex::new(Bounded::new(MAX_OBJECTS, usize::MAX)),
            files: Mutex::new(Bounded::new(MAX_FILES, MAX_FILE_BYTES)),
            batches: Mutex::new(Bounded::new(MAX_OBJECTS, usize::MAX)),
        }
    }
}

impl Objects {
    /// A fresh id: `prefix`, this instance's salt, then a counter (`resp_1a2b3c4d000000000007`).
    pub(crate) fn mint(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:08x}{n:016x}", self.salt)
    }
}

/// A map that forgets its oldest entries past a count or a total weight.
pub(crate) struct Bounded<T> {
    items: HashMap<String, (T, usize)>,
    /// Ids from oldest to newest.
    order: VecDeque<String>,
    weight: usize,
    max_items: usize,
    max_weight: usize,
}

impl<T> Bounded<T> {
    fn new(max_items: usize, max_weight: usize) -> Self {
        Bounded {
            items: HashMap::new(),
            order: VecDeque::new(),
            weight: 0,
            max_items,
            max_weight,
        }
    }

    /// Stores `value` under `id`, forgetting the oldest entries until the bounds hold.
    pub(crate) fn insert(&mut self, id: String, value: T, weight: usize) {
        self.remove(&id);
        self.weight = self.weight.saturating_add(weight);
        self.items.insert(id.clone(), (value, weight));
        self.order.push_back(id);
        while self.items.len() > self.max_items || self.weight > self.max_weight {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = self.items.remove(&oldest) {
                self.weight -= w;
            }
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.items.get(id).map(|(value, _)| value)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.items.get_mut(id).map(|(value, _)| value)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.items.contains_key(id)
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<T> {
        let (value, weight) = self.items.remove(id)?;
        self.weight -= weight;
        self.order.retain(|o| o != id);
        Some(value)
    }

    /// The values, newest first (OpenAI lists objects newest first).
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.items.get(id).map(|(value, _)| value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_between_instances_and_calls() {
        let a = Objects::default();
        let b = Objects::default();
        let first = a.mint("file-");
        assert!(first.starts_with("file-"));
        assert_eq!(first.len(), "file-".len() + 24);
        assert_ne!(first, a.mint("file-"));
        // Salts are 32 random bits: equal salts would make this fail once in 4 billion runs.
        assert_ne!(first, b.mint("file-"));
    }

    #[test]
    fn bounded_forgets_oldest_by_count_and_weight() {
        let mut m = Bounded::new(3, 10);
        for (id, w) in [("a", 1), ("b", 1), ("c", 1), ("d", 1)] {
            m.insert(id.to_owned(), id, w);
        }
        assert!(!m.contains("a"));
        assert_eq!(
            m.newest_first().copied().collect::<Vec<_>>(),
            ["d", "c", "b"]
        );
        // b, c and d weigh 3; with 9 more, b and c go so that the total is back to 10.
        m.insert("big".to_owned(), "big", 9);
        assert_eq!(m.newest_first().copied().collect::<Vec<_>>(), ["big", "d"]);
        assert_eq!(m.remove("big"), Some("big"));
        assert_eq!(m.weight, 1);
        assert!(m.get("big").is_none());
    }
}
