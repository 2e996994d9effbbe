//! The native half of the `turnout` Node package (napi-rs). It converts values, maps errors,
//! bridges async and adapts callbacks; every routing decision stays in the `turnout` crate.
//! The public JS API is the wrapper in `lib/`.

mod batch;
mod client;
mod convert;
mod errors;
mod logs;
mod options;
mod raw;
mod stream;

use napi_derive::napi;

pub use client::{Answer, CallOptions, CancelToken, EventSubscription, NativeClient};
pub use raw::{NativeRawStream, RawAnswer};
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

/// Test-only (not part of the API): panics inside a synchronous call, so that the suite can
/// check the caller gets a `TurnoutError` rather than an aborted process.
#[napi(js_name = "_testPanic")]
pub fn test_panic() -> napi::Result<()> {
    errors::guard(|| panic!("injected panic (turnout test hook)"))
}

/// Test-only (not part of the API): a promise whose task panics, so that the suite can check
/// it rejects with a `TurnoutError` instead of staying pending.
#[napi(js_name = "_testPanicAsync", ts_return_type = "Promise<void>")]
pub fn test_panic_async(
    env: &napi::Env,
) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'_, ()>> {
    env.spawn_future(errors::guarded(async {
        panic!("injected panic (turnout test hook)")
    }))
}
