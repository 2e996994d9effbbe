//! Rollout control against two simulators: progressive rollouts driven by a ManualClock and
//! explicit ticks (no sleeping through holds), failure_limit, step_deadline, pause / resume /
//! abort, the always-on guard and its reaction time, quantile gates, alerts, and the
//! post-promotion switch-back.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use turnout::config::{RollbackAction, RollbackPolicy};
use turnout::events::{Event, EventKind};
use turnout::resilience::CircuitState;
use turnout::{
    Client, ClientBuilder, ManualClock, RequestOptions, RolloutPlan, RolloutState, Side, Step,
};
use turnout_sim::Faults;

const HOUR: Duration = Duration::from_secs(3600);
/// Long enough that the rollout's own background task never ticks during a test: the tests
/// tick explicitly.
const NEVER_BY_ITSELF: Duration = Duration::from_secs(3600);

/// A client for `builder` reading time from a fresh ManualClock.
fn manual(builder: ClientBuilder) -> (Client, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let config = builder.into_config().expect("config");
    let client = Client::with_clock(config, clock.clone()).expect("client");
    (client, clock)
}

/// A rollback guard that never fires on rates (signals only), so that a plan's own gates
/// and failure_limit decide.
fn lenient() -> RollbackPolicy {
    RollbackPolicy {
        max_error_rate: None,
        ..RollbackPolicy::default()
    }
}

/// Gates failing above 5 % errors once `min_requests` candidate requests are in the window.
fn gates(min_requests: u64) -> RollbackPolicy {
    RollbackPolicy {
        min_requests,
        ..RollbackPolicy::default()
    }
}

/// Sends `n` chat requests one after another; every one must succeed.
async fn send(client: &Client, n: usize) {
    for i in 0..n {
        client
            .chat()
            .create(chat(MODEL, &format!("req {i}")))
            .await
            .expect("request succeeds");
    }
}

fn kinds(client: &Client) -> Vec<EventKind> {
    client.history().iter().map(|e| e.kind).collect()
}

fn last(client: &Client, kind: EventKind) -> Event {
    client
        .history()
        .into_iter()
        .rev()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} event in {:?}", kinds(client)))
}

fn state(client: &Client) -> RolloutState {
    client.rollout().expect("a rollout").state
}

#[tokio::test]
async fn a_plan_advances_through_its_steps_and_promotes() {
    let sims = Sims::start().await;
    let (client, clock) = manual(sims.builder());
    let salt_before = client.traffic().salt;
    let plan = RolloutPlan::new(vec![
        Step::new(10.0).hold(HOUR).min_requests(5),
        Step::new(50.0).hold(2 * HOUR),
        Step::new(100.0),
    ])
    .gates(gates(5))
    .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan.clone()).unwrap();
    let t = client.traffic();
    assert_eq!((t.active, t.weight_bp), (Side::Blue, 1000));
    assert_ne!(t.salt, salt_before, "each rollout draws a new salt");
    assert_eq!(t.salt.len(), 16);
    let started = last(&client, EventKind::RolloutStarted);
    assert_eq!(started.details["weight"], 10.0);
    assert_eq!(started.details["salt"], t.salt.as_str());
    assert!(client.start_rollout(plan).is_err(), "one rollout at a time");

    // Traffic flows, but the hold is not over: the step holds.
    send(&client, 250).await;
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.step), (RolloutState::Running, 0));
    assert!(r.step_requests >= 5, "{r:?}");
    assert_eq!(r.last_verdict.as_deref(), Some("pass"));

    // An hour later (the window then holds only what follows), with traffic: next step.
    clock.advance(HOUR);
    send(&client, 200).await;
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.step, r.weight), (1, 50.0));
    assert_eq!(client.traffic().weight_bp, 5000);
    assert_eq!(last(&client, EventKind::RolloutStep).details["step"], 1);

    // Half of the two-hour hold: still at 50 %.
    clock.advance(HOUR);
    send(&client, 40).await;
    client.tick();
    assert_eq!(client.rollout().unwrap().step, 1);

    clock.advance(HOUR);
    send(&client, 40).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 10_000);

    // The last step has no hold: the next passing evaluation promotes.
    send(&client, 40).await;
    client.tick();
    let t = client.traffic();
    assert_eq!((t.active, t.weight_bp), (Side::Green, 0));
    let r = client.rollout().unwrap();
    assert_eq!(r.state, RolloutState::Completed);
    assert_eq!(
        client.status().rollout.unwrap().state,
        RolloutState::Completed
    );
    let rollout_kinds: Vec<EventKind> = kinds(&client)
        .into_iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::RolloutStarted
                    | EventKind::RolloutStep
                    | EventKind::Promote
                    | EventKind::RolloutCompleted
            )
        })
        .collect();
    assert_eq!(
        rollout_kinds,
        [
            EventKind::RolloutStarted,
            EventKind::RolloutStep,
            EventKind::RolloutStep,
            EventKind::Promote,
            EventKind::RolloutCompleted
        ]
    );
    assert!(!kinds(&client).contains(&EventKind::Rollback));
    sims.shutdown().await;
}

