//! `/v1/responses`: the Responses API as a deterministic echo, whole or streamed, with the
//! responses kept per simulator for `previous_response_id`, `GET` and `DELETE`.

use std::time::Duration;

use axum::body::Body;
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::chat::{ECHO_CHARS, sse_body, words};
use super::{EVENT_STREAM, Invalid, error, estimate_tokens, json as json_answer, now_secs};
use super::{respond, to_json};
use crate::faults::Faults;
use crate::state::Shared;

/// The fields of a Responses request the simulator reads; the rest is ignored.
#[derive(Deserialize)]
pub(crate) struct ResponsesRequest {
    pub model: Option<String>,
    input: Option<Value>,
    instructions: Option<String>,
    previous_response_id: Option<String>,
    stream: Option<bool>,
    store: Option<bool>,
    max_output_tokens: Option<u64>,
    metadata: Option<Map<String, Value>>,
    temperature: Option<f64>,
    top_p: Option<f64>,
}

/// Parses and validates a Responses request body.
pub(crate) fn parse(body: &[u8]) -> Result<ResponsesRequest, Invalid> {
    let request: ResponsesRequest = serde_json::from_slice(body).map_err(|e| {
        Invalid::from_serde(
            body,
            &e,
            &[
                ("model", |v| v.is_string(), "a string"),
                ("instructions", |v| v.is_string(), "a string"),
                ("previous_response_id", |v| v.is_string(), "a string"),
                ("stream", |v| v.is_boolean(), "a boolean"),
                ("store", |v| v.is_boolean(), "a boolean"),
                (
                    "max_output_tokens",
                    |v| v.is_u64(),
                    "a non-negative integer",
                ),
                ("metadata", |v| v.is_object(), "an object"),
                ("temperature", |v| v.is_number(), "a number"),
                ("top_p", |v| v.is_number(), "a number"),
            ],
        )
    })?;
    if request.model.is_none() {
        return Err(Invalid::missing("model"));
    }
    match &request.input {
        None | Some(Value::Null) => Err(Invalid::missing("input")),
        Some(Value::String(_) | Value::Array(_)) => Ok(request),
        Some(_) => Err(Invalid {
            message: "Invalid type for 'input': expected a string or an array of input items."
                .to_owned(),
            param: Some("input"),
            code: Some("invalid_type"),
        }),
    }
}

