//! Load generator: non-streaming chat requests against a simulator, over keep-alive connections.
//!
//! `cargo run -p turnout-sim --release --example loadgen -- [SECONDS=5] [CONCURRENCY=64] [stream]`
//!
//! Starts an in-process simulator unless `TURNOUT_SIM_URL` names one (e.g. `turnout sim`'s).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use futures_util::StreamExt;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use turnout_sim::{Sim, SimConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().map_or(Ok(5), |s| s.parse())?;
    let concurrency: usize = args.get(1).map_or(Ok(64), |s| s.parse())?;
    let stream = args.iter().any(|a| a == "stream");

    let (sim, base) = match std::env::var("TURNOUT_SIM_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let sim = Sim::start(SimConfig::named("loadgen")).await?;
            let url = sim.url();
            (Some(sim), url)
        }
    };
    let url: hyper::Uri = format!("{base}/chat/completions").parse()?;
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say something about load generators, briefly."},
        ],
        "stream": stream,
    })
    .to_string();

    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http::<String>();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));

    // Warm the pool so connection set-up is not measured.
    let warmup = Duration::from_millis(300);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let request = Request::post(url.clone())
                        .header("content-type", "application/json")
                        .header("authorization", "Bearer sk-loadgen")
                        .body(body.clone())
                        .unwrap_or_default();
                    let good = match client.request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            let mut data = Body::new(response.into_body()).into_data_stream();
                            let mut complete = true;
                            while let Some(chunk) = data.next().await {
                                complete &= chunk.is_ok();
                            }
                            status.is_success() && complete
                        }
                        Err(_) => false,
                    };
                    if sent.duration_since(start) < warmup {
                        continue;
                    }
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies.push(sent.elapsed());
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(warmup + Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let measured = start.elapsed() - warmup;
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await?);
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{} chat, concurrency {concurrency}, {:.1} s: {ok} ok, {} failed, {:.0} req/s, p50 {:?}, p99 {:?}",
        if stream { "streaming" } else { "non-streaming" },
        measured.as_secs_f64(),
        failed.load(Ordering::Relaxed),
        ok as f64 / measured.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
