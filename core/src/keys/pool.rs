//! The key pool of one side.
//!
//! The pool is read on every attempt, so it is an immutable list swapped whole on rotation
//! (`arc-swap`) with per-key atomics for the states: picking a key takes no lock. An attempt
//! holds its key (`Arc<PooledKey>`) to its end, so a rotation never touches a request in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde::Serialize;

use crate::clock::SharedClock;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::provider::AuthStyle;
use crate::secret::ApiKey;

/// How long a key answered 429 without a `Retry-After` rests.
const DEFAULT_REST: Duration = Duration::from_secs(1);

/// What a key is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// In the rotation.
    Active,
    /// Answered 429: skipped until its `Retry-After` has passed.
    Cooling,
    /// Answered 401 or 403: out of the rotation until the keys are rotated.
    Revoked,
}

/// One key as `status()` shows it: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyStatus {
    /// The key's fingerprint (`sk-…abcd`).
    pub fingerprint: String,
    /// Its state.
    pub state: KeyState,
    /// Seconds until a cooling key is back in the rotation (0 otherwise).
    pub cooling_for_s: f64,
}

/// One key of a pool with its prepared header value and state.
#[derive(Debug)]
pub(crate) struct PooledKey {
    key: ApiKey,
    value: HeaderValue,
    revoked: AtomicBool,
    /// Clock time (ns) until which the key rests; 0 when it does not.
    rest_until: AtomicU64,
}

impl PooledKey {
    /// The header value carrying the key (marked sensitive).
    pub fn value(&self) -> &HeaderValue {
        &self.value
    }

    fn usable_at(&self, now: u64) -> bool {
        !self.revoked.load(Ordering::Relaxed) && self.rest_until.load(Ordering::Relaxed) <= now
    }
}

/// Called when a key is taken out: (side, the key's fingerprint, the status that did it).
type OnRevoked = Box<dyn Fn(Side, String, u16) + Send + Sync>;

/// The keys of one side.
pub(crate) struct KeyPool {
    side: Side,
    style: AuthStyle,
    keys: ArcSwap<Vec<Arc<PooledKey>>>,
    next: AtomicUsize,
    clock: SharedClock,
    on_revoked: std::sync::OnceLock<OnRevoked>,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPool")
            .field("side", &self.side)
            .field("keys", &self.status())
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl KeyPool {
    /// A pool of `keys` for `side`, sent as `style` says.
    pub fn new<'a>(
        side: Side,
        style: AuthStyle,
        keys: impl IntoIterator<Item = &'a ApiKey>,
        clock: SharedClock,
    ) -> Result<Self> {
        let pool = Self {
            side,
            style,
            keys: ArcSwap::from_pointee(Vec::new()),
            next: AtomicUsize::new(0),
            clock,
            on_revoked: std::sync::OnceLock::new(),
        };
        let prepared = pool.prepare(keys.into_iter().cloned().collect(), &[])?;
        pool.keys.store(Arc::new(prepared));
        Ok(pool)
    }

    /// The header the keys are sent in.
    pub fn header(&self) -> HeaderName {
        match self.style {
            AuthStyle::Bearer => AUTHORIZATION,
            AuthStyle::ApiKey => HeaderName::from_static("api-key"),
            AuthStyle::XApiKey => HeaderName::from_static("x-api-key"),
        }
    }

    /// Sets what a revocation calls (the engine publishes an event); set once.
    pub fn on_revoked(&self, f: OnRevoked) {
        let _ = self.on_revoked.set(f);
    }

    /// Whether the pool has no key (an environment that needs none).
    pub fn is_empty(&self) -> bool {
        self.keys.load().is_empty()
    }

    /// The key of the next attempt: round-robin over the usable keys; when every live key
    /// rests, the one whose rest ends first; when every key is revoked, the next one all the
    /// same (the upstream's 401 is then the honest answer). `None` for a pool without keys.
    pub fn pick(&self) -> Option<Arc<PooledKey>> {
        let keys = self.keys.load();
        let n = keys.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        if n == 1 {
            return Some(Arc::clone(&keys[0]));
        }
        let now = nanos(self.clock.now());
        let mut soonest: Option<(&Arc<PooledKey>, u64)> = None;
        for i in 0..n {
            let k = &keys[(start + i) % n];
            if k.usable_at(now) {
                return Some(Arc::clone(k));
            }
            if k.revoked.load(Ordering::Relaxed) {
                continue;
            }
            let until = k.rest_until.load(Ordering::Relaxed);
            if soonest.is_none_or(|(_, u)| until < u) {
                soonest = Some((k, until));
            }
        }
        Some(Arc::clone(soonest.map_or(&keys[start % n], |(k, _)| k)))
    }

