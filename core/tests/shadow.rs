//! Shadow traffic against two loopback servers: a candidate that drops tool calls fails the
//! shadow gate of a weight-0 step while no user reaches it; an equal one moves on; the caller
//! never sees a shadow failure; shadows are shed past their concurrency and spend bounds; the
//! report's samples carry no key. Counts and a ManualClock decide, never elapsed time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use serde_json::{Value, json};
use turnout::config::{Price, RollbackPolicy, Shadow};
use turnout::events::EventKind;
use turnout::{Client, ManualClock, RolloutPlan, RolloutState, Side, Step};

/// How a server answers every chat request.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A `get_weather` tool call.
    Tool,
    /// Plain text (a release that dropped the tool call), quoting a key.
    Text,
    /// A 500.
    Broken,
    /// Never answers.
    Hang,
}

struct Upstream {
    kind: Kind,
    arrivals: AtomicU64,
}

async fn answer(State(up): State<Arc<Upstream>>) -> Response {
    up.arrivals.fetch_add(1, Ordering::SeqCst);
    let message = match up.kind {
        Kind::Tool => json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1",
            "type": "function", "function": {"name": "get_weather",
            "arguments": "{\"city\": \"Paris\"}"}}]}),
        Kind::Text => json!({"role": "assistant",
            "content": format!("It is sunny. (debug: key {BLUE_KEY})")}),
        Kind::Broken => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Kind::Hang => std::future::pending().await,
    };
    let finish = if up.kind == Kind::Tool {
        "tool_calls"
    } else {
        "stop"
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    }))
    .into_response()
}

