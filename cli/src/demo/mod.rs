//! `turnout demo`: two simulators, steady traffic from many users, a rollout that goes wrong
//! and is rolled back automatically, then a healthy rollout that is promoted. No keys needed.

mod style;
mod summary;
mod traffic;
mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;
use turnout::events::{Event, EventKind};
use turnout::rollout::{RolloutPlan, Step};
use turnout::{Client, Config, Side};
use turnout_sim::{Faults, Sim, SimConfig};

use summary::Summary;
use traffic::{Load, Tally};
use view::View;

const BLUE_KEY: &str = "sk-demo-blue-0000000001";
const GREEN_KEY: &str = "sk-demo-green-000000002";
/// Concurrent callers, and the pause of each between calls: about 500 requests/s in all.
const WORKERS: usize = 24;
const PACE: Duration = Duration::from_millis(48);
const USERS: u32 = 2_000;
/// How many requests the failing candidate may answer before a missing rollback fails the demo:
/// the guard needs 20 in its window, so this leaves a wide margin while staying a count, the same
/// on a fast and on a loaded machine.
const ROLLBACK_BUDGET: u64 = 1_000;
/// How many requests the healthy rollout may take before it counts as stuck: its four holds take
/// about 3 000 at full pace, fewer on a slower machine.
const PROMOTION_BUDGET: u64 = 30_000;
/// A watchdog against a hang only (no traffic at all): no verdict on speed.
const WATCHDOG: Duration = Duration::from_secs(300);

/// Runs the demo to completion.
pub async fn run() -> Result<(), String> {
    let started = Instant::now();
    let healthy = Faults {
        latency_ms: 3,
        jitter_ms: 4,
        ..Faults::default()
    };
    let blue = start_sim("blue", BLUE_KEY, healthy.clone()).await?;
    let green = start_sim("green", GREEN_KEY, healthy.clone()).await?;
    let client = Client::from_config(demo_config(&blue, &green)?).map_err(|e| e.to_string())?;

    let (tx, mut events) = mpsc::unbounded_channel::<Event>();
    let _subscription = client.subscribe(move |e| {
        let _ = tx.send(e.clone());
    });
    let tally = Arc::new(Tally::default());
    let load = Load::start(&client, &tally, WORKERS, PACE, USERS);
    let style = style::Style::detect();
    let mut view = View::new(style);
    let mut summary = Summary::default();

    view.phase("1/2  Rolling out v2 on green: 5% → 15% → 50% → 100%. It starts failing at 15%.");
    client
        .start_rollout(rollout_plan())
        .map_err(|e| e.to_string())?;
    let mut fault_at: Option<(Instant, u64)> = None;
    let phase = Instant::now();
    'phase1: loop {
        for event in drain(&mut events, &client, &mut view, &tally, started).await {
            match event.kind {
                EventKind::RolloutStep
                    if fault_at.is_none() && client.traffic().weight_bp >= 1500 =>
                {
                    green.set_faults(Faults {
                        error_rate: 0.6,
                        latency_ms: 600,
                        jitter_ms: 200,
                        ..Faults::default()
                    });
                    fault_at = Some((Instant::now(), green.stats().total));
                    view.event(
                        started.elapsed().as_secs_f64(),
                        "fault injected",
                        "green now fails 60% of requests and adds ~700 ms",
                    );
                }
                EventKind::Rollback => {
                    let (at, green_before) =
                        fault_at.unwrap_or((Instant::now(), green.stats().total));
                    summary.reaction_ms = Some(at.elapsed().as_secs_f64() * 1000.0);
                    summary.reaction_requests =
                        Some(green.stats().total.saturating_sub(green_before));
                    summary.errors_before_fix = tally.errors();
                    break 'phase1;
                }
                _ => {}
            }
        }
        if let Some((_, green_before)) = fault_at
            && green.stats().total.saturating_sub(green_before) > ROLLBACK_BUDGET
        {
            load.stop().await;
            return Err(format!(
                "the automatic rollback did not happen within {ROLLBACK_BUDGET} failing-phase requests"
            ));
        }
        if phase.elapsed() > WATCHDOG {
            load.stop().await;
            return Err("the demo made no progress (watchdog)".to_string());
        }
    }

    view.phase("2/2  v2 fixed. Rolling out again: 5% → 15% → 50% → 100%, then promote.");
    green.set_faults(healthy);
    wait_until_recovered(&client, &mut events, &mut view, &tally, started).await;
    client
        .start_rollout(rollout_plan())
        .map_err(|e| e.to_string())?;
    let phase = Instant::now();
    let served_before = tally.total();
    'phase2: loop {
        for event in drain(&mut events, &client, &mut view, &tally, started).await {
            match event.kind {
                EventKind::RolloutCompleted => break 'phase2,
                EventKind::Rollback | EventKind::RolloutAborted | EventKind::RolloutPaused => {
                    load.stop().await;
                    return Err(format!(
                        "the healthy rollout did not complete: {}",
                        event.reason
                    ));
                }
                _ => {}
            }
        }
        if tally.total().saturating_sub(served_before) > PROMOTION_BUDGET {
            load.stop().await;
            return Err(format!(
                "the healthy rollout did not complete within {PROMOTION_BUDGET} requests"
            ));
        }
        if phase.elapsed() > WATCHDOG {
            load.stop().await;
            return Err("the demo made no progress (watchdog)".to_string());
        }
    }
    summary.promoted_after_ms = Some(phase.elapsed().as_secs_f64() * 1000.0);
    // A moment of traffic on the new active side, so that the summary shows it serving.
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.stop().await;
    let status = client.status();
    view.panel(
        &status,
        "done",
        [tally.served(Side::Blue), tally.served(Side::Green)],
        true,
    );
    summary.finish(
        &tally,
        &status,
        [blue.stats().total, green.stats().total],
        started.elapsed(),
    );
    summary.print(style);
    client.close();
    blue.shutdown().await;
    green.shutdown().await;
    Ok(())
}

