//! The store: one enum over the three back ends, each applying an [`Operation`] atomically to
//! the state it holds and returning the [`Outcome`].

use std::time::Duration;

use super::file::FileStore;
use super::fleet::{Gcra, SecondCounts, unix_ms};
use super::memory::MemoryStore;
use super::operation::{Operation, Outcome, StoredState, Verdict};
#[cfg(feature = "redis")]
use super::redis_store::RedisStore;
use crate::config::{StateBackend, StateConfig};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::rollout::Checkpoint;
use crate::routing::TrafficState;
use crate::stats::fleet::FleetCounts;

/// How long a reader waits between polls of a file store.
const FILE_POLL: Duration = Duration::from_secs(1);
/// The backstop poll of a Redis store, whose pub/sub hints are at-most-once.
pub const REDIS_POLL: Duration = Duration::from_secs(5);
/// The longest fleet window read: a day of seconds.
pub const MAX_WINDOW_SECONDS: u64 = 86_400;
/// The largest version a store accepts: 2^53 - 1, exact in Lua's numbers and in JSON readers.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

/// A shared home for the traffic state, its checkpoints and the event history.
#[derive(Debug)]
pub enum Store {
    /// One process: the state lives in this value.
    Memory(Box<MemoryStore>),
    /// A JSON file, locked while read or written.
    File(FileStore),
    /// Redis: one Lua script per operation, PUBLISH as a reload hint.
    #[cfg(feature = "redis")]
    Redis(Box<RedisStore>),
}

impl Store {
    /// Opens the store the config names. Redis is dialed on first use, so an unreachable
    /// server is an [`Error::Store`] from the first call, not from here.
    pub fn open(config: &StateConfig) -> Result<Self> {
        match config.backend {
            StateBackend::Memory => Ok(Self::Memory(Box::default())),
            StateBackend::File => {
                let path = config.path.clone().ok_or_else(|| {
                    Error::Config("state.path is required for the file backend".to_string())
                })?;
                Ok(Self::File(FileStore::new(path)))
            }
            StateBackend::Redis => Self::open_redis(config),
        }
    }

    #[cfg(feature = "redis")]
    fn open_redis(config: &StateConfig) -> Result<Self> {
        let url = config.url.as_deref().ok_or_else(|| {
            Error::Config("state.url is required for the redis backend".to_string())
        })?;
        let namespace = config.namespace.as_deref().unwrap_or("turnout");
        Ok(Self::Redis(Box::new(RedisStore::new(url, namespace)?)))
    }

    #[cfg(not(feature = "redis"))]
    fn open_redis(_: &StateConfig) -> Result<Self> {
        Err(Error::Config(
            "state.backend redis needs turnout's `redis` feature (on by default); this build has it off".to_string(),
        ))
    }

