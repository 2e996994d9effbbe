//! The HTTP transport: one pooled reqwest client (rustls, HTTP/1.1 and HTTP/2), bearer auth,
//! timeouts, bounded bodies, and the mapping of transport failures and non-2xx answers to
//! [`Error`].
//!
//! Credentials never leave their side's origin: redirects are followed only within the origin
//! of the request (a redirect elsewhere comes back as the 3xx it is), and error messages
//! carry no URL (webhook and base URLs may hold secrets).

use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};

use crate::clock::SharedClock;
use crate::config::Bounds;
use crate::environment::{Environment, Side};
use crate::error::{Error, Result};
use crate::keys::{KeyPool, PooledKey};
use crate::resilience::retry_after;

/// Paths whose full URL each endpoint parses once, when it is built. Parsing a URL (with its
/// IDNA host processing) costs thousands of instructions, and these paths are sent again and
/// again; any other path is parsed per request.
const PREPARSED_PATHS: [&str; 5] = [
    "/chat/completions",
    "/embeddings",
    "/models",
    "/responses",
    "/completions",
];

/// A prepared environment: its URL, auth header and extra headers, built once.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub side: Side,
    pub base_url: String,
    /// The environment's query, encoded (`api-version=…`), appended to every URL.
    query: String,
    headers: HeaderMap,
    pub timeout: Option<Duration>,
    /// `base_url + path` parsed, for each of [`PREPARSED_PATHS`] that parses.
    parsed: Vec<(&'static str, reqwest::Url)>,
    /// The side's keys: one is picked per attempt.
    pub keys: KeyPool,
}

impl Endpoint {
    /// Prepares `env` as `side`; its keys become a pool of sensitive header values, rested
    /// and taken out by `clock`'s time.
    pub fn new(side: Side, env: &Environment, clock: SharedClock) -> Result<Self> {
        let mut headers = HeaderMap::new();
        for (name, value) in env.headers() {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::Config(format!(
                    "environments.{side}.headers: invalid header name {name:?}"
                ))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Error::Config(format!(
                    "environments.{side}.headers.{name}: invalid header value"
                ))
            })?;
            // Custom headers often carry credentials (`api-key`, `x-api-key`): never shown.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let keys = KeyPool::new(side, env.auth_style(), env.api_keys(), clock)?;
        if !keys.is_empty() {
            // The pool's key replaces any custom header of the same name, as one key did.
            headers.remove(keys.header());
        }
        let query = encode_query(env.query());
        let mut ep = Self {
            side,
            base_url: env.base_url().to_string(),
            query,
            headers,
            timeout: env.timeout_override(),
            parsed: Vec::new(),
            keys,
        };
        ep.parsed = PREPARSED_PATHS
            .iter()
            .filter_map(|&path| Some((path, reqwest::Url::parse(&ep.url(path)).ok()?)))
            .collect();
        Ok(ep)
    }

    /// The full URL of `path` (which starts with `/`, and may carry a query of its own) under
    /// this endpoint, with the environment's query after the request's.
    pub fn url(&self, path: &str) -> String {
        let mut url =
            String::with_capacity(self.base_url.len() + path.len() + self.query.len() + 1);
        url.push_str(&self.base_url);
        url.push_str(path);
        if !self.query.is_empty() {
            url.push(if path.contains('?') { '&' } else { '?' });
            url.push_str(&self.query);
        }
        url
    }
}

impl Endpoint {
    /// Tells the key pool how an attempt made with `key` ended (401/403 and 429 change the
    /// key's state).
    fn learn<T>(&self, key: Option<&PooledKey>, result: &Result<T>) {
        if let (Some(key), Err(e)) = (key, result) {
            self.keys.report(key, e);
        }
    }
}

/// `name=value&…`, form-encoded.
fn encode_query(query: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = reqwest::Url::parse("http://q/").map_or_else(
        |_| String::new(),
        |mut u| {
            u.query_pairs_mut().extend_pairs(query.iter());
            u.query().unwrap_or("").to_string()
        },
    );
    if query.is_empty() {
        out.clear();
    }
    out
}

/// One pooled HTTP client shared by both sides.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    bounds: Bounds,
}

/// Redirects followed within one origin at most.
const MAX_REDIRECTS: usize = 5;

