//! Checkpoints: a hash stable across runs, one taken before every change, exact restores,
//! `rollback()` to the last known-good state, and the last ten kept.

mod common;

use std::time::Duration;

use common::*;
use turnout::config::{HealthCheck, Rule};
use turnout::events::EventKind;
use turnout::rollout::{CHECKPOINTS_KEPT, canonical_json, content_hash};
use turnout::{ApiKey, Client, Environment, RolloutPlan, Side, Step};

/// A client with a fixed config: nothing random, nothing from the machine.
fn fixed_client() -> Client {
    Client::builder()
        .blue(
            Environment::new(
                "https://blue.example/v1",
                ApiKey::new("sk-fixed-blue-000000000001"),
            )
            .label("v1"),
        )
        .green(
            Environment::new(
                "https://green.example/v1",
                ApiKey::new("sk-fixed-green-00000000002"),
            )
            .label("v2"),
        )
        .rule(Rule::new([("tier", "premium")], Side::Green))
        .model_fallback("gpt-4.1", ["gpt-4o"])
        .health_check(HealthCheck {
            enabled: false,
            ..HealthCheck::default()
        })
        .build()
        .expect("client")
}

#[tokio::test]
async fn the_hash_is_stable_across_runs() {
    let a = fixed_client().checkpoint("a");
    let b = fixed_client().checkpoint("another name");
    assert_eq!(a.hash, b.hash, "name, id, time and version are not hashed");
    assert_eq!(a.hash, content_hash(&a.content));
    assert_eq!(a.hash.len(), 64);
    // The literal pins the canonical form: key order, number formatting, which fields count.
    // It changes only when the checkpointed config itself gains or changes a field.
    assert_eq!(
        a.hash,
        "61ed8f4cb19db34a28864be0f6cee95489257b320bfddadae7f58a52fb79a277",
        "canonical content: {}",
        canonical_json(&a.content)
    );
}

#[tokio::test]
async fn the_content_holds_traffic_routing_and_key_digests_only() {
    let client = fixed_client();
    let cp = client.checkpoint("pre-v2");
    let c = &cp.content;
    assert_eq!(c["traffic"]["active"], "blue");
    assert_eq!(c["traffic"]["weight_bp"], 0);
    assert_eq!(c["traffic"]["salt"], client.traffic().salt.as_str());
    assert_eq!(c["routing"]["rules"][0]["match"]["tier"], "premium");
    assert_eq!(c["routing"]["model_fallbacks"]["gpt-4.1"][0], "gpt-4o");
    for section in ["retry", "circuit_breaker", "rollback", "health_check"] {
        assert!(c["routing"][section].is_object(), "{section}");
    }
    assert_eq!(
        c["environments"]["blue"]["key_digest"],
        ApiKey::new("sk-fixed-blue-000000000001").digest().as_str()
    );
    assert!(
        !c.to_string().contains("sk-fixed"),
        "no key in a checkpoint"
    );
    let created = client.history().into_iter().last().unwrap();
    assert_eq!(created.kind, EventKind::CheckpointCreated);
    assert_eq!(created.details["checkpoint"], cp.id.as_str());
    assert_eq!(created.details["hash"], cp.hash.as_str());
    assert_eq!(created.details["name"], "pre-v2");
}

