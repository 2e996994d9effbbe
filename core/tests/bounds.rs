//! A misbehaving upstream never takes the host process down (SEMANTICS.md, *Bounds*), and
//! credentials never leave their side's origin: an upstream on loopback that streams one
//! endless event, answers too much, or redirects elsewhere. Verdicts are counts (bytes the
//! upstream could send, requests the other origin saw), never elapsed time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use turnout::config::{Bounds, RetryPolicy};
use turnout::{Client, ErrorKind, Side};

const MIB: u64 = 1024 * 1024;

const COMPLETION: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;

/// A client whose blue side is `url`, with small bounds and three attempts.
fn client(url: &str, bounds: Bounds) -> Client {
    fast(
        Client::builder()
            .blue(env(url, BLUE_KEY).header("api-key", "azure-style-SECRETSECRET"))
            .green(env(&refused_url(), GREEN_KEY)),
    )
    .retry(RetryPolicy {
        max_attempts: 3,
        ..fast_retry()
    })
    .circuit_breaker(no_circuit())
    .configure(move |c| c.bounds = bounds)
    .build()
    .expect("client")
}

fn small() -> Bounds {
    Bounds {
        response_body_bytes: MIB,
        error_body_bytes: 4096,
        sse_event_bytes: MIB,
    }
}

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn an_endless_event_fails_the_attempt_instead_of_growing_the_process() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    // One event that never ends: `data: xxxx…` without a line end, up to 256 MiB per answer.
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let counter = Arc::clone(&counter);
            async move {
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                let head = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"data: "))
                });
                let body = futures_util::stream::iter((0..4096).map(move |_| {
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    Ok::<_, std::io::Error>(chunk.clone())
                }));
                use futures_util::StreamExt;
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/event-stream")
                    .body(Body::from_stream(head.chain(body)))
                    .unwrap_or_default()
            }
        }),
    );
    let url = serve(app).await;
    let client = client(&url, small());
    let before = rss();
    let err = client
        .chat()
        .stream(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("the event is over its bound");
    let grown = rss().saturating_sub(before);
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("bounds.sse_event_bytes"), "{err}");
    let upstream = sent.load(Ordering::Relaxed);
    assert!(
        upstream < 3 * 16 * MIB,
        "three attempts stopped reading near their 1 MiB bound: the upstream sent {upstream} bytes"
    );
    eprintln!("endless event: upstream sent {upstream} bytes, RSS grew {grown} bytes");
    assert!(grown < 64 * MIB, "RSS grew {grown} bytes");
    let w = client.status().environments[&Side::Blue].window;
    assert_eq!(
        w.failures, 3,
        "each bounded attempt is a failure of the side"
    );
}

#[tokio::test]
async fn an_answer_over_its_bound_fails_as_a_side_failure() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            let mut body = COMPLETION.as_bytes().to_vec();
            body.resize(body.len() + 2 * MIB as usize, b' ');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }),
    );
    let url = serve(app).await;
    let client = client(&url, small());
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        err.to_string().contains("bounds.response_body_bytes"),
        "{err}"
    );
    assert_eq!(client.status().environments[&Side::Blue].window.failures, 3);
}

#[tokio::test]
async fn an_error_body_is_kept_to_its_bound() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async { (StatusCode::BAD_REQUEST, "e".repeat(MIB as usize)).into_response() }),
    );
    let url = serve(app).await;
    let client = client(&url, small());
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("400");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.body().map(str::len), Some(4096));
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_origin() {
    let elsewhere_hits = Arc::new(AtomicU64::new(0));
    let hits = Arc::clone(&elsewhere_hits);
    let seen_key = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&seen_key);
    let elsewhere = serve(Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap| {
            hits.fetch_add(1, Ordering::Relaxed);
            if let Some(k) = headers.get("api-key").and_then(|v| v.to_str().ok()) {
                seen.lock().map(|mut s| s.push(k.to_string())).ok();
            }
            async { ([(header::CONTENT_TYPE, "application/json")], COMPLETION).into_response() }
        }),
    ))
    .await;
    let target = format!("{elsewhere}/chat/completions");
    let origin =
        serve(Router::new().route(
            "/v1/chat/completions",
            post(move || {
                let target = target.clone();
                async move {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
                }
            }),
        ))
        .await;
    let client = client(&origin, small());
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("the redirect is not followed");
    assert_eq!(err.status(), Some(307));
    assert_eq!(elsewhere_hits.load(Ordering::Relaxed), 0);
    assert!(seen_key.lock().map(|s| s.is_empty()).unwrap_or(false));
    assert_eq!(
        client.status().environments[&Side::Blue].window.failures,
        1,
        "a side redirecting elsewhere is misconfigured: a failure of the side (not retried)"
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/v2/chat/completions")],
                )
                    .into_response()
            }),
        )
        .route(
            "/v2/chat/completions",
            post(|headers: HeaderMap| async move {
                let authorized = headers.contains_key(header::AUTHORIZATION);
                if authorized {
                    ([(header::CONTENT_TYPE, "application/json")], COMPLETION).into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        );
    let url = serve(app).await;
    let client = client(&url, small());
    let answer = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect("followed within the origin, key kept");
    assert_eq!(answer.route.attempts, 1);
}
