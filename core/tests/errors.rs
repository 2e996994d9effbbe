//! Every error kind, produced for real through the simulator's faults: its data, whether it is
//! retryable, and that no key ever shows in what is printed.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use turnout::config::{CircuitBreaker, RetryPolicy};
use turnout::{Client, Error, ErrorKind, Side};
use turnout_sim::Faults;

/// A client that makes one attempt only.
fn one_attempt(sims: &Sims) -> Client {
    sims.builder()
        .retry(RetryPolicy {
            max_attempts: 1,
            ..fast_retry()
        })
        .build()
        .expect("client")
}

async fn ask_blue(client: &Client) -> Error {
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect_err("the request must fail")
}

/// Checks the error's printed forms for keys and returns it.
#[track_caller]
fn printed(err: Error) -> Error {
    assert_no_key("Display", &err.to_string());
    assert_no_key("Debug", &format!("{err:?}"));
    assert_no_key("alternate Debug", &format!("{err:#?}"));
    err
}

#[tokio::test]
async fn connect_refused() {
    let sims = Sims::start().await;
    let client = fast(
        Client::builder()
            .blue(env(&refused_url(), BLUE_KEY))
            .green(env(&sims.green.url(), GREEN_KEY)),
    )
    .retry(RetryPolicy {
        max_attempts: 1,
        ..fast_retry()
    })
    .build()
    .unwrap();
    let err = printed(ask_blue(&client).await);
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.environment(), Some(Side::Blue));
    assert_eq!(err.status(), None);
    assert!(err.is_retryable());
    assert_eq!(sims.total(Side::Green), 0, "pinned: never sent to green");
    sims.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_is_a_connect_error() {
    let sims = Sims::start().await;
    let client = one_attempt(&sims);
    sims.fault(
        Side::Blue,
        Faults {
            drop_connection: true,
            ..none()
        },
    );
    let err = printed(ask_blue(&client).await);
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.environment(), Some(Side::Blue));
    assert!(err.is_retryable());
    assert_eq!(
        sims.total(Side::Blue),
        1,
        "one attempt, no hidden transport retry"
    );
    sims.shutdown().await;
}

