//! A tiny HTTP client for the tests: hyper-util's, keeping partial bodies on errors.

#![allow(dead_code)]

use std::time::Duration;

// tokio's clock: virtual in the tests that pause time, so timings are exact there.
use tokio::time::Instant;

use axum::body::Body;
use futures_util::StreamExt;
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// One answer as received.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body ended with an error (connection cut mid-body).
    pub body_error: bool,
    /// Time until the response head arrived.
    pub head_after: Duration,
    /// Time until the body was complete (or failed).
    pub done_after: Duration,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `data:` payloads of an event stream, in order.
    pub fn events(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }
}

pub struct Http {
    client: Client<HttpConnector, String>,
}

impl Http {
    pub fn new() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn http2() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Result<Answer, hyper_util::client::legacy::Error> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.unwrap_or_default().to_owned())
            .expect("request");
        let start = Instant::now();
        let response = self.client.request(request).await?;
        let head_after = start.elapsed();
        let (parts, incoming) = response.into_parts();
        let mut data = Body::new(incoming).into_data_stream();
        let mut body = Vec::new();
        let mut body_error = false;
        while let Some(frame) = data.next().await {
            match frame {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(_) => {
                    body_error = true;
                    break;
                }
            }
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            body_error,
            head_after,
            done_after: start.elapsed(),
        })
    }

    pub async fn get(&self, url: &str, key: Option<&str>) -> Answer {
        self.send(Method::GET, url, key, None).await.expect("GET")
    }

    pub async fn post(&self, url: &str, key: Option<&str>, body: &str) -> Answer {
        self.send(Method::POST, url, key, Some(body))
            .await
            .expect("POST")
    }
}

/// A one-message chat body.
pub fn chat_body(model: &str, text: &str) -> String {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]}).to_string()
}

/// A streaming chat body.
pub fn stream_body(model: &str, text: &str, include_usage: bool) -> String {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": true,
        "stream_options": {"include_usage": include_usage},
    })
    .to_string()
}
