//! Priorities under a concurrency limit of 1: a loopback server holds each request until the
//! test releases it, so the order in which requests reach it is the order the limiter admitted
//! them. Aging runs on a ManualClock; waits are counted, not timed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::*;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use turnout::config::RateLimit;
use turnout::{Client, ManualClock, Priority, RequestOptions};

/// Arrivals in order (each request's text), and the gate that lets one answer out.
struct Upstream {
    order: Mutex<Vec<String>>,
    gate: Semaphore,
}

async fn held(State(up): State<Arc<Upstream>>, Json(body): Json<Value>) -> Json<Value> {
    let text = body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    up.order.lock().push(text);
    if let Ok(permit) = up.gate.acquire().await {
        permit.forget();
    }
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
    }))
}

struct Setup {
    client: Client,
    clock: Arc<ManualClock>,
    up: Arc<Upstream>,
    tasks: Vec<JoinHandle<()>>,
}

async fn setup() -> Setup {
    let up = Arc::new(Upstream {
        order: Mutex::new(Vec::new()),
        gate: Semaphore::new(0),
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(held))
        .with_state(Arc::clone(&up));
    let url = serve(app).await;
    let clock = Arc::new(ManualClock::new());
    let config = fast(
        Client::builder()
            .blue(env(&url, BLUE_KEY))
            .green(env(&url, GREEN_KEY)),
    )
    .timeout(Duration::from_secs(120))
    .rate_limit(RateLimit {
        max_concurrency: Some(1),
        priority_aging: Some(Duration::from_secs(5)),
        ..RateLimit::default()
    })
    .into_config()
    .expect("config");
    let client = Client::with_clock(config, clock.clone()).expect("client");
    Setup {
        client,
        clock,
        up,
        tasks: Vec::new(),
    }
}

/// Requests waiting for the limit now (the gauge, summed over priorities).
fn waiting(client: &Client) -> u64 {
    client
        .metrics_text()
        .lines()
        .filter(|l| l.starts_with("turnout_limiter_waiting{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

impl Setup {
    /// Sends a request named `name` at `priority` and waits until it is counted as waiting
    /// (or, when `arrives`, until it reached the server).
    async fn send(&mut self, name: &str, priority: Priority, arrives: bool) {
        let before = (waiting(&self.client), self.up.order.lock().len());
        let client = self.client.clone();
        let text = name.to_string();
        self.tasks.push(tokio::spawn(async move {
            client
                .chat()
                .create(chat(MODEL, &text))
                .options(RequestOptions::default().priority(priority))
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
        }));
        let mut tries = 0;
        loop {
            let now = (waiting(&self.client), self.up.order.lock().len());
            if (arrives && now.1 > before.1) || (!arrives && now.0 > before.0) {
                return;
            }
            tries += 1;
            assert!(tries < 1000, "{name} was never queued");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Lets every request answer, one at a time, and returns the arrival order.
    async fn drain(self) -> (Vec<String>, Client) {
        let n = self.tasks.len();
        self.up.gate.add_permits(n);
        for t in self.tasks {
            t.await.expect("task");
        }
        let order = self.up.order.lock().clone();
        assert_eq!(order.len(), n);
        (order, self.client)
    }
}

fn priority_of(i: usize) -> Priority {
    match i % 3 {
        0 => Priority::Low,
        1 => Priority::High,
        _ => Priority::Normal,
    }
}

#[tokio::test]
async fn high_priority_requests_are_admitted_before_low_ones_that_arrived_later() {
    let mut s = setup().await;
    s.send("first", Priority::Normal, true).await;
    for i in 0..100 {
        s.send(&format!("{}-{i}", priority_of(i)), priority_of(i), false)
            .await;
    }
    let (order, client) = s.drain().await;
    assert_eq!(order[0], "first");
    // The first queued request took the head while no one else waited: it goes next.
    assert_eq!(order[1], "low-0");
    let position = |name: &str| order.iter().position(|o| o == name).expect("arrived");
    for i in (0..100).filter(|i| priority_of(*i) == Priority::High) {
        for j in (i + 1..100).filter(|j| priority_of(*j) == Priority::Low) {
            assert!(
                position(&format!("high-{i}")) < position(&format!("low-{j}")),
                "high-{i} before low-{j}: {order:?}"
            );
        }
    }
    // With no time passing, the queue is strictly by class, oldest first within one.
    let rest: Vec<&str> = order[2..]
        .iter()
        .map(|o| o.split('-').next().unwrap_or(""))
        .collect();
    let mut sorted = rest.clone();
    sorted.sort_by_key(|p| p.parse::<Priority>().expect("priority"));
    assert_eq!(rest, sorted);
    let metrics = client.metrics_text();
    assert!(
        metrics.contains("turnout_limiter_wait_seconds_count{priority=\"high\"} 33"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_low_request_is_admitted_within_its_aging_bound() {
    let mut s = setup().await;
    s.send("first", Priority::Normal, true).await;
    s.send("head", Priority::Normal, false).await;
    s.send("low", Priority::Low, false).await;
    // Two aging intervals: low now ranks with high, and it is older than every high below.
    s.clock.advance(Duration::from_secs(10));
    for i in 0..5 {
        s.send(&format!("high-{i}"), Priority::High, false).await;
    }
    let (order, _) = s.drain().await;
    assert_eq!(
        order,
        [
            "first", "head", "low", "high-0", "high-1", "high-2", "high-3", "high-4"
        ]
    );
}

#[tokio::test]
async fn before_its_aging_bound_a_low_request_waits_behind_highs() {
    let mut s = setup().await;
    s.send("first", Priority::Normal, true).await;
    s.send("head", Priority::Normal, false).await;
    s.send("low", Priority::Low, false).await;
    // One interval: low ranks as normal, still behind high.
    s.clock.advance(Duration::from_secs(5));
    for i in 0..2 {
        s.send(&format!("high-{i}"), Priority::High, false).await;
    }
    let (order, _) = s.drain().await;
    assert_eq!(order, ["first", "head", "high-0", "high-1", "low"]);
}