#[tokio::test]
async fn failure_limit_tolerates_failures_up_to_the_limit_then_rolls_back() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(500));
    let (client, _clock) = manual(
        sims.builder()
            .rollback(lenient())
            .circuit_breaker(no_circuit()),
    );
    let plan = RolloutPlan::new(vec![Step::new(50.0), Step::new(100.0)])
        .gates(gates(10))
        .failure_limit(1)
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    // Failed candidate attempts fail over to blue: callers see no error.
    send(&client, 80).await;

    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.failures, r.step), (RolloutState::Running, 1, 0));
    assert!(
        r.last_verdict
            .unwrap()
            .starts_with("fail: error rate 1.000")
    );
    assert_eq!(
        client.traffic().weight_bp,
        5000,
        "one failure is within the limit"
    );

    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.failures), (RolloutState::RolledBack, 2));
    assert_eq!(client.traffic().weight_bp, 0);
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.details["gate"], "max_error_rate");
    assert_eq!(rollback.details["window"]["error_rate"], 1.0);
    assert!(rollback.details["window"]["requests"].as_u64().unwrap() >= 10);
    let k = kinds(&client);
    assert_eq!(
        &k[k.len() - 2..],
        [EventKind::Rollback, EventKind::RolloutAborted]
    );

    // With failure_limit 0 the first failure rolls back.
    let plan = RolloutPlan::new(vec![Step::new(50.0), Step::new(100.0)])
        .gates(gates(10))
        .failure_limit(0)
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    send(&client, 80).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::RolledBack);
    assert_eq!(client.traffic().weight_bp, 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn step_deadline_pauses_an_inconclusive_step_and_resume_continues() {
    let sims = Sims::start().await;
    let (client, clock) = manual(sims.builder());
    let plan = RolloutPlan::new(vec![
        Step::new(50.0).hold(Duration::from_secs(60)),
        Step::new(100.0),
    ])
    .gates(gates(50))
    .step_deadline(Duration::from_secs(300))
    .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    send(&client, 10).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::Running);

    // Five minutes on, still too few requests in the window: the rollout pauses and says why.
    clock.advance(Duration::from_secs(300));
    send(&client, 10).await;
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!(r.state, RolloutState::Paused);
    let why = r.reason.unwrap();
    assert!(
        why.contains("inconclusive") && why.contains("step_deadline 300s"),
        "{why}"
    );
    assert_eq!(last(&client, EventKind::RolloutPaused).reason, why);
    assert_eq!(client.traffic().weight_bp, 5000, "a pause keeps the weight");

    // Paused: enough traffic changes nothing until resumed.
    send(&client, 200).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::Paused);
    client.resume_rollout().unwrap();
    assert_eq!(last(&client, EventKind::RolloutResumed).details["step"], 0);
    client.tick();
    assert_eq!(client.rollout().unwrap().step, 1);
    assert_eq!(client.traffic().weight_bp, 10_000);
    sims.shutdown().await;
}

