//! The HTTP transport: one pooled reqwest client (rustls, HTTP/1.1 and HTTP/2), bearer auth,
//! timeouts, and the mapping of transport failures and non-2xx answers to [`Error`].

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};

use crate::environment::{Environment, Side};
use crate::error::{Error, Result};
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
    headers: HeaderMap,
    pub timeout: Option<Duration>,
    /// `base_url + path` parsed, for each of [`PREPARSED_PATHS`] that parses.
    parsed: Vec<(&'static str, reqwest::Url)>,
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
        let base_url = env.base_url().to_string();
        let parsed = PREPARSED_PATHS
            .iter()
            .filter_map(|&path| {
                let url = reqwest::Url::parse(&format!("{base_url}{path}")).ok()?;
                Some((path, url))
            })
            .collect();
        Ok(Self {
            side,
            base_url,
            headers,
            timeout: env.timeout_override(),
            parsed,
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

    /// The request of one exchange: URL, the endpoint's headers, the body.
    fn request(
        &self,
        ep: &Endpoint,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> RequestBuilder {
        let mut req = match ep.parsed.iter().find(|(p, _)| *p == path) {
            Some((_, url)) => self.client.request(method, url.clone()),
            None => self.client.request(method, ep.url(path)),
        };
        // Header by header: cloning the whole map first would allocate it twice.
        for (name, value) in &ep.headers {
            req = req.header(name, value.clone());
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        req
    }

    /// Sends one exchange and reads the whole answer, all within `ex.timeout` (one timer for
    /// the exchange); anything but 2xx becomes [`Error::Status`] or a transport error.
    pub async fn fetch(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Bytes> {
        let (side, timeout) = (ep.side, ex.timeout);
        let req = self.request(ep, ex.method, ex.path, ex.body);
        let exchange = async {
            let resp = req
                .send()
                .await
                .map_err(|e| transport_error(side, &e, timeout))?;
            if !resp.status().is_success() {
                return Err(status_error(side, resp, timeout).await);
            }
            resp.bytes()
                .await
                .map_err(|e| transport_error(side, &e, timeout))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                environment: side,
                after: timeout,
            })?
    }

    /// Sends one exchange; a 2xx answer is returned with its body unread, anything else becomes
    /// [`Error::Status`] (body read) or a transport error.
    pub async fn send(&self, ep: &Endpoint, ex: Exchange<'_>) -> Result<Response> {
        let req = self.request(ep, ex.method, ex.path, ex.body);
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

/// Maps a reqwest failure to a connect, interrupted or timeout error, with the cause chain in the message.
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