/// What one HTTP exchange sends.
pub(crate) struct Exchange<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Bytes>,
    /// Time allowed until the response headers (streams) or the whole body (others).
    pub timeout: Duration,
    /// Sent as `Idempotency-Key` (made by [`idempotency_header`] when the call began).
    pub idempotency: Option<&'a HeaderValue>,
    /// A pass-through request's own headers (already stripped of credentials); the side's
    /// headers win over them.
    pub headers: Option<&'a HeaderMap>,
}

impl Transport {
    /// A client with the given connect timeout, reading bodies within `bounds`.
    pub fn new(connect_timeout: Duration, bounds: Bounds) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, bounds })
    }

    /// The request of one exchange: URL, the endpoint's headers, `key`, the body. Built in
    /// place rather than through reqwest's builder, which moves the whole request at each
    /// header. A path that makes no URL is the caller's mistake: [`Error::Config`], before
    /// anything is sent.
    fn request(
        &self,
        ep: &Endpoint,
        ex: Exchange<'_>,
        key: Option<&PooledKey>,
    ) -> Result<reqwest::Request> {
        let Exchange {
            method,
            path,
            body,
            timeout: _,
            idempotency,
            headers,
        } = ex;
        let url = match ep.parsed.iter().find(|(p, _)| *p == path) {
            Some((_, url)) => url.clone(),
            None => reqwest::Url::parse(&ep.url(path)).map_err(|e| {
                // The path without its query, which may carry a credential.
                let path = path.split('?').next().unwrap_or_default();
                Error::Config(format!("the path {path:?} makes no valid URL: {e}"))
            })?,
        };
        // hyper frames an empty body with no length header at all; httpx and fetch send
        // `Content-Length: 0` for a POST, PUT or PATCH without one, and strict front ends
        // answer 411 when it is missing.
        let says_empty = matches!(method, Method::POST | Method::PUT | Method::PATCH)
            && body.as_ref().is_none_or(Bytes::is_empty);
        let mut req = reqwest::Request::new(method, url);
        let out = req.headers_mut();
        let mut typed = false;
        for (name, value) in headers.into_iter().flatten() {
            if !ep.headers.contains_key(name) {
                typed |= name == CONTENT_TYPE;
                out.append(name, value.clone());
            }
        }
        for (name, value) in &ep.headers {
            out.append(name, value.clone());
        }
        if let Some(key) = key {
            out.append(ep.keys.header(), key.value().clone());
        }
        if let Some(key) = idempotency {
            out.append("idempotency-key", key.clone());
        }
        if let Some(body) = body {
            // A pass-through request (it has headers of its own) goes with the type it had.
            if !typed && headers.is_none() {
                out.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            *req.body_mut() = Some(body.into());
        }
        if says_empty {
            req.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        Ok(req)
    }

    /// Sends one exchange and reads the whole answer, all within `ex.timeout` (one timer for
    /// the exchange); anything but 2xx becomes [`Error::Status`] or a transport error.
    pub async fn fetch(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Bytes> {
        let key = ep.keys.pick();
        let (side, timeout) = (ep.side, ex.timeout);
        let result = within(side, timeout, self.fetch_with(ep, ex, key.as_deref()))
            .await
            .and_then(|r| r);
        ep.learn(key.as_deref(), &result);
        result
    }

    /// [`Transport::fetch`] without its timer. A plain function: the request is built (and
    /// handed to reqwest) before the future, which holds reqwest's future and then the answer,
    /// not what they were made from.
    fn fetch_with(
        &self,
        ep: &Endpoint,
        ex: Exchange<'_>,
        key: Option<&PooledKey>,
    ) -> impl Future<Output = Result<Bytes>> + '_ {
        let (side, timeout) = (ep.side, ex.timeout);
        let pending = self
            .request(ep, ex, key)
            .map(|req| self.client.execute(req));
        async move {
            let resp = pending?
                .await
                .map_err(|e| transport_error(side, &e, timeout))?;
            self.answer_of(side, resp, timeout).await
        }
    }

    /// A 2xx answer's body (within `bounds.response_body_bytes`), or any other answer as its
    /// error. A plain function, so that the answer is held once, by the future that reads it;
    /// an error's reading is boxed.
    fn answer_of(
        &self,
        side: Side,
        resp: Response,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes>> + '_ {
        if resp.status().is_success() {
            Either::Left(self.body_of(side, resp, timeout))
        } else {
            Either::Right(Box::pin(self.read_error(side, resp, timeout)).map(|(e, _)| Err(e)))
        }
    }

    /// Sends one exchange; a 2xx answer is returned with its body unread, anything else becomes
    /// [`Error::Status`] (body read) or a transport error.
    pub async fn send(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Response> {
        let key = ep.keys.pick();
        let result = self.send_with(ep, ex, key.as_deref()).await;
        ep.learn(key.as_deref(), &result);
        result
    }

    async fn send_with(
        &self,
        ep: &Endpoint,
        ex: Exchange<'_>,
        key: Option<&PooledKey>,
    ) -> Result<Response> {
        let timeout = ex.timeout;
        let resp = within(
            ep.side,
            timeout,
            self.client.execute(self.request(ep, ex, key)?),
        )
        .await?
        .map_err(|e| transport_error(ep.side, &e, timeout))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.read_error(ep.side, resp, timeout).await.0)
    }

    /// Sends one exchange and returns whatever HTTP answer arrives, its body unread; only
    /// failures without an answer are errors.
    pub async fn send_any(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Response> {
        let timeout = ex.timeout;
        let key = ep.keys.pick();
        let req = self.request(ep, ex, key.as_deref())?;
        let result = within(ep.side, timeout, self.client.execute(req))
            .await
            .and_then(|r| r.map_err(|e| transport_error(ep.side, &e, timeout)));
        // The key pool learns from an answer's status and `Retry-After` (failures without an
        // answer say nothing about a key); the body is left for the caller.
        if let Ok(resp) = &result
            && !resp.status().is_success()
        {
            let error = error_of(ep.side, resp.status().as_u16(), resp.headers(), b"");
            ep.learn(key.as_deref(), &Err::<(), _>(error));
        }
        result
    }

    /// Reads a non-2xx answer: its status, headers and body (within
    /// `bounds.error_body_bytes`, truncated past it), and the [`Error::Status`] it stands for.
    pub async fn read_error(
        &self,
        side: Side,
        resp: Response,
        timeout: Duration,
    ) -> (Error, Option<(u16, HeaderMap, Bytes)>) {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let read = read_bounded(
            side,
            resp,
            timeout,
            self.bounds.error_body_bytes,
            Overflow::Truncate,
        );
        match within(side, timeout, read).await {
            Ok(Ok(body)) => (
                error_of(side, status, &headers, &body),
                Some((status, headers, body)),
            ),
            Ok(Err(e)) | Err(e) => (e, None),
        }
    }

    /// Reads a whole body within `timeout` and `bounds.response_body_bytes`.
    pub async fn read_body(&self, side: Side, resp: Response, timeout: Duration) -> Result<Bytes> {
        within(side, timeout, self.body_of(side, resp, timeout)).await?
    }

    /// A 2xx answer's body, within `bounds.response_body_bytes`.
    fn body_of(
        &self,
        side: Side,
        resp: Response,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes>> + use<> {
        let max = self.bounds.response_body_bytes;
        read_bounded(side, resp, timeout, max, Overflow::Fail)
    }
}

/// An idempotency key as the header that carries it; one that is no header value (a line
/// break, a non-ASCII character) is refused.
pub(crate) fn idempotency_header(key: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(key).map_err(|_| {
        Error::Config(
            "the idempotency key is not a valid HTTP header value (visible ASCII only)".into(),
        )
    })
}

/// `fut`'s output, or a timeout of `side` once `timeout` has passed. A plain function, not an
/// `async fn`: an `async fn` would hold `fut` twice (as its argument and inside the timer).
fn within<T>(
    side: Side,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> impl Future<Output = Result<T>> {
    tokio::time::timeout(timeout, fut).map(move |r| {
        r.map_err(|_| Error::Timeout {
            environment: side,
            after: timeout,
        })
    })
}

/// What reading past a body's bound does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// The attempt fails (an answer cut short is no answer).
    Fail,
    /// The rest is dropped (an error body is kept for its first bytes only).
    Truncate,
}

/// Reads `resp`'s body, chunk by chunk, up to `max` bytes.
async fn read_bounded(
    side: Side,
    mut resp: Response,
    timeout: Duration,
    max: u64,
    overflow: Overflow,
) -> Result<Bytes> {
    let too_large = || Error::Decode {
        environment: side,
        message: format!("the answer is larger than bounds.response_body_bytes ({max} bytes)"),
        excerpt: String::new(),
    };
    if overflow == Overflow::Fail && resp.content_length().is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut body = Collected::default();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport_error(side, &e, timeout))?
    {
        let room = usize::try_from(max.saturating_sub(body.len() as u64)).unwrap_or(usize::MAX);
        if chunk.len() > room {
            if overflow == Overflow::Fail {
                return Err(too_large());
            }
            body.push(chunk.slice(..room));
            break;
        }
        body.push(chunk);
    }
    Ok(body.finish())
}

/// A body read chunk by chunk: a body that came as one chunk is kept as it came, without a
/// copy (the usual case for a JSON answer); more chunks are copied together.
#[derive(Debug, Default)]
struct Collected {
    first: Bytes,
    rest: Option<bytes::BytesMut>,
}

impl Collected {
    fn len(&self) -> usize {
        self.rest
            .as_ref()
            .map_or(self.first.len(), bytes::BytesMut::len)
    }

    fn push(&mut self, chunk: Bytes) {
        match &mut self.rest {
            Some(rest) => rest.extend_from_slice(&chunk),
            None if self.first.is_empty() => self.first = chunk,
            None => {
                let mut rest = bytes::BytesMut::with_capacity(self.first.len() + chunk.len());
                rest.extend_from_slice(&self.first);
                rest.extend_from_slice(&chunk);
                self.rest = Some(rest);
            }
        }
    }

    fn finish(self) -> Bytes {
        match self.rest {
            Some(rest) => rest.freeze(),
            None => self.first,
        }
    }
}

/// Follows a redirect only within the origin (scheme, host, port) of the request, so that a
/// side's key — in `Authorization`, `api-key` or any custom header — never reaches another
/// origin. A redirect elsewhere is not followed: its 3xx answer is the attempt's outcome.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin || attempt.previous().len() > MAX_REDIRECTS {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Maps a reqwest failure to a connect, interrupted or timeout error, with the cause chain in
/// the message and no URL in it (URLs may hold secrets; the side names where it happened).
pub(crate) fn transport_error(side: Side, e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            environment: side,
            after: timeout,
        };
    }
    let message = error_chain(e);
    if e.is_body() || e.is_decode() {
        // Headers had arrived: the connection worked, the answer was cut.
        return Error::Interrupted {
            environment: side,
            message,
        };
    }
    Error::Connect {
        environment: side,
        message,
        request_sent: !e.is_connect(),
    }
}

