//! `Client::after_fork`: the client a forked child rebuilds carries over the traffic state,
//! checkpoints and a running rollout, and leaves the metrics listener to the parent. (The
//! Python suite forks for real: bindings-python/tests/test_fork.py.)

mod common;

use std::time::Duration;

use common::*;
use turnout::config::{StateBackend, StateConfig};
use turnout::state::{Change, Operation, Store};
use turnout::{RolloutPlan, RolloutState, Step};

#[tokio::test]
async fn the_rebuilt_client_keeps_state_checkpoints_and_rollout_but_not_the_listener() {
    let sims = Sims::start().await;
    let parent = sims
        .builder()
        .configure(|c| c.metrics.listen = Some("127.0.0.1:0".parse().unwrap()))
        .build()
        .unwrap();
    let checkpoint = parent.checkpoint("before the rollout");
    parent
        .start_rollout(
            RolloutPlan::new(vec![Step::new(5.0), Step::new(100.0)])
                .interval(Duration::from_secs(3600)),
        )
        .unwrap();
    let before = parent.traffic();
    assert!(before.version > 1);

    let child = parent.after_fork().unwrap();

    assert_eq!(
        child.traffic(),
        before,
        "version, salt and weight carried over"
    );
    let ids = |c: &turnout::Client| -> Vec<String> {
        c.checkpoints().into_iter().map(|cp| cp.id).collect()
    };
    assert_eq!(ids(&child), ids(&parent));
    assert!(ids(&child).contains(&checkpoint.id));
    let rollout = child.rollout().expect("the rollout was carried over");
    assert_eq!(rollout.state, RolloutState::Running);
    assert_eq!(rollout.id, parent.rollout().unwrap().id);
    // New checkpoints continue the parent's numbering instead of reusing its ids.
    let next = child.checkpoint("in the child");
    assert!(!ids(&parent).contains(&next.id), "{} reused", next.id);

    assert!(parent.metrics_addr().is_some());
    assert_eq!(child.metrics_addr(), None, "the parent keeps the listener");

    // The child routes and controls its rollout on its own.
    child.chat().create(chat("gpt-4.1", "hi")).await.unwrap();
    child.pause_rollout().unwrap();
    assert_eq!(child.rollout().unwrap().state, RolloutState::Paused);
    assert_eq!(parent.rollout().unwrap().state, RolloutState::Running);
    sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_serves_the_shared_store_not_a_stale_snapshot_of_its_parent() {
    let sims = Sims::start().await;
    let dir = std::env::temp_dir().join(format!("turnout-fork-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = StateConfig {
        backend: StateBackend::File,
        path: Some(dir.join("traffic.json")),
        ..Default::default()
    };
    let parent = sims
        .builder()
        .configure({
            let state = state.clone();
            move |c| c.state = state
        })
        .build()
        .unwrap();
    parent.set_canary_weight(10.0).unwrap();
    let stored = || async {
        Store::open(&state)
            .unwrap()
            .load()
            .await
            .unwrap()
            .map(|s| s.traffic)
    };
    for _ in 0..200 {
        if stored().await.is_some_and(|t| t.weight_bp == 1000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another process rolls the canary back; the parent has not read it yet.
    let rollback = Operation::new(
        "cli:1",
        "bad canary",
        Change::Rollback { canary: None },
        std::time::SystemTime::now(),
    );
    let initial = parent.traffic();
    let out = Store::open(&state)
        .unwrap()
        .apply(&rollback, &initial)
        .await
        .unwrap();
    assert_eq!(out.state.traffic.weight_bp, 0);
    assert_eq!(parent.traffic().weight_bp, 1000, "the parent is behind");

    let child = parent.after_fork().unwrap();
    assert_eq!(
        child.traffic(),
        out.state.traffic,
        "the store's state, at once"
    );
    sims.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_closed_client_gives_a_closed_client() {
    let sims = Sims::start().await;
    let parent = sims.builder().build().unwrap();
    parent.close();
    let child = parent.after_fork().unwrap();
    let err = child
        .chat()
        .create(chat("gpt-4.1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), turnout::ErrorKind::Closed);
    sims.shutdown().await;
}