#[tokio::test]
async fn pause_resume_and_abort() {
    let sims = Sims::start().await;
    let (client, clock) = manual(sims.builder());
    assert!(client.pause_rollout().is_err(), "nothing to pause");
    assert!(client.rollout().is_none());
    let plan = RolloutPlan::new(vec![Step::new(20.0), Step::new(100.0)])
        .gates(gates(5))
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan.clone()).unwrap();
    let first_salt = client.traffic().salt;

    client.pause_rollout().unwrap();
    client.pause_rollout().unwrap();
    assert_eq!(state(&client), RolloutState::Paused);
    let paused = kinds(&client)
        .iter()
        .filter(|k| **k == EventKind::RolloutPaused)
        .count();
    assert_eq!(paused, 1, "pausing a paused rollout publishes nothing");
    clock.advance(Duration::from_secs(60));
    send(&client, 100).await;
    client.tick();
    assert_eq!(client.rollout().unwrap().step, 0, "a paused rollout holds");

    client.resume_rollout().unwrap();
    assert_eq!(state(&client), RolloutState::Running);
    client.abort_rollout("bad vibes").unwrap();
    let r = client.rollout().unwrap();
    assert_eq!(r.state, RolloutState::Aborted);
    assert_eq!(r.reason.as_deref(), Some("bad vibes"));
    assert_eq!(client.traffic().weight_bp, 0, "abort = rollback");
    let k = kinds(&client);
    assert_eq!(
        &k[k.len() - 2..],
        [EventKind::Rollback, EventKind::RolloutAborted]
    );
    assert!(client.resume_rollout().is_err());
    assert!(client.abort_rollout("again").is_err());

    // A new rollout may start, with a new salt; a manual change supersedes it.
    client.start_rollout(plan).unwrap();
    assert_ne!(client.traffic().salt, first_salt);
    client.set_canary_weight(30.0).unwrap();
    let r = client.rollout().unwrap();
    assert_eq!(r.state, RolloutState::Aborted);
    assert!(
        r.reason
            .unwrap()
            .contains("superseded by a manual weight_changed")
    );
    assert_eq!(client.traffic().weight_bp, 3000);
    sims.shutdown().await;
}

/// The brief's reaction test: 100 % on a candidate failing 60 % of its requests, min_requests
/// 20, the circuit breaker out of the way so that the error-rate gate alone decides.
#[tokio::test]
async fn reaction_at_full_weight_the_candidate_is_cut_at_its_20th_request() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Green,
        Faults {
            error_rate: 0.6,
            error_status: 500,
            ..none()
        },
    );
    let client = sims
        .builder()
        .rollback(gates(20))
        .circuit_breaker(no_circuit())
        .build()
        .unwrap();
    client.set_canary_weight(100.0).unwrap();
    let mut at_rollback = None;
    for i in 0..100 {
        client
            .chat()
            .create(chat(MODEL, &format!("r{i}")))
            .await
            .expect("failed candidate attempts fail over to blue");
        if at_rollback.is_none() && client.traffic().weight_bp == 0 {
            at_rollback = Some(sims.chats(Side::Green));
        }
    }
    let at_rollback = at_rollback.expect("the guard rolled back");
    eprintln!(
        "reaction (100 %, sequential): candidate requests before the rollback = {at_rollback}"
    );
    assert!(at_rollback < 40, "{at_rollback}");
    assert_eq!(at_rollback, 20, "judged at the 20th outcome, not later");
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.environment, Some(Side::Green));
    assert_eq!(rollback.details["gate"], "max_error_rate");
    assert_eq!(rollback.details["trigger"], "guard");
    assert_eq!(rollback.details["window"]["requests"], 20);
    assert!(rollback.details["observed"].as_f64().unwrap() > 0.05);
    // No request after the rollback reached the candidate.
    assert_eq!(sims.chats(Side::Green), at_rollback);
    send(&client, 200).await;
    assert_eq!(sims.chats(Side::Green), at_rollback);
    assert_eq!(
        kinds(&client)
            .iter()
            .filter(|k| **k == EventKind::Rollback)
            .count(),
        1,
        "one rollback, one event"
    );
    sims.shutdown().await;
}

