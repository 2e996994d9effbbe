//! Pass-through requests and answers (SEMANTICS.md, *Under the official SDKs*): any method,
//! path, headers and body go to the side turnout picks, and its answer comes back as it was
//! sent. This is what the official SDKs' transports (`HttpxTransport`, `client.fetch`) build on.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::attempt::{Call, Encoded};
use super::deadline::AnswerBy;
use super::options::RequestOptions;
use super::route::RouteInfo;
use crate::environment::Side;
use crate::error::{Error, Result};

/// Routing options a caller sets per request through headers (e.g. the SDK's `extra_headers`).
pub const ROUTING_KEY_HEADER: &str = "x-turnout-routing-key";
/// Pins the request to `blue` or `green`.
pub const ENVIRONMENT_HEADER: &str = "x-turnout-environment";
/// Metadata for rules and the cost tag, as a JSON object of strings.
pub const METADATA_HEADER: &str = "x-turnout-metadata";
/// An official SDK's own timeout for the request, in seconds (openai-node sends it, in whole
/// seconds, truncated, only for a request given a timeout of its own); read by
/// [`RawRequest::answer_within_sdk_timeout`].
const SDK_TIMEOUT_HEADER: &str = "x-stainless-timeout";

/// Request headers that are never forwarded: the caller's credentials (the side's replace
/// them), what the HTTP client sets itself, hop-by-hop headers, and turnout's own.
const DROPPED: [&str; 15] = [
    "authorization",
    "api-key",
    "x-api-key",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
    // turnout reads JSON answers (usage, ids): they must come uncompressed.
    "accept-encoding",
    "idempotency-key",
];

/// Answer headers not handed back: the body is re-framed by the caller's HTTP stack.
const DROPPED_ANSWER: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// One request to pass through: the path under the base URL (query included), the caller's
/// headers and body bytes, and routing options.
///
/// ```
/// use turnout::{Method, RawRequest};
/// let req = RawRequest::new(Method::POST, "/audio/speech")
///     .header("content-type", "application/json")?
///     .header("x-turnout-routing-key", "user-42")?
///     .body(r#"{"model":"tts-1","input":"hi","voice":"alloy"}"#);
/// assert_eq!(req.options()?.routing_key.as_deref(), Some("user-42"));
/// # Ok::<(), turnout::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    options: RequestOptions,
    timeout_cap: Option<Duration>,
    answer_within: Option<Duration>,
}