    /// Whether other processes share it.
    pub fn is_shared(&self) -> bool {
        !matches!(self, Self::Memory(_))
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::File(_) => "file",
            #[cfg(feature = "redis")]
            Self::Redis(_) => "redis",
        }
    }

    /// The stored state, if one was ever written.
    pub async fn load(&self) -> Result<Option<StoredState>> {
        match self {
            Self::Memory(m) => Ok(m.load()),
            Self::File(f) => f.load().await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.load().await,
        }
    }

    /// The stored state read without an async runtime, waiting `timeout` at most.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub fn load_blocking(&self, timeout: Duration) -> Result<Option<StoredState>> {
        match self {
            Self::Memory(m) => Ok(m.load()),
            Self::File(f) => f.load_blocking(),
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.load_blocking(timeout),
        }
    }

    /// Applies `op` to the stored state in one atomic step (new state, version + 1, checkpoint
    /// of the old state, event, hint). `init` is the state to start from when nothing is stored
    /// yet. An operation id already applied returns its first outcome.
    pub async fn apply(&self, op: &Operation, init: &TrafficState) -> Result<Outcome> {
        match self {
            Self::Memory(m) => Ok(m.apply(op, init)),
            Self::File(f) => f.apply(op, init).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.apply(op, init).await,
        }
    }

    /// Appends an event that is not an operation (a circuit, a probe, the store link) to the
    /// shared history (the last 1000 are kept).
    pub async fn append_event(&self, event: &Event) -> Result<()> {
        match self {
            Self::Memory(m) => {
                m.append(event.clone());
                Ok(())
            }
            Self::File(f) => f.append_event(event).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.append_event(event).await,
        }
    }

    /// The shared history, oldest first, at most `limit` events.
    pub async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        match self {
            Self::Memory(m) => Ok(m.events(limit)),
            Self::File(f) => f.events(limit).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.events(limit).await,
        }
    }

    /// The stored checkpoints (the states before the last ten changes), oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<StoredState>> {
        match self {
            Self::Memory(m) => Ok(m.checkpoints()),
            Self::File(f) => f.checkpoints().await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.checkpoints().await,
        }
    }

    /// Keeps a named checkpoint (the last ten) and appends its `checkpoint_created` event.
    pub async fn put_checkpoint(&self, cp: Checkpoint, event: Event) -> Result<()> {
        match self {
            Self::Memory(m) => {
                m.put_checkpoint(cp, event);
                Ok(())
            }
            Self::File(f) => f.put_checkpoint(cp, event).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.put_checkpoint(&cp, &event).await,
        }
    }

    /// The named checkpoints, oldest first.
    pub async fn named_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        match self {
            Self::Memory(m) => Ok(m.named()),
            Self::File(f) => f.named().await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.named().await,
        }
    }

    /// Takes the analyst lease for `ttl` if nobody holds it (`SET NX PX`).
    pub async fn try_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.try_lease(holder, ttl, unix_ms()))),
            Self::File(f) => {
                let holder = holder.to_string();
                f.fleet(true, move |l| l.try_lease(&holder, ttl, unix_ms()))
                    .await
            }
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.try_lease(holder, ttl).await,
        }
    }

    /// Extends the lease for `ttl` if `holder` still holds it (compare-and-renew).
    pub async fn renew_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.renew_lease(holder, ttl, unix_ms()))),
            Self::File(f) => {
                let holder = holder.to_string();
                f.fleet(true, move |l| l.renew_lease(&holder, ttl, unix_ms()))
                    .await
            }
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.renew_lease(holder, ttl).await,
        }
    }

    /// Gives the lease up if `holder` holds it (a closing instance hands over at once).
    pub async fn release_lease(&self, holder: &str) -> Result<()> {
        match self {
            Self::Memory(m) => {
                m.fleet(|f| f.release_lease(holder));
                Ok(())
            }
            Self::File(f) => {
                let holder = holder.to_string();
                f.fleet(true, move |l| l.release_lease(&holder)).await
            }
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.release_lease(holder).await,
        }
    }

    /// Who holds the analyst lease.
    pub async fn lease_holder(&self) -> Result<Option<String>> {
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.holder(unix_ms()))),
            Self::File(f) => f.fleet(false, |l| l.holder(unix_ms())).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.lease_holder().await,
        }
    }

    /// Adds an instance's per-second counts to the fleet's; each second is kept `keep`. The
    /// counts are the batch `batch`: sent again under the same id (after an error that may
    /// hide that it was applied), they are added once.
    pub async fn flush(
        &self,
        batch: &str,
        counts: Vec<SecondCounts>,
        keep: Duration,
    ) -> Result<()> {
        let now_s = unix_ms() / 1000;
        match self {
            Self::Memory(m) => {
                m.fleet(|f| f.flush(batch, &counts, keep, now_s));
                Ok(())
            }
            Self::File(f) => {
                let batch = batch.to_string();
                f.fleet(true, move |l| l.flush(&batch, &counts, keep, now_s))
                    .await
            }
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.flush(batch, &counts, keep).await,
        }
    }

    /// The fleet's counts of `side` over the seconds `from..=to` (Unix seconds), the last
    /// [`MAX_WINDOW_SECONDS`] of them at most: the bounds come from stored records, and a
    /// window of years would be one read per second of it.
    pub async fn window(&self, side: Side, from: u64, to: u64) -> Result<FleetCounts> {
        let from = from.max(to.saturating_sub(MAX_WINDOW_SECONDS - 1));
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.window(side, from, to))),
            Self::File(f) => f.fleet(false, move |l| l.window(side, from, to)).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.window(side, from, to).await,
        }
    }

    /// The fleet's judged requests of `side` since the store began.
    pub async fn total(&self, side: Side) -> Result<u64> {
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.totals[side.index()])),
            Self::File(f) => f.fleet(false, move |l| l.totals[side.index()]).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.total(side).await,
        }
    }

    /// Stores the analyst's last figures (what `turnout rollout status` shows).
    pub async fn put_analysis(&self, analysis: serde_json::Value) -> Result<()> {
        match self {
            Self::Memory(m) => {
                m.fleet(|f| f.analysis = Some(analysis));
                Ok(())
            }
            Self::File(f) => f.fleet(true, move |l| l.analysis = Some(analysis)).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.put_analysis(&analysis).await,
        }
    }

    /// The analyst's last figures.
    pub async fn analysis(&self) -> Result<Option<serde_json::Value>> {
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.analysis.clone())),
            Self::File(f) => f.fleet(false, |l| l.analysis.clone()).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.analysis().await,
        }
    }

    /// One decision of the fleet-wide rate-limit cell `name`: `cost` units at one per
    /// `emission`, `burst` at once (GCRA; Redis decides on its own clock).
    pub async fn gcra(
        &self,
        name: &str,
        emission: Duration,
        burst: u64,
        cost: u64,
    ) -> Result<Gcra> {
        let now_us = unix_ms() * 1000;
        match self {
            Self::Memory(m) => Ok(m.fleet(|f| f.gcra(name, emission, burst, cost, now_us))),
            Self::File(f) => {
                let name = name.to_string();
                f.fleet(true, move |l| l.gcra(&name, emission, burst, cost, now_us))
                    .await
            }
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.gcra(name, emission, burst, cost).await,
        }
    }

    /// Waits until the state may have changed: a Redis hint, or the poll interval.
    pub async fn changed(&self) {
        match self {
            Self::Memory(_) => std::future::pending().await,
            Self::File(_) => tokio::time::sleep(FILE_POLL).await,
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.changed(REDIS_POLL).await,
        }
    }
}

