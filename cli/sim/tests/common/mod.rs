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
    client: Client<HttpConnector, Body>,
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
        let mut headers = Vec::new();
        let bearer = key.map(|k| format!("Bearer {k}"));
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer.as_str()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.unwrap_or_default().as_bytes().to_vec();
        self.send_raw(method, url, &headers, body).await
    }

    /// Sends exactly these headers and body bytes.
    pub async fn send_raw(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, hyper_util::client::legacy::Error> {
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body)).expect("request");
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

    pub async fn delete(&self, url: &str) -> Answer {
        self.send(Method::DELETE, url, None, None)
            .await
            .expect("DELETE")
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

/// A `multipart/form-data` body of text fields and one file, and its content type.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "sim-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The `(event, data)` pairs of a named-event stream (`event: …` then `data: …`).
pub fn named_events(answer: &Answer) -> Vec<(String, Value)> {
    answer
        .text()
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines
                .next()
                .and_then(|l| l.strip_prefix("event: "))
                .expect("event line");
            let data = lines
                .next()
                .and_then(|l| l.strip_prefix("data: "))
                .expect("data line");
            (
                name.to_owned(),
                serde_json::from_str(data).expect("JSON data"),
            )
        })
        .collect()
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