impl RawRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            options: RequestOptions::default(),
            timeout_cap: None,
            answer_within: None,
        }
    }

    /// Adds a header; a name or value HTTP does not allow is a [`Error::Config`].
    pub fn header(self, name: &str, value: &str) -> Result<Self> {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header whose value is given as the bytes to send (a caller whose values are not
    /// UTF-8 text, e.g. WHATWG fetch's Latin-1 ByteStrings); otherwise as [`RawRequest::header`].
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Result<Self> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// Replaces the headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body, sent as it is.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets routing options beside those the `x-turnout-*` headers carry (these win).
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// Bounds every attempt's timeout by the caller's own (an official SDK's, as its HTTP
    /// client passes it): each attempt gets the smaller of `cap` and the timeout it would have
    /// had, so a timed-out attempt is retried or failed over within the caller's patience,
    /// and a timeout configured shorter still wins. [`RequestOptions::timeout`], in contrast,
    /// replaces the configured timeout.
    pub fn timeout_at_most(mut self, cap: Duration) -> Self {
        self.timeout_cap = Some(cap);
        self
    }

    /// Says that the caller gives up on this request `limit` after it is sent (from the
    /// call to [`crate::Client::send_raw`]) and then retries it itself, as an official SDK
    /// does when its own timeout aborts a request. turnout then hands over an answer before:
    /// every attempt, backoff, `Retry-After` sleep and limiter wait fits within `limit` less
    /// a margin (a tenth of `limit`, at most 250 ms), each attempt's timeout shortened to the
    /// time left, so a side that hangs times out there and then, and a configured timeout
    /// shorter than `limit` leaves time to retry or fail over. When that time is up without
    /// an answer the call fails with [`Error::Timeout`], which
    /// [`RawResponse::from_error`] makes a 504 with `x-should-retry: false`: the caller
    /// raises at once instead of aborting, and its retries do not come on top of turnout's.
    ///
    /// It bounds the call until the answer is handed over, not after: a committed stream
    /// (an event stream, audio) runs to its end, bounded by turnout's own timeouts and
    /// `deadline` only, as an SDK's timeout stops once its `fetch` has resolved. An attempt
    /// cut short by it is the caller's, not counted against the side, as the deadline's are.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnout::{Method, RawRequest};
    /// // The SDK's `timeout: 5000`: the answer comes within 4.75 s, a 504 at worst.
    /// let req = RawRequest::new(Method::GET, "/models").answer_within(Duration::from_secs(5));
    /// ```
    pub fn answer_within(mut self, limit: Duration) -> Self {
        self.answer_within = Some(limit);
        self
    }

    /// [`RawRequest::answer_within`] an official SDK's own timeout for this request, less
    /// `elapsed`, the time the caller has spent on it since the SDK's timer started (reading
    /// its body, say). The SDK's timeout is its `X-Stainless-Timeout` header when there is
    /// one, else `timeout`, the SDK client's timeout as the caller knows it: openai-node sends
    /// the header only for a request given a `timeout` of its own, in whole seconds
    /// (truncated: a shorter bound than the SDK's, never a longer one). A header of `0` (a
    /// timeout under a second) or one that is not a number of seconds says the SDK's timeout
    /// is not known: the request is left as it is, as it is without either.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnout::{Method, RawRequest};
    /// let req = RawRequest::new(Method::POST, "/chat/completions")
    ///     .header("X-Stainless-Timeout", "5")?
    ///     .answer_within_sdk_timeout(Some(Duration::from_secs(600)), Duration::from_millis(20));
    /// assert_eq!(req.sdk_timeout(), Some(Duration::from_secs(5)));
    /// # Ok::<(), turnout::Error>(())
    /// ```
    pub fn answer_within_sdk_timeout(self, timeout: Option<Duration>, elapsed: Duration) -> Self {
        let limit = match self.headers.get(SDK_TIMEOUT_HEADER) {
            Some(_) => self.sdk_timeout(),
            None => timeout,
        };
        match limit {
            Some(limit) => self.answer_within(limit.saturating_sub(elapsed)),
            None => self,
        }
    }

    /// The timeout of the `X-Stainless-Timeout` header, when it is a positive number of
    /// seconds.
    pub fn sdk_timeout(&self) -> Option<Duration> {
        let text = self.headers.get(SDK_TIMEOUT_HEADER)?.to_str().ok()?;
        let seconds = text.trim().parse::<f64>().ok()?;
        Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero())
    }

    /// The routing options: those set with [`RawRequest::with_options`], overridden by the
    /// `x-turnout-*` headers, and the `Idempotency-Key` header. A header turnout cannot read
    /// (an unknown environment, metadata that is not a JSON object) is a [`Error::Config`].
    pub fn options(&self) -> Result<RequestOptions> {
        let mut options = self.options.clone();
        let text = |name: &str| -> Result<Option<String>> {
            match self.headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.to_string()))
                    .map_err(|_| Error::Config(format!("{name} must be ASCII text"))),
            }
        };
        if let Some(key) = text(ROUTING_KEY_HEADER)? {
            options.routing_key = Some(key);
        }
        if let Some(env) = text(ENVIRONMENT_HEADER)? {
            options.environment = Some(env.trim().parse::<Side>().map_err(|_| {
                Error::Config(format!(
                    "{ENVIRONMENT_HEADER} must be \"blue\" or \"green\", not {env:?}"
                ))
            })?);
        }
        if let Some(meta) = text(METADATA_HEADER)? {
            options.metadata = Some(parse_metadata(&meta)?);
        }
        if let Some(key) = text("idempotency-key")? {
            options.idempotency_key = Some(key);
        }
        Ok(options)
    }

    /// The call the engine runs: headers to forward, and the body as bytes (parsed too when
    /// it is JSON, for the fields routing reads: `model`, `user`, object ids).
    pub(crate) fn into_call(self) -> Result<Call> {
        let options = self.options()?;
        let forwarded = forwardable(&self.headers);
        let json = is_json(&self.headers, &self.body)
            .then(|| serde_json::from_slice::<Value>(&self.body).ok())
            .flatten();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let encoded = Encoded {
            model: field("model"),
            user: field("user"),
            bytes: self.body,
        };
        let mut call = Call::encoded(self.method, &self.path, encoded, options);
        call.body = json;
        call.headers = Some(forwarded);
        call.timeout_cap = self.timeout_cap;
        call.answer_by = self.answer_within.map(AnswerBy::from_now);
        Ok(call)
    }
}

/// `x-turnout-metadata`: a JSON object whose values are strings (numbers and booleans are
/// written as text; `null` drops the key).
fn parse_metadata(text: &str) -> Result<BTreeMap<String, String>> {
    let bad = || {
        Error::Config(format!(
            "{METADATA_HEADER} must be a JSON object of strings"
        ))
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err(bad());
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let v = match v {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) | Value::Object(_) => return Err(bad()),
        };
        out.insert(k, v);
    }
    Ok(out)
}

