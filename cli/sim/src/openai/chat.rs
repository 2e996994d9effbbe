//! `POST /v1/chat/completions`: a deterministic echo, whole or streamed.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{EVENT_STREAM, Invalid, estimate_tokens, json, now_secs, respond, to_json};
use crate::faults::Faults;
use crate::state::Shared;

/// Characters of the last user message echoed back.
pub(crate) const ECHO_CHARS: usize = 50;

/// The fields of a chat request the simulator reads; the rest is ignored.
#[derive(Deserialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: Option<String>,
    #[serde(borrow)]
    messages: Option<Vec<Message<'a>>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Content<'a>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// A message's text: a string, `null`, or an array of parts whose `text`s are joined.
#[derive(Default)]
struct Content<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, null or an array of content parts")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Content(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Content(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Content(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut text = String::new();
        while let Some(part) = seq.next_element::<Part>()? {
            if let Some(t) = part.text {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&t);
            }
        }
        Ok(Content(Cow::Owned(text)))
    }
}

/// Parses and validates a chat request body.
pub(crate) fn parse(body: &[u8]) -> Result<ChatRequest<'_>, Invalid> {
    let request: ChatRequest = serde_json::from_slice(body).map_err(|e| {
        Invalid::from_serde(
            body,
            &e,
            &[
                ("model", |v| v.is_string(), "a string"),
                ("messages", |v| v.is_array(), "an array"),
                ("stream", |v| v.is_boolean(), "a boolean"),
                ("stream_options", |v| v.is_object(), "an object"),
                ("max_tokens", |v| v.is_u64(), "a non-negative integer"),
                (
                    "max_completion_tokens",
                    |v| v.is_u64(),
                    "a non-negative integer",
                ),
            ],
        )
    })?;
    if request.model.is_none() {
        return Err(Invalid::missing("model"));
    }
    match &request.messages {
        None => Err(Invalid::missing("messages")),
        Some(m) if m.is_empty() => Err(Invalid {
            message: "Invalid 'messages': empty array. Expected an array with minimum length 1, \
                      but got an empty array instead."
                .to_owned(),
            param: Some("messages"),
            code: Some("empty_array"),
        }),
        Some(_) => Ok(request),
    }
}

/// What the simulator answers to a request: the content pieces and the token counts.
struct Reply<'a> {
    pieces: Vec<&'a str>,
    finish_reason: &'static str,
    usage: Usage,
}

#[derive(Serialize, Clone, Copy)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

/// Splits `s` before each run of whitespace that follows a word: `" a  b"` → `[" a", "  b"]`.
pub(crate) fn words(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut seen_word = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c.is_whitespace() {
                    seen_word
                } else {
                    seen_word = true;
                    false
                }
            })
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

fn reply<'a>(request: &ChatRequest<'_>, echo: &'a str) -> Reply<'a> {
    let messages = request.messages.as_deref().unwrap_or_default();
    let prompt_chars: usize = messages.iter().map(|m| m.content.0.chars().count()).sum();
    // "Echo" ":" then one piece per word: at least three content chunks when streamed.
    let mut pieces = vec!["Echo", ":"];
    pieces.extend(words(echo));
    let mut finish_reason = "stop";
    if let Some(cap) = request.max_completion_tokens.or(request.max_tokens) {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX).max(1);
        if cap < pieces.len() {
            pieces.truncate(cap);
            finish_reason = "length";
        }
    }
    let completion_chars: usize = pieces.iter().map(|p| p.chars().count()).sum();
    let prompt_tokens = estimate_tokens(prompt_chars);
    let completion_tokens = estimate_tokens(completion_chars);
    Reply {
        pieces,
        finish_reason,
        usage: Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        },
    }
}

/// `" <first 50 chars of the last user message>"`, the text echoed back.
fn echo_text(request: &ChatRequest<'_>) -> String {
    let messages = request.messages.as_deref().unwrap_or_default();
    let last = messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .or(messages.last());
    let text = last.map_or("", |m| m.content.0.trim());
    let text = match text.char_indices().nth(ECHO_CHARS) {
        Some((i, _)) => text[..i].trim_end(),
        None => text,
    };
    if text.is_empty() {
        " (empty)".to_owned()
    } else {
        format!(" {text}")
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    system_fingerprint: &'a str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<()>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'a str,
    choices: &'a [ChunkChoice<'a>],
    /// `null` on every chunk but the last when usage was asked for, absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

/// Answers a valid chat request (faults before the answer are already handled).
pub(crate) fn answer(
    shared: &Shared,
    faults: &Faults,
    request: &ChatRequest<'_>,
    model: &str,
) -> Response<Body> {
    let id = format!("chatcmpl-sim{:012x}", shared.next_id());
    let created = now_secs();
    let streaming = request.stream.unwrap_or(false);
    if faults.malformed_json {
        return malformed(shared, &id, streaming);
    }
    let echo = echo_text(request);
    let reply = reply(request, &echo);
    if streaming {
        let include_usage = request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage);
        return stream(shared, faults, &id, created, model, &reply, include_usage);
    }
    let content = reply.pieces.concat();
    to_json(
        shared,
        &Completion {
            id: &id,
            object: "chat.completion",
            created,
            model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: &content,
                    refusal: None,
                },
                logprobs: None,
                finish_reason: reply.finish_reason,
            }],
            usage: reply.usage,
            system_fingerprint: &shared.fingerprint,
        },
    )
}

