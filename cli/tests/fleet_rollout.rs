//! Fleet rollouts (SEMANTICS.md, *Fleet*, *Analyst lease and fleet-wide gates*): a rollout
//! started from the CLI lives in Redis; three app processes (`turnout-fleet-app`, one OS process
//! each) flush their outcomes to per-second buckets and compete for the analyst lease; the
//! holder judges the fleet's window. Every test starts its own `redis-server` and simulators on
//! free loopback ports. Waits are bounded loops over what the processes and the CLI report;
//! verdicts are on that, never on elapsed time (the times printed are measurements).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A bound on the waits of these tests (a loaded machine may be slow); never a verdict.
const LONG_WAIT: Duration = Duration::from_secs(90);

/// The local guard and circuit stay out of the way, so that the verdict is the fleet's: no
/// process alone ever sees `rollback.min_requests` candidate requests.
const QUIET_LOCAL: &str = "retry: {max_attempts: 1}\ncircuit_breaker: {failure_threshold: 100000, min_calls: 100000, window_size: 100000}\nrollback: {min_requests: 100000}\n";

fn redis_state_ttl(redis: &Redis, ttl: &str) -> String {
    format!(
        "{{backend: redis, url: \"redis://127.0.0.1:{}/\", namespace: fleet, lease_ttl: {ttl}}}",
        redis.port
    )
}