/// The caller's headers that go upstream.
fn forwardable(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if DROPPED.contains(&n) || n.starts_with("x-turnout-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Whether a body is JSON: said by its content type, or, with none, an object or array.
fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) => is_json_type(ct),
        None => matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        ),
    }
}

/// Whether a content type is JSON (`application/json`, `…+json`).
pub(crate) fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// An answer, as the side sent it, plus the `x-turnout-*` headers; or a synthetic answer
/// standing for a failure that had no HTTP answer ([`RawResponse::from_error`]).
#[derive(Debug)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The side's headers (framing headers removed), `x-turnout-environment`,
    /// `x-turnout-attempts` (and `x-turnout-model`, `x-turnout-label` when known), and
    /// `x-should-retry: false` on an answer turnout gave up on.
    pub headers: HeaderMap,
    /// The body.
    pub body: RawBody,
    /// How it was routed; `None` for a synthetic answer.
    pub route: Option<RouteInfo>,
}

/// The body of a [`RawResponse`].
pub enum RawBody {
    /// The whole body, read.
    Full(Bytes),
    /// A committed answer passed on as it arrives: an event stream (from its first event),
    /// or a body other than JSON (audio, a file's contents). An error ends it (nothing is
    /// retried once the first bytes have reached the caller).
    Stream(RawStream),
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// The bytes of a committed stream; dropping it cancels the upstream request.
pub struct RawStream {
    pub(crate) inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl Stream for RawStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl RawResponse {
    /// The answer as the side sent it, with the route's headers.
    pub(crate) fn answered(
        status: u16,
        side_headers: &HeaderMap,
        body: RawBody,
        route: RouteInfo,
        gave_up: bool,
    ) -> Self {
        let mut headers = HeaderMap::with_capacity(side_headers.len() + 5);
        for (name, value) in side_headers {
            if !DROPPED_ANSWER.contains(&name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        }
        insert_route_headers(&mut headers, &route);
        if gave_up {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        Self {
            status,
            headers,
            body,
            route: Some(route),
        }
    }

    /// The answer that stands for a failure with no HTTP answer, so that an SDK raises at once
    /// instead of retrying on top of turnout: 504 for timeouts, 503 when no side is available
    /// or a client-side limit refused, 502 for connection failures and undecodable answers,
    /// 400 for a request turnout cannot route, an upstream status as itself. The body is an
    /// OpenAI-style error object; `x-should-retry: false` is always set.
    ///
    /// ```
    /// use turnout::{Error, RawResponse};
    /// let answer = RawResponse::from_error(&Error::NoHealthyEnvironment("both circuits are open".into()));
    /// assert_eq!(answer.status, 503);
    /// assert_eq!(answer.headers["x-should-retry"], "false");
    /// ```
    pub fn from_error(error: &Error) -> Self {
        let (status, kind, code) = match error {
            Error::Status { status, .. } => (*status, "api_error", "upstream_error"),
            Error::Timeout { .. } => (504, "api_error", "timeout"),
            Error::NoHealthyEnvironment(_) => (503, "api_error", "no_healthy_environment"),
            Error::RateLimited(_) => (503, "api_error", "client_rate_limited"),
            Error::Closed => (503, "api_error", "client_closed"),
            Error::Config(_) => (400, "invalid_request_error", "turnout_invalid_request"),
            _ => (502, "api_error", "upstream_unreachable"),
        };
        let body = match error {
            // The side's own error body, as it sent it.
            Error::Status { body, .. } => Bytes::from(body.clone()),
            _ => Bytes::from(
                serde_json::json!({
                    "error": {
                        "message": format!("turnout: {error}"),
                        "type": kind,
                        "param": null,
                        "code": code,
                    }
                })
                .to_string(),
            ),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-should-retry", HeaderValue::from_static("false"));
        if let Some(side) = error.environment() {
            headers.insert(ENVIRONMENT_HEADER, HeaderValue::from_static(side.as_str()));
        }
        Self {
            status,
            headers,
            body: RawBody::Full(body),
            route: None,
        }
    }
}

/// Adds `x-turnout-environment`, `x-turnout-attempts`, and the model and label when known
/// (non-ASCII percent-encoded, as header values must be).
fn insert_route_headers(headers: &mut HeaderMap, route: &RouteInfo) {
    headers.insert(
        ENVIRONMENT_HEADER,
        HeaderValue::from_static(route.environment.as_str()),
    );
    headers.insert("x-turnout-attempts", HeaderValue::from(route.attempts));
    let texts = [
        ("x-turnout-model", route.model.as_deref()),
        ("x-turnout-label", route.label.as_deref()),
    ];
    for (name, text) in texts {
        if let Some(text) = text
            && let Ok(value) = HeaderValue::from_str(&header_safe(text))
        {
            headers.insert(name, value);
        }
    }
}

/// Printable ASCII as it is; anything else percent-encoded.
fn header_safe(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_framing_and_routing_headers_stay_behind() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("authorization", "Bearer sk-caller"),
            ("api-key", "k"),
            ("x-api-key", "k"),
            ("content-length", "3"),
            ("accept-encoding", "gzip"),
            ("x-turnout-routing-key", "u"),
            ("openai-beta", "assistants=v2"),
            ("x-trace-id", "t-1"),
            ("content-type", "multipart/form-data; boundary=x"),
        ] {
            h.append(n, HeaderValue::from_static(v));
        }
        let out = forwardable(&h);
        let names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["openai-beta", "x-trace-id", "content-type"]);
    }

    #[test]
    fn routing_headers_are_read_and_bad_ones_refused() {
        let req = RawRequest::new(Method::POST, "/files")
            .header(ENVIRONMENT_HEADER, "green")
            .and_then(|r| r.header(METADATA_HEADER, r#"{"tier":"gold","n":3,"gone":null}"#))
            .and_then(|r| r.header("Idempotency-Key", "k-1"));
        let opts = req.and_then(|r| r.options());
        let opts = opts.as_ref().ok();
        assert_eq!(opts.and_then(|o| o.environment), Some(Side::Green));
        assert_eq!(
            opts.and_then(|o| o.metadata.as_ref()).map(|m| m.len()),
            Some(2)
        );
        assert_eq!(opts.and_then(|o| o.idempotency_key.as_deref()), Some("k-1"));
        let purple = RawRequest::new(Method::GET, "/models")
            .header(ENVIRONMENT_HEADER, "purple")
            .and_then(|r| r.options());
        assert!(matches!(purple, Err(Error::Config(m)) if m.contains("purple")));
        let meta = RawRequest::new(Method::GET, "/models")
            .header(METADATA_HEADER, "[1]")
            .and_then(|r| r.options());
        assert!(matches!(meta, Err(Error::Config(_))));
    }

    #[test]
    fn failures_without_an_answer_become_final_answers() {
        let cases = [
            (
                Error::Timeout {
                    environment: Side::Blue,
                    after: std::time::Duration::from_secs(1),
                },
                504,
            ),
            (Error::NoHealthyEnvironment("x".into()), 503),
            (
                Error::Connect {
                    environment: Side::Green,
                    message: "refused".into(),
                    request_sent: false,
                },
                502,
            ),
            (Error::Config("bad header".into()), 400),
        ];
        for (error, status) in cases {
            let answer = RawResponse::from_error(&error);
            assert_eq!(answer.status, status, "{error}");
            assert_eq!(answer.headers["x-should-retry"], "false");
            let RawBody::Full(body) = answer.body else {
                panic!("a synthetic answer has a whole body");
            };
            let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
            assert!(parsed["error"]["message"].as_str().is_some(), "{error}");
        }
    }

    #[test]
    fn the_sdk_timeout_is_its_header_else_the_one_given_less_the_time_spent() {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let within = |header: Option<&str>, given: Option<Duration>| {
            let mut req = RawRequest::new(Method::GET, "/models");
            if let Some(value) = header {
                req = req.header("X-Stainless-Timeout", value).ok()?;
            }
            req.answer_within_sdk_timeout(given, ms(30)).answer_within
        };
        // A request's own timeout (the header, whole seconds) wins over the client's.
        assert_eq!(within(Some("2"), Some(secs(600))), Some(ms(1970)));
        assert_eq!(within(None, Some(ms(1500))), Some(ms(1470)));
        assert_eq!(within(None, None), None);
        // Under a second, unknown: neither a 0 nor the client's longer timeout.
        assert_eq!(within(Some("0"), Some(secs(600))), None);
        assert_eq!(within(Some("soon"), Some(secs(600))), None);
        assert_eq!(within(None, Some(ms(10))), Some(Duration::ZERO));
    }

    #[test]
    fn json_bodies_are_told_from_others() {
        let mut h = HeaderMap::new();
        assert!(is_json(&h, b" {\"a\":1}"));
        assert!(!is_json(&h, b"\x00\x01"));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_json(&h, b"{}"));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=b"),
        );
        assert!(!is_json(&h, b"{}"));
        assert!(is_json_type("application/problem+json"));
    }

    #[test]
    fn non_ascii_labels_are_percent_encoded() {
        assert_eq!(header_safe("v2"), "v2");
        assert_eq!(header_safe("grün"), "gr%C3%BCn");
    }
}