fn malformed(shared: &Shared, id: &str, streaming: bool) -> Response<Body> {
    if streaming {
        let body = format!(
            "data: {{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"delta\":\n\ndata: [DONE]\n\n"
        );
        return respond(shared, StatusCode::OK, EVENT_STREAM, Body::from(body));
    }
    let body = format!(
        "{{\"id\":\"{id}\",\"object\":\"chat.completion\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"Echo"
    );
    json(shared, StatusCode::OK, body.into_bytes())
}

fn choice<'a>(delta: Delta<'a>, finish_reason: Option<&'a str>) -> ChunkChoice<'a> {
    ChunkChoice {
        index: 0,
        delta,
        logprobs: None,
        finish_reason,
    }
}

fn event<T: Serialize>(out: &mut Vec<u8>, chunk: &T) {
    out.extend_from_slice(b"data: ");
    // The chunk types hold only strings and numbers: serializing them cannot fail.
    let _ = serde_json::to_writer(&mut *out, chunk);
    out.extend_from_slice(b"\n\n");
}

fn stream(
    shared: &Shared,
    faults: &Faults,
    id: &str,
    created: u64,
    model: &str,
    reply: &Reply<'_>,
    include_usage: bool,
) -> Response<Body> {
    let usage_field = include_usage.then_some(None);
    let chunk = |choices: &[ChunkChoice<'_>], out: &mut Vec<u8>| {
        event(
            out,
            &Chunk {
                id,
                object: "chat.completion.chunk",
                created,
                model,
                system_fingerprint: &shared.fingerprint,
                choices,
                usage: usage_field,
            },
        );
    };
    let mut out = Vec::with_capacity(256 * (reply.pieces.len() + 3));
    chunk(
        &[choice(
            Delta {
                role: Some("assistant"),
                content: Some(""),
            },
            None,
        )],
        &mut out,
    );
    let sent = match faults.truncate_after {
        Some(n) => reply.pieces.len().min(n as usize),
        None => reply.pieces.len(),
    };
    for piece in &reply.pieces[..sent] {
        let delta = Delta {
            role: None,
            content: Some(piece),
        };
        chunk(&[choice(delta, None)], &mut out);
    }
    let truncated = faults.truncate_after.is_some();
    if !truncated {
        chunk(
            &[choice(Delta::default(), Some(reply.finish_reason))],
            &mut out,
        );
        if include_usage {
            event(
                &mut out,
                &Chunk {
                    id,
                    object: "chat.completion.chunk",
                    created,
                    model,
                    system_fingerprint: &shared.fingerprint,
                    choices: &[],
                    usage: Some(Some(reply.usage)),
                },
            );
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
    let delay = Duration::from_millis(faults.first_byte_delay_ms);
    respond(
        shared,
        StatusCode::OK,
        EVENT_STREAM,
        sse_body(out.into(), delay, truncated),
    )
}

/// The stream was cut on purpose (`truncate_after`).
#[derive(Debug, thiserror::Error)]
#[error("stream truncated by the turnout-sim truncate_after fault")]
struct Truncated;

/// The events as a body: whole when nothing is delayed or cut, else a stream that waits before
/// the first byte and/or ends in an error, which makes hyper abort the connection (HTTP/1.1:
/// no final chunk) or reset the stream (HTTP/2).
pub(crate) fn sse_body(events: Bytes, first_byte_delay: Duration, truncated: bool) -> Body {
    if first_byte_delay.is_zero() && !truncated {
        return Body::from(events);
    }
    let steps = futures_util::stream::unfold(0u8, move |step| {
        let events = events.clone();
        async move {
            match step {
                0 => {
                    if !first_byte_delay.is_zero() {
                        tokio::time::sleep(first_byte_delay).await;
                    }
                    Some((Ok(events), 1))
                }
                1 if truncated => {
                    // Let hyper flush the events before the error tears the connection down.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((Err(Truncated), 2))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_whitespace_with_the_next_word() {
        let got: Vec<_> = words(" hello  world\n!").collect();
        assert_eq!(got, vec![" hello", "  world", "\n!"]);
        assert_eq!(words("").count(), 0);
    }

    #[test]
    fn content_accepts_strings_parts_and_null() {
        let body = br#"{"model":"m","messages":[
            {"role":"system","content":null},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]},
            {"role":"assistant","content":"esc\u00e9aped"}]}"#;
        let request = parse(body).map_err(|e| e.message).unwrap();
        let echo = echo_text(&request);
        assert_eq!(echo, " a b");
    }

    #[test]
    fn echo_is_capped_at_50_chars() {
        let long = "é".repeat(80);
        let body = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{long}"}}]}}"#);
        let request = parse(body.as_bytes()).map_err(|e| e.message).unwrap();
        assert_eq!(echo_text(&request).chars().count(), 51);
    }

    #[test]
    fn max_tokens_caps_pieces() {
        let body = br#"{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"one two three four"}]}"#;
        let request = parse(body).map_err(|e| e.message).unwrap();
        let echo = echo_text(&request);
        let reply = reply(&request, &echo);
        assert_eq!(reply.pieces.concat(), "Echo: one");
        assert_eq!(reply.finish_reason, "length");
    }

    #[test]
    fn invalid_bodies_name_the_field() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"not json", None),
            (b"[]", None),
            (
                br#"{"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (br#"{"model":"m"}"#, Some("messages")),
            (br#"{"model":"m","messages":[]}"#, Some("messages")),
            (br#"{"model":"m","messages":"hi"}"#, Some("messages")),
            (br#"{"model":7,"messages":[]}"#, Some("model")),
            (br#"{"model":"m","messages":[{"content":{"a":1}}]}"#, None),
        ];
        for (body, param) in cases {
            let err = parse(body).err().map(|e| e.param);
            assert_eq!(err, Some(*param), "{}", String::from_utf8_lossy(body));
        }
    }
}
