//! Fleet-wide requests- and tokens-per-minute limits (SEMANTICS.md, *Rate limits*): with a
//! Redis store each limit is one GCRA cell in Redis, decided by a Lua script on Redis' own
//! clock, so N per minute holds across every instance. The local buckets still apply after it
//! (they never bind first: each is the whole fleet's size), and take over alone while Redis
//! cannot be reached; the caller is told when that starts and ends, so it can say so.
//!
//! Limits of this version: a token estimate is not corrected by the answer's `usage` in the
//! fleet cell (the local bucket corrects itself as before), and a request admitted by the
//! requests cell but held by the tokens cell has spent its request slot.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::RateLimit;
use crate::error::{Error, Result};
use crate::state::{Gcra, Store};

/// After the store failed to answer, requests use the local buckets alone this long before
/// one of them asks the store again.
const LOCAL_FOR: Duration = Duration::from_secs(1);
/// The longest a waiting request sleeps before it asks the cell again.
const MAX_PARK: Duration = Duration::from_millis(100);

/// Which buckets decide now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The fleet's cells in the store.
    Fleet,
    /// This instance's own buckets (the store is unreachable).
    Local,
}

/// The fleet's cells of one client.
#[derive(Debug)]
pub(crate) struct FleetLimits {
    rpm: Option<u32>,
    tpm: Option<u64>,
    /// Until when the local buckets decide alone, and the mode last reported.
    state: Mutex<(Option<Instant>, Mode)>,
}

impl FleetLimits {
    /// The cells of `config`, if it sets a per-minute limit.
    pub fn new(config: Option<&RateLimit>) -> Option<Self> {
        let c = config?;
        (c.requests_per_minute.is_some() || c.tokens_per_minute.is_some()).then(|| Self {
            rpm: c.requests_per_minute.filter(|n| *n > 0),
            tpm: c.tokens_per_minute.filter(|n| *n > 0),
            state: Mutex::new((None, Mode::Fleet)),
        })
    }

    /// Waits for the fleet's cells to admit one request of `tokens`, up to `timeout`. Returns
    /// the mode that decided and whether it changed (to be said once); the local buckets
    /// decide when it is [`Mode::Local`].
    pub async fn admit(
        &self,
        store: &Store,
        tokens: u64,
        timeout: Duration,
    ) -> Result<(Mode, bool)> {
        if self
            .state
            .lock()
            .0
            .is_some_and(|until| Instant::now() < until)
        {
            return Ok((Mode::Local, false));
        }
        // `None`: a timeout too long to reach (what a caller's `1e19` seconds means).
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.ask(store, tokens).await {
                Ok(None) => return Ok((Mode::Fleet, self.report(Mode::Fleet, None))),
                Ok(Some((wait, which))) => {
                    let now = Instant::now();
                    if let Some(deadline) = deadline
                        && now.checked_add(wait).is_none_or(|at| at > deadline)
                    {
                        return Err(Error::RateLimited(format!(
                            "rate_limit.{which} is used up across the fleet: the next request may go in {:.3}s, after this request's timeout of {:.3}s",
                            wait.as_secs_f64(),
                            timeout.as_secs_f64()
                        )));
                    }
                    tokio::time::sleep(wait.min(MAX_PARK)).await;
                }
                Err(e) => {
                    tracing::warn!(target: "turnout::limits", error = %e,
                        "the fleet-wide rate limits cannot be reached; local buckets decide meanwhile");
                    let until = Instant::now() + LOCAL_FOR;
                    return Ok((Mode::Local, self.report(Mode::Local, Some(until))));
                }
            }
        }
    }

    /// Records the mode; true when it changed.
    fn report(&self, mode: Mode, until: Option<Instant>) -> bool {
        let mut state = self.state.lock();
        let changed = state.1 != mode;
        *state = (until, mode);
        changed
    }

    /// One round with the cells: `None` admitted, or how long to wait and for which limit.
    async fn ask(&self, store: &Store, tokens: u64) -> Result<Option<(Duration, String)>> {
        if let Some(n) = self.rpm {
            let emission = Duration::from_secs(60) / n;
            if let Gcra::Wait(d) = store.gcra("rpm", emission, u64::from(n), 1).await? {
                return Ok(Some((d, format!("requests_per_minute ({n})"))));
            }
        }
        if let Some(t) = self.tpm
            && tokens > 0
        {
            let emission = Duration::from_secs_f64(60.0 / t as f64);
            if let Gcra::Wait(d) = store.gcra("tpm", emission, t, tokens).await? {
                return Ok(Some((d, format!("tokens_per_minute ({t})"))));
            }
        }
        Ok(None)
    }
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;
    use crate::config::{StateBackend, StateConfig};

    #[tokio::test]
    async fn a_timeout_too_long_to_reach_bounds_nothing_and_panics_nowhere() {
        // `Instant::now() + timeout` overflowed for a caller's `timeout=1e19` seconds.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let store = Store::open(&StateConfig {
            backend: StateBackend::Redis,
            url: Some(format!("redis://127.0.0.1:{port}/").into()),
            ..Default::default()
        })
        .unwrap();
        let limits = FleetLimits::new(Some(&RateLimit {
            requests_per_minute: Some(60),
            ..Default::default()
        }))
        .unwrap();
        let admitted = limits.admit(&store, 1, Duration::MAX).await.unwrap();
        assert_eq!(
            admitted,
            (Mode::Local, true),
            "nothing listens: local buckets"
        );
    }
}
