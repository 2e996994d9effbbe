//! The attempt loop of a pass-through request ([`RawRequest`]): routed, retried and failed
//! over like any call, with the answer handed back as the side sent it. Only JSON answers are
//! read (usage for costs, object ids for affinity); a 2xx of any other type is a success; an
//! event stream is committed at its first event and then passed on byte for byte. An event
//! stream whose first event is an error fails the attempt; given up on, it comes back as sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use tracing::Instrument;

use super::deadline::Deadline;
use super::engine::Engine;
use super::raw::{RawBody, RawRequest, RawResponse, RawStream, is_json_type};
use super::stream::{Finish, Started, error_in_event};
use crate::cost::{Tokens, usage_of, usage_of_event};
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::protocol::{SseDecoder, SseEvent, is_final_event};
use crate::resilience::outcome::classify;
use crate::routing::affinity::created_in_event;
use crate::stats::Outcome;
use crate::transport::{Exchange, transport_error};

/// What one attempt got.
enum Got {
    /// A 2xx answer, read whole.
    Full(u16, HeaderMap, Bytes, bool),
    /// A 2xx answer passed on as it arrives (an event stream, or a body other than JSON),
    /// its first event (or bytes) read.
    Stream(u16, HeaderMap, Box<RawReader>, Bytes),
}

/// A failed attempt: its error, and the HTTP answer it came with, if any.
type Failed = (Error, Option<Answer>);

/// The HTTP answer of a failed attempt, as the side sent it.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    /// The status of the error the answer stands for: its own, or, for a 2xx event stream
    /// whose first event is an error, that error's.
    error_status: u16,
}

impl Answer {
    /// A non-2xx answer, the error it stands for.
    fn http((e, answer): (Error, Option<(u16, HeaderMap, Bytes)>)) -> Failed {
        let answer = answer.map(|(status, headers, body)| Self {
            status,
            headers,
            body,
            error_status: status,
        });
        (e, answer)
    }
}

impl Engine {
    /// Runs a pass-through request. An HTTP answer turnout gives up on comes back as `Ok`,
    /// as sent, with `x-should-retry: false`; only failures without an answer are `Err`
    /// (see [`RawResponse::from_error`]).
    pub(crate) async fn execute_raw(self: Arc<Self>, request: RawRequest) -> Result<RawResponse> {
        let call = request.into_call()?;
        self.resolve_objects(&call).await;
        let started = Instant::now();
        let mut cur = self
            .begin(&call)
            .map_err(|e| self.refused(call.field("model"), e))?;
        let mut ticket = self
            .admit_stream(&call, cur.side, cur.deadline, started)
            .await?;
        loop {
            if let Err(e) = self.permit(&mut cur) {
                return Err(self.gave_up(&ticket, cur.side, cur.model(), cur.attempts, e));
            }
            let (side, timeout, by_deadline) = self.attempt_target(&call, &cur);
            // A stream waits for each chunk as long as the attempt's own timeout says: the
            // caller's time (`answer_within`) bounds it only until it is handed over.
            let idle_timeout = cur
                .deadline
                .handed_over()
                .clip(self.attempt_timeout(&call, side))
                .0;
            let body = self.body_for(&call, &mut cur)?;
            let sent = Instant::now();
            let span = ticket.attempt_span(side, cur.model(), cur.attempts);
            let got = self
                .raw_attempt(
                    side,
                    call.exchange(body, timeout, cur.idempotency.as_deref()),
                    cur.deadline,
                    idle_timeout,
                )
                .instrument(span)
                .await;
            match got {
                Ok(Got::Full(status, headers, bytes, json)) => {
                    let elapsed = sent.elapsed();
                    self.record(side, Outcome::Success, cur.pass, elapsed, None);
                    self.observe_attempt(
                        &ticket,
                        side,
                        cur.model(),
                        Outcome::Success,
                        None,
                        elapsed,
                        None,
                    );
                    let mut route = self.route_info(&mut cur, started);
                    if json {
                        self.learn_objects(&call, cur.kind, side, &bytes);
                        self.settle(ticket, &mut route, &bytes, usage_of(&bytes));
                    } else {
                        self.settle(ticket, &mut route, &Bytes::new(), None);
                    }
                    let body = RawBody::Full(bytes);
                    return Ok(RawResponse::answered(status, &headers, body, route, false));
                }
                Ok(Got::Stream(status, headers, reader, first)) => {
                    // A stored response is announced by the stream's first event.
                    if let Some(id) = &reader.created {
                        self.remember_object(id, side);
                    }
                    let route = self.route_info(&mut cur, started);
                    let ttft = sent.elapsed();
                    let pass = cur.pass;
                    let finish = Finish::new(
                        Arc::clone(&self),
                        &route,
                        Started { sent, ttft, pass },
                        ticket,
                    );
                    let body = RawBody::Stream(committed(*reader, first, finish));
                    return Ok(RawResponse::answered(status, &headers, body, route, false));
                }
                Err((e, answer)) => {
                    let Err(e) = self
                        .attempt_failed(&ticket, &mut cur, side, sent, by_deadline, e)
                        .await
                    else {
                        continue;
                    };
                    // The side's own answer, when the error is that answer: the SDK raises from
                    // it as it would without turnout.
                    return match answer {
                        Some(a) if e.status() == Some(a.error_status) => {
                            let route = self.route_info(&mut cur, started);
                            let body = RawBody::Full(a.body);
                            Ok(RawResponse::answered(
                                a.status, &a.headers, body, route, true,
                            ))
                        }
                        _ => Err(e),
                    };
                }
            }
        }
    }

