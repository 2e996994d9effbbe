//! Retries, `Retry-After`, the retry budget, circuits and health checks, against simulators.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use common::*;
use turnout::config::{CircuitBreaker, HealthCheck, RetryPolicy};
use turnout::events::EventKind;
use turnout::resilience::CircuitState;
use turnout::{Client, ErrorKind, ManualClock, Side};
use turnout_sim::Faults;

fn circuit(state: &Client, side: Side) -> CircuitState {
    state.status().environments[&side].circuit
}

/// The client `builder` makes, reading time from `clock`: circuit cooldowns pass when the test
/// says so, however long a round of requests takes on a loaded machine.
fn on_clock(builder: turnout::ClientBuilder, clock: &Arc<ManualClock>) -> Client {
    Client::with_clock(builder.into_config().unwrap(), clock.clone()).unwrap()
}

// Tests that measure a wait run on paused tokio time (`start_paused`): the simulator's delays,
// the client's timeouts and its `Retry-After` sleeps all use tokio timers, so `Instant` below
// is tokio's virtual clock and the waits are exact, whatever the machine's load.

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            error_status: 429,
            retry_after: Some(0.3),
            ..none()
        },
    );
    let started = Instant::now();
    let resp = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect("the retry succeeds");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(350),
        "waited {elapsed:?}, not the 0.3 s asked for"
    );
    assert_eq!(resp.route.attempts, 2);
    assert_eq!(resp.route.environment, Side::Blue);
    assert_eq!(sims.total(Side::Blue), 2);
    sims.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_whole_seconds_is_waited() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            error_status: 503,
            retry_after: Some(1.0),
            ..none()
        },
    );
    let started = Instant::now();
    let resp = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .timeout(Duration::from_secs(3))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1050),
        "waited {elapsed:?}, not the 1 s asked for"
    );
    assert_eq!(resp.route.attempts, 2);
    sims.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_longer_retry_after_than_allowed_fails_at_once() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .retry(RetryPolicy {
            max_retry_after: Duration::from_millis(500),
            ..fast_retry()
        })
        .build()
        .unwrap();
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            error_status: 429,
            retry_after: Some(5.0),
            ..none()
        },
    );
    let started = Instant::now();
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(started.elapsed(), Duration::ZERO, "nothing was waited for");
    assert_eq!(sims.total(Side::Blue), 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn an_empty_budget_stops_retrying() {
    let sims = Sims::start().await;
    const N: u64 = 60;
    const MAX_ATTEMPTS: u32 = 5;
    let client = sims
        .builder()
        .retry(RetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            budget_ratio: 0.1,
            budget_min_per_sec: 0,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..fast_retry()
        })
        .circuit_breaker(no_circuit())
        .build()
        .unwrap();
    sims.fault(Side::Blue, always(500));
    for _ in 0..N {
        let err = client
            .chat()
            .create(chat(MODEL, "hi"))
            .environment(Side::Blue)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(500), "the last error is returned");
    }
    let seen = sims.total(Side::Blue);
    // 60 requests at a 10% ratio buy 6 retries.
    assert!(
        seen <= N + N / 10 + 2,
        "upstream saw {seen} requests for {N}"
    );
    assert!(seen < N * u64::from(MAX_ATTEMPTS));
    assert!(seen > N, "some retries were allowed");
    assert_eq!(sims.total(Side::Green), 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn fatal_4xx_is_sent_exactly_once() {
    let sims = Sims::start().await;
    let client = sims.client();
    for status in [400, 404, 422] {
        sims.blue.reset_stats();
        sims.fault(Side::Blue, always(status));
        let err = client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(sims.total(Side::Blue), 1, "{status} sent once");
        assert_eq!(sims.total(Side::Green), 0, "{status} not failed over");
    }
    // A real validation error of the upstream, too.
    sims.fault(Side::Blue, none());
    sims.blue.reset_stats();
    let err = client
        .chat()
        .create(turnout::protocol::ChatCompletionRequest::new(MODEL, vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(sims.total(Side::Blue) + sims.total(Side::Green), 1);
    // The caller's errors do not open the circuit.
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Closed);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_circuit_opens_after_n_failures_then_half_opens() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = on_clock(
        sims.builder().circuit_breaker(CircuitBreaker {
            failure_threshold: 3,
            cooldown: COOLDOWN,
            ..CircuitBreaker::default()
        }),
        &clock,
    );
    sims.fault(Side::Blue, always(500));
    for i in 0..3 {
        let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
        assert_eq!(
            resp.route.environment,
            Side::Green,
            "request {i} failed over"
        );
        assert_eq!(resp.route.attempts, 2);
    }
    assert_eq!(sims.total(Side::Blue), 3);
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    assert!(
        client
            .history()
            .iter()
            .any(|e| e.kind == EventKind::CircuitOpened && e.environment == Some(Side::Blue))
    );
    // Open: traffic goes straight to green without touching blue.
    for _ in 0..5 {
        let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
        assert_eq!(resp.route.environment, Side::Green);
        assert_eq!(resp.route.attempts, 1);
    }
    assert_eq!(
        sims.total(Side::Blue),
        3,
        "the open circuit kept traffic off blue"
    );

    // Just before the cooldown ends the circuit is still open; after it: one trial, which
    // fails, and the circuit opens again.
    clock.advance(COOLDOWN - Duration::from_millis(1));
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    clock.advance(Duration::from_millis(1));
    assert_eq!(circuit(&client, Side::Blue), CircuitState::HalfOpen);
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(resp.route.environment, Side::Green);
    assert_eq!(sims.total(Side::Blue), 4, "one trial request");
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(sims.total(Side::Blue), 4);

    // Blue recovers; after the cooldown the trial succeeds and closes the circuit.
    sims.fault(Side::Blue, none());
    clock.advance(COOLDOWN);
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    assert_eq!(resp.route.attempts, 1);
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Closed);
    assert!(
        client
            .history()
            .iter()
            .any(|e| e.kind == EventKind::CircuitClosed && e.environment == Some(Side::Blue))
    );
    for _ in 0..3 {
        let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
        assert_eq!(resp.route.environment, Side::Blue);
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn a_retry_does_not_go_through_an_open_circuit() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .circuit_breaker(CircuitBreaker {
            failure_threshold: 2,
            cooldown: Duration::from_secs(30),
            ..CircuitBreaker::default()
        })
        .retry(RetryPolicy {
            max_attempts: 5,
            ..fast_retry()
        })
        .build()
        .unwrap();
    sims.fault(Side::Blue, always(500));
    // Pinned: the second failure opens blue's circuit; no third attempt is sent through it.
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(sims.total(Side::Blue), 2);
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    // Pinned to a side whose circuit is open: refused at once.
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoHealthyEnvironment);
    assert_eq!(sims.total(Side::Blue), 2);
    sims.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn both_circuits_open_fails_at_once() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .circuit_breaker(CircuitBreaker {
            failure_threshold: 1,
            cooldown: Duration::from_secs(30),
            ..CircuitBreaker::default()
        })
        .build()
        .unwrap();
    sims.fault(Side::Blue, always(500));
    sims.fault(Side::Green, always(500));
    client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    assert_eq!(circuit(&client, Side::Green), CircuitState::Open);
    let (blue, green) = (sims.total(Side::Blue), sims.total(Side::Green));
    assert_eq!(
        (blue, green),
        (1, 1),
        "no attempt went through an open circuit"
    );
    let started = Instant::now();
    for _ in 0..10 {
        let err = client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoHealthyEnvironment);
    }
    let stream = client.chat().stream(chat(MODEL, "hi")).await.unwrap_err();
    assert_eq!(stream.kind(), ErrorKind::NoHealthyEnvironment);
    assert_eq!(started.elapsed(), Duration::ZERO, "no waiting");
    assert_eq!(sims.total(Side::Blue), blue);
    assert_eq!(sims.total(Side::Green), green);
    sims.shutdown().await;
}

