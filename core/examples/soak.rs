//! Soak: a million requests through one client against two in-process simulators whose green
//! side cycles through every kind of fault, reporting RSS growth and open file descriptors.
//!
//! ```text
//! cargo run --release -p turnout --example soak -- [--requests 1000000] [--concurrency 32]
//! ```
//!
//! Blocks of `requests / 100` requests each run under one fault configuration, cycling through
//! none, 5xx, 429, 400, 401 (each at 10 %), malformed JSON, dropped connections, latency with
//! jitter, streams cut mid-way and slow first bytes, so that about one request in ten meets a
//! fault. One request in four is a stream, and one stream in three is dropped after its first
//! chunk. Prints one JSON line: requests, outcomes by error kind, RSS (KiB) after the warm-up
//! tenth and at the end, file descriptors before and after.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use turnout::config::{CircuitBreaker, HealthCheck, RetryPolicy, RollbackAction, RollbackPolicy};
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment};
use turnout_sim::{Faults, Sim, SimConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

fn fault(block: u64) -> Faults {
    let ten = |status| Faults {
        error_rate: 0.1,
        error_status: status,
        ..Faults::default()
    };
    match block % 10 {
        0 => Faults::default(),
        1 => ten(500),
        2 => Faults {
            retry_after: Some(0.0),
            ..ten(429)
        },
        3 => ten(400),
        4 => ten(401),
        5 => Faults {
            malformed_json: true,
            ..Faults::default()
        },
        6 => Faults {
            drop_connection: true,
            ..Faults::default()
        },
        7 => Faults {
            latency_ms: 2,
            jitter_ms: 5,
            ..Faults::default()
        },
        8 => Faults {
            truncate_after: Some(1),
            ..Faults::default()
        },
        _ => Faults {
            first_byte_delay_ms: 5,
            ..Faults::default()
        },
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = arg("--requests", 1_000_000);
    let concurrency = arg("--concurrency", 32);
    let blue = Sim::start(SimConfig::named("blue")).await?;
    let green = Arc::new(Sim::start(SimConfig::named("green")).await?);
    let client = Client::builder()
        .blue(Environment::new(
            blue.url(),
            ApiKey::new("sk-soak-blue-00000000"),
        ))
        .green(Environment::new(
            green.url(),
            ApiKey::new("sk-soak-green-0000000"),
        ))
        .canary_weight(50.0)
        .timeout(Duration::from_secs(2))
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .circuit_breaker(CircuitBreaker {
            cooldown: Duration::from_millis(50),
            ..CircuitBreaker::default()
        })
        .health_check(HealthCheck {
            enabled: false,
            ..HealthCheck::default()
        })
        .rollback(RollbackPolicy {
            action: RollbackAction::Alert,
            ..RollbackPolicy::default()
        })
        .build()?;
    let client = Arc::new(client);
    let fds_before = open_fds();
    let next = Arc::new(AtomicU64::new(0));
    let block_len = (total / 100).max(1);
    let outcomes: Arc<parking_lot::Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut rss_warm = 0;
    let tenth = (total / 10).max(1);
    for step in 0..10 {
        let end = if step == 9 { total } else { (step + 1) * tenth };
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, next, outcomes, green) = (
                Arc::clone(&client),
                Arc::clone(&next),
                Arc::clone(&outcomes),
                Arc::clone(&green),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        next.fetch_sub(1, Ordering::Relaxed);
                        return;
                    }
                    if i % block_len == 0 {
                        green.set_faults(fault(i / block_len));
                    }
                    let request = ChatCompletionRequest::new(
                        "gpt-4.1",
                        vec![ChatMessage::user(format!("soak {i}"))],
                    );
                    let key = format!("user-{}", i % 1000);
                    let kind = if i % 4 == 0 {
                        match client.chat().stream(request).routing_key(key).await {
                            Ok(mut s) if i % 3 == 0 => {
                                s.next().await.map_or("ok".into(), |r| match r {
                                    Ok(_) => "ok".to_string(),
                                    Err(e) => e.kind().as_str().to_string(),
                                })
                            }
                            Ok(s) => match s.collect_all().await {
                                Ok(_) => "ok".to_string(),
                                Err(e) => e.kind().as_str().to_string(),
                            },
                            Err(e) => e.kind().as_str().to_string(),
                        }
                    } else {
                        match client.chat().create(request).routing_key(key).await {
                            Ok(_) => "ok".to_string(),
                            Err(e) => e.kind().as_str().to_string(),
                        }
                    };
                    *outcomes.lock().entry(kind).or_default() += 1;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        if step == 0 {
            rss_warm = rss_kib();
        }
    }
    let rss_end = rss_kib();
    let report = serde_json::json!({
        "requests": total,
        "outcomes": *outcomes.lock(),
        "rss_kib_after_warmup": rss_warm,
        "rss_kib_end": rss_end,
        "rss_growth_kib": rss_end.saturating_sub(rss_warm),
        "fds_before": fds_before,
        "fds_end": open_fds(),
        "history_events": client.history().len(),
    });
    println!("{report}");
    Ok(())
}
