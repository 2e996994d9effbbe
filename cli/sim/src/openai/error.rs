//! OpenAI's error shape: `{"error":{"message","type","param","code"}}`.

use axum::body::Body;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::{Invalid, json};
use crate::faults::Faults;
use crate::state::Shared;

#[derive(Serialize)]
struct Envelope<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

/// The `type`, `code` and default message OpenAI uses for a status.
fn kind_of(status: StatusCode) -> (&'static str, Option<&'static str>, &'static str) {
    match status.as_u16() {
        400 => ("invalid_request_error", None, "Bad request."),
        401 => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided",
        ),
        403 => (
            "invalid_request_error",
            Some("permission_denied"),
            "You are not allowed to access this resource.",
        ),
        404 => ("invalid_request_error", Some("not_found"), "Not found."),
        408 => ("timeout", Some("timeout"), "Request timed out."),
        409 => ("invalid_request_error", Some("conflict"), "Conflict."),
        422 => (
            "invalid_request_error",
            Some("unprocessable_entity"),
            "Unprocessable entity.",
        ),
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached for requests. Please try again later.",
        ),
        500 => (
            "server_error",
            Some("server_error"),
            "The server had an error while processing your request. Sorry about that!",
        ),
        502 => ("server_error", Some("bad_gateway"), "Bad gateway."),
        503 => (
            "server_error",
            Some("service_unavailable"),
            "The engine is currently overloaded, please try again later.",
        ),
        504 => ("server_error", Some("timeout"), "Gateway timeout."),
        s if s >= 500 => ("server_error", None, "Server error."),
        _ => ("invalid_request_error", None, "Request failed."),
    }
}

fn body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Vec<u8> {
    let envelope = Envelope {
        error: Detail {
            message,
            kind,
            param,
            code,
        },
    };
    // Serializing plain strings cannot fail; an empty body is the harmless fallback.
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// An error answer with the status' usual type and code.
pub(crate) fn answer(shared: &Shared, status: StatusCode, message: &str) -> Response<Body> {
    let (kind, code, _) = kind_of(status);
    json(shared, status, body(message, kind, None, code))
}

/// 401 for a missing or wrong key; the key itself is never echoed.
pub(crate) fn unauthorized(shared: &Shared) -> Response<Body> {
    let message = "Incorrect API key provided";
    json(
        shared,
        StatusCode::UNAUTHORIZED,
        body(
            message,
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
    )
}

/// 400 for a request body that is not what the endpoint expects.
pub(crate) fn invalid(shared: &Shared, invalid: &Invalid) -> Response<Body> {
    json(
        shared,
        StatusCode::BAD_REQUEST,
        body(
            &invalid.message,
            "invalid_request_error",
            invalid.param,
            invalid.code,
        ),
    )
}

/// 404 for a path the API does not have.
pub(crate) fn unknown_url(shared: &Shared, method: &str, path: &str) -> Response<Body> {
    let message = format!("Invalid URL ({method} {path})");
    json(
        shared,
        StatusCode::NOT_FOUND,
        body(&message, "invalid_request_error", None, Some("unknown_url")),
    )
}

/// 404 for an object this simulator does not have (never made, forgotten, or deleted).
pub(crate) fn not_found(
    shared: &Shared,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    json(
        shared,
        StatusCode::NOT_FOUND,
        body(message, "invalid_request_error", param, code),
    )
}

/// 404 `model_not_found`.
pub(crate) fn model_not_found(shared: &Shared, model: &str) -> Response<Body> {
    let message = format!("The model `{model}` does not exist or you do not have access to it.");
    json(
        shared,
        StatusCode::NOT_FOUND,
        body(
            &message,
            "invalid_request_error",
            None,
            Some("model_not_found"),
        ),
    )
}

/// The error answer injected by `error_rate` / `fail_next`.
pub(crate) fn injected(shared: &Shared, faults: &Faults) -> Response<Body> {
    let status =
        StatusCode::from_u16(faults.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (kind, code, message) = kind_of(status);
    json(shared, status, body(message, kind, None, code))
}

/// Adds the `Retry-After` and `x-should-retry` headers an injected error carries.
pub(crate) fn with_fault_headers(mut response: Response<Body>, faults: &Faults) -> Response<Body> {
    let headers = response.headers_mut();
    if let Some(secs) = faults.retry_after.filter(|s| s.is_finite() && *s >= 0.0) {
        // Whole seconds as HTTP says; fractions as written (what OpenAI's SDKs parse) plus
        // the exact `retry-after-ms` that OpenAI itself sends.
        let value = if secs.fract() == 0.0 {
            format!("{}", secs as u64)
        } else {
            format!("{secs}")
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert("retry-after", v);
        }
        if secs.fract() != 0.0 {
            let ms = (secs * 1000.0).round() as u64;
            headers.insert("retry-after-ms", HeaderValue::from(ms));
        }
    }
    if let Some(retry) = faults.should_retry {
        headers.insert(
            "x-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    response
}
