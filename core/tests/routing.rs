//! Routing against two simulators: canary split, stickiness, monotonic ramps, pinned requests,
//! rules, keys, failover, model fallbacks, and correctness under concurrency.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use proptest::prelude::*;
use turnout::config::{RetryPolicy, Rule};
use turnout::events::EventKind;
use turnout::routing::{bucket, is_candidate};
use turnout::{Client, ErrorKind, RequestOptions, Side};
use turnout_sim::Faults;

/// Sends one chat request with `options` and returns the side that answered.
async fn side_of(client: &Client, options: RequestOptions) -> Side {
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .options(options)
        .await
        .expect("request succeeds")
        .route
        .environment
}

#[tokio::test]
async fn canary_split_is_within_bounds() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(20.0).build().unwrap();
    const N: usize = 4000;
    let keys: Vec<String> = (0..N)
        .map(|_| format!("user-{:016x}", rand::random::<u64>()))
        .collect();
    let sides: Vec<Side> = futures_util::stream::iter(keys.iter().cloned())
        .map(|k| {
            let client = client.clone();
            async move { side_of(&client, RequestOptions::default().routing_key(k)).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let green = sides.iter().filter(|s| **s == Side::Green).count();
    let share = green as f64 / N as f64;
    assert!(
        (0.17..=0.23).contains(&share),
        "candidate share {share:.3}, want 0.20 ± 0.03"
    );
    // Every request went where the bucketing says, and each side served what it answered.
    let expected_green = keys
        .iter()
        .filter(|k| is_candidate("turnout", k, 2000))
        .count();
    assert_eq!(green, expected_green);
    assert_eq!(sims.chats(Side::Green), green as u64);
    assert_eq!(sims.chats(Side::Blue), (N - green) as u64);
    sims.shutdown().await;
}

#[tokio::test]
async fn random_split_without_a_key_is_within_bounds() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(30.0).build().unwrap();
    const N: usize = 2000;
    let sides: Vec<Side> = futures_util::stream::iter(0..N)
        .map(|_| {
            let client = client.clone();
            async move { side_of(&client, RequestOptions::default()).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let share = sides.iter().filter(|s| **s == Side::Green).count() as f64 / N as f64;
    assert!(
        (0.25..=0.35).contains(&share),
        "candidate share {share:.3}, want 0.30 ± 0.05"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn same_key_same_side() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().unwrap();
    for k in ["alice", "bob", "carol", "dave", "ユーザー", ""] {
        let want = if is_candidate("turnout", k, 5000) {
            Side::Green
        } else {
            Side::Blue
        };
        for _ in 0..50 {
            let got = side_of(&client, RequestOptions::default().routing_key(k)).await;
            assert_eq!(got, want, "key {k:?}");
        }
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn user_field_is_the_default_routing_key() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().unwrap();
    for user in ["u-1", "u-2", "u-3", "u-4", "u-5", "u-6"] {
        let want = if is_candidate("turnout", user, 5000) {
            Side::Green
        } else {
            Side::Blue
        };
        let mut request = chat(MODEL, "hi");
        request.user = Some(user.to_string());
        for _ in 0..10 {
            let got = client
                .chat()
                .create(request.clone())
                .await
                .unwrap()
                .route
                .environment;
            assert_eq!(got, want, "user {user}");
        }
    }
    sims.shutdown().await;
}

#[test]
fn ramp_is_monotonic_over_100k_keys() {
    let weights = [
        0, 1, 50, 100, 500, 1000, 2500, 5000, 7500, 9000, 9999, 10_000,
    ];
    let mut moved_to_candidate = vec![0usize; weights.len()];
    for i in 0..100_000u32 {
        let key = format!("user-{i}");
        let b = bucket("ramp-salt", &key);
        assert!(b < 10_000);
        let mut was_candidate = false;
        for (j, &w) in weights.iter().enumerate() {
            let now = is_candidate("ramp-salt", &key, w);
            assert_eq!(now, b < w);
            assert!(
                !was_candidate || now,
                "{key} went back to active when the weight rose to {w}"
            );
            if now {
                moved_to_candidate[j] += 1;
            }
            was_candidate = now;
        }
    }
    // The shares follow the weights (within half a percentage point over 100k keys).
    for (j, &w) in weights.iter().enumerate() {
        let share = moved_to_candidate[j] as f64 / 100_000.0;
        let want = f64::from(w) / 10_000.0;
        assert!((share - want).abs() < 0.005, "weight {w}: share {share}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn raising_the_weight_never_moves_a_key_back(
        salt in "[a-z0-9]{0,12}",
        key in "\\PC{0,32}",
        a in 0u32..=10_000,
        b in 0u32..=10_000,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if is_candidate(&salt, &key, lo) {
            prop_assert!(is_candidate(&salt, &key, hi));
        }
        prop_assert_eq!(is_candidate(&salt, &key, lo), bucket(&salt, &key) < lo);
        prop_assert!(!is_candidate(&salt, &key, 0));
        prop_assert!(is_candidate(&salt, &key, 10_000));
    }
}

#[tokio::test]
async fn raising_the_live_weight_only_moves_users_to_the_candidate() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(10.0).build().unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("ramp-{i}")).collect();
    let mut before = Vec::new();
    for k in &keys {
        before.push(side_of(&client, RequestOptions::default().routing_key(k)).await);
    }
    client.set_canary_weight(40.0).unwrap();
    let mut moved = 0;
    for (k, was) in keys.iter().zip(&before) {
        let now = side_of(&client, RequestOptions::default().routing_key(k)).await;
        if *was == Side::Green {
            assert_eq!(
                now,
                Side::Green,
                "{k} left the candidate when the weight rose"
            );
        } else if now == Side::Green {
            moved += 1;
        }
    }
    assert!(
        moved > 30,
        "about 30% of the keys move to the candidate, saw {moved}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn pinned_side_never_fails_over() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, always(503));
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("blue is down and the request is pinned to it");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.environment(), Some(Side::Blue));
    assert_eq!(sims.total(Side::Green), 0, "green saw nothing");
    assert_eq!(
        sims.total(Side::Blue),
        3,
        "retried on blue up to max_attempts"
    );

    // Pinned to the candidate, even at weight 0.
    sims.fault(Side::Blue, none());
    let route = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Green)
        .await
        .unwrap()
        .route;
    assert_eq!(route.environment, Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn pinned_to_a_refused_side_never_fails_over() {
    let sims = Sims::start().await;
    let client = fast(
        Client::builder()
            .blue(env(&refused_url(), BLUE_KEY))
            .green(env(&sims.green.url(), GREEN_KEY)),
    )
    .build()
    .unwrap();
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_eq!(sims.total(Side::Green), 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn rules_send_matching_metadata_to_their_side() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .rule(Rule::new([("tier", "beta")], Side::Green))
        .rule(Rule::new(
            [("tier", "premium"), ("region", "eu")],
            Side::Green,
        ))
        .build()
        .unwrap();
    let meta = |pairs: &[(&str, &str)]| {
        let mut o = RequestOptions::default();
        for (k, v) in pairs {
            o = o.metadata(*k, *v);
        }
        o
    };
    assert_eq!(
        side_of(&client, meta(&[("tier", "beta")])).await,
        Side::Green
    );
    assert_eq!(
        side_of(&client, meta(&[("tier", "beta"), ("other", "x")])).await,
        Side::Green,
        "extra metadata does not prevent a match"
    );
    assert_eq!(
        side_of(&client, meta(&[("tier", "premium"), ("region", "eu")])).await,
        Side::Green
    );
    assert_eq!(
        side_of(&client, meta(&[("tier", "premium")])).await,
        Side::Blue,
        "every key of the rule must match"
    );
    assert_eq!(
        side_of(&client, meta(&[("tier", "free")])).await,
        Side::Blue
    );
    assert_eq!(
        side_of(&client, RequestOptions::default()).await,
        Side::Blue
    );
    // A rule wins over the weight, and the routing key.
    client.set_canary_weight(0.0).unwrap();
    let o = meta(&[("tier", "beta")]).routing_key("someone");
    assert_eq!(side_of(&client, o).await, Side::Green);
    // Through the typed builder too.
    let m: BTreeMap<String, String> = [("tier".to_string(), "beta".to_string())].into();
    let r = client
        .chat()
        .create(chat(MODEL, "hi"))
        .metadata(m)
        .await
        .unwrap();
    assert_eq!(r.route.environment, Side::Green);
    sims.shutdown().await;
}

#[tokio::test]
async fn each_side_only_sees_its_own_key() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().unwrap();
    for i in 0..60 {
        side_of(
            &client,
            RequestOptions::default().routing_key(format!("k{i}")),
        )
        .await;
    }
    // Failovers and streams too.
    sims.fault(Side::Blue, always(500));
    for i in 0..5 {
        side_of(
            &client,
            RequestOptions::default().routing_key(format!("f{i}")),
        )
        .await;
    }
    sims.fault(Side::Blue, none());
    let stream = client.chat().stream(chat(MODEL, "a b")).await.unwrap();
    stream.collect_all().await.unwrap();
    for side in Side::BOTH {
        let seen = sims.stats(side).auth_keys_seen;
        let keys: Vec<&String> = seen.keys().collect();
        assert_eq!(keys, vec![key_tail(side)], "{side} saw {seen:?}");
        assert_eq!(
            sims.stats(side).by_status.get(&401),
            None,
            "{side} answered 401"
        );
    }
    sims.shutdown().await;
}

/// Asserts that a request whose preferred side is broken is answered by the other in 2 attempts.
async fn assert_fails_over(client: &Client, sims: &Sims) {
    let resp = client
        .chat()
        .create(chat(MODEL, "hi"))
        .await
        .expect("green answers");
    assert_eq!(resp.route.environment, Side::Green);
    assert_eq!(resp.route.attempts, 2);
    assert_eq!(resp.extra["system_fingerprint"], "fp_green");
    assert_eq!(sims.chats(Side::Green), 1);
    let failover = client
        .history()
        .into_iter()
        .any(|e| e.kind == EventKind::Failover);
    assert!(failover, "a failover event was published");
}

#[tokio::test]
async fn fails_over_on_5xx() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, always(502));
    assert_fails_over(&client, &sims).await;
    assert_eq!(sims.chats(Side::Blue), 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn fails_over_on_refused_connections() {
    let sims = Sims::start().await;
    let client = fast(
        Client::builder()
            .blue(env(&refused_url(), BLUE_KEY))
            .green(env(&sims.green.url(), GREEN_KEY)),
    )
    .build()
    .unwrap();
    assert_fails_over(&client, &sims).await;
    sims.shutdown().await;
}

#[tokio::test]
async fn fails_over_on_dropped_connections() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            drop_connection: true,
            ..none()
        },
    );
    assert_fails_over(&client, &sims).await;
    sims.shutdown().await;
}

#[tokio::test]
async fn fails_over_on_undecodable_answers() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            malformed_json: true,
            ..none()
        },
    );
    assert_fails_over(&client, &sims).await;
    sims.shutdown().await;
}

