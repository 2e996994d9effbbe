//! `turnout::Error` to a JS error the wrapper (`lib/errors.js`) turns into its exported classes.
//!
//! The native error's message is `PREFIX` followed by a JSON payload `{kind, message, status,
//! body, environment, retryAfterMs}`: one string survives every path a napi error takes
//! (thrown synchronously, rejected from a future, raised inside a stream) without depending on
//! how napi decorates error objects.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use serde_json::{Map, Value, json};

/// Marks a message as a turnout payload.
pub const PREFIX: &str = "turnout:";

/// The napi error carrying `e`.
pub fn to_napi(e: &turnout::Error) -> napi::Error {
    let mut payload = Map::new();
    payload.insert("kind".into(), json!(e.kind().as_str()));
    payload.insert("message".into(), json!(e.to_string()));
    if let Some(status) = e.status() {
        payload.insert("status".into(), json!(status));
    }
    if let Some(body) = e.body() {
        payload.insert("body".into(), json!(body));
    }
    if let Some(side) = e.environment() {
        payload.insert("environment".into(), json!(side.as_str()));
    }
    if let Some(after) = e.retry_after() {
        payload.insert("retryAfterMs".into(), json!(after.as_secs_f64() * 1000.0));
    }
    encode(Value::Object(payload))
}

/// A configuration error raised by the binding itself (an option core never sees).
pub fn config(message: impl Into<String>) -> napi::Error {
    to_napi(&turnout::Error::Config(message.into()))
}

fn encode(payload: Value) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{PREFIX}{payload}"))
}

/// `Result<T, turnout::Error>` to `napi::Result<T>`.
pub trait IntoNapi<T> {
    /// Maps the error.
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for turnout::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(|e| to_napi(&e))
    }
}

/// A panic inside turnout as a JS `TurnoutError` with code `"panic"` and the panic's message.
pub fn panic_error(payload: &(dyn Any + Send)) -> napi::Error {
    encode(json!({
        "kind": "panic",
        "message": format!(
            "internal error in turnout (a bug; please report it): {}",
            turnout::panic_message(payload)
        ),
    }))
}

/// Runs a synchronous method's body: a panic in it becomes a thrown `TurnoutError` instead of
/// aborting the process (a panic must not unwind into Node).
pub fn guard<T>(body: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(panic_error(panic.as_ref())))
}

/// An async method's future: a panic in it rejects the promise with a `TurnoutError`.
pub async fn guarded<T>(fut: impl Future<Output = napi::Result<T>>) -> napi::Result<T> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panic_error(panic.as_ref())))
}