/// `turnout rollout status --json` until `f` holds.
fn wait_rollout(config: &Path, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + LONG_WAIT;
    loop {
        let (code, out) = turnout(config, &["rollout", "status", "--json"]);
        if code == Some(0)
            && let Ok(v) = serde_json::from_str::<Value>(out.trim())
            && f(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shared history as JSON.
fn history(config: &Path) -> Vec<Value> {
    let (code, out) = turnout(config, &["history", "--limit", "1000", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    serde_json::from_str::<Value>(out.trim())
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn of_kind<'a>(history: &'a [Value], kind: &str) -> Vec<&'a Value> {
    history.iter().filter(|e| e["type"] == kind).collect()
}

/// Starts three app processes on `configs` (one each) and waits until one holds the lease.
fn start_fleet(configs: &[PathBuf; 3]) -> Vec<App> {
    let apps: Vec<App> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| App::start(c, &format!("app-{}", i + 1)))
        .collect();
    let deadline = Instant::now() + LONG_WAIT;
    while !apps
        .iter()
        .any(|a| a.events().iter().any(|e| e["type"] == "lease_acquired"))
    {
        assert!(Instant::now() < deadline, "nobody took the analyst lease");
        std::thread::sleep(Duration::from_millis(20));
    }
    apps
}

/// Sends `cmd` to every app at once, then collects the answers.
fn ask_all(apps: &mut [App], cmd: &str) -> Vec<Value> {
    let marks: Vec<usize> = apps
        .iter_mut()
        .map(|a| {
            let before = a.lines.lock().expect("lines").len();
            writeln!(a.stdin, "{cmd}").expect("send");
            a.stdin.flush().expect("flush");
            before
        })
        .collect();
    apps.iter()
        .zip(marks)
        .map(|(a, before)| {
            let deadline = Instant::now() + LONG_WAIT;
            loop {
                if let Some(v) = a.lines.lock().expect("lines")[before..]
                    .iter()
                    .find(|v| v.get("answer").is_some())
                {
                    return v["answer"].clone();
                }
                assert!(Instant::now() < deadline, "{}: no answer to {cmd}", a.id);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .collect()
}

/// Keeps traffic flowing — `cmd` to every app each round — while the rollout runs past its
/// first step, until it ends: a step is judged on requests made at it, so a later step with no
/// traffic never advances, nor does the last one promote.
fn traffic_until_ended(apps: &mut [App], config: &Path, cmd: &str) {
    let deadline = Instant::now() + LONG_WAIT;
    loop {
        let (code, out) = turnout(config, &["rollout", "status", "--json"]);
        if code == Some(0)
            && let Ok(v) = serde_json::from_str::<Value>(out.trim())
        {
            if !matches!(v["state"].as_str(), Some("running" | "paused")) {
                return;
            }
            if v["step"].as_u64().is_some_and(|s| s > 0) {
                ask_all(apps, cmd);
                continue;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the rollout to end: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Fleet {
    _redis: Redis,
    _sims: Vec<Proc>,
    apps: Vec<App>,
    config: PathBuf,
    green_port: u16,
}

/// Redis, a healthy blue and a green failing `green_error_rate` of its requests, three apps.
fn fleet(name: &str, green_error_rate: &str, extra: &str) -> Fleet {
    let dir = temp_dir(name);
    let redis = Redis::start(&dir);
    let (blue, blue_port) = start_sim_with(&["--latency-ms", "1"]);
    let (green, green_port) =
        start_sim_with(&["--latency-ms", "1", "--error-rate", green_error_rate]);
    let state = redis_state_ttl(&redis, "2");
    let config = write_app_config(
        &dir,
        "app",
        blue_port,
        green_port,
        &state,
        &format!("{QUIET_LOCAL}{extra}"),
    );
    let configs = [config.clone(), config.clone(), config.clone()];
    let apps = start_fleet(&configs);
    Fleet {
        _redis: redis,
        _sims: vec![blue, green],
        apps,
        config,
        green_port,
    }
}

const START: &[&str] = &[
    "rollout",
    "start",
    "--steps",
    "50,100",
    "--min-requests",
    "30",
    "--gate-min-requests",
    "20",
    "--max-error-rate",
    "0.05",
    "--interval",
    "200ms",
    "--window",
    "600s",
    "--failure-limit",
    "0",
];

/// Starts the rollout, waits until every app serves its first step, sends 30 requests from
/// each (and more at the later step, if it gets there), and returns `rollout wait`'s exit code,
/// when the first step's requests ended and how many of them the candidate served.
fn run_rollout(f: &mut Fleet) -> (Option<i32>, Instant, u64) {
    let (code, out) = turnout(&f.config, START);
    assert_eq!(code, Some(0), "{out}");
    for app in &mut f.apps {
        app.wait_state("the first step", |s| weight(s) == 5000);
    }
    let answers = ask_all(&mut f.apps, "requests 30");
    let sent = Instant::now();
    let green: u64 = answers
        .iter()
        .map(|a| a["served"]["green"].as_u64().unwrap_or(0))
        .sum();
    traffic_until_ended(&mut f.apps, &f.config, "requests 5");
    let (code, out) = turnout(&f.config, &["rollout", "wait", "--timeout", "90s"]);
    eprintln!("{out}");
    (code, sent, green)
}

#[test]
fn a_cli_rollout_across_three_processes_promotes_a_healthy_candidate() {
    let mut f = fleet("promote", "0", "");
    // The gates judge on for 600 s after the promotion: the fleet's post-promotion analysis.
    let (code, _, _) = run_rollout(&mut f);
    assert_eq!(code, Some(0), "rollout wait exits 0 on a promotion");
    for app in &mut f.apps {
        let s = app.wait_state("the promotion", |s| active(s) == "green" && weight(s) == 0);
        assert_eq!(s["state"]["active"], "green");
    }
    let h = history(&f.config);
    let steps = of_kind(&h, "rollout_step");
    assert_eq!(steps.len(), 1, "one step, once: {h:?}");
    let promote = of_kind(&h, "promote");
    assert_eq!(promote.len(), 1, "{h:?}");
    let analyst = promote[0]["author"].as_str().unwrap_or("");
    assert!(
        analyst.starts_with("app-"),
        "an instance holding the lease decided: {promote:?}"
    );
    assert_eq!(promote[0]["source"], "rollout");
    let status = wait_rollout(&f.config, "completed", |r| r["state"] == "completed");
    assert_eq!(status["weight"], 100.0);

    // Post-promotion analysis is the fleet's too: green turns bad after its promotion, no
    // process alone could judge it (their guards need 100000 requests), the analyst switches
    // back within the gates' window.
    patch_faults(f.green_port, r#"{"error_rate": 1.0}"#);
    ask_all(&mut f.apps, "requests 10");
    for app in &mut f.apps {
        app.wait_state("the switch back", |s| active(s) == "blue" && weight(s) == 0);
    }
    let h = history(&f.config);
    let back = of_kind(&h, "rollback");
    assert_eq!(back.len(), 1, "{h:?}");
    assert_eq!(back[0]["source"], "rollout");
    assert!(
        back[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("post-promotion analysis (fleet)")),
        "{:?}",
        back[0]
    );
}

/// Changes a simulator's faults (`PATCH /_sim/faults`).
fn patch_faults(port: u16, json: &str) {
    use std::io::Read;
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        conn,
        "PATCH /_sim/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_cli_rollout_of_a_candidate_failing_30_percent_is_rolled_back_by_the_fleet_verdict() {
    let mut f = fleet("rollback", "0.3", "");
    let (code, sent, green) = run_rollout(&mut f);
    assert_eq!(code, Some(1), "rollout wait exits 1 on a rollback");
    for app in &mut f.apps {
        app.wait_state("the rollback", |s| active(s) == "blue" && weight(s) == 0);
    }
    eprintln!(
        "measured: from the last of the failing candidate's requests to every process at weight 0: {:?} ({green} candidate requests)",
        sent.elapsed()
    );
    let h = history(&f.config);
    let rollbacks = of_kind(&h, "rollback");
    assert_eq!(rollbacks.len(), 1, "one rollback: {h:?}");
    let r = rollbacks[0];
    assert_eq!(r["source"], "rollout");
    assert!(
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("over the fleet's window")),
        "{r}"
    );
    assert!(of_kind(&h, "promote").is_empty(), "{h:?}");
    let status = wait_rollout(&f.config, "rolled back", |r| r["state"] == "rolled_back");
    assert_eq!(status["weight"], 0.0, "the real weight, not the step's");
    assert_eq!(status["step_weight"], 50.0);
    let judged = &status["analysis"]["judged"];
    assert!(
        judged["error_rate"].as_f64().unwrap_or(0.0) > 0.05,
        "{status}"
    );
    // Each process alone never judged: its own guard needs 100000 requests.
    for app in &f.apps {
        assert!(
            !app.events()
                .iter()
                .any(|e| e["type"] == "rollback" && e["source"] == "guard"),
            "{}",
            app.id
        );
    }
}

#[test]
fn the_fleet_p99_is_the_p99_of_every_recorded_latency() {
    let dir = temp_dir("p99");
    let redis = Redis::start(&dir);
    let (blue, blue_port) = start_sim_with(&["--latency-ms", "1"]);
    let (slow, slow_port) = start_sim_with(&["--latency-ms", "300", "--jitter-ms", "100"]);
    let (fast, fast_port) = start_sim_with(&["--latency-ms", "20", "--jitter-ms", "20"]);
    let state = redis_state_ttl(&redis, "2");
    let slow_config = write_app_config(&dir, "slow", blue_port, slow_port, &state, QUIET_LOCAL);
    let fast_config = write_app_config(&dir, "fast", blue_port, fast_port, &state, QUIET_LOCAL);
    let mut apps = start_fleet(&[
        slow_config.clone(),
        fast_config.clone(),
        fast_config.clone(),
    ]);
    let (code, out) = turnout(
        &fast_config,
        &[
            "rollout",
            "start",
            "--steps",
            "50,100",
            "--hold",
            "1h",
            "--window",
            "600s",
            "--interval",
            "200ms",
            "--max-p99-ms",
            "100000",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let mut answers = vec![apps[0].ask("requests_to green 15")];
    answers.extend(ask_all(&mut apps[1..], "requests_to green 60"));
    let mut all: Vec<f64> = Vec::new();
    let mut own_p99 = Vec::new();
    for a in &answers {
        assert_eq!(a["errors"], 0, "{a}");
        let mut mine: Vec<f64> = a["latencies_ms"]
            .as_array()
            .expect("latencies")
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        mine.sort_by(f64::total_cmp);
        own_p99.push(nearest_rank(&mine, 0.99));
        all.extend(mine);
    }
    all.sort_by(f64::total_cmp);
    let n = all.len() as u64;
    let status = wait_rollout(&fast_config, "every request in the fleet's window", |r| {
        r["analysis"]["judged"]["requests"].as_u64() == Some(n)
    });
    let fleet_p99 = status["analysis"]["judged"]["p99_ms"]
        .as_f64()
        .expect("p99");
    let exact = nearest_rank(&all, 0.99);
    assert!(
        (fleet_p99 - exact).abs() / exact <= 0.01,
        "fleet p99 {fleet_p99} ms vs {exact} ms over all {n} latencies"
    );
    let average = own_p99.iter().sum::<f64>() / own_p99.len() as f64;
    assert!(
        (average - exact).abs() / exact > 0.2,
        "an average of the processes' p99s ({average}) would not be the fleet's ({exact})"
    );
    assert_eq!(
        status["analysis"]["gates"]["max_p99_latency_ms"]["observed"],
        fleet_p99
    );
    drop((blue, slow, fast, redis));
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn a_killed_analyst_is_replaced_and_the_rollout_completes_with_no_step_applied_twice() {
    let mut f = fleet("kill", "0", "");
    let (code, out) = turnout(
        &f.config,
        &[
            "rollout",
            "start",
            "--steps",
            "20,50,100",
            "--hold",
            "3s",
            "--gate-min-requests",
            "1",
            "--interval",
            "100ms",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    for app in &mut f.apps {
        app.wait_state("the first step", |s| weight(s) == 2000);
    }
    ask_all(&mut f.apps, "requests 20");
    let status = wait_rollout(&f.config, "the second step", |r| r["step"] == 1);
    let analyst = status["analyst"].as_str().expect("an analyst").to_string();
    let victim = f
        .apps
        .iter()
        .position(|a| a.id == analyst)
        .expect("the analyst is one of the apps");
    f.apps[victim].kill9();
    let killed = Instant::now();
    let status = wait_rollout(&f.config, "another analyst", |r| {
        r["analyst"].as_str().is_some_and(|a| a != analyst)
    });
    eprintln!(
        "measured: lease takeover {:?} after SIGKILL of the analyst (lease ttl 2 s), by {}",
        killed.elapsed(),
        status["analyst"]
    );
    f.apps.remove(victim);
    traffic_until_ended(&mut f.apps, &f.config, "requests 5");
    let (code, out) = turnout(&f.config, &["rollout", "wait", "--timeout", "90s"]);
    assert_eq!(code, Some(0), "{out}");
    let h = history(&f.config);
    let steps: Vec<&str> = of_kind(&h, "rollout_step")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[0].contains("step 2 of 3") && steps[1].contains("step 3 of 3"),
        "{steps:?}"
    );
    assert_eq!(of_kind(&h, "promote").len(), 1);
    let taken_over = of_kind(&h, "lease_acquired");
    assert!(
        taken_over.iter().any(|e| e["author"] != analyst.as_str()),
        "another instance took the lease: {taken_over:?}"
    );
}

#[test]
fn no_promotion_while_redis_is_down_and_the_rollout_resumes_after() {
    let dir = temp_dir("outage");
    let mut redis = Redis::start(&dir);
    let (blue, blue_port) = start_sim_with(&["--latency-ms", "1"]);
    let (green, green_port) = start_sim_with(&["--latency-ms", "1"]);
    let state = redis_state_ttl(&redis, "2");
    let config = write_app_config(&dir, "app", blue_port, green_port, &state, QUIET_LOCAL);
    let mut apps = start_fleet(&[config.clone(), config.clone(), config.clone()]);
    // The first step needs 20 candidate requests across the fleet: none come before Redis
    // goes down, so nothing can advance before.
    let (code, out) = turnout(
        &config,
        &[
            "rollout",
            "start",
            "--steps",
            "50,100",
            "--min-requests",
            "20",
            "--gate-min-requests",
            "1",
            "--interval",
            "100ms",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    for app in &mut apps {
        app.wait_state("the first step", |s| weight(s) == 5000);
    }
    redis.stop();
    for app in &mut apps {
        let s = app.wait_state("the store down", |s| s["store"]["connected"] == false);
        assert_eq!(weight(&s), 5000);
    }
    // Requests meanwhile: enough for the step, judged only once the store is back.
    ask_all(&mut apps, "requests 30");
    for app in &mut apps {
        let deadline = Instant::now() + LONG_WAIT;
        loop {
            let s = app.ask("status");
            if s["rollout"]["state"] == "paused" {
                assert_eq!(s["rollout"]["reason"], "store unreachable");
                break;
            }
            assert!(Instant::now() < deadline, "{}: not paused: {s}", app.id);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Some analyst rounds pass while Redis is down (a wait, not a verdict)...
    std::thread::sleep(Duration::from_secs(2));
    for app in &mut apps {
        let s = app.ask("state");
        assert_eq!((active(&s), weight(&s)), ("blue", 5000), "{}: {s}", app.id);
        assert!(
            !app.events().iter().any(|e| e["type"] == "promote"),
            "no promotion while Redis is down"
        );
    }
    redis.run();
    traffic_until_ended(&mut apps, &config, "requests 5");
    let (code, out) = turnout(&config, &["rollout", "wait", "--timeout", "90s"]);
    assert_eq!(code, Some(0), "the rollout resumed and promoted: {out}");
    for app in &mut apps {
        app.wait_state("the promotion", |s| active(s) == "green" && weight(s) == 0);
        let kinds: Vec<Value> = app.events().iter().map(|e| e["type"].clone()).collect();
        assert!(
            kinds.contains(&"rollout_paused".into()),
            "{}: {kinds:?}",
            app.id
        );
        assert!(
            kinds.contains(&"rollout_resumed".into()),
            "{}: {kinds:?}",
            app.id
        );
    }
    drop((blue, green));
}

#[test]
fn a_fleet_wide_rpm_limit_holds_across_three_processes() {
    let dir = temp_dir("rpm");
    let mut redis = Redis::start(&dir);
    let (sim, port) = start_sim_with(&["--latency-ms", "1"]);
    let state = redis_state_ttl(&redis, "2");
    let n = 12;
    let config = write_app_config(
        &dir,
        "app",
        port,
        port,
        &state,
        &format!("rate_limit: {{requests_per_minute: {n}}}\n"),
    );
    let mut apps = start_fleet(&[config.clone(), config.clone(), config.clone()]);
    let answers = ask_all(&mut apps, "burst 10");
    let admitted: u64 = answers
        .iter()
        .map(|a| a["admitted"].as_u64().unwrap_or(0))
        .sum();
    let limited: u64 = answers
        .iter()
        .map(|a| a["rate_limited"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        (n..=2 * n).contains(&admitted),
        "N = {n} per minute (burst N) across the fleet: {admitted} admitted of 30 ({answers:?})"
    );
    assert_eq!(admitted + limited, 30, "{answers:?}");
    // Redis down: each process's own buckets decide, and say so.
    redis.stop();
    let answers = ask_all(&mut apps, "burst 3");
    let admitted: u64 = answers
        .iter()
        .map(|a| a["admitted"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        admitted > 0,
        "local buckets admit while Redis is down: {answers:?}"
    );
    for app in &apps {
        assert!(
            app.events()
                .iter()
                .any(|e| e["type"] == "rate_limits_local" && e["fleet"] == false),
            "{}",
            app.id
        );
    }
    drop(sim);
}