/// The same at 50 % inside a rollout, with eight concurrent callers and the default circuit
/// breaker: requests already in flight at the rollback may still land, nothing after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_under_concurrency_rolls_back_and_aborts_the_rollout() {
    const WORKERS: u64 = 8;
    let sims = Sims::start().await;
    sims.fault(
        Side::Green,
        Faults {
            error_rate: 0.6,
            error_status: 500,
            ..none()
        },
    );
    let client = sims.builder().rollback(gates(20)).build().unwrap();
    let seen_at_event = Arc::new(AtomicU64::new(u64::MAX));
    let seen = Arc::clone(&seen_at_event);
    let _sub = client.subscribe(move |e| {
        if e.kind == EventKind::Rollback {
            let n = e.details["window"]["requests"].as_u64().unwrap_or(0);
            seen.store(n, Ordering::SeqCst);
        }
    });
    let plan =
        RolloutPlan::new(vec![Step::new(50.0).hold(HOUR), Step::new(100.0)]).gates(gates(20));
    client.start_rollout(plan).unwrap();
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            for i in 0..40 {
                client
                    .chat()
                    .create(chat(MODEL, &format!("w{w} r{i}")))
                    .await
                    .expect("request succeeds");
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let judged = seen_at_event.load(Ordering::SeqCst);
    let reached = sims.chats(Side::Green);
    eprintln!(
        "reaction (50 %, {WORKERS} concurrent callers): candidate outcomes judged at the rollback = {judged}, candidate requests in all = {reached}"
    );
    assert_ne!(judged, u64::MAX, "the guard rolled back");
    assert!(reached < 40, "{reached}");
    assert!(
        reached <= judged + WORKERS,
        "only requests in flight may land after the rollback"
    );
    assert_eq!(state(&client), RolloutState::RolledBack);
    assert!(
        client
            .rollout()
            .unwrap()
            .reason
            .unwrap()
            .contains("rollback guard")
    );
    let k = kinds(&client);
    let rb = k.iter().position(|k| *k == EventKind::Rollback).unwrap();
    assert_eq!(k[rb + 1..].first(), Some(&EventKind::RolloutAborted));
    assert_eq!(k.iter().filter(|k| **k == EventKind::Rollback).count(), 1);
    send(&client, 200).await;
    assert_eq!(
        sims.chats(Side::Green),
        reached,
        "nothing reaches the candidate after"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn an_open_candidate_circuit_is_a_failed_gate_below_min_requests() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(503));
    let client = sims.builder().rollback(gates(1000)).build().unwrap();
    client.set_canary_weight(100.0).unwrap();
    send(&client, 20).await;
    assert_eq!(client.traffic().weight_bp, 0);
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.details["gate"], "circuit_open");
    // The circuit opened at its 5th consecutive failure: the guard cut the candidate there.
    assert_eq!(sims.chats(Side::Green), 5);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_p99_latency_gate_is_judged_on_the_tick() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Green,
        Faults {
            latency_ms: 40,
            ..none()
        },
    );
    let (client, _clock) = manual(sims.builder().rollback(RollbackPolicy {
        max_p99_latency_ms: Some(20.0),
        min_requests: 5,
        ..RollbackPolicy::default()
    }));
    client.set_canary_weight(100.0).unwrap();
    send(&client, 6).await;
    // On the request path quantiles are judged at most every 250 ms of the client's clock,
    // which has not moved; the tick judges every gate.
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0);
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.details["gate"], "max_p99_latency_ms");
    assert!(rollback.details["window"]["p99_ms"].as_f64().unwrap() >= 40.0);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_p99_ttft_gate_judges_streams() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Green,
        Faults {
            first_byte_delay_ms: 40,
            ..none()
        },
    );
    let (client, _clock) = manual(sims.builder().rollback(RollbackPolicy {
        max_error_rate: None,
        max_p99_ttft_ms: Some(20.0),
        min_requests: 5,
        ..RollbackPolicy::default()
    }));
    client.set_canary_weight(100.0).unwrap();
    for i in 0..6 {
        let stream = client
            .chat()
            .stream(chat(MODEL, &format!("stream {i}")))
            .await
            .unwrap();
        stream.collect_all().await.expect("the stream completes");
    }
    client.tick();
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(
        last(&client, EventKind::Rollback).details["gate"],
        "max_p99_ttft_ms"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_healthy_candidate_is_left_alone() {
    let sims = Sims::start().await;
    let (client, _clock) = manual(sims.builder().rollback(RollbackPolicy {
        max_p99_latency_ms: Some(5_000.0),
        min_success_rate: Some(0.99),
        max_error_rate_delta: Some(0.01),
        min_requests: 5,
        ..RollbackPolicy::default()
    }));
    client.set_canary_weight(50.0).unwrap();
    send(&client, 100).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 5000);
    assert!(!kinds(&client).contains(&EventKind::Rollback));
    sims.shutdown().await;
}