fn probing(sims: &Sims) -> Client {
    sims.builder()
        .health_check(HealthCheck {
            enabled: true,
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(200),
            unhealthy_threshold: 2,
            healthy_threshold: 2,
            ..HealthCheck::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn health_checks_move_traffic_off_a_dead_side() {
    let sims = Sims::start().await;
    let client = probing(&sims);
    assert!(
        eventually(Duration::from_secs(2), || sims
            .stats(Side::Blue)
            .by_path
            .contains_key("/v1/models"))
        .await,
        "blue is probed"
    );
    assert!(client.status().environments[&Side::Blue].healthy);
    sims.fault(Side::Blue, always(503));
    assert!(
        eventually(Duration::from_secs(2), || !client.status().environments
            [&Side::Blue]
            .healthy)
        .await,
        "blue marked unhealthy"
    );
    assert!(
        client
            .history()
            .iter()
            .any(|e| e.kind == EventKind::HealthChanged && e.environment == Some(Side::Blue))
    );
    let before = sims.chats(Side::Blue);
    for _ in 0..10 {
        let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
        assert_eq!(resp.route.environment, Side::Green);
        assert_eq!(resp.route.attempts, 1, "blue was not tried");
    }
    assert_eq!(
        sims.chats(Side::Blue),
        before,
        "no request went to the unhealthy side"
    );

    // Recovery: healthy again after two good probes, and traffic returns.
    sims.fault(Side::Blue, none());
    assert!(
        eventually(Duration::from_secs(2), || client.status().environments
            [&Side::Blue]
            .healthy)
        .await,
        "blue healthy again"
    );
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    client.close();
    sims.shutdown().await;
}

#[tokio::test]
async fn health_check_now_reports_this_probe() {
    let sims = Sims::start().await;
    let client = sims.client();
    let ok = client.health_check(Side::Green).await;
    assert!(ok.healthy);
    assert_eq!(ok.environment, Side::Green);
    assert_eq!(ok.error, None);
    assert!(ok.latency_ms >= 0.0);

    sims.fault(Side::Blue, always(500));
    let bad = client.health_check(Side::Blue).await;
    assert!(!bad.healthy);
    assert_eq!(bad.environment, Side::Blue);
    let error = bad.error.expect("an error");
    assert!(error.contains("500"), "{error}");
    assert_no_key("probe error", &error);
    // The first failure is below the threshold (3 by default).
    assert!(client.status().environments[&Side::Blue].healthy);
    client.health_check(Side::Blue).await;
    client.health_check(Side::Blue).await;
    assert!(!client.status().environments[&Side::Blue].healthy);

    // A side nobody listens on.
    let dead = fast(
        Client::builder()
            .blue(env(&refused_url(), BLUE_KEY))
            .green(env(&sims.green.url(), GREEN_KEY)),
    )
    .build()
    .unwrap();
    let probe = dead.health_check(Side::Blue).await;
    assert!(!probe.healthy);
    assert!(probe.error.is_some());
    sims.shutdown().await;
}

#[tokio::test]
async fn both_sides_unhealthy_is_panic_mode() {
    let sims = Sims::start().await;
    let client = sims.client();
    for side in Side::BOTH {
        sims.fault(side, always(503));
        for _ in 0..3 {
            client.health_check(side).await;
        }
        sims.fault(side, none());
        assert!(!client.status().environments[&side].healthy);
    }
    // Probes can be wrong: with both unhealthy, traffic still flows as if both were healthy.
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    assert_eq!(resp.route.attempts, 1);
    sims.shutdown().await;
}

/// The cooldown of the half-open test; it passes only when the test advances the clock.
const TRIAL_COOLDOWN: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_half_open_circuit_lets_one_trial_through_under_concurrency() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = on_clock(
        sims.builder().circuit_breaker(CircuitBreaker {
            failure_threshold: 1,
            cooldown: TRIAL_COOLDOWN,
            ..CircuitBreaker::default()
        }),
        &clock,
    );
    // Blue answers slowly and fails, so that the trial is still running while the others arrive.
    sims.fault(
        Side::Blue,
        Faults {
            error_rate: 1.0,
            error_status: 500,
            latency_ms: 100,
            ..none()
        },
    );
    client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    assert_eq!(sims.total(Side::Blue), 1);
    for round in 0..3 {
        clock.advance(TRIAL_COOLDOWN);
        let before = sims.total(Side::Blue);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(64));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let client = client.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    client.chat().create(chat(MODEL, "hi")).await
                })
            })
            .collect();
        for t in tasks {
            let resp = t.await.unwrap().expect("green answers");
            assert_eq!(resp.route.environment, Side::Green);
        }
        assert_eq!(
            sims.total(Side::Blue) - before,
            1,
            "round {round}: one trial request in half-open"
        );
        assert_eq!(circuit(&client, Side::Blue), CircuitState::Open);
    }
    sims.shutdown().await;
}