// Paused tokio time: blue's latency and the client's timeout share one virtual clock.
#[tokio::test(start_paused = true)]
async fn fails_over_on_timeouts() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    sims.fault(
        Side::Blue,
        Faults {
            latency_ms: 2000,
            ..none()
        },
    );
    let started = tokio::time::Instant::now();
    assert_fails_over(&client, &sims).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2000),
        "blue's timeout, not its answer, ended the attempt: {waited:?}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn model_fallback_when_the_model_is_missing() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .model_fallback("gpt-4.1", ["gpt-4o"])
        .build()
        .unwrap();
    sims.fault(
        Side::Blue,
        Faults {
            missing_models: vec!["gpt-4.1".to_string()],
            ..none()
        },
    );
    let resp = client.chat().create(chat("gpt-4.1", "hi")).await.unwrap();
    assert_eq!(resp.route.model.as_deref(), Some("gpt-4o"));
    assert_eq!(resp.route.fallback_from.as_deref(), Some("gpt-4.1"));
    assert_eq!(
        resp.route.environment,
        Side::Blue,
        "the chain is walked on the same side"
    );
    assert_eq!(resp.route.attempts, 2);
    assert_eq!(resp.model, "gpt-4o");
    let by_model = sims.stats(Side::Blue).by_model;
    assert_eq!(by_model.get("gpt-4.1"), Some(&1));
    assert_eq!(by_model.get("gpt-4o"), Some(&1));
    assert_eq!(sims.total(Side::Green), 0);

    // Without the fault, no fallback.
    sims.fault(Side::Blue, none());
    let resp = client.chat().create(chat("gpt-4.1", "hi")).await.unwrap();
    assert_eq!(resp.route.model.as_deref(), Some("gpt-4.1"));
    assert_eq!(resp.route.fallback_from, None);
    sims.shutdown().await;
}

