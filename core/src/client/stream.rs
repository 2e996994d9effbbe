//! Streams: reading server-sent events up to the first one (still retryable), then handing the
//! rest to the caller, where any failure is [`Error::StreamInterrupted`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use super::deadline::Deadline;
use super::engine::Engine;
use super::observe::Ticket;
use super::route::RouteInfo;
use crate::cost::Tokens;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::protocol::{ChatCompletionChunk, ErrorBody, SseDecoder, SseEvent};
use crate::resilience::circuit::Pass;
use crate::resilience::outcome::classify;
use crate::stats::Outcome;
use crate::transport::transport_error;

/// A stream of decoded events plus the [`RouteInfo`] of the attempt that serves it. Dropping it
/// early cancels the upstream request.
pub struct RoutedStream<T> {
    route: RouteInfo,
    inner: Pin<Box<dyn Stream<Item = Result<T>> + Send>>,
}

/// The stream of chat completion chunks.
pub type ChatStream = RoutedStream<ChatCompletionChunk>;

impl<T> RoutedStream<T> {
    /// How the stream was routed.
    pub fn route(&self) -> &RouteInfo {
        &self.route
    }
}

impl<T> std::fmt::Debug for RoutedStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedStream")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for RoutedStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// How one attempt's stream is read: its bounds in time and size.
pub(crate) struct Reading {
    pub side: Side,
    /// Longest wait for the next bytes.
    pub idle_timeout: Duration,
    /// Longest wait from sending to the first event (`stream_first_event_timeout`).
    pub first_event_timeout: Option<Duration>,
    /// The call's deadline, which bounds the stream to its end.
    pub deadline: Deadline,
    /// Largest single event (`bounds.sse_event_bytes`).
    pub max_event_bytes: u64,
    /// Whether turnout asked for usage on the caller's behalf.
    pub hide_usage_chunk: bool,
}

/// When the attempt that serves a stream was sent, and what it holds until its end.
pub(crate) struct Started {
    pub sent: Instant,
    pub ttft: Duration,
    /// The circuit's leave for the attempt.
    pub pass: Pass,
}

/// Reads events off one response body.
pub(crate) struct Reader<T> {
    side: Side,
    body: Body,
    decoder: SseDecoder,
    idle_timeout: Duration,
    deadline: Deadline,
    /// Set when the deadline, not the side, ended the stream.
    deadline_hit: bool,
    /// A Responses API stream's final event has arrived: the stream may close (it sends no
    /// `[DONE]`).
    final_seen: bool,
    /// The id of the response the stream announced (`response.created`), for affinity.
    pub(crate) created: Option<String>,
    /// The usage reported by the last chunk that had one.
    usage: Option<Tokens>,
    /// Whether turnout asked for usage on the caller's behalf: the usage-only chunk that
    /// follows is then read for accounting but not handed to the caller.
    hide_usage_chunk: bool,
    _item: std::marker::PhantomData<fn() -> T>,
}

/// A stream whose first item has arrived (or that ended cleanly at once).
pub(crate) struct Opened<T> {
    pub(crate) reader: Reader<T>,
    first: Option<T>,
}

