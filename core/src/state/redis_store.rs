//! The Redis back end: a hash `{ns}:traffic` written only through a Lua compare-and-swap on
//! `version`, a PUBLISH on `{ns}:changed` as a reload hint, and a list `{ns}:events`.

use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::store::store_error;
use crate::error::Result;
use crate::events::Event;
use crate::routing::TrafficState;

/// Events kept in the Redis history.
const KEEP: isize = 1000;

const CAS: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if (current == false and ARGV[1] == '') or (current ~= false and current == ARGV[1]) then
  redis.call('HSET', KEYS[1], 'active', ARGV[2], 'weight_bp', ARGV[3], 'salt', ARGV[4], 'version', ARGV[5])
  redis.call('PUBLISH', KEYS[2], ARGV[5])
  return 1
end
return 0
";

/// A traffic state shared by a fleet through Redis.
pub struct RedisStore {
    client: redis::Client,
    conn: MultiplexedConnection,
    keys: Keys,
    hints: Mutex<Option<redis::aio::PubSub>>,
}

#[derive(Debug, Clone)]
struct Keys {
    traffic: String,
    changed: String,
    events: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only the keys.
        f.debug_struct("RedisStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` using keys under `namespace`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| store_error("redis", e))?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| store_error("redis", e))?;
        let store = Self {
            client,
            conn,
            keys: Keys {
                traffic: format!("{namespace}:traffic"),
                changed: format!("{namespace}:changed"),
                events: format!("{namespace}:events"),
            },
            hints: Mutex::new(None),
        };
        // Subscribe at once, so that no hint published after connecting is missed.
        *store.hints.lock().await = store.subscribe().await;
        Ok(store)
    }

    pub(crate) async fn load(&self) -> Result<Option<TrafficState>> {
        let mut conn = self.conn.clone();
        let fields: std::collections::HashMap<String, String> = conn
            .hgetall(&self.keys.traffic)
            .await
            .map_err(|e| store_error("redis", e))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let field = |name: &str| {
            fields.get(name).ok_or_else(|| {
                store_error(
                    "redis",
                    format!("{} lacks the field {name}", self.keys.traffic),
                )
            })
        };
        let bad =
            |name: &str| store_error("redis", format!("{} has a bad {name}", self.keys.traffic));
        Ok(Some(TrafficState {
            active: field("active")?.parse().map_err(|_| bad("active"))?,
            weight_bp: field("weight_bp")?.parse().map_err(|_| bad("weight_bp"))?,
            salt: field("salt")?.clone(),
            version: field("version")?.parse().map_err(|_| bad("version"))?,
        }))
    }

    pub(crate) async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: &TrafficState,
    ) -> Result<bool> {
        let mut conn = self.conn.clone();
        let stored: i64 = redis::Script::new(CAS)
            .key(&self.keys.traffic)
            .key(&self.keys.changed)
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(new.active.as_str())
            .arg(new.weight_bp)
            .arg(&new.salt)
            .arg(new.version)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error("redis", e))?;
        Ok(stored == 1)
    }

    pub(crate) async fn append_event(&self, event: &Event) -> Result<()> {
        let mut conn = self.conn.clone();
        let line = serde_json::to_string(event).map_err(|e| store_error("redis", e))?;
        redis::pipe()
            .lpush(&self.keys.events, line)
            .ltrim(&self.keys.events, 0, KEEP - 1)
            .exec_async(&mut conn)
            .await
            .map_err(|e| store_error("redis", e))
    }

    pub(crate) async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        let mut conn = self.conn.clone();
        let end = isize::try_from(limit).unwrap_or(KEEP).min(KEEP) - 1;
        let lines: Vec<String> = conn
            .lrange(&self.keys.events, 0, end)
            .await
            .map_err(|e| store_error("redis", e))?;
        lines
            .iter()
            .rev()
            .map(|l| serde_json::from_str(l).map_err(|e| store_error("redis", e)))
            .collect()
    }

    async fn subscribe(&self) -> Option<redis::aio::PubSub> {
        let mut pubsub = self.client.get_async_pubsub().await.ok()?;
        pubsub.subscribe(&self.keys.changed).await.ok()?;
        Some(pubsub)
    }

    /// Waits for a change hint, or `poll` at most. A lost subscription is re-made on the next
    /// call; meanwhile the poll is the backstop.
    pub(crate) async fn changed(&self, poll: Duration) {
        let mut hints = self.hints.lock().await;
        if hints.is_none() {
            *hints = self.subscribe().await;
        }
        let Some(pubsub) = hints.as_mut() else {
            drop(hints);
            tokio::time::sleep(poll).await;
            return;
        };
        let got = tokio::time::timeout(poll, pubsub.on_message().next()).await;
        if let Ok(None) = got {
            *hints = None;
        }
    }
}
