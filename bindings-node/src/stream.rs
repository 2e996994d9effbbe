//! `NativeStream`: a routed stream of JSON events, read in batches by the JS async iterator.

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use serde_json::Value;

use crate::batch::Batched;
use crate::convert;
use crate::errors::guarded;

/// A stream opened by `NativeClient.stream`. Dropping it (or `close()`) cancels the upstream
/// request.
#[napi]
pub struct NativeStream {
    route: Value,
    inner: Batched<turnout::RoutedStream<Value>>,
}

impl NativeStream {
    pub(crate) fn new(stream: turnout::RoutedStream<Value>) -> Self {
        Self {
            route: convert::route(stream.route()),
            inner: Batched::new(stream),
        }
    }
}

#[napi]
impl NativeStream {
    /// How the stream was routed.
    #[napi(getter, ts_return_type = "Record<string, any>")]
    pub fn route(&self) -> Value {
        self.route.clone()
    }

    /// The next events as JSON texts (at least one), or `null` at the end.
    #[napi(ts_return_type = "Promise<Array<string> | null>")]
    pub fn next<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<Vec<String>>>> {
        let batch = self.inner.next();
        env.spawn_future(guarded(async move {
            Ok(batch
                .await?
                .map(|events| events.iter().map(Value::to_string).collect()))
        }))
    }

    /// Ends the stream now and cancels the upstream request (idempotent).
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
