//! The log of recent requests (`GET /_sim/requests`): what reached the simulator, header by
//! header, so that tests can check what a client really sent.

use std::collections::{BTreeMap, VecDeque};

use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Method};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::auth::CREDENTIAL_HEADERS;
use crate::stats::fingerprint;

/// Requests kept; older ones are forgotten first.
pub(crate) const KEPT: usize = 256;

/// One request as the simulator received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRequest {
    /// The HTTP method.
    pub method: String,
    /// The path with its query, as sent (`/v1/files?purpose=batch`).
    pub path: String,
    /// Every header by lower-case name (repeated headers joined with `", "`); credential
    /// headers show only their last 4 characters (`Bearer ***abcd`, `***abcd`).
    pub headers: BTreeMap<String, String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Bytes in the request body.
    pub body_length: usize,
    /// The answer's status; `None` when the connection was dropped without one.
    pub status: Option<u16>,
}

impl SimRequest {
    /// Shows a logged request, its credentials masked.
    pub(crate) fn new(
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body_length: usize,
        status: Option<u16>,
    ) -> SimRequest {
        let mut shown: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            let text = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                mask(&text)
            } else {
                text.into_owned()
            };
            shown
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&text);
                })
                .or_insert(text);
        }
        SimRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            content_type: headers
                .get(CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            headers: shown,
            body_length,
            status,
        }
    }
}

/// `Bearer ***abcd` for a scheme and a credential, `***abcd` for a bare key.
fn mask(value: &str) -> String {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, key)) => format!("{scheme} ***{}", fingerprint(key.trim())),
        None => format!("***{}", fingerprint(value)),
    }
}

/// A request as logged: cheap to keep (the header map shares its bytes with the request),
/// shown as a [`SimRequest`] only when asked for, which keeps the benchmark hot path light.
pub(crate) struct Logged {
    pub method: Method,
    pub target: String,
    pub headers: HeaderMap,
    pub body_length: usize,
    pub status: Option<u16>,
}

/// The last [`KEPT`] requests.
#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<Logged>>,
}

impl RequestLog {
    pub(crate) fn push(&self, request: Logged) {
        let mut entries = self.entries.lock();
        if entries.len() == KEPT {
            entries.pop_front();
        }
        entries.push_back(request);
    }

    /// The requests kept, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<SimRequest> {
        self.entries
            .lock()
            .iter()
            .map(|r| {
                SimRequest::new(
                    r.method.as_str(),
                    &r.target,
                    &r.headers,
                    r.body_length,
                    r.status,
                )
            })
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn credentials_are_masked_and_repeats_joined() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-secret-9876"),
        );
        headers.insert("x-api-key", HeaderValue::from_static("sk-ant-1234"));
        headers.append("x-trace", HeaderValue::from_static("a"));
        headers.append("x-trace", HeaderValue::from_static("b"));
        let r = SimRequest::new("POST", "/v1/x?q=1", &headers, 3, Some(200));
        assert_eq!(r.headers["authorization"], "Bearer ***9876");
        assert_eq!(r.headers["x-api-key"], "***1234");
        assert_eq!(r.headers["x-trace"], "a, b");
        assert!(!format!("{r:?}").contains("secret"));
    }

    #[test]
    fn keeps_the_last_entries() {
        let log = RequestLog::default();
        for i in 0..KEPT + 5 {
            log.push(Logged {
                method: Method::GET,
                target: format!("/v1/{i}"),
                headers: HeaderMap::new(),
                body_length: 0,
                status: None,
            });
        }
        let kept = log.snapshot();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].path, "/v1/5");
        log.clear();
        assert!(log.snapshot().is_empty());
    }
}
