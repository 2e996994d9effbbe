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
    let kinds: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
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
    let (ok, out) = turnout(&["set-weight", "150"], &config);
    assert!(!ok);
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
