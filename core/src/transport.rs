//! The HTTP transport: one pooled reqwest client (rustls, HTTP/1.1 and HTTP/2), bearer auth,
//! timeouts, and the mapping of transport failures and non-2xx answers to [`Error`].

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};

use crate::environment::{Environment, Side};
use crate::error::{Error, Result};
use crate::resilience::retry_after;

/// A prepared environment: its URL, auth header and extra headers, built once.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub side: Side,
    pub base_url: String,
    headers: HeaderMap,
    pub timeout: Option<Duration>,
}

impl Endpoint {
    /// Prepares `env` as `side`; the key becomes a sensitive header value.
    pub fn new(side: Side, env: &Environment) -> Result<Self> {
        let mut headers = HeaderMap::new();
        for (name, value) in env.headers() {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::Config(format!(
                    "environments.{side}.headers: invalid header name {name:?}"
                ))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::Config(format!(
                    "environments.{side}.headers.{name}: invalid header value"
                ))
            })?;
            headers.insert(name, value);
        }
        if !env.api_key().is_empty() {
            let mut auth = HeaderValue::from_str(&format!("Bearer {}", env.api_key().expose()))
                .map_err(|_| {
                    Error::Config(format!(
                        "environments.{side}.api_key contains characters not allowed in a header"
                    ))
                })?;
            auth.set_sensitive(true);
            headers.insert(AUTHORIZATION, auth);
        }
        Ok(Self {
            side,
            base_url: env.base_url().to_string(),
            headers,
            timeout: env.timeout_override(),
        })
    }

    /// The full URL of `path` (which starts with `/`) under this endpoint.
    pub fn url(&self, path: &str) -> String {
        let mut url = String::with_capacity(self.base_url.len() + path.len());
        url.push_str(&self.base_url);
        url.push_str(path);
        url
    }
}

/// One pooled HTTP client shared by both sides.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
}

/// What one HTTP exchange sends.
pub(crate) struct Exchange<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Bytes>,
    /// Time allowed until the response headers (streams) or the whole body (others).
    pub timeout: Duration,
}

impl Transport {
    /// A client with the given connect timeout.
    pub fn new(connect_timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// Sends one exchange; a 2xx answer is returned with its body unread, anything else becomes
    /// [`Error::Status`] (body read) or a transport error.
    pub async fn send(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Response> {
        let mut req = self
            .client
            .request(ex.method, ep.url(ex.path))
            .headers(ep.headers.clone());
        if let Some(body) = ex.body {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let resp = tokio::time::timeout(ex.timeout, req.send())
            .await
            .map_err(|_| Error::Timeout {
                environment: ep.side,
                after: ex.timeout,
            })?
            .map_err(|e| transport_error(ep.side, &e, ex.timeout))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(ep.side, resp, ex.timeout).await)
    }

    /// Reads a whole body within `timeout`.
    pub async fn read_body(side: Side, resp: Response, timeout: Duration) -> Result<Bytes> {
        tokio::time::timeout(timeout, resp.bytes())
            .await
            .map_err(|_| Error::Timeout {
                environment: side,
                after: timeout,
            })?
            .map_err(|e| transport_error(side, &e, timeout))
    }
}

/// Maps a reqwest failure to a connect or timeout error, with the cause chain in the message.
pub(crate) fn transport_error(side: Side, e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            environment: side,
            after: timeout,
        };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Error::Connect {
        environment: side,
        message,
    }
}

async fn status_error(side: Side, resp: Response, timeout: Duration) -> Error {
    let status = resp.status().as_u16();
    let retry_after = retry_after::parse(resp.headers());
    let should_retry = resp
        .headers()
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| match v {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    let body = match Transport::read_body(side, resp, timeout).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return e,
    };
    Error::Status {
        status,
        body,
        environment: side,
        retry_after,
        should_retry,
    }
}
