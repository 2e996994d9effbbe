//! Production hardening, each a reproduction turned regression test (issue: no false rollbacks,
//! limits that cannot lock, deadlines, no secrets leaving their origin, a cache that knows
//! which side answered). Verdicts are counts and states, never elapsed time.

mod common;

use std::time::Duration;

use common::*;
use turnout::config::{RateLimit, RollbackPolicy};
use turnout::events::EventKind;
use turnout::{ErrorKind, Side};
use turnout_sim::Faults;

/// A guard with every rate and latency gate on, judging after 20 candidate requests.
fn strict_guard() -> RollbackPolicy {
    RollbackPolicy {
        max_error_rate: Some(0.05),
        min_success_rate: Some(0.95),
        max_p99_latency_ms: Some(5_000.0),
        min_requests: 20,
        ..RollbackPolicy::default()
    }
}

fn rolled_back(client: &turnout::Client) -> bool {
    client
        .history()
        .iter()
        .any(|e| e.kind == EventKind::Rollback)
}

#[tokio::test]
async fn callers_bad_requests_on_the_candidate_never_roll_it_back() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(400));
    let client = sims
        .builder()
        .canary_weight(100.0)
        .rollback(strict_guard())
        .build()
        .expect("client");
    for i in 0..60 {
        let err = client
            .chat()
            .create(chat(MODEL, &format!("bad {i}")))
            .await
            .expect_err("the upstream refuses the request");
        assert_eq!(err.status(), Some(400));
    }
    client.tick();
    let window = client.status().environments[&Side::Green].window;
    assert_eq!(window.client_errors, 60);
    assert_eq!(window.requests, 0, "a caller's error judges nothing");
    assert!(!rolled_back(&client), "{:?}", client.history());
    assert_eq!(client.traffic().weight_bp, 10_000);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_candidate_is_not_rolled_back_unless_asked() {
    let sims = Sims::start().await;
    sims.fault(Side::Green, always(429));
    let client = sims
        .builder()
        .canary_weight(100.0)
        .rollback(strict_guard())
        .retry(turnout::config::RetryPolicy {
            max_attempts: 1,
            ..fast_retry()
        })
        .build()
        .expect("client");
    for i in 0..40 {
        let err = client
            .chat()
            .create(chat(MODEL, &format!("limited {i}")))
            .await
            .expect_err("429");
        assert_eq!(err.status(), Some(429));
    }
    client.tick();
    let window = client.status().environments[&Side::Green].window;
    assert_eq!(window.rate_limited, 40);
    assert!(!rolled_back(&client), "429s are not a broken release");

    // The own gate for it does roll back.
    let strict = sims
        .builder()
        .canary_weight(100.0)
        .rollback(RollbackPolicy {
            max_rate_limited_rate: Some(0.5),
            ..strict_guard()
        })
        .retry(turnout::config::RetryPolicy {
            max_attempts: 1,
            ..fast_retry()
        })
        .build()
        .expect("client");
    for i in 0..25 {
        let _ = strict.chat().create(chat(MODEL, &format!("l {i}"))).await;
    }
    strict.tick();
    assert!(rolled_back(&strict), "max_rate_limited_rate is a gate");
    assert_eq!(strict.traffic().weight_bp, 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn one_immense_estimate_is_refused_at_once_and_locks_nothing() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .rate_limit(RateLimit {
            tokens_per_minute: Some(10_000),
            ..RateLimit::default()
        })
        .build()
        .expect("client");
    let mut huge = chat(MODEL, "hi");
    huge.extra
        .insert("max_tokens".into(), serde_json::json!(1_000_000_000u64));
    let err = client.chat().create(huge).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.to_string().contains("could never be admitted"), "{err}");
    assert_eq!(sims.chats(Side::Blue), 0, "nothing was sent");
    for i in 0..5 {
        client
            .chat()
            .create(chat(MODEL, &format!("fine {i}")))
            .await
            .expect("the bucket is not locked");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn an_estimate_without_usage_is_given_back() {
    let sims = Sims::start().await;
    sims.fault(Side::Blue, always(400));
    // A clock that never moves: nothing refills, so only a refund can make room.
    let clock = std::sync::Arc::new(turnout::ManualClock::new());
    let config = sims
        .builder()
        .rate_limit(RateLimit {
            tokens_per_minute: Some(10_000),
            ..RateLimit::default()
        })
        .into_config()
        .expect("config");
    let client = turnout::Client::with_clock(config, clock).expect("client");
    let big = || {
        let mut r = chat(MODEL, "hi");
        r.extra
            .insert("max_tokens".into(), serde_json::json!(9_000));
        r
    };
    let err = client.chat().create(big()).await.expect_err("400");
    assert_eq!(err.status(), Some(400));
    sims.fault(Side::Blue, none());
    client
        .chat()
        .create(big())
        .await
        .expect("the refused request's 9000 tokens were given back");
    sims.shutdown().await;
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call_and_is_not_the_sides_fault() {
    let sims = Sims::start().await;
    for side in Side::BOTH {
        sims.fault(
            side,
            Faults {
                latency_ms: 300,
                ..always(503)
            },
        );
    }
    let client = sims
        .builder()
        .circuit_breaker(no_circuit())
        .retry(turnout::config::RetryPolicy {
            max_attempts: 20,
            ..fast_retry()
        })
        .build()
        .expect("client");
    let err = client
        .chat()
        .create(chat(MODEL, "slow"))
        .deadline(Duration::from_millis(700))
        .await
        .expect_err("the deadline ends it");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let sent = sims.chats(Side::Blue) + sims.chats(Side::Green);
    assert!(
        (2..=3).contains(&sent),
        "300 ms attempts within a 700 ms deadline: {sent} sent, not 20"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn an_attempt_cut_by_the_deadline_is_cancelled_not_failed() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Blue,
        Faults {
            latency_ms: 2_000,
            ..Faults::default()
        },
    );
    let client = sims.client();
    let err = client
        .chat()
        .create(chat(MODEL, "slow"))
        .environment(Side::Blue)
        .timeout(Duration::from_secs(30))
        .deadline(Duration::from_millis(200))
        .await
        .expect_err("deadline");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let w = client.status().environments[&Side::Blue].window;
    assert_eq!((w.cancelled, w.failures), (1, 0), "{w:?}");
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_slow_to_its_first_event_fails_over() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Blue,
        Faults {
            first_byte_delay_ms: 5_000,
            ..Faults::default()
        },
    );
    let client = sims
        .builder()
        .timeout(Duration::from_secs(30))
        .configure(|c| c.stream_first_event_timeout = Some(Duration::from_millis(200)))
        .build()
        .expect("client");
    let stream = client
        .chat()
        .stream(chat(MODEL, "hi"))
        .routing_key("k")
        .await
        .expect("green serves it");
    assert_eq!(stream.route().environment, Side::Green);
    assert_eq!(stream.route().attempts, 2);
    let w = client.status().environments[&Side::Blue].window;
    assert_eq!(
        w.failures, 1,
        "a side slow to its first event is a failing side"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn the_cache_never_serves_one_sides_answer_for_the_other() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| c.cache.enabled = true)
        .build()
        .expect("client");
    let first = client.chat().create(chat(MODEL, "same")).await.unwrap();
    assert_eq!(first.route.environment, Side::Blue);
    let again = client.chat().create(chat(MODEL, "same")).await.unwrap();
    assert!(again.route.cached);
    client.switch_to(Side::Green).expect("switch");
    let after = client.chat().create(chat(MODEL, "same")).await.unwrap();
    assert_eq!(after.route.environment, Side::Green);
    assert!(!after.route.cached, "blue's answer is not green's");
    assert_eq!(sims.chats(Side::Green), 1);
    let cached = client.chat().create(chat(MODEL, "same")).await.unwrap();
    assert!(cached.route.cached && cached.route.environment == Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn errors_config_and_status_show_no_secret_of_a_url() {
    const TOKEN: &str = "T0123ABCD9999xyzsecretTOKEN77";
    let base = format!("{}/{TOKEN}", refused_url());
    let client = turnout::Client::builder()
        .blue(env(&base, BLUE_KEY))
        .green(env(&format!("{base}?api-key=hunter2hunter2"), GREEN_KEY))
        .connect_timeout(CONNECT_TIMEOUT)
        .retry(turnout::config::RetryPolicy {
            max_attempts: 1,
            ..fast_retry()
        })
        .health_check(turnout::config::HealthCheck {
            enabled: false,
            ..Default::default()
        })
        .configure(move |c| {
            c.state.url = Some("redis://:redis-pass-77@127.0.0.1:1/".into());
            c.webhook = Some(format!("http://127.0.0.1:1/hooks/{TOKEN}").into());
        })
        .into_config()
        .expect("config");
    let mut config = client;
    let shown = format!("{config:?}");
    for secret in [TOKEN, "hunter2hunter2", "redis-pass-77"] {
        assert!(
            !shown.contains(secret),
            "Config Debug shows {secret}: {shown}"
        );
    }
    config.state.url = None;
    config.webhook = None;
    let client = turnout::Client::from_config(config).expect("client");
    let err = client
        .chat()
        .create(chat(MODEL, "x"))
        .environment(Side::Blue)
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(!err.to_string().contains(TOKEN), "{err}");
    let status = format!("{:?}", client.status());
    assert!(
        !status.contains(TOKEN) && !status.contains("hunter2hunter2"),
        "{status}"
    );
}