    /// Learns from a failed attempt made with `key`: 401/403 takes it out (once, with the
    /// callback), 429 rests it for the answer's `Retry-After` [1 s without one].
    pub fn report(&self, key: &PooledKey, error: &Error) {
        match error.status() {
            Some(status @ (401 | 403)) => {
                if !key.revoked.swap(true, Ordering::Relaxed)
                    && let Some(f) = self.on_revoked.get()
                {
                    f(self.side, key.key.fingerprint(), status);
                }
            }
            Some(429) => {
                let rest = error.retry_after().unwrap_or(DEFAULT_REST);
                let until = nanos(self.clock.now().saturating_add(rest));
                key.rest_until.fetch_max(until, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Whether a key other than the revoked ones remains (a 401 may then be retried).
    pub fn has_live_key(&self) -> bool {
        self.keys
            .load()
            .iter()
            .any(|k| !k.revoked.load(Ordering::Relaxed))
    }

    /// Replaces the keys. A key already in the pool keeps its state; requests in flight keep
    /// the key they were sent with. Returns the new keys' fingerprints.
    pub fn rotate(&self, keys: Vec<ApiKey>) -> Result<Vec<String>> {
        if keys.iter().all(ApiKey::is_empty) {
            return Err(Error::Config(format!(
                "rotate_keys({}): at least one non-empty key is required",
                self.side
            )));
        }
        let old = self.keys.load_full();
        let prepared = self.prepare(keys, &old)?;
        let fingerprints = prepared.iter().map(|k| k.key.fingerprint()).collect();
        self.keys.store(Arc::new(prepared));
        Ok(fingerprints)
    }

    fn prepare(&self, keys: Vec<ApiKey>, old: &[Arc<PooledKey>]) -> Result<Vec<Arc<PooledKey>>> {
        let mut out: Vec<Arc<PooledKey>> = Vec::with_capacity(keys.len());
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
            if out.iter().any(|k| k.key == key) {
                continue;
            }
            if let Some(same) = old.iter().find(|k| k.key == key) {
                out.push(Arc::clone(same));
                continue;
            }
            let text = match self.style {
                AuthStyle::Bearer => format!("Bearer {}", key.expose()),
                AuthStyle::ApiKey | AuthStyle::XApiKey => key.expose().to_string(),
            };
            let mut value = HeaderValue::from_str(&text).map_err(|_| {
                Error::Config(format!(
                    "environments.{}.api_key contains characters not allowed in a header",
                    self.side
                ))
            })?;
            value.set_sensitive(true);
            out.push(Arc::new(PooledKey {
                key,
                value,
                revoked: AtomicBool::new(false),
                rest_until: AtomicU64::new(0),
            }));
        }
        Ok(out)
    }

    /// Each key's fingerprint and state.
    pub fn status(&self) -> Vec<KeyStatus> {
        let now = self.clock.now();
        self.keys
            .load()
            .iter()
            .map(|k| {
                let until = Duration::from_nanos(k.rest_until.load(Ordering::Relaxed));
                let (state, cooling_for_s) = if k.revoked.load(Ordering::Relaxed) {
                    (KeyState::Revoked, 0.0)
                } else if until > now {
                    (KeyState::Cooling, (until - now).as_secs_f64())
                } else {
                    (KeyState::Active, 0.0)
                };
                KeyStatus {
                    fingerprint: k.key.fingerprint(),
                    state,
                    cooling_for_s,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    const A: &str = "sk-test-key-aaaa";
    const B: &str = "sk-test-key-bbbb";
    const C: &str = "sk-test-key-cccc";

    fn pool(keys: &[&str]) -> (KeyPool, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let keys: Vec<ApiKey> = keys.iter().map(|k| ApiKey::new(*k)).collect();
        let pool = KeyPool::new(Side::Blue, AuthStyle::Bearer, &keys, clock.clone()).unwrap();
        (pool, clock)
    }

    fn picked(p: &KeyPool) -> String {
        p.pick().unwrap().key.fingerprint()
    }

    fn status(code: u16, retry_after: Option<Duration>) -> Error {
        Error::Status {
            status: code,
            body: String::new(),
            environment: Side::Blue,
            retry_after,
            should_retry: None,
        }
    }

    #[test]
    fn keys_are_used_round_robin() {
        let (p, _) = pool(&[A, B, C]);
        let seen: Vec<String> = (0..6).map(|_| picked(&p)).collect();
        assert_eq!(seen, ["sk-…aaaa", "sk-…bbbb", "sk-…cccc"].repeat(2));
    }

    #[test]
    fn a_revoked_key_is_skipped_and_reported_once() {
        let (p, _) = pool(&[A, B]);
        let calls = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let c = Arc::clone(&calls);
        p.on_revoked(Box::new(move |_, fp, code| c.lock().push((fp, code))));
        let a = p.pick().unwrap();
        p.report(&a, &status(401, None));
        p.report(&a, &status(401, None));
        assert_eq!(*calls.lock(), [("sk-…aaaa".to_string(), 401)]);
        assert!((0..4).all(|_| picked(&p) == "sk-…bbbb"));
        assert!(p.has_live_key());
        let b = p.pick().unwrap();
        p.report(&b, &status(403, None));
        assert!(!p.has_live_key());
        assert!(p.pick().is_some(), "a pool of revoked keys still sends");
    }

    #[test]
    fn a_429_rests_the_key_for_exactly_its_retry_after() {
        let (p, clock) = pool(&[A, B]);
        let a = p.pick().unwrap();
        p.report(&a, &status(429, Some(Duration::from_secs(30))));
        clock.advance(Duration::from_millis(29_999));
        assert!((0..4).all(|_| picked(&p) == "sk-…bbbb"));
        assert_eq!(p.status()[0].state, KeyState::Cooling);
        clock.advance(Duration::from_millis(1));
        let seen: Vec<String> = (0..4).map(|_| picked(&p)).collect();
        assert!(seen.contains(&"sk-…aaaa".to_string()), "{seen:?}");
        assert_eq!(p.status()[0].state, KeyState::Active);
    }

    #[test]
    fn an_endless_retry_after_rests_the_key_without_overflowing() {
        // `Retry-After: inf` (or `1e20`) parses to `Duration::MAX`; past the clock's zero,
        // adding it to the time overflowed and panicked in the request path.
        let (p, clock) = pool(&[A, B]);
        clock.advance(Duration::from_secs(1));
        let a = p.pick().unwrap();
        p.report(&a, &status(429, Some(Duration::MAX)));
        clock.advance(Duration::from_secs(86_400 * 365));
        assert!((0..4).all(|_| picked(&p) == "sk-…bbbb"));
        assert_eq!(p.status()[0].state, KeyState::Cooling);
    }

    #[test]
    fn when_every_key_rests_the_one_back_first_serves() {
        let (p, _) = pool(&[A, B]);
        let a = p.pick().unwrap();
        let b = p.pick().unwrap();
        p.report(&a, &status(429, Some(Duration::from_secs(10))));
        p.report(&b, &status(429, Some(Duration::from_secs(5))));
        assert!((0..3).all(|_| picked(&p) == "sk-…bbbb"));
    }

    #[test]
    fn rotation_keeps_the_state_of_kept_keys() {
        let (p, _) = pool(&[A, B]);
        let a = p.pick().unwrap();
        p.report(&a, &status(401, None));
        let fps = p.rotate(vec![ApiKey::new(A), ApiKey::new(C)]).unwrap();
        assert_eq!(fps, ["sk-…aaaa", "sk-…cccc"]);
        let states: Vec<KeyState> = p.status().iter().map(|s| s.state).collect();
        assert_eq!(states, [KeyState::Revoked, KeyState::Active]);
        // The attempt in flight still holds its key.
        assert_eq!(a.value().to_str().unwrap(), format!("Bearer {A}"));
        assert!(p.rotate(vec![ApiKey::new("")]).is_err());
        assert!(p.rotate(vec![ApiKey::new("bad\nkey-123456")]).is_err());
    }

    #[test]
    fn status_shows_no_key() {
        let (p, _) = pool(&[A]);
        let shown = format!("{:?} {}", p, serde_json::to_string(&p.status()).unwrap());
        assert!(!shown.contains("test-key"), "{shown}");
    }
}
