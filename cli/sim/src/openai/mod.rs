//! The OpenAI-compatible endpoints and their wire shapes.

pub(crate) mod audio;
pub(crate) mod batches;
pub(crate) mod chat;
pub(crate) mod embeddings;
pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod models;
mod multipart;
pub(crate) mod responses;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::state::Shared;

pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub(crate) const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

/// A response with the simulator's common headers.
pub(crate) fn respond(
    shared: &Shared,
    status: StatusCode,
    content_type: HeaderValue,
    body: Body,
) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    if let Some(name) = &shared.name_header {
        headers.insert("x-sim-name", name.clone());
    }
    response
}

/// A JSON response from bytes already serialized.
pub(crate) fn json(shared: &Shared, status: StatusCode, body: Vec<u8>) -> Response<Body> {
    respond(shared, status, JSON, Body::from(body))
}

/// Serializes `value`; the wire types here cannot fail to serialize, but a failure still
/// answers 500 rather than panicking.
pub(crate) fn to_json<T: serde::Serialize>(shared: &Shared, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => json(shared, StatusCode::OK, body),
        Err(e) => error::answer(shared, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A list page holding every item (`has_more: false`), as OpenAI's cursor pages are shaped.
pub(crate) fn page(data: Vec<serde_json::Value>) -> serde_json::Value {
    let first = data.first().map(|o| o["id"].clone());
    let last = data.last().map(|o| o["id"].clone());
    serde_json::json!({
        "object": "list",
        "data": data,
        "first_id": first,
        "last_id": last,
        "has_more": false,
    })
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// OpenAI-style token estimate: a quarter of the characters, rounded up, at least 1.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4)).max(1) as u64
}

/// A field, a test of its JSON type, and that type as named in error messages.
pub(crate) type FieldType = (&'static str, fn(&serde_json::Value) -> bool, &'static str);

/// A request field that is missing or malformed, reported as OpenAI does.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub message: String,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl Invalid {
    pub(crate) fn missing(param: &'static str) -> Invalid {
        Invalid {
            message: format!("Missing required parameter: '{param}'."),
            param: Some(param),
            code: Some("missing_required_parameter"),
        }
    }

    pub(crate) fn field(param: &'static str, message: String) -> Invalid {
        Invalid {
            message,
            param: Some(param),
            code: Some("invalid_value"),
        }
    }

    /// Explains a body that `serde_json` rejected: not JSON at all, or a field of the wrong type.
    pub(crate) fn from_serde(
        body: &[u8],
        err: &serde_json::Error,
        expected: &[FieldType],
    ) -> Invalid {
        let value = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => value,
            Err(_) => {
                return Invalid {
                    message: "We could not parse the JSON body of your request. The API expects \
                              a JSON payload."
                        .to_owned(),
                    param: None,
                    code: None,
                };
            }
        };
        let Some(object) = value.as_object() else {
            return Invalid {
                message: "Invalid request body: expected a JSON object.".to_owned(),
                param: None,
                code: None,
            };
        };
        for (field, fits, what) in expected {
            if let Some(v) = object.get(*field)
                && !v.is_null()
                && !fits(v)
            {
                return Invalid {
                    message: format!("Invalid type for '{field}': expected {what}."),
                    param: Some(field),
                    code: Some("invalid_type"),
                };
            }
        }
        Invalid {
            message: format!("Invalid request body: {err}."),
            param: None,
            code: None,
        }
    }
}
