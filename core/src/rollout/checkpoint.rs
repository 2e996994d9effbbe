//! Checkpoints: the traffic state and routing config, hashed, so that a change can be undone
//! and two states compared.
//!
//! The content is canonical JSON (object keys sorted, no whitespace) of:
//!
//! ```json
//! {"traffic": {"active": "blue", "weight_bp": 0, "salt": "…"},
//!  "routing": {"sticky", "rules", "model_fallbacks", "retry", "circuit_breaker", "rollback", "health_check"},
//!  "environments": {"blue": {"base_url", "label", "key_digest"}, "green": {…}}}
//! ```
//!
//! `hash` is the sha256 (hex) of that content alone — not of the traffic version, the id, the
//! name or the time — so equal content has an equal hash, across processes and runs. Keys are
//! represented by [`crate::ApiKey::digest`], never by the key; extra headers are left out (they
//! often carry credentials).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::routing::TrafficState;

/// How many checkpoints are kept (the oldest is dropped first).
pub const KEPT: usize = 10;

/// A saved traffic state and routing config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Unique within the client, e.g. `cp-7`.
    pub id: String,
    /// A name given by the caller, or `auto: before <change>` for the automatic ones.
    pub name: String,
    /// sha256 (hex) of the canonical JSON of `content`.
    pub hash: String,
    /// When it was taken, RFC 3339.
    pub created_at: String,
    /// The traffic version it was taken at (not part of the hash).
    pub version: u64,
    /// `{traffic, routing, environments}`.
    pub content: Value,
}

impl Checkpoint {
    /// A checkpoint of `traffic` under `config`, with this id and name (a fleet's checkpoints,
    /// kept in the shared store).
    pub fn of(
        config: &Config,
        traffic: &TrafficState,
        id: String,
        name: &str,
        when: SystemTime,
    ) -> Self {
        let content = content(traffic, &config_content(config));
        Self {
            id,
            name: name.to_string(),
            hash: content_hash(&content),
            created_at: humantime::format_rfc3339_millis(when).to_string(),
            version: traffic.version,
            content,
        }
    }

    /// Whether it was taken under `config`'s routing config and keys (only then may that
    /// config restore it).
    pub fn taken_under(&self, config: &Config) -> bool {
        let part = config_content(config);
        ["routing", "environments"]
            .iter()
            .all(|k| self.content.get(*k) == part.get(*k))
    }

    /// The traffic part: `(active, weight_bp, salt)`.
    pub fn traffic(&self) -> Result<(Side, u32, String)> {
        #[derive(Deserialize)]
        struct Traffic {
            active: Side,
            weight_bp: u32,
            salt: String,
        }
        let t: Traffic = serde_json::from_value(self.content["traffic"].clone()).map_err(|e| {
            Error::Config(format!(
                "checkpoint {} has no valid traffic state: {e}",
                self.id
            ))
        })?;
        Ok((t.active, t.weight_bp, t.salt))
    }
}

/// Serialises `value` with every object's keys sorted and no whitespace.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // Serialising a Value cannot fail: its keys are strings.
    serde_json::to_string(&sorted(value)).unwrap_or_default()
}

/// sha256 (hex) of the canonical JSON of `content`.
pub fn content_hash(content: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(content).as_bytes()))
}

/// The config part of a checkpoint: `{routing, environments}`.
pub(crate) fn config_content(config: &Config) -> Value {
    let env = |side: Side| {
        let e = config.environments.get(side);
        json!({
            "base_url": e.shown_url(),
            "label": e.label_str(),
            "key_digest": e.api_key().digest(),
        })
    };
    json!({
        "routing": {
            "sticky": config.sticky,
            "rules": config.rules,
            "model_fallbacks": config.model_fallbacks,
            "retry": config.retry,
            "circuit_breaker": config.circuit_breaker,
            "rollback": config.rollback,
            "health_check": config.health_check,
        },
        "environments": {"blue": env(Side::Blue), "green": env(Side::Green)},
    })
}

/// The full content of a checkpoint of `traffic` under `config_part`.
pub(crate) fn content(traffic: &TrafficState, config_part: &Value) -> Value {
    let mut content = config_part.clone();
    if let Value::Object(map) = &mut content {
        map.insert(
            "traffic".to_string(),
            json!({
                "active": traffic.active,
                "weight_bp": traffic.weight_bp,
                "salt": traffic.salt,
            }),
        );
    }
    content
}

/// The last [`KEPT`] checkpoints of one engine.
#[derive(Debug)]
pub(crate) struct CheckpointStore {
    /// `{routing, environments}`: the config cannot change during the engine's life.
    config_part: Value,
    kept: Mutex<VecDeque<Checkpoint>>,
    next_id: AtomicU64,
}

impl CheckpointStore {
    pub fn new(config: &Config) -> Self {
        Self {
            config_part: config_content(config),
            kept: Mutex::new(VecDeque::with_capacity(KEPT)),
            next_id: AtomicU64::new(1),
        }
    }

