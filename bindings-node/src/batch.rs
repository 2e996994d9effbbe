//! A core stream read from JS in batches: each `next()` waits for one item and takes whatever
//! else has already arrived, so that a fast stream crosses into JS once per batch rather than
//! once per item. Shared by the event streams (`NativeStream`) and the byte streams of
//! pass-through answers (`NativeRawStream`).

use std::sync::Arc;

use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::{Mutex, watch};

use crate::client::cancelled;
use crate::errors::to_napi;

/// Items handed over per `next()` at most.
const BATCH: usize = 64;

struct State<S> {
    stream: Option<S>,
    /// An error read while filling a batch, raised by the following `next()`.
    error: Option<turnout::Error>,
}

/// A stream being read in batches. Dropping it (or `close()`) cancels the upstream request.
pub(crate) struct Batched<S> {
    state: Arc<Mutex<State<S>>>,
    stop: watch::Sender<bool>,
}

impl<S, T> Batched<S>
where
    S: Stream<Item = turnout::Result<T>> + Unpin + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(stream: S) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                stream: Some(stream),
                error: None,
            })),
            stop: watch::Sender::new(false),
        }
    }

    /// The next items (at least one), or `None` at the end; an error after the first item of
    /// a batch is raised by the following call.
    pub(crate) fn next(
        &self,
    ) -> impl Future<Output = napi::Result<Option<Vec<T>>>> + Send + 'static {
        let state = Arc::clone(&self.state);
        let stop = self.stop.subscribe();
        async move {
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
            let mut batch = match first {
                None => {
                    st.stream = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    st.stream = None;
                    return Err(to_napi(&e));
                }
                Some(Ok(item)) => vec![item],
            };
            while batch.len() < BATCH {
                match stream.next().now_or_never() {
                    Some(Some(Ok(item))) => batch.push(item),
                    Some(Some(Err(e))) => {
                        st.error = Some(e);
                        st.stream = None;
                        break;
                    }
                    Some(None) => {
                        st.stream = None;
                        break;
                    }
                    None => break,
                }
            }
            Ok(Some(batch))
        }
    }

    /// Ends the stream now and cancels the upstream request (idempotent).
    pub(crate) fn close(&self) {
        self.stop.send_replace(true);
        if let Ok(mut st) = self.state.try_lock() {
            st.stream = None;
        }
    }
}