/// A store failure naming the backend.
pub(crate) fn store_error(backend: &str, e: impl std::fmt::Display) -> Error {
    Error::Store(format!("{backend}: {e}"))
}

/// Refuses stored contents turnout would not have written, naming `key`.
pub(crate) fn validate(key: &str, s: &StoredState) -> Result<()> {
    let bad = |what: String| Err(Error::Store(format!("bad stored state: {key} {what}")));
    if s.traffic.weight_bp > 10_000 {
        return bad(format!(
            "field weight_bp is {}, more than 10000",
            s.traffic.weight_bp
        ));
    }
    if s.traffic.version > MAX_VERSION {
        return bad(format!(
            "field version is {}, more than {MAX_VERSION}",
            s.traffic.version
        ));
    }
    if s.traffic.salt.is_empty() {
        return bad("field salt is empty".to_string());
    }
    if let Some(r) = &s.rollout
        && r.step >= r.plan.steps.len()
    {
        return bad(format!(
            "field rollout is at step {} of a plan of {} steps",
            r.step,
            r.plan.steps.len()
        ));
    }
    Ok(())
}

/// The event an operation is recorded as, before the store fills in the result.
pub(crate) fn event_template(op: &Operation) -> Event {
    let mut e = Event {
        kind: op.change.event_kind(),
        at: op.at.clone(),
        reason: op.reason.clone(),
        environment: None,
        version: 0,
        details: serde_json::Map::new(),
    };
    e.details.insert("op".into(), op.id.clone().into());
    e.details.insert("author".into(), op.author.clone().into());
    if !op.source.is_empty() {
        e.details.insert("source".into(), op.source.clone().into());
    }
    e
}

/// The history entry of `op`, which turned `old` into `outcome` (the memory and file stores;
/// the Lua script builds the same fields).
pub(crate) fn recorded(op: &Operation, old: &TrafficState, outcome: &Outcome) -> Event {
    let mut e = event_template(op);
    let s = &outcome.state.traffic;
    if outcome.verdict == Verdict::Superseded {
        e.kind = EventKind::Superseded;
    }
    e.version = s.version;
    let verdict = serde_json::to_value(outcome.verdict).unwrap_or_default();
    e = e
        .detail("active", s.active.as_str())
        .detail("canary_weight", s.canary_weight())
        .detail("from_active", old.active.as_str())
        .detail("from_weight", old.canary_weight())
        .detail("verdict", verdict);
    if !outcome.note.is_empty() {
        e = e.detail("note", outcome.note.as_str());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    #[tokio::test]
    async fn a_window_is_read_over_its_last_day_at_most() {
        let store = Store::open(&StateConfig::default()).expect("memory store");
        let now = unix_ms() / 1000;
        let one = |second: u64| {
            let mut counts = FleetCounts::default();
            counts.record(Outcome::Success, Duration::from_millis(5), None);
            SecondCounts {
                second,
                side: Side::Green,
                counts,
            }
        };
        let keep = Duration::from_secs(3 * MAX_WINDOW_SECONDS);
        let old = now - 2 * MAX_WINDOW_SECONDS;
        store
            .flush("b", vec![one(old), one(now - 10)], keep)
            .await
            .expect("flush");
        // Bounds from a stored record reaching back to 1970: the last day only.
        let all = store.window(Side::Green, 0, now).await.expect("window");
        assert_eq!(all.successes, 1);
        // The older second, within the last day of a range that ends near it.
        let then = store
            .window(Side::Green, 0, old + 10)
            .await
            .expect("window");
        assert_eq!(then.successes, 1);
    }
}