#[tokio::test]
async fn every_change_takes_a_checkpoint_of_the_state_it_replaces() {
    let client = fixed_client();
    let before = client.traffic();
    client.switch_to(Side::Green).unwrap();
    client.set_canary_weight(25.0).unwrap();
    client.set_canary_weight(25.0).unwrap(); // no change: no checkpoint, no event
    client.promote().unwrap();
    let kept = client.checkpoints();
    let names: Vec<&str> = kept.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "auto: before switch",
            "auto: before weight_changed",
            "auto: before promote"
        ]
    );
    assert_eq!(kept[0].version, before.version);
    assert_eq!(kept[0].content["traffic"]["active"], "blue");
    assert_eq!(kept[1].content["traffic"]["active"], "green");
    assert_eq!(kept[2].content["traffic"]["weight_bp"], 2500);
    // Each change event names the checkpoint taken before it.
    let changes: Vec<String> = client
        .history()
        .iter()
        .filter_map(|e| {
            e.details
                .get("checkpoint")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .collect();
    let ids: Vec<String> = kept.iter().map(|c| c.id.clone()).collect();
    assert_eq!(changes, ids);
}

#[tokio::test]
async fn restore_is_exact() {
    let sims = Sims::start().await;
    let client = sims.builder().build().unwrap();
    let good = client.checkpoint("known good");
    let good_state = client.traffic();

    // Move far away: a rollout (new salt), a switch, a weight.
    client
        .start_rollout(
            RolloutPlan::new(vec![Step::new(5.0), Step::new(100.0)])
                .interval(Duration::from_secs(3600)),
        )
        .unwrap();
    client.switch_to(Side::Green).unwrap();
    client.set_canary_weight(40.0).unwrap();
    assert_ne!(client.traffic().salt, good_state.salt);

    let restored = client.restore_checkpoint(&good.id).unwrap();
    assert_eq!(
        (restored.active, restored.weight_bp, restored.salt.as_str()),
        (
            good_state.active,
            good_state.weight_bp,
            good_state.salt.as_str()
        )
    );
    assert!(
        restored.version > good_state.version,
        "a restore is a new version"
    );
    assert_eq!(client.checkpoint("after").hash, good.hash);
    let event = client
        .history()
        .into_iter()
        .rev()
        .find(|e| e.kind == EventKind::CheckpointRestored)
        .unwrap();
    assert_eq!(event.details["restored"], good.id.as_str());
    assert_eq!(event.details["hash"], good.hash.as_str());

    // Restoring the state we are in still leaves a record, and changes nothing.
    let version = client.traffic().version;
    client.restore_checkpoint(&good.id).unwrap();
    assert_eq!(client.traffic().version, version);
    let last = client.history().into_iter().last().unwrap();
    assert_eq!(last.kind, EventKind::CheckpointRestored);
    assert_eq!(last.details["changed"], false);

    let err = client.restore_checkpoint("cp-999").unwrap_err().to_string();
    assert!(err.contains("no checkpoint with id \"cp-999\""), "{err}");
    sims.shutdown().await;
}

#[tokio::test]
async fn rollback_returns_to_the_last_known_good_state() {
    let client = fixed_client();
    let original_salt = client.traffic().salt;
    client.set_canary_weight(20.0).unwrap();
    // A canary is running: weight back to 0, same active side.
    let t = client.rollback("canary looks off").unwrap();
    assert_eq!((t.active, t.weight_bp), (Side::Blue, 0));

    // No canary: back to the previous active side.
    client.switch_to(Side::Green).unwrap();
    let t = client.rollback("green is bad").unwrap();
    assert_eq!((t.active, t.weight_bp), (Side::Blue, 0));
    assert_eq!(t.salt, original_salt);
    let event = client.history().into_iter().last().unwrap();
    assert_eq!(event.kind, EventKind::Rollback);
    assert_eq!(event.reason, "green is bad");
    assert_eq!(event.details["from_active"], "green");

    // The last change was a rollback: a second one changes nothing and says so.
    let t = client.rollback("again").unwrap();
    assert_eq!((t.active, t.weight_bp), (Side::Blue, 0));
    let event = client.history().into_iter().last().unwrap();
    assert_eq!(event.kind, EventKind::Rollback);
    assert_eq!(event.details["changed"], false);
    assert_eq!(event.details["note"], "already rolled back");
}

#[tokio::test]
async fn only_the_last_ten_are_kept() {
    let client = fixed_client();
    for i in 1..=15 {
        client.set_canary_weight(f64::from(i)).unwrap();
    }
    let kept = client.checkpoints();
    assert_eq!(kept.len(), CHECKPOINTS_KEPT);
    assert_eq!(kept.len(), 10);
    // The oldest kept is the state before the 6th change (weight 5 %).
    assert_eq!(kept[0].content["traffic"]["weight_bp"], 500);
    assert_eq!(kept[9].content["traffic"]["weight_bp"], 1400);
    let err = client.restore_checkpoint("cp-1").unwrap_err().to_string();
    assert!(err.contains("kept: cp-6"), "{err}");
}