#[tokio::test]
async fn action_alert_only_alerts_once_per_episode() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(500));
    let client = sims
        .builder()
        .rollback(RollbackPolicy {
            action: RollbackAction::Alert,
            min_requests: 5,
            ..RollbackPolicy::default()
        })
        .circuit_breaker(no_circuit())
        .build()
        .unwrap();
    client.set_canary_weight(100.0).unwrap();
    send(&client, 30).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 10_000, "traffic unchanged");
    let alerts: Vec<Event> = client
        .history()
        .into_iter()
        .filter(|e| e.kind == EventKind::Alert)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].details["gate"], "max_error_rate");
    assert_eq!(alerts[0].environment, Some(Side::Green));
    assert!(!kinds(&client).contains(&EventKind::Rollback));
    sims.shutdown().await;
}

#[tokio::test]
async fn a_failure_soon_after_a_promotion_switches_the_active_side_back() {
    let sims = Sims::start().await;
    let (client, clock) = manual(
        sims.builder()
            .rollback(gates(10))
            .circuit_breaker(no_circuit()),
    );
    client.promote().unwrap();
    assert_eq!(client.traffic().active, Side::Green);
    sims.fault(Side::Green, always(500));
    send(&client, 30).await;
    let t = client.traffic();
    assert_eq!((t.active, t.weight_bp), (Side::Blue, 0), "switched back");
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.details["trigger"], "post_promotion");
    assert_eq!(rollback.environment, Some(Side::Green));
    assert!(
        rollback.reason.contains("switching back to blue"),
        "{}",
        rollback.reason
    );
    // Only the failing window's requests reached green.
    assert_eq!(sims.chats(Side::Green), 10);

    // Past the window after a promotion, a failing active side is not switched back.
    sims.fault(Side::Green, none());
    client.promote().unwrap();
    assert_eq!(client.traffic().active, Side::Green);
    clock.advance(Duration::from_secs(61));
    sims.fault(Side::Green, always(500));
    send(&client, 30).await;
    client.tick();
    assert_eq!(client.traffic().active, Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn plan_gates_with_their_own_window_are_judged_over_it() {
    let sims = Sims::start().await;
    let (client, clock) = manual(
        sims.builder()
            .rollback(lenient())
            .circuit_breaker(no_circuit()),
    );
    let plan = RolloutPlan::new(vec![Step::new(50.0), Step::new(100.0)])
        .gates(RollbackPolicy {
            window: Duration::from_secs(600),
            min_requests: 10,
            ..RollbackPolicy::default()
        })
        .failure_limit(0)
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    sims.fault(Side::Green, always(500));
    send(&client, 60).await;
    sims.fault(Side::Green, none());
    // Two minutes on, the guard's 60 s window has forgotten the failures, the plan's 600 s
    // window has not.
    clock.advance(Duration::from_secs(120));
    send(&client, 4).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::RolledBack);
    sims.shutdown().await;
}

