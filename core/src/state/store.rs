//! The store: one enum over the three back ends.

use std::time::Duration;

use super::file::FileStore;
use super::redis_store::RedisStore;
use crate::config::{StateBackend, StateConfig};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::routing::TrafficState;

/// How long a reader waits between polls of a file store.
const FILE_POLL: Duration = Duration::from_secs(1);
/// The backstop poll of a Redis store, whose pub/sub hints are at-most-once.
const REDIS_POLL: Duration = Duration::from_secs(15);

/// A shared home for the traffic state and the event history.
#[derive(Debug)]
pub enum Store {
    /// Nothing shared: the state lives in the client only.
    Memory,
    /// A JSON file, locked while written.
    File(FileStore),
    /// A Redis hash written through a Lua compare-and-swap, with PUBLISH as a reload hint.
    Redis(Box<RedisStore>),
}

impl Store {
    /// Opens the store the config names.
    pub async fn open(config: &StateConfig) -> Result<Self> {
        match config.backend {
            StateBackend::Memory => Ok(Self::Memory),
            StateBackend::File => {
                let path = config.path.clone().ok_or_else(|| {
                    Error::Config("state.path is required for the file backend".to_string())
                })?;
                Ok(Self::File(FileStore::new(path)))
            }
            StateBackend::Redis => {
                let url = config.url.as_deref().ok_or_else(|| {
                    Error::Config("state.url is required for the redis backend".to_string())
                })?;
                let namespace = config.namespace.as_deref().unwrap_or("turnout");
                Ok(Self::Redis(Box::new(
                    RedisStore::connect(url, namespace).await?,
                )))
            }
        }
    }

    /// Whether anything is shared.
    pub fn is_shared(&self) -> bool {
        !matches!(self, Self::Memory)
    }

    /// The stored traffic state, if one was ever written.
    pub async fn load(&self) -> Result<Option<TrafficState>> {
        match self {
            Self::Memory => Ok(None),
            Self::File(f) => f.load().await,
            Self::Redis(r) => r.load().await,
        }
    }

    /// Stores `new` if the stored version is `expected` (`None`: nothing stored yet). Returns
    /// whether it was stored.
    pub async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: &TrafficState,
    ) -> Result<bool> {
        match self {
            Self::Memory => Ok(true),
            Self::File(f) => f.compare_and_swap(expected, new).await,
            Self::Redis(r) => r.compare_and_swap(expected, new).await,
        }
    }

    /// Appends an event to the shared history (the last 1000 are kept).
    pub async fn append_event(&self, event: &Event) -> Result<()> {
        match self {
            Self::Memory => Ok(()),
            Self::File(f) => f.append_event(event).await,
            Self::Redis(r) => r.append_event(event).await,
        }
    }

    /// The shared history, oldest first, at most `limit` events.
    pub async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        match self {
            Self::Memory => Ok(Vec::new()),
            Self::File(f) => f.events(limit).await,
            Self::Redis(r) => r.events(limit).await,
        }
    }

    /// Waits until the state may have changed: a Redis hint or the poll interval.
    pub async fn changed(&self) {
        match self {
            Self::Memory => std::future::pending().await,
            Self::File(_) => tokio::time::sleep(FILE_POLL).await,
            Self::Redis(r) => r.changed(REDIS_POLL).await,
        }
    }
}

/// Maps a store failure to a config-kind error naming the backend.
pub(crate) fn store_error(backend: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("state store ({backend}): {e}"))
}
