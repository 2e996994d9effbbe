//! `NativeStream`: a routed stream of JSON events, read in batches by the JS async iterator.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::{Mutex, watch};

use crate::client::cancelled;
use crate::convert;
use crate::errors::{guarded, to_napi};

/// Events handed over per `next()` at most: whatever has already arrived, so that a fast
/// stream crosses into JS once per batch rather than once per chunk.
const BATCH: usize = 64;

struct State {
    stream: Option<turnout::RoutedStream<Value>>,
    /// An error read while filling a batch, raised by the following `next()`.
    error: Option<turnout::Error>,
}

/// A stream opened by `NativeClient.stream`. Dropping it (or `close()`) cancels the upstream
/// request.
#[napi]
pub struct NativeStream {
    route: Value,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

impl NativeStream {
    pub(crate) fn new(stream: turnout::RoutedStream<Value>) -> Self {
        Self {
            route: convert::route(stream.route()),
            state: Arc::new(Mutex::new(State {
                stream: Some(stream),
                error: None,
            })),
            stop: watch::Sender::new(false),
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
        let state = Arc::clone(&self.state);
        let stop = self.stop.subscribe();
        env.spawn_future(guarded(async move {
            let mut guard = state.lock().await;
            let st = &mut *guard;
            if let Some(e) = st.error.take() {
                return Err(to_napi(&e));
            }
            let Some(stream) = st.stream.as_mut() else {
                return Ok(None);
            };
            let first = tokio::select! {
                item = stream.next() => item,
                () = cancelled(Some(stop)) => None,
            };
            match first {
                None => {
                    st.stream = None;
                    Ok(None)
                }
                Some(Err(e)) => {
                    st.stream = None;
                    Err(to_napi(&e))
                }
                Some(Ok(value)) => {
                    let mut batch = vec![value.to_string()];
                    let mut ended = false;
                    while batch.len() < BATCH {
                        match stream.next().now_or_never() {
                            Some(Some(Ok(value))) => batch.push(value.to_string()),
                            Some(Some(Err(e))) => {
                                st.error = Some(e);
                                ended = true;
                                break;
                            }
                            Some(None) => {
                                ended = true;
                                break;
                            }
                            None => break,
                        }
                    }
                    if ended {
                        st.stream = None;
                    }
                    Ok(Some(batch))
                }
            }
        }))
    }

    /// Ends the stream now and cancels the upstream request (idempotent).
    #[napi]
    pub fn close(&self) {
        self.stop.send_replace(true);
        if let Ok(mut st) = self.state.try_lock() {
            st.stream = None;
        }
    }
}