/// Sends requests one after another until the rollout's step has seen `n` candidate outcomes
/// (a request routed to the candidate ends there once, failed over or not); every request
/// must succeed.
async fn send_until_step_requests(client: &Client, n: u64) {
    let mut sent = 0;
    while client.rollout().expect("a rollout").step_requests < n {
        send(client, 1).await;
        sent += 1;
        assert!(sent < 100_000, "{:?}", client.rollout());
    }
    assert_eq!(client.rollout().unwrap().step_requests, n);
}

/// 200 clean candidate requests at 10 %, then the 50 % step: the plan's gates (5 % errors at
/// most over 20 requests) judge samples of the current step only.
async fn at_the_second_step(sims: &Sims, failure_limit: u32) -> (Client, Arc<ManualClock>) {
    let (client, clock) = manual(
        sims.builder()
            .rollback(lenient())
            .circuit_breaker(no_circuit()),
    );
    let plan = RolloutPlan::new(vec![
        Step::new(10.0).min_requests(200),
        Step::new(50.0).min_requests(20),
        Step::new(100.0),
    ])
    .gates(gates(20))
    .failure_limit(failure_limit)
    .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    send_until_step_requests(&client, 200).await;
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.step), (RolloutState::Running, 1), "{r:?}");
    assert_eq!(client.traffic().weight_bp, 5000);
    (client, clock)
}

#[tokio::test]
async fn a_step_is_judged_on_its_own_samples_not_on_the_clean_ones_before_it() {
    let sims = Sims::start().await;
    let (client, _clock) = at_the_second_step(&sims, 1).await;
    // 20 candidate requests at 50 %, 2 of them failed: 10 % at this step, though only 2 of
    // the 220 in the sliding window (0.9 %).
    sims.fault(
        Side::Green,
        turnout_sim::Faults {
            fail_next: 2,
            ..none()
        },
    );
    send_until_step_requests(&client, 20).await;
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.step, r.failures), (RolloutState::Running, 1, 1));
    assert_eq!(client.traffic().weight_bp, 5000, "not advanced to 100 %");
    let verdict = r.last_verdict.unwrap();
    assert!(
        verdict.starts_with("fail: error rate 0.100") && verdict.contains("over 20 requests"),
        "{verdict}"
    );
    // Failed again: beyond failure_limit 1, rolled back, never promoted.
    client.tick();
    assert_eq!(state(&client), RolloutState::RolledBack);
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(client.traffic().active, Side::Blue);
    assert!(!kinds(&client).contains(&EventKind::Promote));
    sims.shutdown().await;
}