async fn upstream(kind: Kind) -> (String, Arc<Upstream>) {
    let up = Arc::new(Upstream {
        kind,
        arrivals: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(Arc::clone(&up));
    (serve(app).await, up)
}

/// Blue active and answering with a tool call; green the candidate, answering as `green`.
async fn setup(
    green: Kind,
    shadow: Shadow,
) -> (Client, Arc<ManualClock>, Arc<Upstream>, Arc<Upstream>) {
    let (blue_url, blue) = upstream(Kind::Tool).await;
    let (green_url, green) = upstream(green).await;
    let clock = Arc::new(ManualClock::new());
    let config = fast(
        Client::builder()
            .blue(env(&blue_url, BLUE_KEY))
            .green(env(&green_url, GREEN_KEY)),
    )
    .configure(move |c| {
        c.shadow = Some(shadow);
        c.pricing.insert(
            MODEL.to_string(),
            Price {
                input: 1.0,
                output: 10.0,
            },
        );
    })
    .into_config()
    .expect("config");
    let client = Client::with_clock(config, clock.clone()).expect("client");
    (client, clock, blue, green)
}

fn every(max_concurrency: u32) -> Shadow {
    Shadow {
        sample: 1.0,
        max_concurrency,
        max_usd_per_hour: None,
    }
}

/// Sends `n` requests; each must succeed, served by blue.
async fn send(client: &Client, n: usize) {
    for i in 0..n {
        let resp = client
            .chat()
            .create(chat(MODEL, &format!("weather {i}")))
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(resp.route.environment, Side::Blue, "no user reaches green");
    }
}

/// Waits (counting tries) until `n` shadow requests have ended, paired or failed.
async fn shadows_ended(client: &Client, n: u64) {
    let mut tries = 0;
    loop {
        let r = client.shadow_report();
        if r.totals.pairs + r.totals.candidate_failures + r.shed >= n {
            return;
        }
        tries += 1;
        assert!(tries < 1000, "only {:?} of {n} shadows ended", r.totals);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn shadow_plan() -> RolloutPlan {
    let mut plan = RolloutPlan::new(vec![
        Step::shadow().min_requests(10),
        Step::new(50.0),
        Step::new(100.0),
    ]);
    plan.gates = RollbackPolicy {
        min_requests: 10,
        shadow_max_tool_mismatch_rate: Some(0.1),
        ..RollbackPolicy::default()
    };
    plan.interval = Duration::from_secs(3600);
    plan.failure_limit = 0;
    plan
}

#[tokio::test]
async fn a_candidate_that_drops_tool_calls_fails_the_shadow_step_and_no_user_reaches_it() {
    let (client, _clock, blue, green) = setup(Kind::Text, every(4)).await;
    client.start_rollout(shadow_plan()).expect("start");
    assert_eq!(
        client.traffic().weight_bp,
        0,
        "the shadow step sends no user"
    );
    send(&client, 20).await;
    shadows_ended(&client, 20).await;
    client.tick();
    let rollout = client.rollout().expect("rollout");
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(blue.arrivals.load(Ordering::SeqCst), 20);
    assert_eq!(
        green.arrivals.load(Ordering::SeqCst),
        20,
        "green saw only the shadows"
    );
    let report = client.shadow_report();
    assert_eq!((report.sampled, report.totals.pairs), (20, 20));
    assert_eq!(report.tool_mismatch_rate, 1.0);
    assert_eq!(report.samples.len(), 20);
    let sample = &report.samples[0];
    assert!(!sample.diff.tool_calls_equal && !sample.diff.finish_reason_equal);
    assert_eq!(sample.primary.tool_calls, ["get_weather"]);
    assert!(sample.candidate.tool_calls.is_empty());
    let shown = serde_json::to_string(&report).expect("json");
    assert!(shown.contains("It is sunny"), "{shown}");
    assert_no_key("the shadow report", &shown);
    let text = client.metrics_text();
    assert!(
        text.contains(
            "turnout_shadow_requests_total{environment=\"green\",outcome=\"differed\"} 20"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_equal_candidate_passes_the_shadow_step_and_gets_its_first_users() {
    let (client, _clock, _blue, green) = setup(Kind::Tool, every(4)).await;
    client.start_rollout(shadow_plan()).expect("start");
    send(&client, 12).await;
    shadows_ended(&client, 12).await;
    assert_eq!(green.arrivals.load(Ordering::SeqCst), 12);
    client.tick();
    assert_eq!(client.traffic().weight_bp, 5000, "{:?}", client.rollout());
    let report = client.shadow_report();
    assert_eq!(report.totals.tool_mismatches, 0);
    assert!(report.samples.is_empty());
}

#[tokio::test]
async fn a_shadow_step_below_min_requests_holds() {
    let (client, _clock, _blue, _green) = setup(Kind::Tool, every(4)).await;
    client.start_rollout(shadow_plan()).expect("start");
    send(&client, 5).await;
    shadows_ended(&client, 5).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(
        client.rollout().expect("rollout").state,
        RolloutState::Running
    );
}

#[tokio::test]
async fn shadow_failures_never_reach_the_caller_nor_the_candidates_circuit() {
    let (client, _clock, _blue, green) = setup(Kind::Broken, every(4)).await;
    send(&client, 15).await;
    shadows_ended(&client, 15).await;
    assert_eq!(green.arrivals.load(Ordering::SeqCst), 15);
    let report = client.shadow_report();
    assert_eq!(report.totals.candidate_failures, 15);
    let status = client.status();
    assert_eq!(
        status.environments[&Side::Green].window.requests,
        0,
        "shadows are not user traffic"
    );
    assert_eq!(
        status.environments[&Side::Green].circuit,
        turnout::resilience::CircuitState::Closed
    );
}

#[tokio::test]
async fn shadows_are_shed_past_max_concurrency() {
    let (client, _clock, _blue, green) = setup(Kind::Hang, every(1)).await;
    send(&client, 10).await;
    let report = client.shadow_report();
    assert_eq!(report.sampled, 10);
    assert_eq!(report.shed, 9, "one shadow hangs, holding the only slot");
    let mut tries = 0;
    while green.arrivals.load(Ordering::SeqCst) < 1 {
        tries += 1;
        assert!(tries < 1000);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(green.arrivals.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shadows_are_shed_once_the_hours_spend_is_reached_and_resume_the_next_hour() {
    // Each green answer costs 1000 × $1/M + 100 × $10/M = $0.002.
    let spend = Shadow {
        sample: 1.0,
        max_concurrency: 1,
        max_usd_per_hour: Some(0.005),
    };
    let (client, clock, _blue, green) = setup(Kind::Tool, spend).await;
    for _ in 0..5 {
        send(&client, 1).await;
        let sampled = client.shadow_report().sampled;
        shadows_ended(&client, sampled).await;
    }
    assert_eq!(
        green.arrivals.load(Ordering::SeqCst),
        3,
        "$0.006 crossed $0.005"
    );
    assert_eq!(client.shadow_report().shed, 2);
    let exhausted: Vec<_> = client
        .history()
        .into_iter()
        .filter(|e| e.kind == EventKind::ShadowBudgetExhausted)
        .collect();
    assert_eq!(exhausted.len(), 1);
    clock.advance(Duration::from_secs(3600));
    send(&client, 1).await;
    shadows_ended(&client, 6).await;
    assert_eq!(
        green.arrivals.load(Ordering::SeqCst),
        4,
        "a new hour, a new budget"
    );
    let _: Value = serde_json::to_value(client.shadow_report()).expect("json");
}

/// Regression: with only shadow gates and `action: alert`, a passing count check after each
/// candidate outcome must not re-arm the alert, or every tick alerts again.
#[tokio::test]
async fn a_shadow_gate_alert_is_raised_once_per_episode() {
    let (blue_url, _blue) = upstream(Kind::Tool).await;
    let (green_url, _green) = upstream(Kind::Text).await;
    let clock = Arc::new(ManualClock::new());
    let config = fast(
        Client::builder()
            .blue(env(&blue_url, BLUE_KEY))
            .green(env(&green_url, GREEN_KEY)),
    )
    .canary_weight(10.0)
    .rollback(RollbackPolicy {
        max_error_rate: None,
        min_requests: 10,
        shadow_max_tool_mismatch_rate: Some(0.1),
        action: turnout::config::RollbackAction::Alert,
        ..RollbackPolicy::default()
    })
    .configure(|c| c.shadow = Some(every(4)))
    .into_config()
    .expect("config");
    let client = Client::with_clock(config, clock).expect("client");
    let pinned = |side| turnout::RequestOptions::default().environment(side);
    for i in 0..20 {
        client
            .chat()
            .create(chat(MODEL, &format!("q {i}")))
            .options(pinned(Side::Blue))
            .await
            .expect("blue answers");
    }
    shadows_ended(&client, 20).await;
    let alerts = |c: &Client| {
        c.history()
            .iter()
            .filter(|e| e.kind == EventKind::Alert)
            .count()
    };
    client.tick();
    assert_eq!(alerts(&client), 1);
    for i in 0..3 {
        client
            .chat()
            .create(chat(MODEL, &format!("g {i}")))
            .options(pinned(Side::Green))
            .await
            .expect("green answers");
    }
    client.tick();
    client.tick();
    assert_eq!(alerts(&client), 1, "one alert for one episode");
    assert_eq!(client.traffic().weight_bp, 1000, "alert only");
}
