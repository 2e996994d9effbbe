//! The client-side limiter: a requests-per-minute bucket, a tokens-per-minute bucket and a
//! concurrency cap. A request waits for its permit up to its timeout, then fails with
//! [`Error::RateLimited`] saying which limit held it.
//!
//! A token estimate is held until the answer's `usage` settles it; a request that ends
//! without usage (a 400, a timeout, a cancelled call) gives its whole estimate back, so no
//! single request can lock the bucket. An estimate above the bucket's capacity could never be
//! admitted and is refused at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::bucket::TokenBucket;
use super::priority::{Priority, PriorityQueue};
use crate::clock::SharedClock;
use crate::config::RateLimit;
use crate::error::{Error, Result};

/// How long a waiting request waits before it rises one priority class.
const DEFAULT_AGING: Duration = Duration::from_secs(5);

/// The longest a waiting request sleeps before it looks at the buckets again, so that a
/// refund or a test's manual clock is noticed soon.
const MAX_PARK: Duration = Duration::from_millis(100);

/// What a request holds while it is in flight; dropping it frees its concurrency slot and
/// gives back its token estimate unless [`Limiter::correct`] settled it.
#[derive(Debug)]
pub(crate) struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
    /// Tokens taken from the tokens-per-minute bucket (the estimate).
    pub tokens: u64,
    /// The buckets the estimate was taken from, while it is unsettled.
    buckets: Option<Arc<Mutex<Buckets>>>,
    settled: AtomicBool,
}

impl Permit {
    fn free(slot: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            _slot: slot,
            tokens: 0,
            buckets: None,
            settled: AtomicBool::new(true),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.tokens > 0
            && !self.settled.swap(true, Ordering::AcqRel)
            && let Some(buckets) = &self.buckets
            && let Some(bucket) = &mut buckets.lock().tokens
        {
            bucket.give(self.tokens);
        }
    }
}

#[derive(Debug)]
struct Buckets {
    requests: Option<TokenBucket>,
    tokens: Option<TokenBucket>,
}

/// Which limit a request is waiting for, and how long it will be.
enum Wait {
    Requests(Duration),
    Tokens(Duration),
}

#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimit,
    buckets: Arc<Mutex<Buckets>>,
    slots: Option<Arc<Semaphore>>,
    clock: SharedClock,
    /// Orders the requests that wait, by priority with aging.
    queue: PriorityQueue,
}

impl Limiter {
    pub fn new(config: Option<&RateLimit>, clock: SharedClock) -> Self {
        let config = config.cloned().unwrap_or_default();
        let now = clock.now();
        Self {
            buckets: Arc::new(Mutex::new(Buckets {
                requests: config
                    .requests_per_minute
                    .map(|n| TokenBucket::per_minute(n.into(), now)),
                tokens: config
                    .tokens_per_minute
                    .map(|n| TokenBucket::per_minute(n, now)),
            })),
            slots: config
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            queue: PriorityQueue::new(
                config.priority_aging.unwrap_or(DEFAULT_AGING),
                Arc::clone(&clock),
            ),
            config,
            clock,
        }
    }

    /// Requests waiting for their turn, by priority (high, normal, low).
    pub fn waiting(&self) -> [usize; 3] {
        self.queue.waiting()
    }

    /// A permit without waiting when no limit is set; `None` when requests may wait.
    pub fn unlimited(&self) -> Option<Permit> {
        (!self.is_on()).then(|| Permit::free(None))
    }

    /// Whether any limit is set (requests may wait).
    pub fn is_on(&self) -> bool {
        self.config != RateLimit::default()
    }

    /// Whether `tokens` (the request's estimate) matter, i.e. a tokens-per-minute limit is set.
    pub fn counts_tokens(&self) -> bool {
        self.config.tokens_per_minute.is_some()
    }

