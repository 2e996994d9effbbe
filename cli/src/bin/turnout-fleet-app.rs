//! A test-only app process for the fleet tests (`cli/tests/fleet.rs`): builds a client from a
//! config, serves requests against a simulator, and prints its state and events as JSON lines
//! on stdout. Commands arrive as lines on stdin:
//!
//! - `state` — the traffic state and the store link;
//! - `requests N` — N chat requests (each with a routing key never used before), then how
//!   many failed and which side served them;
//! - `weight P` / `switch SIDE` / `rollback REASON` — a change, then its result;
//! - `ops N` — N weight changes, paced so the store queue never overflows, then waits until
//!   the store acknowledged them all;
//! - `requests_to SIDE N` — N chat requests pinned to SIDE, then the latency (ms) of each
//!   success;
//! - `status` — `client.status()`, the rollout and the store link included;
//! - `burst N` — N chat requests at once, then how many were admitted (the rest were refused
//!   by the rate limit).
//!
//! Usage: `turnout-fleet-app CONFIG INSTANCE_ID`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{Client, Config, Side};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn say(v: Value) {
    println!("{v}");
}

fn state(client: &Client) -> Value {
    let status = client.status();
    json!({"state": client.traffic(), "store": status.store})
}

fn result(r: turnout::Result<turnout::routing::TrafficState>) -> Value {
    match r {
        Ok(s) => json!({"ok": s}),
        Err(e) => json!({"error": e.kind().as_str(), "message": e.to_string()}),
    }
}

/// Routing keys never repeat (`{instance}-{n}`), so that every batch of requests spreads over
/// the buckets like a live service's users do.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

async fn requests(client: &Client, id: &str, n: usize) -> Value {
    let mut errors = Vec::new();
    let mut served = [0u64; 2];
    for _ in 0..n {
        let i = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let req = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")]);
        match client
            .chat()
            .create(req)
            .routing_key(format!("{id}-{i}"))
            .await
        {
            Ok(resp) => served[resp.route.environment.index()] += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    json!({"requests": n, "errors": errors.len(), "first_error": errors.first(),
           "served": {"blue": served[0], "green": served[1]}})
}

async fn requests_to(client: &Client, side: Side, n: usize) -> Value {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for _ in 0..n {
        let req = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")]);
        match client.chat().create(req).environment(side).await {
            Ok(resp) => latencies.push(resp.route.latency_ms),
            Err(_) => errors += 1,
        }
    }
    json!({"latencies_ms": latencies, "errors": errors})
}

async fn burst(client: &Client, n: usize) -> Value {
    let calls = (0..n).map(|i| {
        let req = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")]);
        async move {
            client
                .chat()
                .create(req)
                .routing_key(format!("burst-{i}"))
                .timeout(Duration::from_millis(300))
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.kind() == turnout::ErrorKind::RateLimited))
        .count();
    json!({"admitted": admitted, "rate_limited": limited})
}

async fn ops(client: &Client, n: usize) -> Value {
    for i in 0..n {
        // Distinct consecutive weights, so every operation changes the state.
        let percent = (i % 99 + 1) as f64;
        if let Err(e) = client.set_canary_weight(percent) {
            return json!({"error": e.to_string()});
        }
        while client.status().store.pending_ops >= 50 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    while client.status().store.pending_ops > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    json!({"ops_done": n})
}

async fn run(path: &str, id: &str) -> Result<(), String> {
    let mut config = Config::from_file(path).map_err(|e| e.to_string())?;
    config.state.instance_id = Some(id.to_string());
    let client = Client::from_config(config).map_err(|e| e.to_string())?;
    let _events = client.subscribe(|e| say(json!({"event": e, "seen_at_ms": now_ms()})));
    let mut ready = state(&client);
    ready["ready"] = json!(true);
    say(ready);
    // Stdin is read by a thread (tokio's io-std feature is not enabled for the CLI).
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        let (cmd, arg) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let answer = match cmd {
            "state" => state(&client),
            "requests" => requests(&client, id, arg.parse().unwrap_or(1)).await,
            "weight" => result(client.set_canary_weight(arg.parse().unwrap_or(0.0))),
            "switch" => match arg.parse::<Side>() {
                Ok(side) => result(client.switch_to(side)),
                Err(e) => json!({"error": e.to_string()}),
            },
            "rollback" => result(client.rollback(arg)),
            "ops" => ops(&client, arg.parse().unwrap_or(0)).await,
            "requests_to" => {
                let (side, n) = arg.split_once(' ').unwrap_or((arg, "1"));
                match side.parse::<Side>() {
                    Ok(side) => requests_to(&client, side, n.parse().unwrap_or(1)).await,
                    Err(e) => json!({"error": e.to_string()}),
                }
            }
            "burst" => burst(&client, arg.parse().unwrap_or(1)).await,
            "status" => serde_json::to_value(client.status()).unwrap_or(Value::Null),
            "quit" => break,
            other => json!({"error": format!("unknown command {other:?}")}),
        };
        say(json!({"answer": answer, "to": cmd}));
    }
    client.close();
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(id)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: turnout-fleet-app CONFIG INSTANCE_ID");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run(path, id)) {
        eprintln!("turnout-fleet-app: {e}");
        std::process::exit(1);
    }
}