// Paused tokio time: the simulator's latency and the client's timeout run on the same virtual
// clock, so which fires first, and when, is decided by the code, not by the machine's load.
#[tokio::test(start_paused = true)]
async fn timeout() {
    let sims = Sims::start().await;
    let client = one_attempt(&sims);
    sims.fault(
        Side::Blue,
        Faults {
            latency_ms: 800,
            ..none()
        },
    );
    let started = tokio::time::Instant::now();
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .timeout(Duration::from_millis(150))
        .await
        .expect_err("times out");
    let err = printed(err);
    assert!(
        matches!(err, Error::Timeout { environment: Side::Blue, after } if after == Duration::from_millis(150)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(800),
        "the timeout, not the answer, ended the call: {waited:?}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn status_errors_carry_status_body_and_environment() {
    let sims = Sims::start().await;
    let client = one_attempt(&sims);
    for (status, retryable) in [
        (400, false),
        (404, false),
        (409, true),
        (422, false),
        (429, true),
        (500, true),
        (503, true),
    ] {
        sims.fault(
            Side::Blue,
            Faults {
                fail_next: 1,
                error_status: status,
                ..none()
            },
        );
        let err = printed(ask_blue(&client).await);
        assert_eq!(err.kind(), ErrorKind::Status, "{err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.environment(), Some(Side::Blue));
        let body = err.body().expect("a body");
        assert!(
            turnout::protocol::ErrorBody::parse(body).is_some(),
            "the upstream's OpenAI error body is kept: {body}"
        );
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn wrong_key_is_401_and_not_retried() {
    let sims = Sims::start().await;
    let client = fast(
        Client::builder()
            .blue(env(&sims.blue.url(), "sk-test-SECRETSECRET-wrong"))
            .green(env(&sims.green.url(), GREEN_KEY)),
    )
    .build()
    .unwrap();
    let err = printed(ask_blue(&client).await);
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    assert_eq!(sims.total(Side::Blue), 1, "a 401 is not retried");
    sims.shutdown().await;
}

#[tokio::test]
async fn unknown_model_is_404_model_not_found() {
    let blue = turnout_sim::Sim::start(
        turnout_sim::SimConfig::named("blue")
            .with_api_key(BLUE_KEY)
            .with_models(["gpt-4o"]),
    )
    .await
    .unwrap();
    let green = turnout_sim::Sim::start(turnout_sim::SimConfig::named("green"))
        .await
        .unwrap();
    let client = fast(
        Client::builder()
            .blue(env(&blue.url(), BLUE_KEY))
            .green(env(&green.url(), GREEN_KEY)),
    )
    .build()
    .unwrap();
    let err = printed(ask_blue(&client).await);
    assert_eq!(err.status(), Some(404));
    assert!(err.is_model_unavailable());
    assert!(!err.is_retryable());
    assert_eq!(blue.stats().total, 1);
    blue.shutdown().await;
    green.shutdown().await;
}

#[tokio::test]
async fn should_retry_header_overrides_the_status() {
    let sims = Sims::start().await;
    let client = one_attempt(&sims);
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            error_status: 500,
            should_retry: Some(false),
            ..none()
        },
    );
    let err = ask_blue(&client).await;
    assert_eq!(err.status(), Some(500));
    assert!(!err.is_retryable(), "x-should-retry: false wins");
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            error_status: 400,
            should_retry: Some(true),
            ..none()
        },
    );
    let err = ask_blue(&client).await;
    assert_eq!(err.status(), Some(400));
    assert!(err.is_retryable(), "x-should-retry: true wins");
    sims.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let sims = Sims::start().await;
    let client = one_attempt(&sims);
    sims.fault(
        Side::Blue,
        Faults {
            malformed_json: true,
            ..none()
        },
    );
    let err = printed(ask_blue(&client).await);
    match &err {
        Error::Decode {
            environment,
            excerpt,
            ..
        } => {
            assert_eq!(*environment, Side::Blue);
            assert!(excerpt.starts_with('{'), "{excerpt}");
            assert!(excerpt.chars().count() <= 200);
        }
        other => panic!("want Decode, got {other:?}"),
    }
    assert!(err.is_retryable());
    sims.shutdown().await;
}

#[tokio::test]
async fn truncated_stream_is_interrupted() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            truncate_after: Some(1),
            ..none()
        },
    );
    let mut stream = client
        .chat()
        .stream(chat(MODEL, "one two three four"))
        .environment(Side::Blue)
        .await
        .expect("the stream opens");
    let mut err = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            err = Some(e);
            break;
        }
    }
    let err = printed(err.expect("the stream is cut"));
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted, "{err}");
    assert_eq!(err.environment(), Some(Side::Blue));
    assert!(!err.is_retryable());
    sims.shutdown().await;
}

#[tokio::test]
async fn both_circuits_open_is_no_healthy_environment() {
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
    let first = client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
    assert_eq!(first.status(), Some(500));
    let err = printed(client.chat().create(chat(MODEL, "hi")).await.unwrap_err());
    assert_eq!(err.kind(), ErrorKind::NoHealthyEnvironment, "{err}");
    assert_eq!(err.environment(), None);
    assert!(!err.is_retryable());
    sims.shutdown().await;
}

#[tokio::test]
async fn closed_client_refuses_requests() {
    let sims = Sims::start().await;
    let client = sims.client();
    client.close();
    let err = client.chat().create(chat(MODEL, "hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(sims.total(Side::Blue) + sims.total(Side::Green), 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn no_key_in_client_environments_or_status() {
    let sims = Sims::start().await;
    let client = sims.client();
    // Some traffic first, so that status has figures and the pool has connections.
    client.chat().create(chat(MODEL, "hi")).await.unwrap();
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Green)
        .await
        .unwrap();
    assert_no_key("client Debug", &format!("{client:?}"));
    assert_no_key("client alternate Debug", &format!("{client:#?}"));
    let builder = sims.builder();
    assert_no_key("builder Debug", &format!("{builder:?}"));
    let config = builder.into_config().unwrap();
    assert_no_key("config Debug", &format!("{config:?}"));
    for side in Side::BOTH {
        let env = env(&sims.get(side).url(), key(side));
        assert_no_key("environment Debug", &format!("{env:?}"));
        assert_no_key("key Display", &env.api_key().to_string());
        assert_no_key("key fingerprint", &env.api_key().fingerprint());
    }
    let status = client.status();
    assert_no_key("status Debug", &format!("{status:?}"));
    let json = serde_json::to_string(&status).unwrap();
    assert_no_key("status JSON", &json);
    assert!(
        json.contains("lue1") && json.contains("grn2"),
        "fingerprints are shown: {json}"
    );
    let events = client.history();
    assert_no_key("history", &format!("{events:?}"));
    sims.shutdown().await;
}
