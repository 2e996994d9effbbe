//! Key pools against a loopback server that knows which keys are valid: round-robin use, a
//! revoked key taken out with no request failing, a 429'd key resting for exactly its
//! `Retry-After` on a ManualClock, and `rotate_keys` while a request is in flight.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::Notify;
use turnout::config::RetryPolicy;
use turnout::events::EventKind;
use turnout::{ApiKey, Client, Environment, KeyState, ManualClock, RequestOptions, Side};

const A: &str = "sk-pool-SECRETSECRET-aaaa";
const B: &str = "sk-pool-SECRETSECRET-bbbb";
const C: &str = "sk-pool-SECRETSECRET-cccc";

/// What the server does, and what it saw.
#[derive(Default)]
struct Upstream {
    /// Keys answered 401.
    revoked: BTreeSet<String>,
    /// Keys whose next request is answered 429 with this `Retry-After` (seconds).
    limit_once: BTreeMap<String, u64>,
    /// Keys whose requests wait for `release` before answering.
    held: BTreeSet<String>,
    /// Requests per key, in order.
    seen: Vec<String>,
}

type Shared = Arc<(Mutex<Upstream>, Notify)>;

async fn answer(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let (hold, status) = {
        let mut u = s.0.lock();
        u.seen.push(key.clone());
        let status = if u.revoked.contains(&key) {
            Some((StatusCode::UNAUTHORIZED, None))
        } else {
            u.limit_once
                .remove(&key)
                .map(|secs| (StatusCode::TOO_MANY_REQUESTS, Some(secs)))
        };
        (u.held.contains(&key), status)
    };
    if hold {
        s.1.notified().await;
    }
    if let Some((status, retry_after)) = status {
        let mut resp = (
            status,
            Json(json!({"error": {"message": "no", "type": "x"}})),
        )
            .into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert("retry-after", secs.to_string().parse().expect("header"));
        }
        return resp;
    }
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    }))
    .into_response()
}

async fn upstream() -> (String, Shared) {
    let shared: Shared = Arc::new((Mutex::new(Upstream::default()), Notify::new()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(Arc::clone(&shared));
    (serve(app).await, shared)
}

/// Blue holds the pool `keys`; green is never used (every request is pinned to blue).
fn client(url: &str, keys: &[&str], retry: RetryPolicy) -> (Client, Arc<ManualClock>) {
    let mut blue = Environment::new(url, ApiKey::new(keys[0]));
    for k in &keys[1..] {
        blue = blue.with_key(*k);
    }
    let clock = Arc::new(ManualClock::new());
    let config = fast(Client::builder().blue(blue).green(env(url, GREEN_KEY)))
        .retry(retry)
        .into_config()
        .expect("config");
    (
        Client::with_clock(config, clock.clone()).expect("client"),
        clock,
    )
}

async fn send(client: &Client) -> turnout::Result<()> {
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .options(RequestOptions::default().environment(Side::Blue))
        .await
        .map(|_| ())
}

fn blue_keys(client: &Client) -> Vec<(String, KeyState)> {
    client.status().environments[&Side::Blue]
        .keys
        .iter()
        .map(|k| (k.fingerprint.clone(), k.state))
        .collect()
}

#[tokio::test]
async fn keys_are_used_round_robin() {
    let (url, up) = upstream().await;
    let (client, _) = client(&url, &[A, B, C], fast_retry());
    for _ in 0..6 {
        send(&client).await.expect("ok");
    }
    assert_eq!(up.0.lock().seen, [A, B, C, A, B, C]);
}

#[tokio::test]
async fn a_revoked_key_is_taken_out_and_no_request_fails() {
    let (url, up) = upstream().await;
    up.0.lock().revoked.insert(B.to_string());
    let (client, _) = client(&url, &[A, B, C], fast_retry());
    for i in 0..30 {
        send(&client)
            .await
            .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
    }
    let seen = up.0.lock().seen.clone();
    assert_eq!(
        seen.iter().filter(|k| *k == B).count(),
        1,
        "B is asked once"
    );
    assert_eq!(seen.len(), 31, "30 answers and the one 401");
    let revoked: Vec<_> = client
        .history()
        .into_iter()
        .filter(|e| e.kind == EventKind::KeyRevoked)
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].details["key"], "sk-…bbbb");
    assert_eq!(revoked[0].environment, Some(Side::Blue));
    assert_eq!(
        blue_keys(&client),
        [
            ("sk-…aaaa".to_string(), KeyState::Active),
            ("sk-…bbbb".to_string(), KeyState::Revoked),
            ("sk-…cccc".to_string(), KeyState::Active),
        ]
    );
    let shown = serde_json::to_string(&client.status()).expect("json");
    assert_no_key("status", &shown);
    for e in client.history() {
        assert_no_key("event", &e.to_json().to_string());
    }
}

