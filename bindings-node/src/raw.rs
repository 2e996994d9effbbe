//! Pass-through requests for `client.fetch`: the SDK's method, path, headers and body bytes go
//! to the core's `send_raw` as they are, and the side's answer comes back as status, headers
//! and bytes (or a byte stream). Failures without an HTTP answer become the core's synthetic
//! answer (`RawResponse::from_error`), so an SDK raises its own error at once.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use napi::Env;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::{Mutex, watch};

use crate::client::cancelled;
use crate::convert;
use crate::errors::{guarded, to_napi};

/// Chunks joined per `next()` at most: whatever has already arrived, so that a fast stream
/// crosses into JS once per batch rather than once per network read.
const BATCH: usize = 64;

/// The answer of a pass-through request, as the side sent it (or the synthetic one).
// Only ever handed to JS, never read back: it holds a stream handle.
#[napi(object, object_from_js = false)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u32,
    /// `[name, value]` pairs, in order, repeated names kept.
    pub headers: Vec<Vec<String>>,
    /// The whole body; `null` when the answer is a stream.
    pub body: Option<Buffer>,
    /// The body's bytes as they arrive; `null` when the body is whole.
    pub stream: Option<NativeRawStream>,
    /// How it was routed; `null` for a synthetic answer.
    pub route: Value,
}

impl RawAnswer {
    /// Converts the core's answer.
    pub(crate) fn new(answer: turnout::RawResponse) -> Self {
        let headers = answer
            .headers
            .iter()
            .map(|(name, value)| vec![name.as_str().to_string(), latin1(value.as_bytes())])
            .collect();
        let route = answer.route.as_ref().map_or(Value::Null, convert::route);
        let (body, stream) = match answer.body {
            turnout::RawBody::Full(bytes) => (Some(Buffer::from(bytes.to_vec())), None),
            turnout::RawBody::Stream(stream) => (None, Some(NativeRawStream::new(stream))),
        };
        Self {
            status: u32::from(answer.status),
            headers,
            body,
            stream,
            route,
        }
    }
}

/// A header value as a JS ByteString: one character per byte, as WHATWG `Headers` reads it.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

struct State {
    stream: Option<turnout::RawStream>,
    /// An error read while filling a batch, raised by the following `next()`.
    error: Option<turnout::Error>,
}

/// The body of a streamed pass-through answer. Dropping it (or `close()`) cancels the upstream
/// request.
#[napi]
pub struct NativeRawStream {
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

impl NativeRawStream {
    fn new(stream: turnout::RawStream) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                stream: Some(stream),
                error: None,
            })),
            stop: watch::Sender::new(false),
        }
    }
}

#[napi]
impl NativeRawStream {
    /// The next bytes (whatever has arrived, at least one chunk), or `null` at the end. A
    /// stream cut after it was committed rejects with a `stream_interrupted` error.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
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
            let mut out = match first {
                None => {
                    st.stream = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    st.stream = None;
                    return Err(to_napi(&e));
                }
                Some(Ok(bytes)) => bytes.to_vec(),
            };
            let mut ended = false;
            for _ in 1..BATCH {
                match stream.next().now_or_never() {
                    Some(Some(Ok(bytes))) => out.extend_from_slice(&bytes),
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
            Ok(Some(Buffer::from(out)))
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