async fn start_sim(name: &str, key: &str, faults: Faults) -> Result<Sim, String> {
    Sim::start(SimConfig::named(name).with_api_key(key).with_faults(faults))
        .await
        .map_err(|e| format!("cannot start the {name} simulator: {e}"))
}

fn demo_config(blue: &Sim, green: &Sim) -> Result<Config, String> {
    Config::from_value(json!({
        "environments": {
            "blue": {"base_url": blue.url(), "api_key": BLUE_KEY, "label": "v1"},
            "green": {"base_url": green.url(), "api_key": GREEN_KEY, "label": "v2"},
        },
        "active": "blue",
        "timeout": 5.0,
        "stats_window": 5.0,
        "retry": {"max_attempts": 2, "initial_backoff": 0.02, "max_backoff": 0.2},
        "health_check": {"interval": 0.5, "timeout": 0.5, "unhealthy_threshold": 3, "healthy_threshold": 2},
        "circuit_breaker": {"cooldown": 1.0},
        // The error rate decides (a ratio of counts); a latency gate would judge the machine's
        // load as much as the release, and could roll back the healthy one on a busy machine.
        "rollback": {"max_error_rate": 0.05, "window": 5.0, "min_requests": 20},
    }))
    .map_err(|e| e.to_string())
}

fn rollout_plan() -> RolloutPlan {
    let hold = Duration::from_millis(1500);
    RolloutPlan::new(vec![
        Step::new(5.0).hold(hold).min_requests(20),
        Step::new(15.0).hold(hold).min_requests(40),
        Step::new(50.0).hold(hold).min_requests(100),
        Step::new(100.0).hold(hold).min_requests(100),
    ])
    .interval(Duration::from_millis(250))
}

/// Waits up to 250 ms for events, prints them and the panel, and returns them.
async fn drain(
    events: &mut mpsc::UnboundedReceiver<Event>,
    client: &Client,
    view: &mut View,
    tally: &Tally,
    started: Instant,
) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_millis(250));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            e = events.recv() => match e {
                Some(e) => {
                    view.event(started.elapsed().as_secs_f64(), e.kind.as_str(), &e.reason);
                    got.push(e);
                }
                None => break,
            },
        }
    }
    let step = match client.rollout() {
        Some(r) => format!("rollout step {}/{} ({:?})", r.step + 1, r.steps, r.state),
        None => "no rollout".to_string(),
    };
    view.panel(
        &client.status(),
        &step,
        [tally.served(Side::Blue), tally.served(Side::Green)],
        false,
    );
    got
}

/// After the fix: lets the failing candidate's last in-flight requests end (so that they are not
/// judged as part of the next rollout), then waits until its probes say healthy and its circuit
/// is not open.
async fn wait_until_recovered(
    client: &Client,
    events: &mut mpsc::UnboundedReceiver<Event>,
    view: &mut View,
    tally: &Tally,
    started: Instant,
) {
    let settle = Instant::now() + Duration::from_secs(1);
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < settle {
        drain(events, client, view, tally, started).await;
    }
    while Instant::now() < until {
        let status = client.status();
        let green = &status.environments[&Side::Green];
        if green.healthy && green.circuit != turnout::resilience::CircuitState::Open {
            return;
        }
        drain(events, client, view, tally, started).await;
    }
}
