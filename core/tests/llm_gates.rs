//! The LLM gates end to end: a candidate that costs twice as much, or that loses the prompt
//! cache, is rolled back by the guard; an equal one is left alone. Two loopback servers answer
//! with the usage each test sets; time is a ManualClock, verdicts come from `tick()`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::*;
use serde_json::json;
use turnout::config::{Price, RollbackPolicy};
use turnout::events::EventKind;
use turnout::{Client, ManualClock};

/// A server whose every chat answer reports `prompt` tokens of which `cached` were cached, and
/// `completion` output tokens.
async fn upstream(prompt: u64, cached: u64, completion: u64) -> String {
    let answer = move || async move {
        Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached}}
        }))
    };
    serve(axum::Router::new().route("/v1/chat/completions", post(answer))).await
}

/// Blue active, green the candidate at 50 %, the guard judging only `policy`'s LLM gates.
fn client(blue: &str, green: &str, policy: RollbackPolicy) -> (Client, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let config = fast(
        Client::builder()
            .blue(env(blue, "sk-blue-key-0001"))
            .green(env(green, "sk-green-key-0002")),
    )
    .canary_weight(50.0)
    .sticky(false)
    .rollback(RollbackPolicy {
        max_error_rate: None,
        min_requests: 10,
        window: Duration::from_secs(60),
        ..policy
    })
    .configure(|c| {
        c.pricing.insert(
            MODEL.to_string(),
            Price {
                input: 1.0,
                output: 4.0,
            },
        );
    })
    .into_config()
    .expect("config");
    (
        Client::with_clock(config, clock.clone()).expect("client"),
        clock,
    )
}

/// Sends requests until each side has answered at least `n` of them.
async fn until_both_answered(client: &Client, n: usize) {
    let mut seen = [0usize; 2];
    for i in 0..(n * 20) {
        let resp = client
            .chat()
            .create(chat(MODEL, &format!("req {i}")))
            .await
            .expect("request succeeds");
        seen[resp.route.environment.index()] += 1;
        if seen.iter().all(|&s| s >= n) {
            return;
        }
    }
    panic!("the canary split never reached {n} answers on each side: {seen:?}");
}

fn rollback_reason(client: &Client) -> Option<String> {
    client
        .history()
        .into_iter()
        .find(|e| e.kind == EventKind::Rollback)
        .map(|e| e.reason)
}

#[tokio::test]
async fn a_candidate_that_costs_twice_as_much_is_rolled_back() {
    let blue = upstream(100, 0, 10).await;
    let green = upstream(200, 0, 20).await;
    let (client, _clock) = client(
        &blue,
        &green,
        RollbackPolicy {
            max_cost_ratio: Some(1.5),
            ..RollbackPolicy::default()
        },
    );
    until_both_answered(&client, 12).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0, "the candidate was cut");
    let reason = rollback_reason(&client).expect("a rollback event");
    assert!(reason.contains("max_cost_ratio"), "{reason}");
    assert!(reason.contains("2.00x"), "{reason}");
}

#[tokio::test]
async fn a_candidate_above_the_cost_per_request_limit_is_rolled_back() {
    // 100 prompt tokens at $1/M and 10 output at $4/M: $0.00014 an answer.
    let blue = upstream(100, 0, 10).await;
    let green = upstream(1000, 0, 100).await;
    let (client, _clock) = client(
        &blue,
        &green,
        RollbackPolicy {
            max_cost_per_request_usd: Some(0.001),
            ..RollbackPolicy::default()
        },
    );
    until_both_answered(&client, 12).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0);
    let reason = rollback_reason(&client).expect("a rollback event");
    assert!(reason.contains("max_cost_per_request_usd"), "{reason}");
}

#[tokio::test]
async fn a_candidate_that_loses_the_prompt_cache_is_rolled_back() {
    let blue = upstream(1000, 800, 10).await;
    let green = upstream(1000, 0, 10).await;
    let (client, _clock) = client(
        &blue,
        &green,
        RollbackPolicy {
            min_cached_token_share: Some(0.5),
            max_output_tokens_ratio: Some(1.5),
            ..RollbackPolicy::default()
        },
    );
    until_both_answered(&client, 12).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0);
    let reason = rollback_reason(&client).expect("a rollback event");
    assert!(reason.contains("min_cached_token_share"), "{reason}");
}

#[tokio::test]
async fn an_equal_candidate_is_left_alone_and_the_window_forgets() {
    let blue = upstream(1000, 800, 10).await;
    let green = upstream(1000, 800, 10).await;
    let (client, clock) = client(
        &blue,
        &green,
        RollbackPolicy {
            max_cost_ratio: Some(1.5),
            max_output_tokens_ratio: Some(1.2),
            min_cached_token_share: Some(0.5),
            ..RollbackPolicy::default()
        },
    );
    until_both_answered(&client, 12).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 5000, "nothing failed");
    assert!(rollback_reason(&client).is_none());
    clock.advance(Duration::from_secs(120));
    client.tick();
    assert_eq!(client.traffic().weight_bp, 5000);
}
