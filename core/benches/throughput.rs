//! The whole in-process path against the simulator versus a raw reqwest client with the same
//! pool, at concurrency 64. Goal: turnout ≥ 0.95× raw throughput. Criterion reports time per
//! request for each; the ratio of the two is the figure (see bench/run.sh). With
//! `TURNOUT_BENCH_URL` set (e.g. `turnout sim --port 8080` → `http://127.0.0.1:8080/v1`), that
//! upstream is used instead of an in-process simulator sharing the bench's runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use turnout::protocol::{ChatCompletion, ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment};
use turnout_sim::{Sim, SimConfig};

const CONCURRENCY: usize = 64;

fn request() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("ping")])
}

async fn run_batch<F, Fut>(n: u64, f: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    futures_util::stream::iter(0..n)
        .map(f)
        .buffer_unordered(CONCURRENCY)
        .for_each(|()| async {})
        .await;
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (sim, client, raw, url) = rt.block_on(async {
        // An upstream of its own (bench/run.sh passes `turnout sim`'s URL), else in-process.
        let (sim, base) = match std::env::var("TURNOUT_BENCH_URL") {
            Ok(url) => (None, url),
            Err(_) => {
                let sim = Sim::start(SimConfig::named("bench")).await.expect("sim");
                let url = sim.url();
                (Some(sim), url)
            }
        };
        let url = format!("{base}/chat/completions");
        let client = Client::builder()
            .blue(Environment::new(
                base.as_str(),
                ApiKey::new("sk-bench-blue-00000000"),
            ))
            .green(Environment::new(
                base.as_str(),
                ApiKey::new("sk-bench-green-0000000"),
            ))
            .configure(|c| c.health_check.enabled = false)
            .build()
            .expect("client");
        let raw = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .expect("reqwest");
        (sim, client, raw, url)
    });
    let raw = Arc::new(raw);
    let body = serde_json::to_vec(&request()).expect("json");
    let mut g = c.benchmark_group("chat c=64");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("raw reqwest", |b| {
        b.to_async(&rt).iter_custom(|n| {
            let raw = Arc::clone(&raw);
            let url = url.clone();
            let body = body.clone();
            async move {
                run_batch(n, |_| {
                    let raw = Arc::clone(&raw);
                    let url = url.clone();
                    let body = body.clone();
                    async move {
                        let resp = raw
                            .post(&url)
                            .bearer_auth("sk-bench-blue-00000000")
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .expect("send");
                        let bytes = resp.bytes().await.expect("body");
                        let _: ChatCompletion = serde_json::from_slice(&bytes).expect("decode");
                    }
                })
                .await
            }
        })
    });
    g.bench_function("turnout", |b| {
        b.to_async(&rt).iter_custom(|n| {
            let client = client.clone();
            async move {
                run_batch(n, |i| {
                    let client = client.clone();
                    async move {
                        client
                            .chat()
                            .create(request())
                            .routing_key(format!("user-{i}"))
                            .await
                            .expect("answer");
                    }
                })
                .await
            }
        })
    });
    g.finish();
    if let Some(sim) = sim {
        rt.block_on(sim.shutdown());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
