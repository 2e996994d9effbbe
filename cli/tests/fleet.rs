//! A fleet of app processes (`turnout-fleet-app`, one OS process each) following one store,
//! changed by the `turnout` CLI: changes reach every process, Redis restarts and outages lose
//! nothing, concurrent writers lose no operation. Every test starts its own `redis-server` and
//! `turnout sim` on free loopback ports. Waits are bounded loops over the processes' reported
//! state; the verdicts are on that state, never on elapsed time.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// A bound on every wait (a loaded machine may be slow); never a verdict.
const WAIT: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "turnout-fleet-{}-{nanos}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `redis-server` whose data persists in its directory (append-only file, fsync always).
struct Redis {
    proc: Option<Proc>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start(dir: &Path) -> Self {
        let mut r = Self {
            proc: None,
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make setup-system)");
        self.proc = Some(Proc(child));
        wait_for_port(self.port, "redis-server");
    }

    fn stop(&mut self) {
        self.proc = None;
    }
}

/// `turnout sim` serving both sides.
fn start_sim() -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(["sim", "--port", &port.to_string(), "--latency-ms", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout sim");
    wait_for_port(port, "turnout sim");
    (Proc(child), port)
}

/// The app's config file: both sides on the simulator, the given `state` section.
fn write_config(dir: &Path, sim: u16, state: &str) -> PathBuf {
    let path = dir.join("turnout.yaml");
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:{sim}/v1\", api_key: \"sk-fleet-blue\", label: v1}}\n  green: {{base_url: \"http://127.0.0.1:{sim}/v1\", api_key: \"sk-fleet-green\", label: v2}}\nhealth_check: {{enabled: false}}\nstate: {state}\n"
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn redis_state(redis: &Redis) -> String {
    format!(
        "{{backend: redis, url: \"redis://127.0.0.1:{}/\", namespace: fleet}}",
        redis.port
    )
}

/// One app process and what it printed.
struct App {
    _proc: Proc,
    stdin: ChildStdin,
    lines: Arc<Mutex<Vec<Value>>>,
    id: String,
}

impl App {
    fn start(config: &Path, id: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_turnout-fleet-app"))
            .arg(config)
            .arg(id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnout-fleet-app");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().expect("lines").push(v);
                }
            }
        });
        let app = Self {
            _proc: Proc(child),
            stdin,
            lines,
            id: id.to_string(),
        };
        app.wait_line("ready", |v| v.get("ready").is_some());
        app
    }

    fn wait_line(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = self.lines.lock().expect("lines").iter().find(|v| f(v)) {
                return v.clone();
            }
            assert!(Instant::now() < deadline, "{}: no {what}", self.id);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `cmd` and returns its answer.
    fn ask(&mut self, cmd: &str) -> Value {
        let before = self.lines.lock().expect("lines").len();
        writeln!(self.stdin, "{cmd}").expect("send");
        self.stdin.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            {
                let lines = self.lines.lock().expect("lines");
                if let Some(v) = lines[before..].iter().find(|v| v.get("answer").is_some()) {
                    return v["answer"].clone();
                }
            }
            assert!(Instant::now() < deadline, "{}: no answer to {cmd}", self.id);
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Asks for the state until `f` holds.
    fn wait_state(&mut self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.ask("state");
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{}: timed out waiting for {what}; last {s}",
                self.id
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter_map(|v| v.get("event").cloned())
            .collect()
    }
}

fn weight(s: &Value) -> u64 {
    s["state"]["weight_bp"].as_u64().unwrap_or(u64::MAX)
}

fn active(s: &Value) -> &str {
    s["state"]["active"].as_str().unwrap_or("")
}

/// Runs the CLI; returns its exit code and stdout.
fn turnout(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("USER", "oncall")
        .output()
        .expect("turnout");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn turnout_json(config: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out) = turnout(config, &all);
    assert_eq!(code, Some(0), "turnout {args:?}: {out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The CLI's switch, weight and rollback reach every process; the rollback arrives as a
/// `rollback` event; a process started later serves from the stored version.
fn check_cli_changes_reach_every_process(config: &Path) {
    let mut apps: Vec<App> = (1..=3)
        .map(|i| App::start(config, &format!("app-{i}")))
        .collect();
    turnout_json(config, &["set-weight", "20"]);
    for app in &mut apps {
        app.wait_state("weight 20%", |s| weight(s) == 2000);
    }
    turnout_json(config, &["switch", "green"]);
    for app in &mut apps {
        app.wait_state("green active", |s| active(s) == "green" && weight(s) == 0);
    }
    let done = turnout_json(config, &["rollback", "--reason", "v2 is broken"]);
    assert_eq!(done["verdict"], "applied");
    for app in &mut apps {
        app.wait_state("blue active again", |s| active(s) == "blue");
        let rollback = app
            .events()
            .into_iter()
            .rfind(|e| e["type"] == "rollback")
            .unwrap_or_else(|| panic!("{} has a rollback event", app.id));
        assert_eq!(rollback["source"], "store", "{rollback}");
        assert_eq!(rollback["reason"], "v2 is broken");
        assert!(
            rollback["author"]
                .as_str()
                .is_some_and(|a| a.starts_with("cli:oncall@")),
            "{rollback}"
        );
    }
    // A process started now serves its first request from the stored version.
    let stored = turnout_json(config, &["status"]);
    let mut late = App::start(config, "app-late");
    let ready = late.wait_line("ready", |v| v.get("ready").is_some());
    assert_eq!(ready["state"]["version"], stored["version"]);
    assert_eq!(ready["state"]["active"], "blue");
    // And an operation it makes right after start is applied to the stored state.
    let answer = late.ask("weight 7");
    assert_eq!(answer["ok"]["weight_bp"], 700, "{answer}");
    for app in &mut apps {
        app.wait_state("the late process's weight", |s| weight(s) == 700);
    }
    let stored = turnout_json(config, &["status"]);
    assert_eq!(stored["canary_weight"], 7.0);
    assert_eq!(stored["updated_by"], "app-late");
}

#[test]
fn cli_changes_reach_three_processes_through_redis() {
    let dir = temp_dir("reach");
    let redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    check_cli_changes_reach_every_process(&config);
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cli_changes_reach_three_processes_through_a_file() {
    let dir = temp_dir("reach-file");
    let (_sim, sim) = start_sim();
    let state = format!(
        "{{backend: file, path: \"{}\"}}",
        dir.join("traffic.json").display()
    );
    let config = write_config(&dir, sim, &state);
    check_cli_changes_reach_every_process(&config);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn processes_follow_the_store_after_redis_restarts() {
    let dir = temp_dir("restart");
    let mut redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    let mut apps: Vec<App> = (1..=3)
        .map(|i| App::start(&config, &format!("app-{i}")))
        .collect();
    turnout_json(&config, &["set-weight", "15"]);
    for app in &mut apps {
        app.wait_state("weight 15%", |s| weight(s) == 1500);
    }
    redis.stop();
    let (code, out) = turnout(&config, &["status"]);
    assert_eq!(
        code,
        Some(2),
        "the CLI says the store is unreachable: {out}"
    );
    redis.run();
    // The data persisted, and the CLI works again.
    let stored = turnout_json(&config, &["status"]);
    assert_eq!(stored["canary_weight"], 15.0);
    turnout_json(&config, &["switch", "green"]);
    for app in &mut apps {
        app.wait_state("green after the restart", |s| active(s) == "green");
        app.wait_state("connected again", |s| s["store"]["connected"] == true);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_rollback_made_while_redis_is_down_reaches_everyone_when_it_returns() {
    let dir = temp_dir("outage");
    let mut redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    let mut apps: Vec<App> = (1..=3)
        .map(|i| App::start(&config, &format!("app-{i}")))
        .collect();
    turnout_json(&config, &["set-weight", "50"]);
    for app in &mut apps {
        app.wait_state("weight 50%", |s| weight(s) == 5000);
    }
    redis.stop();
    // Requests keep flowing on the last known state.
    for app in &mut apps {
        let r = app.ask("requests 20");
        assert_eq!(r["errors"], 0, "{}: {r}", app.id);
        assert!(r["served"]["green"].as_u64().unwrap_or(0) > 0, "{r}");
    }
    // One process rolls back: at once there, queued for the store.
    let answer = apps[0].ask("rollback canary is bad");
    assert_eq!(answer["ok"]["weight_bp"], 0, "{answer}");
    let s = apps[0].wait_state("the outage noticed", |s| s["store"]["connected"] == false);
    assert_eq!(s["store"]["pending_ops"], 1);
    let r = apps[0].ask("requests 10");
    assert_eq!(r["served"]["green"], 0, "the local rollback holds: {r}");
    assert_eq!(weight(&apps[1].ask("state")), 5000);

    redis.run();
    apps[0].wait_state("acknowledged", |s| s["store"]["pending_ops"] == 0);
    for app in &mut apps {
        app.wait_state("the rollback", |s| weight(s) == 0);
    }
    let stored = turnout_json(&config, &["status"]);
    assert_eq!(stored["canary_weight"], 0.0);
    assert_eq!(stored["updated_by"], "app-1");
    assert_eq!(stored["last_change"], "rollback");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn concurrent_writers_lose_no_operation() {
    let dir = temp_dir("writers");
    let redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    let mut writers: Vec<App> = (1..=2)
        .map(|i| App::start(&config, &format!("writer-{i}")))
        .collect();
    // Two processes make 400 operations each while the CLI makes 200.
    for w in &mut writers {
        writeln!(w.stdin, "ops 400").expect("send");
    }
    let mut cli_ops = Vec::new();
    for i in 0..200 {
        let done = turnout_json(&config, &["set-weight", &format!("{}", i % 97 + 1)]);
        cli_ops.push(done["op"].as_str().expect("op id").to_string());
    }
    for w in &writers {
        w.wait_line("ops done", |v| v["answer"]["ops_done"] == 400);
    }
    let mut acked: Vec<String> = cli_ops;
    for w in &writers {
        let own: Vec<String> = w
            .events()
            .into_iter()
            .filter(|e| e["source"] == "local")
            .filter_map(|e| e["op"].as_str().map(str::to_string))
            .collect();
        assert_eq!(own.len(), 400, "{}", w.id);
        acked.extend(own);
    }
    assert_eq!(acked.len(), 1000);
    let (code, out) = turnout(&config, &["history", "--limit", "1000", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let history: Vec<Value> = serde_json::from_str::<Value>(out.trim())
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    for id in &acked {
        let n = history.iter().filter(|e| e["op"] == *id.as_str()).count();
        assert_eq!(n, 1, "{id} is in the history exactly once");
    }
    for e in &history {
        assert!(e["author"].is_string(), "every entry names its author: {e}");
        assert!(
            e["source"] == "cli" || e["source"] == "local",
            "and its source: {e}"
        );
    }
    let stored = turnout_json(&config, &["status"]);
    let last = history.last().expect("history");
    assert_eq!(last["version"], stored["version"]);
    assert_eq!(
        last["canary_weight"].as_f64(),
        stored["canary_weight"].as_f64()
    );
    assert_eq!(last["active"], stored["active"]);
    for w in &mut writers {
        w.wait_state("the final state", |s| {
            s["state"]["version"] == stored["version"]
        });
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Propagation from the store to 3 processes over 100 changes: p50 and p99, printed (run with
/// `cargo test -p turnout-cli --test fleet -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a test"]
fn propagation_time_to_three_processes() {
    let dir = temp_dir("propagation");
    let redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    let apps: Vec<App> = (1..=3)
        .map(|i| App::start(&config, &format!("app-{i}")))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = turnout::state::Store::open(&turnout::config::StateConfig {
        backend: turnout::config::StateBackend::Redis,
        url: Some(format!("redis://127.0.0.1:{}/", redis.port).into()),
        namespace: Some("fleet".to_string()),
        ..Default::default()
    })
    .expect("store");
    let initial = turnout::routing::TrafficState {
        active: turnout::Side::Blue,
        weight_bp: 0,
        salt: "turnout".to_string(),
        version: 1,
    };
    let mut delays = Vec::new();
    for i in 0..100u32 {
        let op = turnout::state::Operation::new(
            "bench",
            "propagation",
            turnout::state::Change::SetWeight {
                weight_bp: 100 + (i % 50) * 10,
            },
            SystemTime::now(),
        );
        let sent = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        let out = runtime.block_on(store.apply(&op, &initial)).expect("apply");
        let version = out.state.traffic.version;
        for app in &apps {
            let seen = app.wait_line("the change", |v| v["event"]["version"] == version);
            delays.push(seen["seen_at_ms"].as_f64().unwrap_or(0.0) - sent);
        }
    }
    delays.sort_by(f64::total_cmp);
    let p = |q: f64| delays[((delays.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "propagation over 100 changes x 3 processes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.99),
        p(1.0)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn history_follow_prints_each_change_as_it_is_made() {
    let dir = temp_dir("follow");
    let redis = Redis::start(&dir);
    let (_sim, sim) = start_sim();
    let config = write_config(&dir, sim, &redis_state(&redis));
    turnout_json(&config, &["set-weight", "3"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(["history", "--follow", "--json", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout history --follow");
    let stdout = child.stdout.take().expect("stdout");
    let _follower = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    let first = rx.recv_timeout(WAIT).expect("the past event");
    assert_eq!(first["type"], "weight_changed");
    for (args, kind) in [
        (&["switch", "green"][..], "switch"),
        (&["rollback"][..], "rollback"),
    ] {
        let done = turnout_json(&config, args);
        let next = rx.recv_timeout(WAIT).expect("the new event");
        assert_eq!(next["type"], kind);
        assert_eq!(next["op"], done["op"]);
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
}