#[tokio::test]
async fn model_fallback_when_the_whole_chain_is_missing() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .model_fallback("gpt-4.1", ["gpt-4o", "gpt-4o-mini"])
        .build()
        .unwrap();
    sims.fault(
        Side::Blue,
        Faults {
            missing_models: vec!["gpt-4.1".to_string(), "gpt-4o".to_string()],
            ..none()
        },
    );
    let resp = client.chat().create(chat("gpt-4.1", "hi")).await.unwrap();
    assert_eq!(resp.route.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(resp.route.fallback_from.as_deref(), Some("gpt-4.1"));
    assert_eq!(resp.route.attempts, 3);
    sims.fault(
        Side::Blue,
        Faults {
            missing_models: vec!["gpt-4.1".into(), "gpt-4o".into(), "gpt-4o-mini".into()],
            ..none()
        },
    );
    let err = client
        .chat()
        .create(chat("gpt-4.1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "the last model's answer is the error"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn model_fallback_after_retryable_exhaustion() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .model_fallback("gpt-4.1", ["gpt-4o"])
        .build()
        .unwrap();
    // Pinned to blue: the first model uses up its 3 attempts, then the fallback answers.
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 3,
            error_status: 503,
            ..none()
        },
    );
    let resp = client
        .chat()
        .create(chat("gpt-4.1", "hi"))
        .environment(Side::Blue)
        .await
        .unwrap();
    assert_eq!(resp.route.model.as_deref(), Some("gpt-4o"));
    assert_eq!(resp.route.fallback_from.as_deref(), Some("gpt-4.1"));
    assert_eq!(resp.route.environment, Side::Blue);
    assert_eq!(resp.route.attempts, 4);
    let by_model = sims.stats(Side::Blue).by_model;
    assert_eq!(by_model.get("gpt-4.1"), Some(&3));
    assert_eq!(by_model.get("gpt-4o"), Some(&1));
    assert_eq!(sims.total(Side::Green), 0);
    sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_all_succeed() {
    let sims = Sims::start().await;
    // Generous timeouts: 1200 connects at once overflow the listener's backlog (1024), and a
    // dropped SYN is only sent again after a second. This test is about the engine's state.
    let client = sims
        .builder()
        .canary_weight(50.0)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    const N: usize = 1200;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let key = format!("c-{i}");
                let resp = client
                    .chat()
                    .create(chat(MODEL, &format!("n{i}")))
                    .routing_key(key.clone())
                    .await?;
                Ok::<_, turnout::Error>((key, resp))
            })
        })
        .collect();
    let mut green = 0u64;
    for task in tasks {
        let (key, resp) = task.await.expect("task").expect("request succeeds");
        let want = if is_candidate("turnout", &key, 5000) {
            Side::Green
        } else {
            Side::Blue
        };
        assert_eq!(resp.route.environment, want);
        assert_eq!(resp.route.attempts, 1);
        let echo = resp.choices[0].message.text().unwrap_or_default();
        let n = key.trim_start_matches("c-");
        assert!(
            echo.ends_with(&format!("n{n}")),
            "answer of another request: {echo}"
        );
        green += u64::from(want == Side::Green);
    }
    assert_eq!(sims.chats(Side::Green), green);
    assert_eq!(sims.chats(Side::Blue), N as u64 - green);
    let status = client.status();
    let served: u64 = status
        .environments
        .values()
        .map(|e| e.window.successes)
        .sum();
    assert_eq!(served, N as u64, "every request was recorded once");
    sims.shutdown().await;
}

#[tokio::test]
async fn retry_policy_max_attempts_counts_failovers() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .retry(RetryPolicy {
            max_attempts: 2,
            ..fast_retry()
        })
        .circuit_breaker(no_circuit())
        .build()
        .unwrap();
    sims.fault(Side::Blue, always(500));
    sims.fault(Side::Green, always(500));
    let err = client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        err.environment(),
        Some(Side::Green),
        "the last attempt's error"
    );
    assert_eq!(sims.total(Side::Blue) + sims.total(Side::Green), 2);
    sims.shutdown().await;
}