#[tokio::test]
async fn a_single_revoked_key_fails_the_request_as_before() {
    let (url, up) = upstream().await;
    up.0.lock().revoked.insert(A.to_string());
    let (client, _) = client(&url, &[A], fast_retry());
    let err = send(&client).await.expect_err("the only key is refused");
    assert_eq!(err.status(), Some(401));
    assert_eq!(up.0.lock().seen.len(), 1, "no retry without another key");
}

#[tokio::test]
async fn a_429_rests_its_key_for_exactly_its_retry_after() {
    let (url, up) = upstream().await;
    up.0.lock().limit_once.insert(A.to_string(), 30);
    let one_attempt = RetryPolicy {
        max_attempts: 1,
        ..fast_retry()
    };
    let (client, clock) = client(&url, &[A, B], one_attempt);
    let err = send(&client).await.expect_err("the 429 is the answer");
    assert_eq!(err.status(), Some(429));
    assert_eq!(blue_keys(&client)[0].1, KeyState::Cooling);
    for _ in 0..4 {
        send(&client).await.expect("B serves");
    }
    clock.advance(Duration::from_millis(29_999));
    for _ in 0..4 {
        send(&client).await.expect("B serves");
    }
    assert_eq!(
        up.0.lock().seen[1..].iter().filter(|k| *k == A).count(),
        0,
        "A rests for the whole 30 s"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(blue_keys(&client)[0].1, KeyState::Active);
    for _ in 0..4 {
        send(&client).await.expect("ok");
    }
    let seen = up.0.lock().seen.clone();
    assert_eq!(seen[9..].iter().filter(|k| *k == A).count(), 2, "{seen:?}");
}

#[tokio::test]
async fn rotating_keys_does_not_fail_a_request_in_flight() {
    let (url, up) = upstream().await;
    up.0.lock().held.insert(A.to_string());
    let (client, _) = client(&url, &[A], fast_retry());
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { send(&client).await }
    });
    // The held request has reached the server (counted in tries, not time).
    let mut tries = 0;
    while up.0.lock().seen.is_empty() {
        tries += 1;
        assert!(tries < 500, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .rotate_keys(Side::Blue, vec![ApiKey::new(B), ApiKey::new(C)])
        .expect("rotate");
    // The provider revokes the old key once the new ones are in: new requests with A fail.
    up.0.lock().revoked.insert(A.to_string());
    up.0.lock().held.clear();
    up.1.notify_one();
    // The request in flight was accepted before the revocation: it completes.
    in_flight
        .await
        .expect("task")
        .expect("the in-flight request completes");
    send(&client).await.expect("ok");
    send(&client).await.expect("ok");
    let mut seen = up.0.lock().seen.clone();
    seen[1..].sort();
    assert_eq!(seen, [A, B, C], "the old key once, then each new key");
    assert_eq!(
        blue_keys(&client),
        [
            ("sk-…bbbb".to_string(), KeyState::Active),
            ("sk-…cccc".to_string(), KeyState::Active),
        ]
    );
    let rotated = client
        .history()
        .into_iter()
        .find(|e| e.kind == EventKind::KeysRotated)
        .expect("keys_rotated event");
    assert_eq!(rotated.details["keys"], json!(["sk-…bbbb", "sk-…cccc"]));
    assert!(client.rotate_keys(Side::Blue, vec![]).is_err());
}

#[tokio::test]
async fn a_pass_through_request_also_leaves_a_revoked_key_behind() {
    let (url, up) = upstream().await;
    up.0.lock().revoked.insert(A.to_string());
    let (client, _) = client(&url, &[A, B], fast_retry());
    for i in 0..6 {
        let req = turnout::RawRequest::new(turnout::Method::POST, "/chat/completions")
            .header("content-type", "application/json")
            .and_then(|r| r.header("x-turnout-environment", "blue"))
            .expect("headers")
            .body(format!(r#"{{"model":"{MODEL}","messages":[]}}"#));
        let answer = client.send_raw(req).await.expect("answer");
        assert_eq!(answer.status, 200, "request {i}: another key served it");
    }
    let seen = up.0.lock().seen.clone();
    assert_eq!(
        seen.iter().filter(|k| *k == A).count(),
        1,
        "A is asked once"
    );
    assert_eq!(
        blue_keys(&client)
            .iter()
            .filter(|(_, s)| *s == KeyState::Revoked)
            .count(),
        1
    );
}