impl<T: DeserializeOwned> Reader<T> {
    /// The next item; `None` after `[DONE]`. Errors are raw (connect, timeout, decode, status).
    async fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(event) = self.decoder.next_event() {
                match self.item(event) {
                    Step::Skip => continue,
                    Step::Item(item) => return Some(item),
                    Step::Done => return None,
                }
            }
            let (wait, by_deadline) = self.deadline.clip(self.idle_timeout);
            let read = tokio::time::timeout(wait, self.body.next()).await;
            match read {
                Err(_) if by_deadline => {
                    self.deadline_hit = true;
                    return Some(Err(self.deadline.error(self.side)));
                }
                Err(_) => {
                    return Some(Err(Error::Timeout {
                        environment: self.side,
                        after: self.idle_timeout,
                    }));
                }
                Ok(Some(Ok(bytes))) => self.decoder.push(&bytes),
                Ok(Some(Err(e))) => {
                    return Some(Err(transport_error(self.side, &e, self.idle_timeout)));
                }
                Ok(None) => {
                    if let Some(event) = self.decoder.finish() {
                        match self.item(event) {
                            Step::Skip => {}
                            Step::Item(item) => return Some(item),
                            Step::Done => return None,
                        }
                    }
                    if self.final_seen {
                        return None;
                    }
                    return Some(Err(Error::Interrupted {
                        environment: self.side,
                        message: "the stream ended before [DONE]".to_string(),
                    }));
                }
            }
        }
    }

    fn item(
        &mut self,
        event: std::result::Result<crate::protocol::SseEvent, crate::protocol::SseError>,
    ) -> Step<T> {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                return Step::Item(Err(Error::Decode {
                    environment: self.side,
                    message: e.to_string(),
                    excerpt: String::new(),
                }));
            }
        };
        if event.is_done() {
            return Step::Done;
        }
        self.final_seen |= crate::protocol::is_final_event(&event);
        if self.created.is_none() {
            self.created = crate::routing::affinity::created_in_event(&event);
        }
        if let Some(usage) = crate::cost::usage_of_event(&event.data) {
            self.usage = Some(usage);
            if self.hide_usage_chunk && has_no_choices(&event.data) {
                return Step::Skip;
            }
        }
        if let Some(error) = error_in_event(&event, self.side) {
            return Step::Item(Err(error));
        }
        Step::Item(
            serde_json::from_str(&event.data).map_err(|e| Error::Decode {
                environment: self.side,
                message: e.to_string(),
                excerpt: crate::error::excerpt(event.data.as_bytes()),
            }),
        )
    }
}

/// What one event gives the caller.
enum Step<T> {
    /// An item or an error.
    Item(Result<T>),
    /// The end (`[DONE]`).
    Done,
    /// Nothing: an event read for accounting only.
    Skip,
}

/// Whether a chunk carries no choices (the usage-only chunk at the end of a stream).
fn has_no_choices(data: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        choices: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(data).is_ok_and(|p| p.choices.is_empty())
}

/// The error an upstream sent inside a stream (an `error` event, or an OpenAI error object as
/// the data), as the status it stands for: the error's numeric `code`, else 500.
pub(super) fn error_in_event(event: &SseEvent, side: Side) -> Option<Error> {
    if event.event.as_deref() != Some("error") && !event.data.starts_with("{\"error\"") {
        return None;
    }
    let status = ErrorBody::parse(&event.data)
        .and_then(|b| b.error.code.as_ref().and_then(serde_json::Value::as_u64))
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c))
        .unwrap_or(500);
    Some(Error::Status {
        status,
        body: event.data.clone(),
        environment: side,
        retry_after: None,
        should_retry: None,
    })
}

/// Reads a 2xx streaming response up to its first item, within `stream_first_event_timeout`
/// when one is set (past it the attempt fails as a timeout of the side, still retryable).
pub(crate) async fn open<T: DeserializeOwned>(
    resp: reqwest::Response,
    reading: Reading,
) -> Result<Opened<T>> {
    let side = reading.side;
    let max_event = usize::try_from(reading.max_event_bytes).unwrap_or(usize::MAX);
    let mut reader = Reader {
        side,
        body: Box::pin(resp.bytes_stream()),
        decoder: SseDecoder::with_max_event_bytes(max_event),
        idle_timeout: reading.idle_timeout,
        deadline: reading.deadline,
        deadline_hit: false,
        final_seen: false,
        created: None,
        usage: None,
        hide_usage_chunk: reading.hide_usage_chunk,
        _item: std::marker::PhantomData,
    };
    let first = match reading.first_event_timeout {
        Some(limit) => tokio::time::timeout(limit, reader.next())
            .await
            .map_err(|_| Error::Timeout {
                environment: side,
                after: limit,
            })?,
        None => reader.next().await,
    };
    Ok(Opened {
        reader,
        first: first.transpose()?,
    })
}

/// Records the stream's outcome once: at its end, at its interruption, or when dropped (a
/// stream the caller leaves early is cancelled: it judges nothing).
pub(crate) struct Finish {
    engine: Arc<Engine>,
    side: Side,
    started: Started,
    done: bool,
    /// Metrics, cost and limits of the request, settled at the end.
    ticket: Option<Ticket>,
    model: Option<String>,
    attempts: u32,
    usage: Option<Tokens>,
}

