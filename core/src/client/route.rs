//! What every answer says about how it was routed.

use std::ops::{Deref, DerefMut};

use serde::Serialize;

use crate::environment::Side;

/// How one request was served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteInfo {
    /// The side that answered.
    pub environment: Side,
    /// That side's label.
    pub label: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// The model asked for, when a fallback answered instead.
    pub fallback_from: Option<String>,
    /// The model name sent to the side, after its `models` map (equal to `model` without one).
    pub upstream_model: Option<String>,
    /// Why the first side was chosen: `pinned`, `rule`, `sticky`, `random` or `affinity`.
    pub reason: &'static str,
    /// HTTP attempts made, failovers included.
    pub attempts: u32,
    /// Time from the call to the answer (streams: to the first chunk), in ms.
    pub latency_ms: f64,
    /// Cost in USD, when the model's price and the usage are known.
    pub cost_usd: Option<f64>,
    /// Whether the answer came from the response cache.
    pub cached: bool,
}

/// An answer together with its [`RouteInfo`]; derefs to the answer.
#[derive(Debug, Clone)]
pub struct Routed<T> {
    /// The answer.
    pub data: T,
    /// How it was routed.
    pub route: RouteInfo,
}

impl<T> Routed<T> {
    /// The answer, without the route.
    pub fn into_inner(self) -> T {
        self.data
    }
}

impl<T> Deref for Routed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> DerefMut for Routed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}
