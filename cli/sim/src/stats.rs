//! Request counters, kept cheap enough for the benchmark hot path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Distinct keys kept per map; further ones are counted under `"(other)"`, so that a client
/// sending random model names cannot grow the simulator's memory without bound.
const MAX_KEYS: usize = 1024;

/// Counts of the `/v1` requests served since the start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimStats {
    /// All `/v1` requests, including dropped connections.
    pub total: u64,
    /// Requests per path, e.g. `/v1/chat/completions`.
    pub by_path: BTreeMap<String, u64>,
    /// Requests per requested model (chat and embeddings).
    pub by_model: BTreeMap<String, u64>,
    /// Answers per HTTP status; dropped connections have none.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests per bearer key, identified by its last 4 characters.
    pub auth_keys_seen: BTreeMap<String, u64>,
}

/// The live counters behind [`SimStats`].
#[derive(Default)]
pub(crate) struct Stats {
    total: AtomicU64,
    maps: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    by_path: BTreeMap<String, u64>,
    by_model: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
    auth_keys_seen: BTreeMap<String, u64>,
}

/// One served request, as recorded.
pub(crate) struct Record<'a> {
    pub path: &'a str,
    pub model: Option<&'a str>,
    pub status: Option<u16>,
    pub key: Option<&'a str>,
}

impl Stats {
    pub(crate) fn record(&self, r: Record<'_>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let key = r.key.map(fingerprint);
        // One short critical section per request: no allocation unless a key is new.
        let mut maps = self.maps.lock();
        bump(&mut maps.by_path, r.path);
        if let Some(model) = r.model {
            bump(&mut maps.by_model, model);
        }
        if let Some(status) = r.status {
            *maps.by_status.entry(status).or_insert(0) += 1;
        }
        if let Some(key) = key {
            bump(&mut maps.auth_keys_seen, key);
        }
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let maps = self.maps.lock();
        SimStats {
            total: self.total.load(Ordering::Relaxed),
            by_path: maps.by_path.clone(),
            by_model: maps.by_model.clone(),
            by_status: maps.by_status.clone(),
            auth_keys_seen: maps.auth_keys_seen.clone(),
        }
    }

    pub(crate) fn reset(&self) {
        let mut maps = self.maps.lock();
        *maps = Maps::default();
        self.total.store(0, Ordering::Relaxed);
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < MAX_KEYS {
        map.insert(key.to_owned(), 1);
    } else {
        *map.entry("(other)".to_owned()).or_insert(0) += 1;
    }
}

/// The last 4 characters of a key: enough to tell keys apart, never the key itself.
pub(crate) fn fingerprint(key: &str) -> &str {
    match key.char_indices().rev().nth(3) {
        Some((i, _)) => &key[i..],
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_keeps_last_four_chars() {
        assert_eq!(fingerprint("sk-test-abcd1234"), "1234");
        assert_eq!(fingerprint("ab"), "ab");
        assert_eq!(fingerprint("sk-ééé€x"), "éé€x");
    }

    #[test]
    fn maps_are_bounded() {
        let stats = Stats::default();
        for i in 0..MAX_KEYS + 10 {
            let model = format!("m{i}");
            stats.record(Record {
                path: "/v1/x",
                model: Some(&model),
                status: Some(200),
                key: None,
            });
        }
        let snap = stats.snapshot();
        assert_eq!(snap.total, (MAX_KEYS + 10) as u64);
        assert_eq!(snap.by_model.len(), MAX_KEYS + 1);
        assert_eq!(snap.by_model["(other)"], 10);
    }
}