    /// Takes and keeps a checkpoint of `traffic`.
    pub fn take(&self, traffic: &TrafficState, name: &str, when: SystemTime) -> Checkpoint {
        let content = content(traffic, &self.config_part);
        let cp = Checkpoint {
            id: format!("cp-{}", self.next_id.fetch_add(1, Ordering::Relaxed)),
            name: name.to_string(),
            hash: content_hash(&content),
            created_at: humantime::format_rfc3339_millis(when).to_string(),
            version: traffic.version,
            content,
        };
        let mut kept = self.kept.lock();
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(cp.clone());
        cp
    }

    /// Takes over `parent`'s checkpoints and numbering (a client rebuilt in a forked child).
    /// The parent's lock is only tried: one held at the fork stays held in the child.
    pub fn inherit(&self, parent: &CheckpointStore) {
        let Some(kept) = parent.kept.try_lock() else {
            tracing::warn!(target: "turnout::fork", "the checkpoints were locked at the fork; the child starts without them");
            return;
        };
        *self.kept.lock() = kept.clone();
        self.next_id
            .store(parent.next_id.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Every checkpoint kept, oldest first.
    pub fn list(&self) -> Vec<Checkpoint> {
        self.kept.lock().iter().cloned().collect()
    }

    /// The checkpoint `id`, checked to belong to this config.
    pub fn restorable(&self, id: &str) -> Result<Checkpoint> {
        let kept = self.kept.lock();
        let Some(cp) = kept.iter().find(|c| c.id == id).cloned() else {
            let ids: Vec<&str> = kept.iter().map(|c| c.id.as_str()).collect();
            return Err(Error::UnknownCheckpoint(format!(
                "no checkpoint with id {id:?} (kept: {})",
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            )));
        };
        drop(kept);
        let same_config = ["routing", "environments"]
            .iter()
            .all(|k| cp.content.get(*k) == self.config_part.get(*k));
        if !same_config {
            return Err(Error::Config(format!(
                "checkpoint {id} was taken with another routing config or other keys; only its own config can restore it"
            )));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKey, Environment};

    fn config() -> Config {
        Config::new(
            Environment::new("https://a.example/v1", ApiKey::new("sk-blue-123456789")),
            Environment::new("https://b.example/v1", ApiKey::new("sk-green-123456789")),
        )
    }

    fn state(active: Side, weight_bp: u32, version: u64) -> TrafficState {
        TrafficState {
            active,
            weight_bp,
            salt: "s1".into(),
            version,
        }
    }

    #[test]
    fn a_secret_in_a_base_url_stays_out_of_the_checkpoint() {
        let mut c = config();
        c.environments.blue = Environment::new(
            "https://user:pw-123@gw.example/t/sk-live-abc123def456ghi789/v1?key=k-9",
            ApiKey::new("sk-blue-123456789"),
        );
        let content = config_content(&c).to_string();
        for secret in ["pw-123", "sk-live-abc123def456ghi789", "k-9"] {
            assert!(!content.contains(secret), "{secret} in {content}");
        }
        // A URL without secrets is kept as written, so checkpoints hash as before.
        assert!(content.contains("https://b.example/v1"), "{content}");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"z": [{"y": 1, "x": 2}], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_ignores_version_name_and_time() {
        let store = CheckpointStore::new(&config());
        let a = store.take(&state(Side::Blue, 500, 3), "a", SystemTime::UNIX_EPOCH);
        let b = store.take(&state(Side::Blue, 500, 9), "b", SystemTime::now());
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.id, b.id);
        let c = store.take(&state(Side::Blue, 600, 9), "c", SystemTime::now());
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash, content_hash(&a.content));
    }

    #[test]
    fn keys_appear_only_as_digests() {
        let store = CheckpointStore::new(&config());
        let cp = store.take(&state(Side::Blue, 0, 1), "a", SystemTime::now());
        let text = cp.content.to_string();
        assert!(!text.contains("sk-blue-123456789"));
        assert!(text.contains(&ApiKey::new("sk-blue-123456789").digest()));
    }

    #[test]
    fn only_the_last_ten_are_kept() {
        let store = CheckpointStore::new(&config());
        for i in 0..15u32 {
            store.take(&state(Side::Blue, i, u64::from(i)), "x", SystemTime::now());
        }
        let kept = store.list();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].id, "cp-6");
        assert_eq!(kept[KEPT - 1].id, "cp-15");
        assert!(store.restorable("cp-1").is_err());
        assert!(store.restorable("cp-15").is_ok());
    }

    #[test]
    fn another_config_cannot_restore() {
        let store = CheckpointStore::new(&config());
        let cp = store.take(&state(Side::Green, 0, 1), "a", SystemTime::now());
        let mut other = config();
        other.sticky = false;
        let foreign = CheckpointStore::new(&other);
        foreign.kept.lock().push_back(cp.clone());
        let err = foreign.restorable(&cp.id).unwrap_err().to_string();
        assert!(err.contains("another routing config"), "{err}");
        assert_eq!(cp.traffic().unwrap(), (Side::Green, 0, "s1".to_string()));
    }
}