#[tokio::test]
async fn the_last_step_is_not_promoted_on_the_samples_of_the_step_before() {
    let sims = Sims::start().await;
    let (client, _clock) = manual(sims.builder());
    // The last step with no hold and no min_requests of its own, as the CLI's plans had it.
    let plan = RolloutPlan::new(vec![Step::new(50.0).min_requests(40), Step::new(100.0)])
        .gates(gates(20))
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    send_until_step_requests(&client, 40).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 10_000);
    // Nothing seen at 100 % yet: the 40 at 50 % do not promote it.
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!((r.state, r.step), (RolloutState::Running, 1));
    assert_eq!(
        r.last_verdict.as_deref(),
        Some("inconclusive: 0 of 20 requests in the gates' window")
    );
    send_until_step_requests(&client, 19).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::Running);
    send_until_step_requests(&client, 20).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::Completed);
    assert_eq!(client.traffic().active, Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_failing_step_is_rolled_back_as_soon_as_the_sliding_window_fails() {
    let sims = Sims::start().await;
    let (client, _clock) = at_the_second_step(&sims, 0).await;
    // Every candidate request fails now. 11 failures are too few for the step's own window
    // (20), but 11 of 211 is over 5 % in the sliding window, which alone was judged before:
    // the rollback does not wait for the step's window to fill.
    sims.fault(Side::Green, always(500));
    send_until_step_requests(&client, 10).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::Running, "10 of 210 is 4.8 %");
    send_until_step_requests(&client, 11).await;
    client.tick();
    assert_eq!(state(&client), RolloutState::RolledBack);
    assert_eq!(client.traffic().weight_bp, 0);
    let rollback = last(&client, EventKind::Rollback);
    assert_eq!(rollback.details["gate"], "max_error_rate");
    assert_eq!(rollback.details["window"]["requests"], 211);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_rollout_runs_by_itself_on_its_interval() {
    let sims = Sims::start().await;
    let client = sims.builder().build().unwrap();
    let steps = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&steps);
    let _sub = client.subscribe(move |e| {
        if matches!(e.kind, EventKind::RolloutStep | EventKind::RolloutCompleted) {
            seen.lock().unwrap().push(e.kind);
        }
    });
    let plan = RolloutPlan::new(vec![Step::new(50.0), Step::new(100.0)])
        .gates(gates(2))
        .interval(Duration::from_millis(50));
    client.start_rollout(plan).unwrap();
    let done = {
        let client = client.clone();
        eventually(Duration::from_secs(20), move || {
            client
                .rollout()
                .is_some_and(|r| r.state == RolloutState::Completed)
        })
    };
    let traffic = tokio::spawn({
        let client = client.clone();
        async move {
            while client.rollout().is_some_and(|r| r.state.is_live()) {
                send(&client, 5).await;
            }
        }
    });
    assert!(done.await, "{:?}", client.rollout());
    traffic.await.unwrap();
    assert_eq!(
        *steps.lock().unwrap(),
        [EventKind::RolloutStep, EventKind::RolloutCompleted]
    );
    assert_eq!(client.traffic().active, Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn plans_are_validated_before_anything_changes() {
    let sims = Sims::start().await;
    let client = sims.client();
    let version = client.traffic().version;
    let err = client
        .start_rollout(RolloutPlan::new(vec![Step::new(10.0)]))
        .unwrap_err();
    assert!(
        err.to_string().contains("steps[0].weight must be 100"),
        "{err}"
    );
    assert_eq!(client.traffic().version, version);
    assert!(client.rollout().is_none());
    sims.shutdown().await;
}

#[tokio::test]
async fn the_guard_judges_its_own_window_length() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(500));
    let (client, clock) = manual(
        sims.builder()
            .rollback(RollbackPolicy {
                window: Duration::from_secs(30),
                min_requests: 10,
                ..RollbackPolicy::default()
            })
            .circuit_breaker(no_circuit()),
    );
    client.set_canary_weight(100.0).unwrap();
    send(&client, 10).await;
    assert_eq!(client.traffic().weight_bp, 0);

    // 40 s later the failures are outside the guard's 30 s window (though still inside the
    // 60 s statistics window): a new canary is judged on what follows.
    sims.fault(Side::Green, none());
    clock.advance(Duration::from_secs(40));
    client.set_canary_weight(100.0).unwrap();
    send(&client, 1).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 10_000);
    assert_eq!(
        client.status().environments[&Side::Green].window.failures,
        10
    );
    sims.shutdown().await;
}

fn circuit(client: &Client, side: Side) -> CircuitState {
    client.status().environments[&side].circuit
}

/// A plan for green's next release: 10 % with a one-hour hold, then 100 %.
fn next_release() -> RolloutPlan {
    RolloutPlan::new(vec![
        Step::new(10.0).hold(HOUR).min_requests(5),
        Step::new(100.0),
    ])
    .gates(gates(5))
    .interval(NEVER_BY_ITSELF)
}

/// Green's release fails with 500s: its circuit opens, the guard rolls it back, and one
/// cooldown later (no traffic, so no trial) the circuit is still not closed.
async fn a_failed_release_leaves_greens_circuit_half_open(
    sims: &Sims,
    client: &Client,
    clock: &ManualClock,
) {
    sims.fault(Side::Green, always(500));
    client.set_canary_weight(100.0).unwrap();
    send(client, 20).await;
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(
        last(client, EventKind::Rollback).details["gate"],
        "circuit_open"
    );
    let refused = client.start_rollout(next_release()).unwrap_err();
    assert!(
        refused.to_string().contains("circuit is open"),
        "no rollout starts on an open circuit: {refused}"
    );
    clock.advance(COOLDOWN + Duration::from_secs(1));
    assert_eq!(circuit(client, Side::Green), CircuitState::HalfOpen);
}