/// The text of an input item's `content`: a string, or the `text` of each part.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// `(role, text)` of every input message; a string input is one user message.
fn messages(input: Option<&Value>) -> Vec<(String, String)> {
    match input {
        Some(Value::String(s)) => vec![("user".to_owned(), s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                let text = item.get("content").map(content_text).unwrap_or_default();
                (role.to_owned(), text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `" <first 50 chars of the last user message>"`, as chat echoes.
fn echo_text(messages: &[(String, String)]) -> String {
    let last = messages
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .or(messages.last());
    let text = last.map_or("", |(_, t)| t.trim());
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

/// What a response says and costs.
struct Reply {
    pieces: Vec<String>,
    complete: bool,
    usage: Value,
}

fn reply(request: &ResponsesRequest, cached_tokens: u64) -> Reply {
    let messages = messages(request.input.as_ref());
    let mut pieces = vec!["Echo".to_owned(), ":".to_owned()];
    pieces.extend(words(&echo_text(&messages)).map(str::to_owned));
    let mut complete = true;
    if let Some(cap) = request.max_output_tokens {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX).max(1);
        if cap < pieces.len() {
            pieces.truncate(cap);
            complete = false;
        }
    }
    let input_chars: usize = messages
        .iter()
        .map(|(_, t)| t.chars().count())
        .sum::<usize>()
        + request
            .instructions
            .as_deref()
            .map_or(0, |i| i.chars().count());
    // The conversation so far is read again from the cache, as OpenAI's usage reports it.
    let input_tokens = estimate_tokens(input_chars) + cached_tokens;
    let output_tokens = estimate_tokens(pieces.iter().map(|p| p.chars().count()).sum());
    Reply {
        pieces,
        complete,
        usage: json!({
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }),
    }
}

/// The ids and settings one response is built with.
struct Frame<'a> {
    id: String,
    item_id: String,
    created: u64,
    model: &'a str,
    request: &'a ResponsesRequest,
}

impl Frame<'_> {
    /// The `response` object in a given state.
    fn response(&self, status: &str, output: Value, usage: Value) -> Value {
        let incomplete = (status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": incomplete,
            "instructions": self.request.instructions,
            "max_output_tokens": self.request.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": self.request.previous_response_id,
            "reasoning": {"effort": null, "summary": null},
            "store": self.request.store.unwrap_or(true),
            "temperature": self.request.temperature.unwrap_or(1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": self.request.top_p.unwrap_or(1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": self.request.metadata.clone().unwrap_or_default(),
        })
    }

    fn part(text: &str) -> Value {
        json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    }

    fn item(&self, status: &str, content: Value) -> Value {
        json!({
            "id": self.item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        })
    }
}

/// Answers a valid Responses request (faults before the answer are already handled): 404 when
/// `previous_response_id` names a response this simulator does not have.
pub(crate) fn answer(
    shared: &Shared,
    faults: &Faults,
    request: &ResponsesRequest,
    model: &str,
) -> Response<Body> {
    let mut cached_tokens = 0;
    if let Some(previous) = &request.previous_response_id {
        let responses = shared.objects.responses.lock();
        let Some(found) = responses.get(previous) else {
            drop(responses);
            let message = format!("Previous response with id '{previous}' not found.");
            return error::not_found(
                shared,
                &message,
                Some("previous_response_id"),
                Some("previous_response_not_found"),
            );
        };
        cached_tokens = found["usage"]["total_tokens"].as_u64().unwrap_or(0);
    }
    let frame = Frame {
        id: shared.objects.mint("resp_"),
        item_id: shared.objects.mint("msg_"),
        created: now_secs(),
        model,
        request,
    };
    let streaming = request.stream.unwrap_or(false);
    if faults.malformed_json {
        return malformed(shared, &frame.id, streaming);
    }
    let reply = reply(request, cached_tokens);
    let text = reply.pieces.concat();
    let status = if reply.complete {
        "completed"
    } else {
        "incomplete"
    };
    let item = frame.item("completed", json!([Frame::part(&text)]));
    let done = frame.response(status, json!([item]), reply.usage.clone());
    if streaming {
        return stream(shared, faults, &frame, &reply, &text, done);
    }
    remember(shared, request, &done);
    to_json(shared, &done)
}

fn remember(shared: &Shared, request: &ResponsesRequest, response: &Value) {
    if request.store.unwrap_or(true)
        && let Some(id) = response["id"].as_str()
    {
        let stored = response.clone();
        shared
            .objects
            .responses
            .lock()
            .insert(id.to_owned(), stored, 1);
    }
}

fn malformed(shared: &Shared, id: &str, streaming: bool) -> Response<Body> {
    if streaming {
        let body = format!(
            "event: response.created\ndata: {{\"type\":\"response.created\",\"response\":{{\"id\":\"{id}\",\n\n"
        );
        return respond(shared, StatusCode::OK, EVENT_STREAM, Body::from(body));
    }
    let body = format!("{{\"id\":\"{id}\",\"object\":\"response\",\"output\":[{{\"type\":\"mess");
    json_answer(shared, StatusCode::OK, body.into_bytes())
}

/// Appends `event: <type>` and its data, numbered in order.
fn event(out: &mut Vec<u8>, sequence: &mut u64, kind: &str, mut data: Value) {
    if let Value::Object(fields) = &mut data {
        fields.insert("type".to_owned(), json!(kind));
        fields.insert("sequence_number".to_owned(), json!(*sequence));
    }
    *sequence += 1;
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Values built with `json!` always serialize.
    let _ = serde_json::to_writer(&mut *out, &data);
    out.extend_from_slice(b"\n\n");
}

fn stream(
    shared: &Shared,
    faults: &Faults,
    frame: &Frame<'_>,
    reply: &Reply,
    text: &str,
    done: Value,
) -> Response<Body> {
    let mut out = Vec::with_capacity(1024 + 256 * reply.pieces.len());
    let mut seq = 0;
    let started = frame.response("in_progress", json!([]), Value::Null);
    event(
        &mut out,
        &mut seq,
        "response.created",
        json!({"response": started}),
    );
    event(
        &mut out,
        &mut seq,
        "response.in_progress",
        json!({"response": started}),
    );
    let at = |extra: Value| {
        let mut fields = json!({"item_id": frame.item_id, "output_index": 0, "content_index": 0});
        if let (Value::Object(f), Value::Object(e)) = (&mut fields, extra) {
            f.extend(e);
        }
        fields
    };
    event(
        &mut out,
        &mut seq,
        "response.output_item.added",
        json!({"output_index": 0, "item": frame.item("in_progress", json!([]))}),
    );
    event(
        &mut out,
        &mut seq,
        "response.content_part.added",
        at(json!({"part": Frame::part("")})),
    );
    let sent = match faults.truncate_after {
        Some(n) => reply.pieces.len().min(n as usize),
        None => reply.pieces.len(),
    };
    for piece in &reply.pieces[..sent] {
        let delta = at(json!({"delta": piece, "logprobs": []}));
        event(&mut out, &mut seq, "response.output_text.delta", delta);
    }
    let truncated = faults.truncate_after.is_some();
    if !truncated {
        let done_text = at(json!({"text": text, "logprobs": []}));
        event(&mut out, &mut seq, "response.output_text.done", done_text);
        let part = at(json!({"part": Frame::part(text)}));
        event(&mut out, &mut seq, "response.content_part.done", part);
        let item = frame.item("completed", json!([Frame::part(text)]));
        event(
            &mut out,
            &mut seq,
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
        let last = if reply.complete {
            "response.completed"
        } else {
            "response.incomplete"
        };
        remember(shared, frame.request, &done);
        event(&mut out, &mut seq, last, json!({"response": done}));
    }
    let delay = Duration::from_millis(faults.first_byte_delay_ms);
    respond(
        shared,
        StatusCode::OK,
        EVENT_STREAM,
        sse_body(out.into(), delay, truncated),
    )
}

/// `GET /v1/responses/{id}`.
pub(crate) fn get(shared: &Shared, id: &str) -> Response<Body> {
    let found = shared.objects.responses.lock().get(id).cloned();
    match found {
        Some(response) => to_json(shared, &response),
        None => missing(shared, id),
    }
}

/// `DELETE /v1/responses/{id}`.
pub(crate) fn delete(shared: &Shared, id: &str) -> Response<Body> {
    match shared.objects.responses.lock().remove(id) {
        Some(_) => to_json(
            shared,
            &json!({"id": id, "object": "response", "deleted": true}),
        ),
        None => missing(shared, id),
    }
}

fn missing(shared: &Shared, id: &str) -> Response<Body> {
    let message = format!("Response with id '{id}' not found.");
    error::not_found(shared, &message, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> ResponsesRequest {
        parse(body.as_bytes()).map_err(|e| e.message).unwrap()
    }

    #[test]
    fn input_as_string_or_items_is_echoed() {
        let r = request(r#"{"model":"m","input":"one two"}"#);
        assert_eq!(reply(&r, 0).pieces.concat(), "Echo: one two");
        let r = request(
            r#"{"model":"m","input":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"input_text","text":"last one"}]}]}"#,
        );
        assert_eq!(reply(&r, 0).pieces.concat(), "Echo: last one");
    }

    #[test]
    fn usage_adds_cached_tokens_and_caps_output() {
        // "abcdefgh" (8) + "Be brief" (8) = 16 chars → 4 tokens; 10 cached on top.
        let r = request(r#"{"model":"m","input":"abcdefgh","instructions":"Be brief"}"#);
        let reply = reply(&r, 10);
        assert_eq!(reply.usage["input_tokens"], 14);
        assert_eq!(reply.usage["input_tokens_details"]["cached_tokens"], 10);
        // "Echo: abcdefgh" = 14 chars → 4 tokens.
        assert_eq!(reply.usage["output_tokens"], 4);
        assert_eq!(reply.usage["total_tokens"], 18);
        let capped = request(r#"{"model":"m","input":"a b c d","max_output_tokens":2}"#);
        let capped = super::reply(&capped, 0);
        assert!(!capped.complete);
        assert_eq!(capped.pieces.concat(), "Echo:");
    }

    #[test]
    fn invalid_bodies_name_the_field() {
        for (body, param) in [
            (r#"{"input":"x"}"#, Some("model")),
            (r#"{"model":"m"}"#, Some("input")),
            (r#"{"model":"m","input":7}"#, Some("input")),
            (r#"{"model":"m","input":"x","store":"yes"}"#, Some("store")),
            ("nope", None),
        ] {
            assert_eq!(parse(body.as_bytes()).err().map(|e| e.param), Some(param));
        }
    }
}
