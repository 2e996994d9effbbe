//! Client-side limits: requests and tokens per minute on an injected clock, the concurrency cap
//! under 1000 concurrent requests, and the errors of a request that gets no permit in time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::{Sims, chat, env};
use futures_util::StreamExt;
use turnout::config::RateLimit;
use turnout::{Client, ErrorKind, ManualClock, Side};
use turnout_sim::Faults;

const MODEL: &str = "gpt-4o-mini";

fn limit(rpm: Option<u32>, tpm: Option<u64>, concurrency: Option<u32>) -> RateLimit {
    RateLimit {
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
        max_concurrency: concurrency,
        ..RateLimit::default()
    }
}

/// A client on `sims` with `limit`, reading time from `clock`.
fn client_with_clock(sims: &Sims, limit: RateLimit, clock: &Arc<ManualClock>) -> Client {
    let config = sims
        .builder()
        .rate_limit(limit)
        .timeout(Duration::from_secs(120))
        .into_config()
        .unwrap();
    Client::with_clock(config, clock.clone()).unwrap()
}

#[tokio::test]
async fn requests_per_minute_wait_for_the_refill_on_the_injected_clock() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = client_with_clock(&sims, limit(Some(2), None, None), &clock);
    for _ in 0..2 {
        client.chat().create(chat(MODEL, "hi")).await.unwrap();
    }
    let third = tokio::spawn({
        let client = client.clone();
        async move { client.chat().create(chat(MODEL, "hi")).await }
    });
    // Two per minute refill one every 30 s of the client's clock; real time does not count.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "the third request must wait");
    clock.advance(Duration::from_secs(29));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "29 s refill less than one request");
    assert_eq!(sims.chats(Side::Blue), 2);
    clock.advance(Duration::from_secs(1));
    let resp = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third request goes once a request has refilled")
        .unwrap()
        .unwrap();
    assert!(!resp.choices.is_empty());
    assert_eq!(sims.chats(Side::Blue), 3);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_request_that_cannot_get_a_permit_within_its_timeout_fails_clearly() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = client_with_clock(&sims, limit(Some(1), None, None), &clock);
    client.chat().create(chat(MODEL, "hi")).await.unwrap();
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .timeout(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let message = err.to_string();
    assert!(
        message.contains("rate_limit.requests_per_minute (1)")
            && message.contains("may go in 60s")
            && message.contains("timeout of 10s"),
        "{message}"
    );
    assert_eq!(sims.chats(Side::Blue), 1, "a refused request never leaves");
    assert!(client.metrics_text().contains(r#"outcome="throttled"} 1"#));
    // A minute later the bucket is full again.
    clock.advance(Duration::from_secs(60));
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    sims.shutdown().await;
}

#[tokio::test]
async fn tokens_are_estimated_before_the_call_and_corrected_by_usage_after() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = client_with_clock(&sims, limit(None, Some(1000), None), &clock);
    let big = || chat(MODEL, "hi").param("max_tokens", 900);
    // A stream holds its estimate (~925 tokens: the body's characters / 4 plus max_tokens)
    // until it ends and its usage is known.
    let mut streamed = big();
    streamed.stream_options = Some(serde_json::json!({"include_usage": true}));
    let mut stream = client.chat().stream(streamed).await.unwrap();
    let err = client
        .chat()
        .create(big())
        .timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(
        err.to_string()
            .contains("rate_limit.tokens_per_minute (1000)"),
        "{err}"
    );
    let mut used = 0;
    while let Some(chunk) = stream.next().await {
        if let Some(u) = chunk.unwrap().usage {
            used = u.prompt_tokens + u.completion_tokens;
        }
    }
    assert!(used > 0 && used < 100, "the simulator used {used} tokens");
    // The estimate minus the real usage came back: two more fit at once, clock unmoved.
    for _ in 0..2 {
        client
            .chat()
            .create(big())
            .timeout(Duration::from_secs(1))
            .await
            .unwrap();
    }
    assert_eq!(sims.chats(Side::Blue), 3);
    sims.shutdown().await;
}

/// Forwards every request to the simulator, counting how many are in flight at once.
#[derive(Clone)]
struct Meter {
    upstream: String,
    http: reqwest::Client,
    in_flight: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn forward(
    State(m): State<Meter>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = m.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(m.in_flight.clone());
    m.max.fetch_max(now, Ordering::SeqCst);
    let mut req = m
        .http
        .request(method, format!("{}{}", m.upstream, uri.path()))
        .body(body);
    for name in ["authorization", "content-type"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.clone());
        }
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let content_type = resp.headers().get("content-type").cloned();
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = (status, body).into_response();
            if let Some(ct) = content_type {
                out.headers_mut().insert("content-type", ct);
            }
            out
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_cap_is_never_exceeded_under_1000_concurrent_requests() {
    const CAP: u32 = 8;
    let sims = Sims::start().await;
    sims.fault(
        Side::Blue,
        Faults {
            latency_ms: 2,
            ..Faults::default()
        },
    );
    let meter = Meter {
        upstream: format!("http://{}", sims.blue.addr()),
        http: reqwest::Client::new(),
        in_flight: Arc::default(),
        max: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(meter.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = sims
        .builder()
        .blue(env(&format!("http://{proxy}/v1"), common::BLUE_KEY))
        .rate_limit(limit(None, None, Some(CAP)))
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .chat()
                .create(chat(MODEL, &format!("request {i}")))
                .environment(Side::Blue)
                .await
        });
    }
    let mut ok = 0;
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(sims.chats(Side::Blue), 1000);
    let max = meter.max.load(Ordering::SeqCst);
    assert!(max <= CAP as usize, "{max} requests were in flight at once");
    assert!(max >= 2, "the requests did run concurrently ({max})");
    assert_eq!(meter.in_flight.load(Ordering::SeqCst), 0);
    server.abort();
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_holds_its_concurrency_slot_until_it_ends() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .rate_limit(limit(None, None, Some(1)))
        .build()
        .unwrap();
    let stream = client.chat().stream(chat(MODEL, "hi there")).await.unwrap();
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(
        err.to_string().contains("rate_limit.max_concurrency (1)")
            && err.to_string().contains("timeout of 0.2s"),
        "{err}"
    );
    // Dropping the stream frees the slot.
    drop(stream);
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .timeout(Duration::from_secs(1))
        .await
        .unwrap();
    sims.shutdown().await;
}

#[tokio::test]
async fn without_a_rate_limit_nothing_waits() {
    let sims = Sims::start().await;
    let client = sims.client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.spawn(async move { client.chat().create(chat(MODEL, "hi")).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(sims.chats(Side::Blue), 50);
    sims.shutdown().await;
}