/// Regression: the circuit an earlier release opened is half-open when the next rollout starts
/// (weight 0 sends green no trial). Half-open is not a failed gate: the trial decides, so a
/// healed release is not rolled back on the first tick but runs and is promoted.
#[tokio::test]
async fn a_circuit_left_half_open_by_an_earlier_release_does_not_fail_the_next_rollout() {
    let sims = Sims::start().await;
    let (client, clock) = manual(sims.builder().rollback(gates(5)));
    a_failed_release_leaves_greens_circuit_half_open(&sims, &client, &clock).await;

    sims.fault(Side::Green, none());
    client.start_rollout(next_release()).unwrap();
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!(
        (r.state, r.weight),
        (RolloutState::Running, 10.0),
        "{:?}",
        kinds(&client)
    );
    send(&client, 200).await;
    assert_eq!(
        circuit(&client, Side::Green),
        CircuitState::Closed,
        "the trial closed it"
    );
    client.tick();
    assert_eq!(state(&client), RolloutState::Running);

    clock.advance(HOUR);
    send(&client, 200).await;
    client.tick();
    assert_eq!(client.traffic().weight_bp, 10_000);
    send(&client, 40).await;
    client.tick();
    let t = client.traffic();
    assert_eq!((t.active, t.weight_bp), (Side::Green, 0));
    assert_eq!(state(&client), RolloutState::Completed);
    let rollbacks = kinds(&client)
        .into_iter()
        .filter(|k| *k == EventKind::Rollback)
        .count();
    assert_eq!(rollbacks, 1, "only the failed release's");
    sims.shutdown().await;
}

/// The other half: a next release that fails too reopens the circuit with its trial, and that
/// is a failed gate at once: rolled back after the one request.
#[tokio::test]
async fn a_next_release_that_fails_again_is_rolled_back_when_its_trial_reopens_the_circuit() {
    let sims = Sims::start().await;
    let (client, clock) = manual(sims.builder().rollback(gates(5)));
    a_failed_release_leaves_greens_circuit_half_open(&sims, &client, &clock).await;

    let before = sims.chats(Side::Green);
    client.start_rollout(next_release()).unwrap();
    client.tick();
    assert_eq!(state(&client), RolloutState::Running);
    send(&client, 200).await;
    assert_eq!(client.traffic().weight_bp, 0);
    assert_eq!(state(&client), RolloutState::RolledBack);
    assert_eq!(
        last(&client, EventKind::Rollback).details["gate"],
        "circuit_open"
    );
    assert_eq!(
        sims.chats(Side::Green) - before,
        1,
        "the trial alone reached green: its failure reopened the circuit"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_steps_min_requests_counts_only_judged_requests() {
    // The caller's own 400s say nothing of the release: 2 judged requests and 20 client errors
    // are not the step's 10 requests.
    let sims = Sims::start().await;
    let (client, _clock) = manual(sims.builder().circuit_breaker(no_circuit()));
    let plan = RolloutPlan::new(vec![Step::new(50.0).min_requests(10), Step::new(100.0)])
        .gates(gates(2))
        .interval(NEVER_BY_ITSELF);
    client.start_rollout(plan).unwrap();
    let green = || {
        client
            .chat()
            .create(chat(MODEL, "hi"))
            .options(RequestOptions::default().environment(Side::Green))
    };
    for _ in 0..2 {
        green().await.expect("served");
    }
    sims.fault(
        Side::Green,
        Faults {
            error_rate: 1.0,
            error_status: 400,
            ..none()
        },
    );
    for _ in 0..20 {
        let err = green().await.expect_err("the caller's error");
        assert_eq!(err.status(), Some(400));
    }
    client.tick();
    let r = client.rollout().unwrap();
    assert_eq!(
        (r.state, r.step, r.step_requests),
        (RolloutState::Running, 0, 2)
    );
    assert_eq!(
        client.traffic().weight_bp,
        5000,
        "not advanced on client errors"
    );
    sims.shutdown().await;
}
