//! What a person reads: the rollout's position, the gates' figures against their thresholds,
//! the time left in the hold, and history lines with the active side and the weight.

use std::time::SystemTime;

use serde_json::Value;
use turnout::events::Event;
use turnout::rollout::RolloutState;
use turnout::rollout::fleet::{record_status, unix_ms};
use turnout::state::{Store, StoredState};

use crate::ops::Failure;

/// The stored rollout as `status()["rollout"]` shows it — the analyst and its last figures
/// included — plus the seconds left in the step's hold; `None` before the first rollout.
pub async fn rollout_json(store: &Store, state: &StoredState) -> Result<Option<Value>, Failure> {
    let Some(r) = &state.rollout else {
        return Ok(None);
    };
    let mut status = record_status(r, state);
    status.analyst = store.lease_holder().await?;
    status.analysis = store
        .analysis()
        .await?
        .filter(|a| a["rollout"] == r.id.as_str() && a["step"] == r.step);
    let mut v = serde_json::to_value(&status).unwrap_or(Value::Null);
    let step = &r.plan.steps[r.step];
    let held = unix_ms(SystemTime::now()).saturating_sub(r.step_started_ms) as f64 / 1000.0;
    let left = if r.state == RolloutState::Running {
        (step.hold.as_secs_f64() - held).max(0.0)
    } else {
        0.0
    };
    if let Value::Object(m) = &mut v {
        m.insert("rollout_id".into(), r.id.clone().into());
        m.insert("started_by".into(), r.started_by.clone().into());
        m.insert("hold_s".into(), step.hold.as_secs_f64().into());
        m.insert("hold_left_s".into(), left.into());
        m.insert("min_requests".into(), step.min_requests.into());
        m.insert(
            "plan".into(),
            serde_json::to_value(&r.plan).unwrap_or(Value::Null),
        );
    }
    Ok(Some(v))
}

fn secs(s: f64) -> String {
    let s = s.round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// The rollout in a few lines: where it stands, the analyst, each gate against its threshold.
pub fn print_rollout(r: &Value) {
    let steps: Vec<String> = r["plan"]["steps"]
        .as_array()
        .map(|s| s.iter().map(|st| format!("{}%", st["weight"])).collect())
        .unwrap_or_default();
    say!(
        "rollout    {}  {}  step {} of {} ({})  {} at {}% (step weight {}%)",
        r["rollout_id"].as_str().unwrap_or("?"),
        r["state"].as_str().unwrap_or("?"),
        r["step"].as_u64().unwrap_or(0) + 1,
        r["steps"],
        steps.join(" → "),
        r["candidate"].as_str().unwrap_or("?"),
        r["weight"],
        r["step_weight"],
    );
    if let Some(reason) = r["reason"].as_str() {
        say!("reason     {reason}");
    }
    let hold = r["hold_s"].as_f64().unwrap_or(0.0);
    if r["state"] == "running" {
        say!(
            "hold       {} of {} left (step began {})",
            secs(r["hold_left_s"].as_f64().unwrap_or(0.0)),
            secs(hold),
            r["since"].as_str().unwrap_or("?")
        );
    }
    say!(
        "analyst    {}",
        r["analyst"]
            .as_str()
            .unwrap_or("none (no instance holds the lease: the rollout waits)")
    );
    say!(
        "failures   {} of {} allowed",
        r["failures"],
        r["failure_limit"]
    );
    let a = &r["analysis"];
    if a.is_null() {
        say!("gates      no fleet figures for this step yet");
        return;
    }
    // Early in a step the window is shorter than the gates': a step is judged on its own
    // requests (a failure may also be seen over the rollout's, earlier steps included).
    let since = match (a["window_of"].as_str(), a["window_s"].as_u64()) {
        (Some(of), Some(s)) if a["gates_window_s"].as_u64().is_some_and(|g| s < g) => {
            format!(" since the {of} began")
        }
        _ => String::new(),
    };
    say!(
        "gates      over the fleet's last {}s{since} at {} ({}):",
        a["window_s"],
        a["at"].as_str().unwrap_or("?"),
        a["verdict"].as_str().unwrap_or("-")
    );
    if let Some(gates) = a["gates"].as_object() {
        for (name, g) in gates {
            let cmp = if name.starts_with("min_") { ">=" } else { "<=" };
            say!(
                "  {name:<22} {:>10}  {cmp} {:<8} {}",
                fmt_num(&g["observed"]),
                fmt_num(&g["limit"]),
                // Too few requests is no failure: every gate waits for more.
                match g["state"].as_str() {
                    Some("fail") => "FAIL",
                    Some(state) => state,
                    None => "-",
                }
            );
        }
    }
    say!(
        "  {:<22} {:>10}  >= {}",
        "step requests",
        fmt_num(&a["step_requests"]),
        fmt_num(&a["min_requests"])
    );
}

fn fmt_num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Some(f) => format!("{f:.3}"),
        None => "-".to_string(),
    }
}

/// The header of the history's columns.
pub fn print_event_header() {
    say!(
        "{:<24}  {:<5}  {:<20}  {:<6}  {:>7}  reason",
        "at",
        "ver",
        "event",
        "active",
        "weight"
    );
}

/// One history line: when, version, kind, the active side and the candidate's weight after
/// it, the side concerned, the reason and the author.
pub fn print_event(e: &Event, as_json: bool) {
    if as_json {
        say!("{}", e.to_json());
        return;
    }
    let side = e.environment.map_or(String::new(), |s| format!("[{s}] "));
    let author = e
        .details
        .get("author")
        .and_then(|a| a.as_str())
        .map_or(String::new(), |a| format!(" by {a}"));
    let active = e
        .details
        .get("active")
        .and_then(Value::as_str)
        .unwrap_or("-");
    let weight = e
        .details
        .get("canary_weight")
        .and_then(Value::as_f64)
        .map_or("-".to_string(), |w| format!("{w:.2}%"));
    say!(
        "{:<24}  v{:<4}  {:<20}  {active:<6}  {weight:>7}  {side}{}{author}",
        e.at,
        e.version,
        e.kind.as_str(),
        e.reason
    );
}

/// The compact progress line `rollout wait` prints when the rollout moves.
pub fn progress_line(r: &Value) -> String {
    format!(
        "rollout {} {}: step {} of {}, {} at {}%{}",
        r["rollout_id"].as_str().unwrap_or("?"),
        r["state"].as_str().unwrap_or("?"),
        r["step"].as_u64().unwrap_or(0) + 1,
        r["steps"],
        r["candidate"].as_str().unwrap_or("?"),
        r["weight"],
        r["reason"]
            .as_str()
            .map_or(String::new(), |why| format!(" ({why})"))
    )
}