    /// Waits for a concurrency slot, a request and `tokens` tokens, up to `timeout`; while
    /// others wait too, requests are admitted by `priority` (with aging), oldest first.
    pub async fn acquire(
        &self,
        tokens: u64,
        timeout: Duration,
        priority: Priority,
    ) -> Result<Permit> {
        if self.config == RateLimit::default() {
            return Ok(Permit::free(None));
        }
        let tokens = if self.counts_tokens() { tokens } else { 0 };
        if let Some(capacity) = self.config.tokens_per_minute
            && tokens > capacity
        {
            return Err(Error::RateLimited(format!(
                "this request's estimated {tokens} tokens exceed rate_limit.tokens_per_minute \
                 ({capacity}): it could never be admitted (lower its max_tokens, or raise the limit)"
            )));
        }
        let queued = tokio::time::Instant::now();
        // Held until this request has its permit, so that only the head waits on the limits.
        let Some(_head) = self.queue.head(priority, timeout).await else {
            return Err(Error::RateLimited(format!(
                "this {priority}-priority request waited its whole timeout of {} behind other \
                 requests for the client-side limits",
                secs(timeout)
            )));
        };
        let timeout = timeout.saturating_sub(queued.elapsed());
        let deadline = self.clock.now().saturating_add(timeout);
        let slot = match &self.slots {
            None => None,
            Some(slots) => {
                match tokio::time::timeout(timeout, Arc::clone(slots).acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    // The semaphore is never closed; treat it as closed client all the same.
                    Ok(Err(_)) => return Err(Error::Closed),
                    Err(_) => {
                        return Err(Error::RateLimited(format!(
                            "rate_limit.max_concurrency ({}) requests were in flight and none \
                             finished within this request's timeout of {}",
                            self.config.max_concurrency.unwrap_or(0),
                            secs(timeout)
                        )));
                    }
                }
            }
        };
        loop {
            let now = self.clock.now();
            let wait = {
                let mut b = self.buckets.lock();
                match b.wait(tokens, now) {
                    Some(wait) => wait,
                    None => {
                        b.take(tokens);
                        drop(b);
                        return Ok(Permit {
                            _slot: slot,
                            tokens,
                            buckets: Some(Arc::clone(&self.buckets)),
                            settled: AtomicBool::new(false),
                        });
                    }
                }
            };
            let delay = match wait {
                Wait::Requests(d) | Wait::Tokens(d) => d,
            };
            // A permit that cannot come within the timeout is refused now, not after waiting
            // in vain.
            if now.saturating_add(delay) > deadline {
                return Err(self.refusal(&wait, tokens, timeout));
            }
            tokio::time::sleep(delay.min(MAX_PARK)).await;
        }
    }

    /// Corrects the tokens-per-minute bucket once the answer's `usage` is known: gives back an
    /// over-estimate, takes an under-estimate.
    pub fn correct(&self, permit: &Permit, actual: u64) {
        if !self.counts_tokens() || permit.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut b = self.buckets.lock();
        if let Some(bucket) = &mut b.tokens {
            if actual < permit.tokens {
                bucket.give(permit.tokens - actual);
            } else {
                bucket.take(actual - permit.tokens);
            }
        }
    }

    fn refusal(&self, wait: &Wait, tokens: u64, timeout: Duration) -> Error {
        Error::RateLimited(match wait {
            Wait::Requests(d) => format!(
                "rate_limit.requests_per_minute ({}) is used up: the next request may go in {}, \
                 after this request's timeout of {}",
                self.config.requests_per_minute.unwrap_or(0),
                secs(*d),
                secs(timeout)
            ),
            Wait::Tokens(d) => format!(
                "rate_limit.tokens_per_minute ({}) is used up: this request's estimated {tokens} \
                 tokens are free in {}, after this request's timeout of {}",
                self.config.tokens_per_minute.unwrap_or(0),
                secs(*d),
                secs(timeout)
            ),
        })
    }
}

impl Buckets {
    /// The longest wait among the buckets, or `None` when the request may go now.
    fn wait(&mut self, tokens: u64, now: Duration) -> Option<Wait> {
        let r = self
            .requests
            .as_mut()
            .map_or(Duration::ZERO, |b| b.wait_for(1, now));
        let t = self
            .tokens
            .as_mut()
            .map_or(Duration::ZERO, |b| b.wait_for(tokens, now));
        match (r.is_zero(), t.is_zero()) {
            (true, true) => None,
            _ if r >= t => Some(Wait::Requests(r)),
            _ => Some(Wait::Tokens(t)),
        }
    }

    fn take(&mut self, tokens: u64) {
        if let Some(b) = &mut self.requests {
            b.take(1);
        }
        if let Some(b) = &mut self.tokens {
            b.take(tokens);
        }
    }
}

/// `0.25s`, `60s`: milliseconds at most.
fn secs(d: Duration) -> String {
    format!("{}s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
}