/// A reqwest error and its causes, as one line without the URL.
pub(crate) fn error_chain(e: &reqwest::Error) -> String {
    let mut message = without_url(e);
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// The text of a reqwest error without its URL.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        let url = url.as_str();
        // reqwest writes ` for url (URL)` into its messages.
        text = text.replace(&format!(" for url ({url})"), "");
        text = text.replace(url, "<url>");
    }
    text
}

/// The [`Error::Status`] of a non-2xx answer: its body, `Retry-After` and `x-should-retry`.
fn error_of(side: Side, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let should_retry = headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| match v {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    Error::Status {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
        environment: side,
        retry_after: retry_after::parse(headers),
        should_retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chunk_is_kept_without_a_copy() {
        let chunk = Bytes::from_static(b"{\"id\":1}");
        let mut body = Collected::default();
        body.push(chunk.clone());
        assert_eq!(body.len(), chunk.len());
        let out = body.finish();
        assert_eq!(out.as_ptr(), chunk.as_ptr(), "the same bytes, not a copy");
    }

    #[test]
    fn chunks_are_joined_in_order() {
        let mut body = Collected::default();
        for part in ["", "{\"a\"", "", ":1", ",\"b\":2}"] {
            body.push(Bytes::from(part));
        }
        assert_eq!(body.len(), 13);
        assert_eq!(body.finish(), Bytes::from_static(b"{\"a\":1,\"b\":2}"));
        assert!(Collected::default().finish().is_empty());
    }
}
