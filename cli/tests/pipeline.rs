//! `turnout smoke` and `turnout loadtest` against simulators on loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use turnout_sim::{Faults, Sim, SimConfig};

const GREEN_KEY: &str = "sk-green-right-SECRET";

fn temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "turnout-pipeline-{}-{nanos}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// One load test at a time: two at once on a 2-core machine measure each other.
static LOAD: Mutex<()> = Mutex::new(());

fn one_load_at_a_time() -> MutexGuard<'static, ()> {
    LOAD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A simulator on a runtime of its own (two worker threads, like `turnout sim`), so that a
/// test can drive it while the CLI runs.
struct TestSim {
    sim: Option<Sim>,
    runtime: tokio::runtime::Runtime,
}

impl std::ops::Deref for TestSim {
    type Target = Sim;

    fn deref(&self) -> &Sim {
        self.sim.as_ref().expect("running until dropped")
    }
}

impl Drop for TestSim {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

fn sim(config: SimConfig) -> TestSim {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(Sim::start_on(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            config,
        ))
        .expect("sim starts");
    TestSim {
        sim: Some(sim),
        runtime,
    }
}

/// Green is the simulator; blue is a port where nothing listens, so a request that is not
/// pinned to green would fail.
fn write_config(dir: &Path, green_url: &str, green_key: &str) -> PathBuf {
    let path = dir.join("turnout.yaml");
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-blue-SECRET\", label: v1}}\n  green: {{base_url: \"{green_url}\", api_key: \"{green_key}\", label: v2}}\n"
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn turnout(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnout"));
    cmd.args(args).env_remove("TURNOUT_CONFIG");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn f64_at(doc: &Value, pointer: &str) -> f64 {
    doc.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer}: {doc:#}"))
}

fn u64_at(doc: &Value, pointer: &str) -> u64 {
    doc.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no count at {pointer}: {doc:#}"))
}

#[test]
fn smoke_passes_against_a_healthy_side() {
    let green = sim(SimConfig::named("green").with_api_key(GREEN_KEY));
    let dir = temp_dir("smoke-ok");
    let config = write_config(&dir, &green.url(), GREEN_KEY);
    let config = config.to_str().expect("utf-8 path");

    let out = turnout(&[
        "smoke",
        "green",
        "--config",
        config,
        "--embedding-model",
        "text-embedding-3-small",
    ])
    .output()
    .expect("runs");
    let table = text(&out);
    assert_eq!(out.status.code(), Some(0), "{table}");
    for check in ["models", "chat", "stream", "embedding"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(check) && l.contains(" PASS ")),
            "{check} passes: {table}"
        );
    }
    assert!(
        table.contains("result: PASS (4 passed, 0 failed, 0 skipped)"),
        "{table}"
    );
    assert!(!table.contains("SECRET"), "no key in the output");
    // Pinned: every request reached green (blue would have failed), once each.
    let stats = green.stats();
    assert_eq!(stats.total, 4, "{stats:?}");
    assert_eq!(stats.by_status.get(&200), Some(&4), "{stats:?}");

    let out = turnout(&["smoke", "green", "--config", config, "--json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["passed"], true);
    let results: Vec<&str> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["result"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(results, ["pass", "pass", "pass", "skip"], "{doc:#}");
    // One-token answers of a priced model: tokens and a cost were counted.
    assert!(u64_at(&doc, "/prompt_tokens") > 0, "{doc:#}");
    assert!(u64_at(&doc, "/completion_tokens") >= 2, "{doc:#}");
    assert!(f64_at(&doc, "/cost_usd") > 0.0, "{doc:#}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn smoke_fails_and_names_the_failure_with_a_wrong_key() {
    let green = sim(SimConfig::named("green").with_api_key(GREEN_KEY));
    let dir = temp_dir("smoke-key");
    let config = write_config(&dir, &green.url(), "sk-wrong-SECRET");
    let config = config.to_str().expect("utf-8 path");
    let out = turnout(&["smoke", "green", "--config", config, "--model", "gpt-4.1"])
        .output()
        .expect("runs");
    let table = text(&out);
    assert_eq!(out.status.code(), Some(1), "{table}");
    for check in ["models", "chat", "stream"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(check))
            .unwrap_or_else(|| panic!("a {check} row: {table}"));
        assert!(
            line.contains(" FAIL ") && line.contains("HTTP 401"),
            "{line}"
        );
    }
    assert!(
        table.contains("result: FAIL (0 passed, 3 failed, 1 skipped)"),
        "{table}"
    );
    assert!(!table.contains("SECRET"), "no key in the output: {table}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn smoke_and_loadtest_exit_2_on_bad_config_or_usage() {
    let dir = temp_dir("bad");
    let config = dir.join("turnout.yaml");
    std::fs::write(&config, "environments: {blue: 1}\n").expect("config");
    let config = config.to_str().expect("utf-8 path");
    let out = turnout(&["smoke", "green", "--config", config])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let good = write_config(&dir, "http://127.0.0.1:9/v1", "sk-x");
    let good = good.to_str().expect("utf-8 path");
    for bad in [
        &["--rps", "0", "--duration", "1s"][..],
        &["--rps", "10", "--duration", "0s"],
        &["--rps", "10", "--duration", "1s", "--max-error-rate", "2"],
        &["--rps", "10", "--duration", "ten"],
    ] {
        let out = turnout(&["loadtest", "green", "--config", good, "--model", "m"])
            .args(bad)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// 500 requests a second for 10 s with 5 % injected errors: every request is sent, the achieved
/// rate and the error rate are what was asked, and the error-rate threshold is judged.
#[test]
fn loadtest_holds_500_rps_and_counts_injected_errors() {
    let _alone = one_load_at_a_time();
    let green = sim(SimConfig::named("green").with_faults(Faults {
        error_rate: 0.05,
        error_status: 503,
        ..Faults::default()
    }));
    let dir = temp_dir("load");
    let config = write_config(&dir, &green.url(), GREEN_KEY);
    let out = turnout(&[
        "loadtest",
        "green",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--model",
        "gpt-4.1-mini",
        "--rps",
        "500",
        "--duration",
        "10s",
        "--max-error-rate",
        "0.01",
        "--json",
    ])
    .output()
    .expect("runs");
    // 5 % errors breach a 1 % ceiling.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(u64_at(&doc, "/scheduled"), 5000, "{doc:#}");
    assert_eq!(u64_at(&doc, "/sent"), 5000, "{doc:#}");
    assert_eq!(u64_at(&doc, "/completed"), 5000, "{doc:#}");
    let achieved = f64_at(&doc, "/achieved_rps");
    assert!((490.0..=510.0).contains(&achieved), "achieved {achieved}");
    let error_rate = f64_at(&doc, "/error_rate");
    assert!(
        (0.03..=0.07).contains(&error_rate),
        "error rate {error_rate}"
    );
    // Every 503 the simulator sent is a side failure, every 200 a success.
    let stats = green.stats();
    let failures = u64_at(&doc, "/outcomes/side_failure");
    assert_eq!(
        stats.by_status.get(&503).copied(),
        Some(failures),
        "{stats:?}"
    );
    assert_eq!(
        stats.by_status.get(&200).copied(),
        Some(u64_at(&doc, "/outcomes/success")),
        "{stats:?}"
    );
    let breached: Vec<&str> = doc["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .filter(|t| t["passed"] == false)
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(breached, ["error_rate"], "{doc:#}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The simulator stalls every answer for 1 s during a second of the run. An open-loop sender
/// keeps sending through the stall, so a whole second of requests shows the stall, from their
/// due time: far more than 10 % of the run, so p90 and p99 are both at least 1 s. (A
/// closed-loop sender would only have its few requests in flight stalled, and p90 would stay
/// low.)
#[test]
fn loadtest_shows_a_stall_in_p99() {
    let _alone = one_load_at_a_time();
    let green = sim(SimConfig::named("green"));
    let dir = temp_dir("stall");
    let config = write_config(&dir, &green.url(), GREEN_KEY);
    let child = turnout(&[
        "loadtest",
        "green",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--model",
        "gpt-4.1-mini",
        "--rps",
        "100",
        "--duration",
        "6s",
        "--max-p99-ms",
        "500",
        "--json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("runs");
    // Stall once 150 requests were answered (1.5 s into the run), for a second.
    while green.stats().total < 150 {
        std::thread::sleep(Duration::from_millis(5));
    }
    green.set_faults(Faults {
        latency_ms: 1000,
        ..Faults::default()
    });
    std::thread::sleep(Duration::from_secs(1));
    green.set_faults(Faults::default());
    let out = child.wait_with_output().expect("ends");
    // The stall breaches the 500 ms p99 ceiling.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(u64_at(&doc, "/sent"), 600, "{doc:#}");
    assert_eq!(u64_at(&doc, "/outcomes/success"), 600, "{doc:#}");
    let p99 = f64_at(&doc, "/latency_ms/p99");
    let p90 = f64_at(&doc, "/latency_ms/p90");
    assert!(p99 >= 1000.0, "p99 {p99} ms shows the stall: {doc:#}");
    assert!(
        p90 >= 1000.0,
        "p90 {p90} ms: the sender kept sending: {doc:#}"
    );
    assert!(f64_at(&doc, "/latency_ms/p50") < 1000.0, "{doc:#}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn loadtest_stops_at_the_cost_ceiling() {
    let _alone = one_load_at_a_time();
    let green = sim(SimConfig::named("green"));
    let dir = temp_dir("cost");
    let config = write_config(&dir, &green.url(), GREEN_KEY);
    let out = turnout(&[
        "loadtest",
        "green",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--model",
        "gpt-4.1",
        "--rps",
        "100",
        "--duration",
        "20s",
        "--concurrency",
        "4",
        "--max-cost-usd",
        "0.002",
        "--json",
    ])
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&out);
    assert!(doc["stopped"].is_string(), "{doc:#}");
    let sent = u64_at(&doc, "/sent");
    // About 20 requests of gpt-4.1 reach $0.002; the run would have sent 2000.
    assert!(sent < 200, "sent {sent}");
    assert!(f64_at(&doc, "/cost_usd") >= 0.002, "{doc:#}");
    assert_eq!(
        green.stats().total,
        sent,
        "every sent request reached the side"
    );
    let _ = std::fs::remove_dir_all(dir);
}
