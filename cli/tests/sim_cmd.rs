//! `turnout sim --help` documents every fault knob and the control endpoints.

use std::process::Command;

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
        "--seed",
    ] {
        assert!(help.contains(endpoint), "{endpoint} missing from:\n{help}");
    }
}
