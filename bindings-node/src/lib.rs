//! The native half of the `turnout` Node package (napi-rs). It converts values, maps errors,
//! bridges async and adapts callbacks; every routing decision stays in the `turnout` crate.
//! The public JS API is the wrapper in `lib/`.

mod client;
mod convert;
mod errors;
mod options;
mod stream;

use napi_derive::napi;

pub use client::{Answer, CallOptions, CancelToken, EventSubscription, NativeClient};
pub use stream::NativeStream;

/// The sticky bucket (0..10000) of `key` under `salt`: the shared routing function, exposed
/// for the conformance vectors and for reasoning about a rollout.
#[napi]
pub fn bucket(salt: String, key: String) -> u32 {
    turnout::routing::bucket(&salt, &key)
}

/// Whether `key` falls in the candidate's share of `weightBp` basis points under `salt`.
#[napi]
pub fn is_candidate(salt: String, key: String, weight_bp: u32) -> bool {
    turnout::routing::is_candidate(&salt, &key, weight_bp)
}

/// The content type of `metricsText()` (OpenMetrics text).
#[napi]
pub fn metrics_content_type() -> &'static str {
    turnout::Client::metrics_content_type()
}

/// The prefix of a native error message carrying a JSON payload.
#[napi]
pub const ERROR_PREFIX: &str = errors::PREFIX;