    /// One exchange of a pass-through request; a stream then waits up to `idle_timeout` for
    /// each chunk, within `deadline`.
    async fn raw_attempt(
        &self,
        side: Side,
        exchange: Exchange<'_>,
        deadline: Deadline,
        idle_timeout: Duration,
    ) -> std::result::Result<Got, Failed> {
        let (path, timeout) = (exchange.path, exchange.timeout);
        let head = exchange.method == Method::HEAD;
        let sent = Instant::now();
        let endpoint = &self.side(side).endpoint;
        let resp = self
            .transport
            .send_any(endpoint, exchange)
            .await
            .map_err(|e| (e, None))?;
        let left = timeout.saturating_sub(sent.elapsed());
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(Answer::http(
                self.transport.read_error(side, resp, left).await,
            ));
        }
        // Answers that have no body whatever their type says (RFC 9110 §6.4.1): nothing to
        // check or read, and not an event stream.
        let bodiless = head || status == 204;
        let headers = resp.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let events = content_type.starts_with("text/event-stream");
        // An event stream is watched as it passes; any other body but JSON (audio, a file's
        // contents) is passed on as it arrives, neither held whole nor bounded, as the SDK
        // alone would read it.
        if !bodiless && (events || !is_json_type(content_type)) {
            let path = path.split('?').next().unwrap_or(path);
            let reader = RawReader {
                side,
                body: Box::pin(resp.bytes_stream()),
                decoder: SseDecoder::with_max_event_bytes(
                    usize::try_from(self.config.bounds.sse_event_bytes).unwrap_or(usize::MAX),
                ),
                events,
                idle_timeout,
                deadline,
                deadline_hit: false,
                usage: None,
                ended_cleanly: false,
                needs_end_event: events && ENDS_WITH_EVENT.contains(&path),
                error: None,
                error_first: false,
                seen_event: false,
                created: None,
            };
            let first = match self.config.stream_first_event_timeout {
                Some(limit) => tokio::time::timeout(limit, open(reader))
                    .await
                    .map_err(|_| {
                        let e = Error::Timeout {
                            environment: side,
                            after: limit,
                        };
                        (e, None)
                    })?,
                None => open(reader).await,
            };
            let (reader, first) = match first {
                Ok(opened) => opened,
                Err(Unopened::Failed(e)) => return Err((e, None)),
                // What the side sent stays at hand, should turnout give up on this error.
                Err(Unopened::ErrorFirst(e, body)) => {
                    let error_status = e.status().unwrap_or(500);
                    let answer = Answer {
                        status,
                        headers,
                        body,
                        error_status,
                    };
                    return Err((e, Some(answer)));
                }
            };
            return Ok(Got::Stream(status, headers, Box::new(reader), first));
        }
        let bytes = self
            .transport
            .read_body(side, resp, left)
            .await
            .map_err(|e| (e, None))?;
        let json = is_json_type(content_type) && !bodiless && !bytes.is_empty();
        if json && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            let e = Error::Decode {
                environment: side,
                message: e.to_string(),
                excerpt: crate::error::excerpt(&bytes),
            };
            return Err((e, None));
        }
        Ok(Got::Full(status, headers, bytes, json))
    }
}

