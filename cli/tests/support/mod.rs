//! The fleet tests' harness: `redis-server`, `turnout sim` and `turnout-fleet-app` processes
//! on free loopback ports, and the `turnout` CLI.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// A bound on every wait (a loaded machine may be slow); never a verdict.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn temp_dir(name: &str) -> PathBuf {
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

pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `redis-server` whose data persists in its directory (append-only file, fsync always).
pub struct Redis {
    pub proc: Option<Proc>,
    pub port: u16,
    pub dir: PathBuf,
}

impl Redis {
    pub fn start(dir: &Path) -> Self {
        let mut r = Self {
            proc: None,
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        r.run();
        r
    }

    pub fn run(&mut self) {
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

    pub fn stop(&mut self) {
        self.proc = None;
    }
}

/// `turnout sim` serving both sides.
pub fn start_sim() -> (Proc, u16) {
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
pub fn write_config(dir: &Path, sim: u16, state: &str) -> PathBuf {
    let path = dir.join("turnout.yaml");
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:{sim}/v1\", api_key: \"sk-fleet-blue\", label: v1}}\n  green: {{base_url: \"http://127.0.0.1:{sim}/v1\", api_key: \"sk-fleet-green\", label: v2}}\nhealth_check: {{enabled: false}}\nstate: {state}\n"
    );
    std::fs::write(&path, text).expect("config");
    path
}

pub fn redis_state(redis: &Redis) -> String {
    format!(
        "{{backend: redis, url: \"redis://127.0.0.1:{}/\", namespace: fleet}}",
        redis.port
    )
}

/// One app process and what it printed.
pub struct App {
    pub proc: Proc,
    pub stdin: ChildStdin,
    pub lines: Arc<Mutex<Vec<Value>>>,
    pub id: String,
}

impl App {
    pub fn start(config: &Path, id: &str) -> Self {
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
            proc: Proc(child),
            stdin,
            lines,
            id: id.to_string(),
        };
        app.wait_line("ready", |v| v.get("ready").is_some());
        app
    }

    pub fn wait_line(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
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
    pub fn ask(&mut self, cmd: &str) -> Value {
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
    pub fn wait_state(&mut self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
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

    pub fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter_map(|v| v.get("event").cloned())
            .collect()
    }
}

pub fn weight(s: &Value) -> u64 {
    s["state"]["weight_bp"].as_u64().unwrap_or(u64::MAX)
}

pub fn active(s: &Value) -> &str {
    s["state"]["active"].as_str().unwrap_or("")
}

/// Runs the CLI; returns its exit code and stdout.
pub fn turnout(config: &Path, args: &[&str]) -> (Option<i32>, String) {
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

pub fn turnout_json(config: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out) = turnout(config, &all);
    assert_eq!(code, Some(0), "turnout {args:?}: {out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `turnout sim` with these extra flags (`--error-rate`, `--latency-ms`, `--jitter-ms`…).
pub fn start_sim_with(flags: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(["sim", "--port", &port.to_string()])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout sim");
    wait_for_port(port, "turnout sim");
    (Proc(child), port)
}

/// An app's config file named `name`: blue and green on their own simulators, the given
/// `state` section, and `extra` YAML lines.
pub fn write_app_config(
    dir: &Path,
    name: &str,
    blue: u16,
    green: u16,
    state: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:{blue}/v1\", api_key: \"sk-fleet-blue\", label: v1}}\n  green: {{base_url: \"http://127.0.0.1:{green}/v1\", api_key: \"sk-fleet-green\", label: v2}}\nhealth_check: {{enabled: false}}\nstate: {state}\n{extra}"
    );
    std::fs::write(&path, text).expect("config");
    path
}

impl App {
    /// Kills the process with SIGKILL: no goodbye, no lease released.
    pub fn kill9(&mut self) {
        let _ = self.proc.0.kill();
        let _ = self.proc.0.wait();
    }
}
