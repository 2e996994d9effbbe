//! State shared by every connection of one simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use hyper::header::HeaderValue;

use crate::SimConfig;
use crate::auth::AuthStyle;
use crate::draws::Draws;
use crate::faults::Faults;
use crate::objects::Objects;
use crate::requests::RequestLog;
use crate::stats::Stats;

/// Models listed by `GET /v1/models` when none are configured.
pub(crate) const DEFAULT_MODELS: &[&str] = &[
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o",
    "gpt-4o-mini",
    "text-embedding-3-small",
];

pub(crate) struct Shared {
    pub api_key: Option<String>,
    /// Which header must carry `api_key`.
    pub auth: AuthStyle,
    pub models: Option<Vec<String>>,
    pub name_header: Option<HeaderValue>,
    pub fingerprint: String,
    /// Read on every request: an immutable snapshot swapped whole.
    faults: ArcSwap<Faults>,
    /// Kept apart from the snapshot because every failing request decrements it.
    fail_next: AtomicU32,
    pub stats: Stats,
    /// Draws for `error_rate` and `jitter_ms`, seeded by [`SimConfig::seed`].
    pub draws: Draws,
    next_id: AtomicU64,
    /// Responses, files and batches made here.
    pub objects: Objects,
    /// The last requests received, for `GET /_sim/requests`.
    pub requests: RequestLog,
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Shared {
        let shared = Shared {
            api_key: config.api_key,
            auth: config.auth,
            models: config.models,
            name_header: HeaderValue::from_str(&config.name).ok(),
            fingerprint: format!("fp_{}", config.name),
            faults: ArcSwap::from_pointee(Faults::default()),
            fail_next: AtomicU32::new(0),
            stats: Stats::default(),
            draws: Draws::new(config.seed),
            next_id: AtomicU64::new(1),
            objects: Objects::default(),
            requests: RequestLog::default(),
        };
        shared.set_faults(config.faults);
        shared
    }

    pub(crate) fn faults(&self) -> Arc<Faults> {
        self.faults.load_full()
    }

    /// The current faults, `fail_next` showing what is left of it.
    pub(crate) fn faults_view(&self) -> Faults {
        let mut faults = Faults::clone(&self.faults.load());
        faults.fail_next = self.fail_next.load(Ordering::Relaxed);
        faults
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        self.fail_next.store(faults.fail_next, Ordering::Relaxed);
        self.faults.store(Arc::new(faults));
    }

    /// What `POST /_sim/reset` does: zero the counters, clear the request log, restart the
    /// seeded sequence. Objects (responses, files, batches) are kept.
    pub(crate) fn reset(&self) {
        self.stats.reset();
        self.requests.clear();
        self.draws.restart();
    }

    /// Consumes one of the `fail_next` failures, if any is left.
    pub(crate) fn take_fail_next(&self) -> bool {
        self.fail_next.load(Ordering::Relaxed) > 0
            && self
                .fail_next
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }

    /// A fresh sequence number for response ids.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether `model` is served, given the configured list and the `missing_models` fault.
    pub(crate) fn serves(&self, faults: &Faults, model: &str) -> Option<ModelRefusal> {
        if faults.missing_models.iter().any(|m| m == model) {
            return Some(ModelRefusal::Fault);
        }
        match &self.models {
            Some(models) if !models.iter().any(|m| m == model) => Some(ModelRefusal::Unknown),
            _ => None,
        }
    }
}

/// Why a model is not served.
pub(crate) enum ModelRefusal {
    /// Listed in `missing_models`: an injected fault.
    Fault,
    /// Not among the configured models.
    Unknown,
}