/// Endpoints whose streams end with a final event (`[DONE]`, `response.completed`): one that
/// closes before it was cut short.
const ENDS_WITH_EVENT: [&str; 3] = ["/chat/completions", "/completions", "/responses"];

type Body = std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Reads a pass-through answer's bytes as they arrive; an event stream's events are watched
/// on the way: usage, the final event, an error event, and the bound on one event.
struct RawReader {
    side: Side,
    body: Body,
    decoder: SseDecoder,
    /// An event stream (watched), not bytes of another type (passed on as they are).
    events: bool,
    idle_timeout: Duration,
    deadline: Deadline,
    /// Set when the deadline, not the side, ended the stream.
    deadline_hit: bool,
    usage: Option<Tokens>,
    /// A final event has been seen.
    ended_cleanly: bool,
    /// Whether closing without a final event means the stream was cut.
    needs_end_event: bool,
    /// An error event the side sent inside the stream.
    error: Option<Error>,
    /// Whether that error event was the stream's first event.
    error_first: bool,
    /// Whether an event was seen before.
    seen_event: bool,
    /// The id of the object the stream creates (`response.created`), once seen.
    created: Option<String>,
}

impl RawReader {
    /// The next bytes; `None` at a clean end. Errors are raw (timeout, transport, decode).
    async fn next_chunk(&mut self) -> Option<Result<(Bytes, usize)>> {
        let (wait, by_deadline) = self.deadline.clip(self.idle_timeout);
        match tokio::time::timeout(wait, self.body.next()).await {
            Err(_) if by_deadline => {
                self.deadline_hit = true;
                Some(Err(self.deadline.error(self.side)))
            }
            Err(_) => Some(Err(Error::Timeout {
                environment: self.side,
                after: self.idle_timeout,
            })),
            Ok(Some(Ok(bytes))) if !self.events => Some(Ok((bytes, 1))),
            Ok(Some(Ok(bytes))) => {
                self.decoder.push(&bytes);
                Some(self.watch().map(|events| (bytes, events)))
            }
            Ok(Some(Err(e))) => Some(Err(transport_error(self.side, &e, self.idle_timeout))),
            Ok(None) => {
                if let Some(event) = self.decoder.finish() {
                    match event {
                        Ok(event) => self.see(&event),
                        Err(e) => return Some(Err(self.decode_error(e.to_string()))),
                    }
                }
                // After an error event the side's close is its end, not a cut.
                if self.ended_cleanly || self.error.is_some() || !self.needs_end_event {
                    return None;
                }
                Some(Err(Error::Interrupted {
                    environment: self.side,
                    message: "the stream ended before its final event".to_string(),
                }))
            }
        }
    }

    /// Looks at the events completed so far; returns how many.
    fn watch(&mut self) -> Result<usize> {
        let mut events = 0;
        while let Some(event) = self.decoder.next_event() {
            let event = event.map_err(|e| self.decode_error(e.to_string()))?;
            self.see(&event);
            events += 1;
        }
        Ok(events)
    }