impl Finish {
    /// The guard of a committed stream served by `route`'s attempt.
    pub(crate) fn new(
        engine: Arc<Engine>,
        route: &RouteInfo,
        started: Started,
        ticket: Ticket,
    ) -> Self {
        Self {
            engine,
            side: route.environment,
            started,
            done: false,
            ticket: Some(ticket),
            model: route.model.clone(),
            attempts: route.attempts,
            usage: None,
        }
    }

    /// Keeps the usage seen so far, charged at the end.
    pub(crate) fn keep_usage(&mut self, usage: Option<Tokens>) {
        if usage.is_some() {
            self.usage = usage;
        }
    }

    /// Records a stream cut short by `e` (cancelled when the call's deadline cut it) and
    /// returns the caller's error.
    pub(crate) fn interrupted(&mut self, e: &Error, deadline_hit: bool) -> Error {
        self.record(if deadline_hit {
            Outcome::Cancelled
        } else {
            classify(Err(e))
        });
        Error::StreamInterrupted {
            environment: self.side,
            message: e.to_string(),
        }
    }

    /// Records the stream's outcome, once.
    pub(crate) fn record(&mut self, class: Outcome) {
        if !self.done {
            self.done = true;
            let Started { sent, ttft, pass } = self.started;
            self.engine
                .record(self.side, class, pass, sent.elapsed(), Some(ttft));
            if let Some(ticket) = self.ticket.take() {
                self.engine.end_stream(
                    ticket,
                    self.side,
                    self.model.as_deref(),
                    self.attempts,
                    class,
                    sent.elapsed(),
                    ttft,
                    self.usage.take(),
                );
            }
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.record(Outcome::Cancelled);
    }
}

struct Live<T> {
    reader: Reader<T>,
    first: Option<T>,
    finish: Finish,
    ended: bool,
}

impl<T> Live<T> {
    /// Hands the usage the reader has seen to the finish guard, so that it is charged even if
    /// the caller drops the stream before `[DONE]`.
    fn keep_usage(&mut self) {
        self.finish.keep_usage(self.reader.usage.take());
    }
}

/// Hands a committed stream to the caller: from here on nothing is retried.
pub(crate) fn committed<T: DeserializeOwned + Send + 'static>(
    engine: Arc<Engine>,
    opened: Opened<T>,
    route: RouteInfo,
    started: Started,
    ticket: Ticket,
) -> RoutedStream<T> {
    let ended = opened.first.is_none();
    let mut finish = Finish::new(engine, &route, started, ticket);
    if ended {
        finish.record(Outcome::Success);
    }
    let live = Live {
        reader: opened.reader,
        first: opened.first,
        finish,
        ended,
    };
    let inner = futures_util::stream::unfold(live, |mut live| async move {
        if let Some(first) = live.first.take() {
            live.keep_usage();
            return Some((Ok(first), live));
        }
        if live.ended {
            return None;
        }
        match live.reader.next().await {
            None => {
                live.ended = true;
                live.keep_usage();
                live.finish.record(Outcome::Success);
                None
            }
            Some(Ok(item)) => {
                live.keep_usage();
                Some((Ok(item), live))
            }
            Some(Err(e)) => {
                live.ended = true;
                let err = live.finish.interrupted(&e, live.reader.deadline_hit);
                Some((Err(err), live))
            }
        }
    });
    RoutedStream {
        route,
        inner: Box::pin(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: name.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn errors_inside_streams_are_found_by_name_or_shape() {
        let chat = event(None, r#"{"error":{"message":"slow down","code":429}}"#);
        assert_eq!(
            error_in_event(&chat, Side::Blue).and_then(|e| e.status()),
            Some(429)
        );
        // The Responses API's `error` event is not an OpenAI error object: still an error.
        let responses = event(Some("error"), r#"{"type":"error","code":"server_error"}"#);
        assert_eq!(
            error_in_event(&responses, Side::Blue).and_then(|e| e.status()),
            Some(500)
        );
        let delta = event(Some("response.output_text.delta"), r#"{"delta":"error"}"#);
        assert!(error_in_event(&delta, Side::Blue).is_none());
    }
}
