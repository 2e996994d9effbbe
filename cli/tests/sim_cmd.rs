//! `turnout sim`: `--help` documents every fault knob and the control endpoints; `--auth`
//! picks the header the key must come in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use turnout_sim::Faults;

#[test]
fn sim_help_names_every_knob_and_control_endpoint() {
    let out = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args(["sim", "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    // The knobs are read from the type itself, so that a new fault cannot go undocumented.
    let serde_json::Value::Object(knobs) = serde_json::to_value(Faults::default()).unwrap() else {
        panic!("faults serialize as an object");
    };
    for knob in knobs.keys() {
        assert!(help.contains(knob.as_str()), "{knob} missing from:\n{help}");
        let flag = format!("--{}", knob.replace('_', "-"));
        let flag = flag.trim_end_matches('s');
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for endpoint in [
        "GET    /_sim/faults",
        "PATCH  /_sim/faults",
        "PUT    /_sim/faults",
        "DELETE /_sim/faults",
        "GET    /_sim/stats",
        "POST   /_sim/reset",
        "GET    /_sim/requests",
        "/v1/responses",
        "/v1/files",
        "/v1/batches",
        "/v1/audio/speech",
        "--seed",
        "--auth",
    ] {
        assert!(help.contains(endpoint), "{endpoint} missing from:\n{help}");
    }
}

/// The simulator process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status code of a `GET /v1/models` sent with these header lines.
fn status(addr: &str, headers: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connects");
    let request =
        format!("GET /v1/models HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[test]
fn auth_flag_picks_the_key_header() {
    let child = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .args([
            "sim",
            "--port",
            "0",
            "--auth",
            "api-key",
            "--api-key",
            "sk-azure-key",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnout sim");
    let mut sim = Running(child);
    // The first line names the URL once the port is bound: no polling needed.
    let mut line = String::new();
    BufReader::new(sim.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("turnout sim listening on http://")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert_eq!(status(&addr, "api-key: sk-azure-key\r\n"), 200);
    assert_eq!(status(&addr, "Authorization: Bearer sk-azure-key\r\n"), 401);
    assert_eq!(
        status(
            &addr,
            "api-key: sk-azure-key\r\nx-api-key: sk-azure-key\r\n"
        ),
        401
    );
    assert_eq!(status(&addr, ""), 401);
}