    fn see(&mut self, event: &SseEvent) {
        self.ended_cleanly |= is_final_event(event);
        if self.created.is_none() {
            self.created = created_in_event(event);
        }
        if let Some(usage) = usage_of_event(&event.data) {
            self.usage = Some(usage);
        }
        if self.error.is_none() {
            self.error = error_in_event(event, self.side);
            self.error_first = self.error.is_some() && !self.seen_event;
        }
        self.seen_event = true;
    }

    fn decode_error(&self, message: String) -> Error {
        Error::Decode {
            environment: self.side,
            message,
            excerpt: String::new(),
        }
    }
}

/// Why a stream was not committed.
enum Unopened {
    /// No answer to hand back: a timeout, a cut, an end before any event.
    Failed(Error),
    /// The side's first event is an error: the error, and the bytes read up to it.
    ErrorFirst(Error, Bytes),
}

/// Reads a stream up to its first event (another body: its first bytes), keeping the bytes
/// read. An error as the first event, or an event stream's end before any event, fails the
/// attempt (it may still be retried); an error after another event (`response.created`) is
/// the committed stream's, passed on as sent and recorded at its end.
async fn open(mut reader: RawReader) -> std::result::Result<(RawReader, Bytes), Unopened> {
    let mut head = bytes::BytesMut::new();
    loop {
        let next = reader.next_chunk().await;
        if let Some(Ok((bytes, _))) = &next {
            head.extend_from_slice(bytes);
        }
        // Also at the end: the last event may be an error without its closing blank line.
        if !matches!(next, Some(Err(_)))
            && reader.error_first
            && let Some(e) = reader.error.take()
        {
            return Err(Unopened::ErrorFirst(e, head.freeze()));
        }
        match next {
            Some(Ok((_, events))) if events > 0 => return Ok((reader, head.freeze())),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(Unopened::Failed(e)),
            None if head.is_empty() && reader.events => {
                return Err(Unopened::Failed(Error::Interrupted {
                    environment: reader.side,
                    message: "the stream ended before its first event".to_string(),
                }));
            }
            None => return Ok((reader, head.freeze())),
        }
    }
}

/// What a committed pass-through stream carries between reads.
struct Live {
    reader: RawReader,
    first: Option<Bytes>,
    finish: Finish,
    ended: bool,
}

/// Hands a committed stream to the caller: its first bytes, then the rest as they arrive.
/// The stream's outcome is recorded at its end: an error event the side sent counts as that
/// error, a cut as a failure, a drop by the caller as cancelled.
fn committed(mut reader: RawReader, first: Bytes, finish: Finish) -> RawStream {
    // The caller has its answer: its own timeout no longer bounds the stream (an SDK's stops
    // when its fetch resolves), the call's deadline still does.
    reader.deadline = reader.deadline.handed_over();
    let live = Live {
        reader,
        first: Some(first),
        finish,
        ended: false,
    };
    let inner = futures_util::stream::unfold(live, |mut live| async move {
        if let Some(first) = live.first.take() {
            live.finish.keep_usage(live.reader.usage.take());
            return Some((Ok(first), live));
        }
        if live.ended {
            return None;
        }
        match live.reader.next_chunk().await {
            Some(Ok((bytes, _))) => {
                live.finish.keep_usage(live.reader.usage.take());
                Some((Ok(bytes), live))
            }
            None => {
                live.ended = true;
                live.finish.keep_usage(live.reader.usage.take());
                let class = live
                    .reader
                    .error
                    .as_ref()
                    .map_or(Outcome::Success, |e| classify(Err(e)));
                live.finish.record(class);
                None
            }
            Some(Err(e)) => {
                live.ended = true;
                let err = live.finish.interrupted(&e, live.reader.deadline_hit);
                Some((Err(err), live))
            }
        }
    });
    RawStream {
        inner: Box::pin(inner),
    }
}
