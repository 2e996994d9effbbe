//! Hedged requests against a loopback server whose every other request never answers: the
//! hedge answers instead, the upstream sees at most `1 + max_extra` requests per call, the
//! loser is cancelled, hedges come out of the retry budget, and streams race to their first
//! event. Verdicts are counts; the latency figures are in `examples/hedge_bench.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use turnout::config::{Hedge, HedgeAfter, RetryPolicy};
use turnout::{Client, RequestOptions, Side};

/// What the server saw.
#[derive(Default)]
struct Seen {
    arrivals: AtomicU64,
    /// Handlers dropped before they answered (the client went away).
    cancelled: AtomicU64,
}

/// Counts a handler that never finished.
struct Unfinished(Arc<Seen>, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Odd arrivals (the 1st, 3rd, …) never answer; even ones answer at once.
async fn odd_never(State(seen): State<Arc<Seen>>, Json(body): Json<Value>) -> Response {
    let n = seen.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
    let mut guard = Unfinished(Arc::clone(&seen), false);
    if n % 2 == 1 {
        std::future::pending::<()>().await;
    }
    guard.1 = true;
    if body["stream"] == json!(true) {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1,
            "model": MODEL, "choices": [{"index": 0, "delta": {"content": "fast"},
            "finish_reason": null}]});
        let text = format!("data: {chunk}\n\ndata: [DONE]\n\n");
        return ([(header::CONTENT_TYPE, "text/event-stream")], text).into_response();
    }
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "fast"}}],
    }))
    .into_response()
}

async fn upstream() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(odd_never))
        .route("/v1/files", post(odd_never))
        .with_state(Arc::clone(&seen));
    (serve(app).await, seen)
}

fn client(url: &str, retry: RetryPolicy) -> Client {
    fast(
        Client::builder()
            .blue(env(url, BLUE_KEY))
            .green(env(url, GREEN_KEY)),
    )
    .retry(retry)
    .configure(|c| {
        c.hedge = Some(Hedge {
            after: HedgeAfter::Delay(Duration::from_millis(20)),
            max_extra: 1,
        });
    })
    .build()
    .expect("client")
}

fn pinned() -> RequestOptions {
    RequestOptions::default().environment(Side::Blue)
}

#[tokio::test]
async fn the_hedge_answers_when_the_first_attempt_hangs_and_the_loser_is_cancelled() {
    let (url, seen) = upstream().await;
    let client = client(&url, fast_retry());
    for i in 0..10 {
        let resp = client
            .chat()
            .create(chat(MODEL, "hi"))
            .options(pinned())
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(resp.choices[0].message.text(), Some("fast"));
        assert_eq!(resp.route.attempts, 1, "a hedge is not a retry");
    }
    assert_eq!(
        seen.arrivals.load(Ordering::SeqCst),
        20,
        "1 + max_extra per call"
    );
    let mut tries = 0;
    while seen.cancelled.load(Ordering::SeqCst) < 10 {
        tries += 1;
        assert!(tries < 500, "the losers were not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics = client.metrics_text();
    assert!(
        metrics.contains("turnout_hedges_total{environment=\"blue\"} 10"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_empty_retry_budget_sends_no_hedge() {
    let (url, seen) = upstream().await;
    let no_budget = RetryPolicy {
        budget_ratio: 0.0,
        budget_min_per_sec: 0,
        max_attempts: 1,
        ..fast_retry()
    };
    let client = client(&url, no_budget);
    // The first request hangs and no hedge may rescue it: it times out.
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .options(pinned().timeout(Duration::from_millis(300)))
        .await
        .expect_err("no hedge, no answer");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(seen.arrivals.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hedged_stream_races_to_its_first_event() {
    let (url, seen) = upstream().await;
    let client = client(&url, fast_retry());
    for _ in 0..3 {
        let mut stream = client
            .chat()
            .stream(chat(MODEL, "hi"))
            .options(pinned())
            .await
            .expect("stream");
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("chunk");
            text.push_str(chunk.choices[0].delta.content.as_deref().unwrap_or(""));
        }
        assert_eq!(text, "fast");
    }
    assert_eq!(seen.arrivals.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn non_inference_calls_are_never_hedged() {
    let (url, seen) = upstream().await;
    let client = client(&url, fast_retry());
    let body = json!({"model": MODEL, "messages": []});
    // A write (not an inference path) that hangs: no hedge, so one arrival and a timeout.
    let err = client
        .request_json(
            turnout::Method::POST,
            "/files",
            Some(body),
            pinned().timeout(Duration::from_millis(300)),
        )
        .await
        .expect_err("the write is not answered");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(seen.arrivals.load(Ordering::SeqCst), 1);
}

/// Answers at once, except the first arrival of a message that starts with "slow", which
/// never answers. Counts arrivals per message.
async fn first_slow(
    State(seen): State<Arc<parking_lot::Mutex<std::collections::HashMap<String, u32>>>>,
    Json(body): Json<Value>,
) -> Response {
    let text = body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let n = {
        let mut seen = seen.lock();
        let n = seen.entry(text.clone()).or_default();
        *n += 1;
        *n
    };
    if text.starts_with("slow") && n == 1 {
        std::future::pending::<()>().await;
    }
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "fast"}}],
    }))
    .into_response()
}

#[tokio::test]
async fn p95_hedging_starts_once_the_window_knows_the_p95() {
    let seen = Arc::new(parking_lot::Mutex::new(std::collections::HashMap::new()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(first_slow))
        .with_state(Arc::clone(&seen));
    let url = serve(app).await;
    let clock = Arc::new(turnout::ManualClock::new());
    let config = fast(
        Client::builder()
            .blue(env(&url, BLUE_KEY))
            .green(env(&url, GREEN_KEY)),
    )
    .configure(|c| {
        c.hedge = Some(Hedge {
            after: HedgeAfter::P95,
            max_extra: 1,
        });
    })
    .into_config()
    .expect("config");
    let client = Client::with_clock(config, clock.clone()).expect("client");
    let send = |text: String| {
        let client = client.clone();
        async move {
            client
                .chat()
                .create(chat(MODEL, &text))
                .options(pinned().timeout(Duration::from_millis(300)))
                .await
        }
    };
    // Below 20 successes nothing is hedged: a hanging first attempt times out, and the retry
    // after it answers.
    for i in 0..19 {
        send(format!("warm {i}")).await.expect("fast");
    }
    clock.advance(Duration::from_secs(2));
    let early = send("slow early".to_string())
        .await
        .expect("the retry answers");
    assert_eq!(
        early.route.attempts, 2,
        "a retry after the timeout, not a hedge"
    );
    assert_eq!(seen.lock()["slow early"], 2);
    send("warm 19".to_string()).await.expect("fast");
    // 20 successes, and the cached "unknown" p95 is older than its refresh interval.
    clock.advance(Duration::from_secs(2));
    for i in 0..5 {
        let text = format!("slow {i}");
        let resp = send(text.clone()).await.expect("the hedge answers");
        assert_eq!(resp.route.attempts, 1);
        assert_eq!(seen.lock()[&text], 2, "{text}: the hang and its hedge");
    }
}
