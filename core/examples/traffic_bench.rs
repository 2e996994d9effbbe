//! The figures of `docs/traffic.md`: the caller's latency with 100 % shadow sampling against
//! none, and the p99 of a side with a slow tail with and without hedging.
//!
//! `cargo run --release -p turnout-llm --example traffic_bench -- [requests]` (default 2000).
//! Every upstream is an in-process server on 127.0.0.1; nothing else is contacted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use turnout::config::{HealthCheck, Hedge, HedgeAfter, Shadow};
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment, RequestOptions, Side};

/// An upstream answering after `base` ms, or after `slow` ms for one request in `one_in`.
struct Upstream {
    base: u64,
    slow: u64,
    one_in: u64,
    seen: AtomicU64,
}

async fn answer(State(up): State<Arc<Upstream>>) -> Json<serde_json::Value> {
    let n = up.seen.fetch_add(1, Ordering::Relaxed);
    let slow = up.one_in > 0 && rand_like(n).is_multiple_of(up.one_in);
    let ms = if slow { up.slow } else { up.base };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    }))
}

/// A fixed scramble of `n`, so that runs are repeatable.
fn rand_like(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

async fn serve(base: u64, slow: u64, one_in: u64) -> std::io::Result<String> {
    let up = Arc::new(Upstream {
        base,
        slow,
        one_in,
        seen: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(up);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

fn client(
    blue: &str,
    green: &str,
    edit: impl FnOnce(&mut turnout::Config) + Send + 'static,
) -> turnout::Result<Client> {
    Client::builder()
        .blue(Environment::new(
            blue,
            ApiKey::new("sk-bench-key-blue-0000"),
        ))
        .green(Environment::new(
            green,
            ApiKey::new("sk-bench-key-green-000"),
        ))
        .health_check(HealthCheck {
            enabled: false,
            ..HealthCheck::default()
        })
        .configure(edit)
        .build()
}

/// Sends `n` requests one after another; returns the sorted latencies in ms.
async fn run(client: &Client, n: usize) -> turnout::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let req = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user(format!("q {i}"))]);
        let started = Instant::now();
        client
            .chat()
            .create(req)
            .options(RequestOptions::default().environment(Side::Blue))
            .await?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn q(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn line(name: &str, l: &[f64]) {
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} |",
        q(l, 0.5),
        q(l, 0.95),
        q(l, 0.99)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);

    // Shadow: blue answers in 2 ms; the candidate is slow (40 ms). The shadow runs after the
    // caller's answer, from a task of its own: the caller should not see it.
    let blue = serve(2, 2, 0).await?;
    let green = serve(40, 40, 0).await?;
    let plain = client(&blue, &green, |_| {})?;
    let shadowed = client(&blue, &green, |c| {
        c.shadow = Some(Shadow {
            sample: 1.0,
            max_concurrency: 64,
            max_usd_per_hour: None,
        });
    })?;
    // Warm both pools first.
    run(&plain, 50).await?;
    run(&shadowed, 50).await?;
    let none = run(&plain, n).await?;
    let all = run(&shadowed, n).await?;
    println!("Caller latency, ms ({n} sequential requests, blue 2 ms, candidate 40 ms)\n");
    println!("| shadow | p50 | p95 | p99 |\n|---|---|---|---|");
    line("none", &none);
    line("100 % sampled", &all);
    let report = shadowed.shadow_report();
    println!(
        "\nshadow pairs {} · shed {} (max_concurrency 64)\n",
        report.totals.pairs, report.shed
    );

    // Hedging: one answer in 20 takes 250 ms, the others 3 ms.
    let tail = serve(3, 250, 20).await?;
    let unhedged = client(&tail, &green, |_| {})?;
    let hedged = client(&tail, &green, |c| {
        c.hedge = Some(Hedge {
            after: HedgeAfter::Delay(Duration::from_millis(20)),
            max_extra: 1,
        });
    })?;
    let before = run(&unhedged, n).await?;
    let after = run(&hedged, n).await?;
    println!("Latency with a slow tail (1 in 20 answers at 250 ms), ms\n");
    println!("| hedging | p50 | p95 | p99 |\n|---|---|---|---|");
    line("off", &before);
    line("after 20 ms, max_extra 1", &after);
    let text = hedged.metrics_text();
    let hedges = text
        .lines()
        .find(|l| l.starts_with("turnout_hedges_total{environment=\"blue\"}"))
        .unwrap_or("turnout_hedges_total 0");
    println!("\n{hedges}");
    Ok(())
}
