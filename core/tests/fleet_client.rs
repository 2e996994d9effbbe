//! A client's rollout calls and views: `rollout()` reports the candidate's real weight (0 after
//! a rollback or an abort, not the step's), and with a shared store a rollout started by one
//! client lives in the store, where another client sees, pauses and aborts it.

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::*;
use turnout::config::{StateBackend, StateConfig};
use turnout::{Client, RolloutPlan, RolloutState, Side, Step};

fn plan() -> RolloutPlan {
    RolloutPlan::new(vec![
        Step::new(10.0).hold(Duration::from_secs(3600)),
        Step::new(100.0),
    ])
    .interval(Duration::from_secs(3600))
}

#[tokio::test]
async fn rollout_reports_the_real_weight_after_an_abort_and_a_rollback() {
    let sims = Sims::start().await;
    let client = sims.client();
    client.start_rollout(plan()).expect("start");
    let r = client.rollout().expect("rollout");
    assert_eq!((r.weight, r.step_weight), (10.0, 10.0));
    client.abort_rollout("bad canary").expect("abort");
    let r = client.rollout().expect("rollout");
    assert_eq!(r.state, RolloutState::Aborted);
    assert_eq!(
        r.weight, 0.0,
        "the weight after the abort, not the step's 10"
    );
    assert_eq!(r.step_weight, 10.0);

    client.start_rollout(plan()).expect("start again");
    client.rollback("manual").expect("rollback");
    let r = client.rollout().expect("rollout");
    assert_eq!((r.state, r.weight), (RolloutState::Aborted, 0.0));
}

fn temp_file(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "turnout-fleet-client-{}-{nanos}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("state.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_started_by_one_client_lives_in_the_store_for_the_others() {
    let sims = Sims::start().await;
    let path = temp_file("shared");
    let shared = |id: &str| {
        let mut config = sims.builder().into_config().expect("config");
        config.state = StateConfig {
            backend: StateBackend::File,
            path: Some(path.clone()),
            instance_id: Some(id.to_string()),
            ..Default::default()
        };
        Client::from_config(config).expect("client")
    };
    let (a, b) = (shared("a"), shared("b"));
    a.start_rollout(plan()).expect("start");
    assert!(a.start_rollout(plan()).is_err(), "one rollout at a time");
    assert!(
        eventually(Duration::from_secs(15), || b
            .rollout()
            .is_some_and(
                |r| r.state == RolloutState::Running && r.weight == 10.0
            ))
        .await,
        "b follows the stored rollout: {:?}",
        b.rollout()
    );
    assert_eq!(b.traffic().weight_bp, 1000);
    b.pause_rollout().expect("pause from the other client");
    assert!(
        eventually(Duration::from_secs(15), || a
            .rollout()
            .is_some_and(|r| r.state == RolloutState::Paused))
        .await,
        "{:?}",
        a.rollout()
    );
    // The analyst: one of the two holds the lease, and both say which.
    assert!(
        eventually(Duration::from_secs(15), || {
            let (ra, rb) = (a.rollout(), b.rollout());
            let holder = ra.as_ref().and_then(|r| r.analyst.clone());
            holder.is_some()
                && holder == rb.and_then(|r| r.analyst)
                && ["a", "b"].contains(&holder.as_deref().unwrap_or(""))
        })
        .await,
        "{:?}",
        a.rollout()
    );
    a.abort_rollout("not today").expect("abort");
    assert!(
        eventually(Duration::from_secs(15), || b.traffic().weight_bp == 0
            && b.rollout().is_some_and(
                |r| r.state == RolloutState::Aborted && r.weight == 0.0
            ))
        .await,
        "{:?}",
        b.rollout()
    );
    let status = serde_json::to_value(a.status()).expect("status");
    assert_eq!(status["rollout"]["state"], "aborted");
    assert!(status["rollout"]["analyst"].is_string(), "{status}");
    a.close();
    b.close();
    assert_eq!(a.traffic().active, Side::Blue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_step_is_refused_for_a_fleet_rollout_naming_why() {
    let sims = Sims::start().await;
    let mut config = sims.builder().into_config().expect("config");
    config.shadow = Some(turnout::config::Shadow {
        sample: 1.0,
        max_concurrency: 4,
        max_usd_per_hour: None,
    });
    config.state = StateConfig {
        backend: StateBackend::File,
        path: Some(temp_file("shadow")),
        instance_id: Some("a".to_string()),
        ..Default::default()
    };
    let client = Client::from_config(config).expect("client");
    let shadow_first = RolloutPlan::new(vec![Step::shadow(), Step::new(100.0)]);
    let err = client
        .start_rollout(shadow_first)
        .expect_err("judged per process");
    assert_eq!(err.kind(), turnout::ErrorKind::Config);
    assert!(err.to_string().contains("shadow step"), "{err}");
    assert_eq!(client.traffic().weight_bp, 0, "nothing was started");
    assert!(client.rollout().is_none());
}
