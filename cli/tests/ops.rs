//! The operator commands act on the shared state store that app instances follow.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("turnout-cli-{}-{nanos}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write_config(dir: &Path, backend: &str) -> PathBuf {
    let path = dir.join("turnout.yaml");
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-cli-test-blue-SECRET\", label: v1}}\n  green: {{base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-cli-test-green-SECRET\", label: v2}}\nstate: {{backend: {backend}, path: \"{}\"}}\n",
        dir.join("traffic.json").display()
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn turnout(args: &[&str], config: &Path) -> (bool, String) {
    let (code, text) = turnout_code(args, config);
    (code == Some(0), text)
}

fn turnout_code(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("USER", "ops")
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn switch_weight_promote_rollback_and_history() {
    let dir = temp_dir("ops");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(&["status"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("active     blue v1"), "{out}");

    let (ok, out) = turnout(&["set-weight", "12.5"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("candidate  green v2 at 12.50%"), "{out}");
    assert!(out.contains("version    2"), "{out}");

    let (ok, out) = turnout(&["promote"], &config);
    assert!(ok, "{out}");
    assert!(
        out.contains("active     green v2") && out.contains("at 0.00%"),
        "{out}"
    );

    let (ok, out) = turnout(&["rollback", "--reason", "bad tokens/s"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("active     blue v1"), "{out}");

    // The last change was a rollback: another one changes nothing and says so.
    let (ok, out) = turnout(&["rollback"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("no change: already rolled back"), "{out}");
    assert!(out.contains("active     blue v1"), "{out}");

    let (ok, out) = turnout(&["switch", "blue"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("no change"), "{out}");

    let (ok, out) = turnout(&["history"], &config);
    assert!(ok, "{out}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["at", "ver", "event", "active", "weight", "reason"],
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let kinds: Vec<&str> = rows.iter().filter_map(|r| r.get(2).copied()).collect();
    // Each line shows the active side and the candidate's weight after the change.
    assert_eq!(rows[0][3..5], ["blue", "12.50%"], "{out}");
    assert_eq!(rows[1][3..5], ["green", "0.00%"], "{out}");
    assert_eq!(
        kinds,
        [
            "weight_changed",
            "promote",
            "rollback",
            "rollback",
            "switch"
        ],
        "{out}"
    );
    assert!(out.contains("bad tokens/s"), "{out}");
    assert!(
        out.contains("by cli:ops@"),
        "every entry names its author: {out}"
    );
    assert!(!out.contains("SECRET"), "no key in any output");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = temp_dir("bad");
    let config = write_config(&dir, "file");
    let (code, out) = turnout_code(&["set-weight", "150"], &config);
    assert_eq!(
        code,
        Some(2),
        "a bad weight is bad usage, not a refusal: {out}"
    );
    assert!(
        out.contains("canary_weight must be within 0..=100, got 150"),
        "{out}"
    );

    let memory = write_config(&dir, "memory");
    let (ok, out) = turnout(&["status"], &memory);
    assert!(!ok);
    assert!(out.contains("state.backend is memory"), "{out}");

    let (ok, out) = turnout(&["status"], &dir.join("missing.yaml"));
    assert!(!ok);
    assert!(out.contains("missing.yaml"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn if_version_refuses_a_moved_state_and_json_is_one_document() {
    let dir = temp_dir("ifv");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(&["set-weight", "5", "--json"], &config);
    assert!(ok, "{out}");
    let doc: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON document");
    assert_eq!(doc["verdict"], "applied");
    assert_eq!(doc["state"]["version"], 2);
    assert!(
        doc["author"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:ops@"))
    );

    let (code, out) = turnout_code(&["promote", "--if-version", "1"], &config);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the state is at version 2, not 1"), "{out}");
    let (ok, out) = turnout(&["promote", "--if-version", "2"], &config);
    assert!(ok, "{out}");

    let (ok, out) = turnout(&["status", "--json"], &config);
    assert!(ok, "{out}");
    let doc: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON document");
    assert_eq!(doc["active"], "green");
    assert_eq!(doc["version"], 3);
    assert_eq!(doc["store"]["backend"], "file");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unreachable_store_exits_with_2() {
    let dir = temp_dir("down");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let path = dir.join("turnout.yaml");
    let text = format!(
        "environments:\n  blue: {{base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-a\"}}\n  green: {{base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-b\"}}\nstate: {{backend: redis, url: \"redis://127.0.0.1:{port}/\"}}\n"
    );
    std::fs::write(&path, text).expect("config");
    let (code, out) = turnout_code(&["switch", "green"], &path);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("state store: redis"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_empty_store_says_so_and_every_command_speaks_json() {
    let dir = temp_dir("empty");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(&["status"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("holds no state yet"), "{out}");
    let (ok, out) = turnout(&["history"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("no events yet in the file store"), "{out}");
    let json = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
        let mut all = args.to_vec();
        all.push("--json");
        let (code, out) = turnout_code(&all, &config);
        let stdout = out.lines().next().unwrap_or("");
        let doc = serde_json::from_str(stdout)
            .unwrap_or_else(|e| panic!("{args:?}: one JSON document, not {out:?}: {e}"));
        (code, doc)
    };
    assert_eq!(json(&["status"]).1["stored"], false);
    assert_eq!(json(&["history"]).1, serde_json::json!([]));
    assert_eq!(json(&["checkpoint", "list"]).1, serde_json::json!([]));
    assert_eq!(json(&["rollout", "status"]).1, serde_json::Value::Null);
    let (code, doc) = json(&["health"]);
    assert_eq!(code, Some(1));
    assert_eq!(doc["healthy"], false);
    // A failure is a JSON document too, with its exit code.
    let (code, doc) = json(&["set-weight", "150"]);
    assert_eq!(code, Some(2));
    assert_eq!(doc["exit_code"], 2);
    let (code, doc) = json(&["rollout", "pause"]);
    assert_eq!(code, Some(1));
    assert_eq!(doc["message"], "no rollout was started");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn health_columns_line_up() {
    let dir = temp_dir("health");
    let config = write_config(&dir, "file");
    let (code, out) = turnout_code(&["health"], &config);
    assert_eq!(code, Some(1), "{out}");
    let lines: Vec<&str> = out.lines().take(3).collect();
    let col = |l: &str, word: &str| l.find(word);
    assert_eq!(col(lines[0], "health"), col(lines[1], "UNHEALTHY"), "{out}");
    assert_eq!(
        col(lines[1], "UNHEALTHY"),
        col(lines[2], "UNHEALTHY"),
        "{out}"
    );
    assert_eq!(
        lines[1].find(" ms"),
        lines[2].find(" ms"),
        "latencies right-aligned: {out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_rollout_from_the_cli_is_stored_paused_resumed_and_aborted() {
    let dir = temp_dir("rollout");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(
        &[
            "rollout",
            "start",
            "--steps",
            "5,50,100",
            "--hold",
            "10m",
            "--max-p99-ms",
            "800",
        ],
        &config,
    );
    assert!(ok, "{out}");
    assert!(out.contains("candidate  green v2 at 5.00%"), "{out}");
    let (code, out) = turnout_code(&["rollout", "start", "--steps", "100"], &config);
    assert_eq!(code, Some(1), "a second rollout is refused: {out}");
    assert!(out.contains("abort it before starting another"), "{out}");

    let (ok, out) = turnout(&["rollout", "status"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("running  step 1 of 3"), "{out}");
    assert!(
        out.contains("10m00s"),
        "the hold and what is left of it: {out}"
    );
    assert!(out.contains("analyst    none"), "{out}");

    let (ok, out) = turnout(&["rollout", "pause", "--reason", "lunch"], &config);
    assert!(ok, "{out}");
    let doc = status_json(&config);
    assert_eq!(doc["rollout"]["state"], "paused");
    assert_eq!(doc["rollout"]["reason"], "lunch");
    let version = doc["version"].as_u64().expect("version");
    let stale = (version - 1).to_string();
    let (code, out) = turnout_code(&["rollout", "resume", "--if-version", &stale], &config);
    assert_eq!(code, Some(1), "{out}");
    let (ok, out) = turnout(&["rollout", "resume"], &config);
    assert!(ok, "{out}");
    assert_eq!(status_json(&config)["rollout"]["state"], "running");

    // Nobody runs it here (no app instance): wait times out with 3.
    let (code, out) = turnout_code(&["rollout", "wait", "--timeout", "1s"], &config);
    assert_eq!(code, Some(3), "{out}");

    let (ok, out) = turnout(&["rollout", "abort", "--reason", "bad canary"], &config);
    assert!(ok, "{out}");
    let doc = status_json(&config);
    assert_eq!(doc["rollout"]["state"], "aborted");
    assert_eq!(
        doc["rollout"]["weight"], 0.0,
        "the real weight after an abort"
    );
    assert_eq!(doc["rollout"]["step_weight"], 5.0);
    assert_eq!(doc["canary_weight"], 0.0);
    let (code, out) = turnout_code(&["rollout", "wait", "--json"], &config);
    assert_eq!(code, Some(1), "an aborted rollout fails the wait: {out}");
    let (ok, out) = turnout(&["history"], &config);
    assert!(ok, "{out}");
    for kind in [
        "rollout_started",
        "rollout_paused",
        "rollout_resumed",
        "rollout_aborted",
    ] {
        assert_eq!(out.matches(kind).count(), 1, "{kind} once: {out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn status_json(config: &Path) -> serde_json::Value {
    let (ok, out) = turnout(&["status", "--json"], config);
    assert!(ok, "{out}");
    serde_json::from_str(out.trim()).expect("one JSON document")
}

#[test]
fn checkpoints_live_in_the_store_and_restore_from_the_cli() {
    let dir = temp_dir("cps");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(&["set-weight", "20"], &config);
    assert!(ok, "{out}");
    let (ok, out) = turnout(&["checkpoint", "create", "pre-v2", "--json"], &config);
    assert!(ok, "{out}");
    let cp: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let id = cp["id"].as_str().expect("id").to_string();
    assert_eq!(cp["traffic"]["weight_bp"], 2000);
    assert_eq!(cp["hash"].as_str().map(str::len), Some(64));
    let (ok, out) = turnout(&["promote"], &config);
    assert!(ok, "{out}");
    let (ok, out) = turnout(&["checkpoint", "list"], &config);
    assert!(ok, "{out}");
    assert!(out.contains(&id) && out.contains("pre-v2"), "{out}");
    assert!(
        out.contains("auto-v2"),
        "the state before the promotion: {out}"
    );
    let (ok, out) = turnout(&["checkpoint", "restore", &id], &config);
    assert!(ok, "{out}");
    assert!(out.contains("active     blue v1"), "{out}");
    assert!(out.contains("candidate  green v2 at 20.00%"), "{out}");
    let (code, out) = turnout_code(&["checkpoint", "restore", "cp-nope"], &config);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no checkpoint with id"), "{out}");
    // Another config (other keys) cannot restore it.
    let other = dir.join("other.yaml");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("sk-cli-test-green-SECRET", "sk-cli-test-green-ROTATED");
    std::fs::write(&other, text).expect("write");
    let (code, out) = turnout_code(&["checkpoint", "restore", &id], &other);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("another routing config"), "{out}");
    let (ok, out) = turnout(&["history"], &config);
    assert!(ok, "{out}");
    assert!(out.contains("checkpoint_created"), "{out}");
    assert!(out.contains("checkpoint_restored"), "{out}");
    assert!(!out.contains("SECRET"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_reader_that_goes_away_ends_history_follow_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = temp_dir("pipe");
    let config = write_config(&dir, "file");
    let (ok, out) = turnout(&["set-weight", "5"], &config);
    assert!(ok, "{out}");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(["history", "--follow", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut first = String::new();
    let stdout = follow.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    assert!(!first.is_empty());
    // The reader is gone (`| head -1`); the next event written finds the pipe closed.
    let mut status = None;
    for weight in 6..200 {
        let (ok, out) = turnout(&["set-weight", &weight.to_string()], &config);
        assert!(ok, "{out}");
        status = follow.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = follow.kill();
        panic!("history --follow kept running after its reader went away");
    };
    let mut stderr = String::new();
    if let Some(mut e) = follow.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
