//! Writes that create objects are not repeated blindly (SEMANTICS.md, *Under the official
//! SDKs*, *Retries and idempotency*), and a 404 is "model unavailable" only where it can be:
//! against loopback upstreams that count what they receive.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use common::*;
use turnout::config::RetryPolicy;
use turnout::{Client, Method, RequestOptions, Side};

/// An upstream answering 500 to every POST on `/v1/files` and `/v1/chat/completions`;
/// counts them and the idempotency keys it saw.
async fn failing() -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let keyed = Arc::new(AtomicU64::new(0));
    let (h, k) = (Arc::clone(&hits), Arc::clone(&keyed));
    let handler = move |headers: HeaderMap| {
        h.fetch_add(1, Ordering::Relaxed);
        if headers.contains_key("idempotency-key") {
            k.fetch_add(1, Ordering::Relaxed);
        }
        async { (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response() }
    };
    let app = Router::new()
        .route("/v1/files", post(handler.clone()))
        .route("/v1/chat/completions", post(handler));
    (serve(app).await, hits, keyed)
}

fn client(blue: &str, green: &str) -> Client {
    fast(
        Client::builder()
            .blue(env(blue, BLUE_KEY))
            .green(env(green, GREEN_KEY)),
    )
    .circuit_breaker(no_circuit())
    .retry(RetryPolicy {
        max_attempts: 3,
        ..fast_retry()
    })
    .build()
    .expect("client")
}

#[tokio::test]
async fn a_write_that_was_sent_is_neither_retried_nor_failed_over() {
    let (blue, blue_hits, _) = failing().await;
    let (green, green_hits, _) = failing().await;
    let client = client(&blue, &green);
    let err = client
        .request_json(
            Method::POST,
            "/files",
            Some(serde_json::json!({"purpose": "batch"})),
            RequestOptions::default().routing_key("k"),
        )
        .await
        .expect_err("500");
    assert_eq!(err.status(), Some(500));
    let (b, g) = (
        blue_hits.load(Ordering::Relaxed),
        green_hits.load(Ordering::Relaxed),
    );
    assert_eq!(
        b + g,
        1,
        "one upload, not one per attempt (blue {b}, green {g})"
    );
}

#[tokio::test]
async fn an_inference_call_is_retried_and_failed_over() {
    let (blue, blue_hits, _) = failing().await;
    let (green, green_hits, _) = failing().await;
    let client = client(&blue, &green);
    let _ = client
        .chat()
        .create(chat(MODEL, "hi"))
        .routing_key("k")
        .await
        .expect_err("500 on both");
    let total = blue_hits.load(Ordering::Relaxed) + green_hits.load(Ordering::Relaxed);
    assert_eq!(total, 3, "max_attempts, failover included");
    assert!(blue_hits.load(Ordering::Relaxed) > 0 && green_hits.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn a_write_with_an_idempotency_key_is_retried_on_its_side_and_carries_the_key() {
    let (blue, blue_hits, blue_keyed) = failing().await;
    let (green, green_hits, _) = failing().await;
    let client = client(&blue, &green);
    let _ = client
        .request_json(
            Method::POST,
            "/files",
            Some(serde_json::json!({"purpose": "batch"})),
            RequestOptions::default()
                .environment(Side::Blue)
                .idempotency_key("upload-1"),
        )
        .await
        .expect_err("500");
    assert_eq!(blue_hits.load(Ordering::Relaxed), 3);
    assert_eq!(
        blue_keyed.load(Ordering::Relaxed),
        3,
        "every attempt carries the key"
    );
    assert_eq!(green_hits.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_write_that_could_not_connect_fails_over() {
    let (green, green_hits, _) = failing().await;
    let client = client(&refused_url(), &green);
    let err = client
        .request_json(
            Method::POST,
            "/files",
            Some(serde_json::json!({"purpose": "batch"})),
            RequestOptions::default().routing_key("k"),
        )
        .await
        .expect_err("green answers 500");
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(
        green_hits.load(Ordering::Relaxed),
        1,
        "nothing reached blue: green got it once"
    );
}

#[tokio::test]
async fn a_404_outside_inference_is_not_a_missing_model() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .model_fallback(MODEL, ["gpt-4o"])
        .build()
        .expect("client");
    let err = client
        .request_json(
            Method::POST,
            "/batches/unknown/cancel",
            Some(serde_json::json!({"model": MODEL})),
            RequestOptions::default().environment(Side::Blue),
        )
        .await
        .expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_model_unavailable());
    assert_eq!(
        sims.total(Side::Blue),
        1,
        "no fallback walked for an unknown object"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_that_is_no_header_value_is_refused_before_anything_is_sent() {
    let (blue, blue_hits, _) = failing().await;
    let (green, green_hits, _) = failing().await;
    let client = client(&blue, &green);
    let err = client
        .chat()
        .create(chat("gpt-4o", "hi"))
        .options(RequestOptions {
            idempotency_key: Some("line\nbreak".into()),
            ..RequestOptions::default()
        })
        .await
        .expect_err("no request can carry that key");
    assert_eq!(err.kind(), turnout::ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("idempotency"), "{err}");
    let sent = blue_hits.load(Ordering::Relaxed) + green_hits.load(Ordering::Relaxed);
    assert_eq!(sent, 0, "nothing reached an upstream");
    // The caller's mistake says nothing about either side's health.
    for side in [Side::Blue, Side::Green] {
        let window = client.status().environments[&side].window;
        assert_eq!(window.failures, 0, "{side}: {window:?}");
    }
}
