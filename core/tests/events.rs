//! Events leaving the process: the JSONL audit log, and the webhook (delivered with retries,
//! never in the way of requests).

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use turnout::events::EventKind;
use turnout::{Client, Side};

/// A fresh path under the system's temp dir.
fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "turnout-events-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[tokio::test]
async fn the_audit_log_has_one_json_line_per_event_in_order() {
    let sims = Sims::start().await;
    let path = temp_path("audit.jsonl");
    let audit = path.clone();
    let client = sims
        .builder()
        .configure(move |c| c.audit_log = Some(audit))
        .build()
        .unwrap();
    client.switch_to(Side::Green).unwrap();
    client.set_canary_weight(10.0).unwrap();
    let cp = client.checkpoint("before the fix");
    client.rollback("manual").unwrap();
    client.restore_checkpoint(&cp.id).unwrap();
    // close() returns once every event published before it is written.
    client.close();

    let text = std::fs::read_to_string(&path).expect("the audit log exists");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "switch",
            "weight_changed",
            "checkpoint_created",
            "rollback",
            "checkpoint_restored"
        ]
    );
    for line in &lines {
        assert!(
            line["at"].as_str().is_some_and(|a| a.ends_with('Z')),
            "{line}"
        );
        assert!(line["reason"].is_string(), "{line}");
        assert!(line["version"].is_u64(), "{line}");
    }
    assert_eq!(lines[1]["canary_weight"], 10.0);
    assert_eq!(lines[2]["checkpoint"], cp.id.as_str());
    assert_eq!(lines[3]["reason"], "manual");
    // The history and the file agree.
    let history: Vec<Value> = client.history().iter().map(|e| e.to_json()).collect();
    assert_eq!(history, lines);
    assert_no_key("the audit log", &text);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    sims.shutdown().await;
}

#[tokio::test]
async fn an_unwritable_audit_log_is_refused_at_build() {
    let sims = Sims::start().await;
    let err = sims
        .builder()
        .configure(|c| c.audit_log = Some(PathBuf::from("/nonexistent-turnout-dir/audit.jsonl")))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("audit_log: cannot open"), "{err}");
    sims.shutdown().await;
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body); returns the body.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string());
            }
        }
    }
}

/// A webhook receiver on 127.0.0.1:0 answering 500 to its first request, 200 after; keeps the
/// bodies it received.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/turnout", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Some(body) = read_request(&mut stream).await {
                    let first = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(body);
                        seen.len() == 1
                    };
                    let status = if first {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn the_webhook_receives_every_event_retrying_a_failed_post() {
    let sims = Sims::start().await;
    let (url, bodies) = receiver().await;
    let client = sims
        .builder()
        .configure(move |c| c.webhook = Some(url.into()))
        .build()
        .unwrap();
    client.switch_to(Side::Green).unwrap();
    client.set_canary_weight(5.0).unwrap();
    let got = Arc::clone(&bodies);
    assert!(
        eventually(Duration::from_secs(20), move || got.lock().unwrap().len()
            >= 3)
        .await,
        "{:?}",
        bodies.lock().unwrap()
    );
    let received: Vec<Value> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).expect("a JSON body"))
        .collect();
    // The first POST got a 500 and was sent again; then the next event, in order.
    assert_eq!(received[0], received[1]);
    assert_eq!(received[0]["type"], "switch");
    assert_eq!(received[2]["type"], "weight_changed");
    assert_eq!(received[0], client.history()[0].to_json());
    sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_webhook_does_not_hold_up_requests() {
    let sims = Sims::start().await;
    // Accepts connections, reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            held.push(stream);
        }
    });
    let client: Client = sims
        .builder()
        .configure(move |c| c.webhook = Some(url.into()))
        .build()
        .unwrap();

    // 200 requests with an event every 20: were publishing to wait for delivery, the first
    // event alone would hold the run up for 4 attempts of 5 s each.
    let run = async {
        for i in 0..200 {
            if i % 20 == 0 {
                client.set_canary_weight(f64::from(i / 20 + 1)).unwrap();
            }
            client
                .chat()
                .create(chat(MODEL, &format!("r{i}")))
                .await
                .expect("request succeeds");
        }
    };
    // A hang guard, not a performance assertion.
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the requests finish");
    let events = client.history().len();
    let connections = accepted.load(Ordering::SeqCst);
    assert!(events >= 10, "{events}");
    // The task is still stuck on the first event (its first attempt, or its second if the
    // machine is slow): none of the later events was even tried.
    assert!(
        connections <= 2,
        "{connections} connections for {events} events"
    );
    assert_eq!(sims.chats(Side::Blue) + sims.chats(Side::Green), 200);
    hole.abort();
    sims.shutdown().await;
}

#[tokio::test]
async fn subscribers_and_history_see_rollout_events_with_the_api_names() {
    let sims = Sims::start().await;
    let client = sims.builder().build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let _sub = client.subscribe(move |e| sink.lock().unwrap().push(e.kind.as_str().to_string()));
    let plan = turnout::RolloutPlan::new(vec![turnout::Step::new(10.0), turnout::Step::new(100.0)])
        .interval(Duration::from_secs(3600));
    client.start_rollout(plan).unwrap();
    client.pause_rollout().unwrap();
    client.resume_rollout().unwrap();
    client.abort_rollout("testing").unwrap();
    let names = seen.lock().unwrap().clone();
    assert_eq!(
        names,
        [
            "rollout_started",
            "rollout_paused",
            "rollout_resumed",
            "rollback",
            "rollout_aborted"
        ]
    );
    let history: Vec<&str> = client.history().iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(history, names);
    let aborted = client.history().into_iter().last().unwrap();
    assert_eq!(aborted.kind, EventKind::RolloutAborted);
    assert_eq!(aborted.details["state"], "aborted");
    assert_eq!(aborted.details["rollout"], 1);
    sims.shutdown().await;
}
