//! `turnout demo`, the main job, end to end: the failing candidate is rolled back by itself,
//! the healthy one is promoted, and the summary reports both.

use std::process::Command;

#[test]
fn the_demo_rolls_back_then_promotes() {
    let out = Command::new(env!("CARGO_BIN_EXE_turnout"))
        .arg("demo")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rollback = text
        .find("automatic rollback")
        .expect("a rollback happened");
    let promote = text
        .find("rollout_completed")
        .expect("a promotion happened");
    assert!(rollback < promote, "rollback first, then the promotion");
    assert!(
        text.contains("active side now") && text.contains("green"),
        "{text}"
    );
    let reaction = text
        .lines()
        .find(|l| l.contains("rollback reaction: candidate requests"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the reaction is reported");
    assert!(
        reaction < 40,
        "rolled back before the candidate's 40th failing-phase request: {reaction}"
    );
    assert!(!text.contains("sk-demo"), "no key printed");
    assert!(
        !text.contains('\x1b'),
        "no ANSI escape goes into a pipe: {text:?}"
    );
}
