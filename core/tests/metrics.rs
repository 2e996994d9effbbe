//! Prometheus metrics: the exposition parses with a real Prometheus text parser, its counts
//! match the requests made, no key or prompt shows in it, and the built-in listener serves it.

mod common;

use std::time::Duration;

use common::{Sims, assert_no_key, chat, env};
use prometheus_parse::{LineInfo, Sample, Scrape, Value};
use turnout::config::{CircuitBreaker, Price};
use turnout::{Client, ErrorKind, RequestOptions, Side};
use turnout_sim::Faults;

const MODEL: &str = "gpt-4o-mini";

/// Parses `text`, asserting that every line is one the parser understands.
fn parse(text: &str) -> Scrape {
    for line in text.lines() {
        assert!(
            line == "# EOF" || !matches!(LineInfo::parse(line), LineInfo::Ignored),
            "a line the Prometheus parser does not understand: {line:?}"
        );
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("exposition parses")
}

fn matches(sample: &Sample, metric: &str, labels: &[(&str, &str)]) -> bool {
    sample.metric == metric
        && labels
            .iter()
            .all(|(k, v)| sample.labels.get(k).unwrap_or("") == *v)
}

/// The sum of `metric`'s samples that have every one of `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| matches(s, metric, labels))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is not a number: {other:?}"),
        })
        .sum()
}

fn scrape(client: &Client) -> Scrape {
    parse(&client.metrics_text())
}

#[tokio::test]
async fn the_exposition_parses_and_its_counts_match_the_requests_made() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .blue(env(&sims.blue.url(), common::BLUE_KEY).label("v1"))
        .green(env(&sims.green.url(), common::GREEN_KEY).label("v2"))
        .canary_weight(30.0)
        .build()
        .unwrap();
    let mut prompt_tokens = 0;
    let mut completion_tokens = 0;
    let mut cost = 0.0;
    for i in 0..20 {
        let resp = client
            .chat()
            .create(chat(MODEL, &format!("question number {i}")))
            .routing_key(format!("user-{i}"))
            .await
            .unwrap();
        let usage = resp.usage.clone().expect("usage");
        prompt_tokens += usage.prompt_tokens;
        completion_tokens += usage.completion_tokens;
        cost += resp.route.cost_usd.expect("gpt-4o-mini has a price");
    }
    for i in 0..5 {
        let chunks = client
            .chat()
            .stream(with_usage(chat(MODEL, &format!("a streamed question {i}"))))
            .routing_key(format!("streamer-{i}"))
            .await
            .unwrap()
            .collect_all()
            .await
            .unwrap();
        let usage = chunks
            .iter()
            .find_map(|c| c.usage.clone())
            .expect("the final chunk has the usage");
        prompt_tokens += usage.prompt_tokens;
        completion_tokens += usage.completion_tokens;
        cost += (usage.prompt_tokens as f64 * 0.15 + usage.completion_tokens as f64 * 0.60) / 1e6;
    }

    let m = scrape(&client);
    let mut total = 0.0;
    for (side, label) in [(Side::Blue, "v1"), (Side::Green, "v2")] {
        let env = side.as_str();
        let served = sims.total(side) as f64;
        total += served;
        assert_eq!(
            value(
                &m,
                "turnout_requests_total",
                &[("environment", env), ("outcome", "success")]
            ),
            served,
            "{env}"
        );
        assert_eq!(
            value(
                &m,
                "turnout_requests_total",
                &[("environment", env), ("label", label), ("model", MODEL)]
            ),
            served,
            "{env}: every request carries its side's label and model"
        );
        assert_eq!(
            value(
                &m,
                "turnout_request_duration_seconds_count",
                &[("environment", env)]
            ),
            served
        );
        let buckets = m
            .samples
            .iter()
            .find(|s| {
                matches(
                    s,
                    "turnout_request_duration_seconds",
                    &[("environment", env)],
                )
            })
            .map(|s| s.value.clone());
        match buckets {
            Some(Value::Histogram(b)) => {
                let inf = b.iter().find(|c| c.less_than.is_infinite()).expect("+Inf");
                assert_eq!(inf.count, served);
            }
            None if served == 0.0 => {}
            other => panic!("no duration histogram for {env}: {other:?}"),
        }
    }
    assert_eq!(total, 25.0);
    assert_eq!(value(&m, "turnout_requests_total", &[]), 25.0);
    assert_eq!(value(&m, "turnout_ttft_seconds_count", &[]), 5.0);
    assert_eq!(
        value(&m, "turnout_tokens_total", &[("kind", "prompt")]),
        prompt_tokens as f64
    );
    assert_eq!(
        value(&m, "turnout_tokens_total", &[("kind", "completion")]),
        completion_tokens as f64
    );
    let counted = value(&m, "turnout_cost_usd_total", &[]);
    assert!((counted - cost).abs() < 1e-12, "{counted} != {cost}");
    assert_eq!(value(&m, "turnout_canary_weight", &[]), 30.0);
    assert_eq!(value(&m, "turnout_active", &[("environment", "blue")]), 1.0);
    assert_eq!(
        value(&m, "turnout_active", &[("environment", "green")]),
        0.0
    );
    assert_eq!(value(&m, "turnout_circuit_state", &[]), 0.0);
    for zero in [
        "turnout_retries_total",
        "turnout_failovers_total",
        "turnout_rollbacks_total",
    ] {
        assert!(
            m.samples.iter().any(|s| s.metric == zero),
            "{zero} is exposed from the start"
        );
        assert_eq!(value(&m, zero, &[]), 0.0, "{zero}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn no_key_prompt_routing_key_or_metadata_shows_in_the_exposition() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().unwrap();
    for i in 0..6 {
        let options = RequestOptions::default()
            .routing_key(format!("routing-key-PRIVATE-{i}"))
            .metadata("team", "team-PRIVATE");
        client
            .chat()
            .create(chat(MODEL, "prompt text PRIVATE"))
            .options(options)
            .await
            .unwrap();
    }
    // A failing request too: its error body must not leak either.
    sims.fault(Side::Blue, common::always(401));
    let _ = client
        .chat()
        .create(chat(MODEL, "prompt text PRIVATE"))
        .environment(Side::Blue)
        .await;
    let text = client.metrics_text();
    parse(&text);
    assert_no_key("the exposition", &text);
    assert!(
        !text.contains("PRIVATE"),
        "private text in the exposition: {text}"
    );
    let labels: Vec<String> = parse(&text)
        .samples
        .iter()
        .flat_map(|s| s.labels.keys().cloned().collect::<Vec<_>>())
        .collect();
    for label in labels {
        assert!(
            // `task` names a background task and `priority` one of high, normal, low (fixed
            // sets), never anything a caller sends.
            [
                "environment",
                "label",
                "model",
                "outcome",
                "kind",
                "task",
                "priority"
            ]
            .contains(&label.as_str()),
            "unexpected label {label}"
        );
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn retries_failovers_fallbacks_rollbacks_and_circuits_are_counted() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .model_fallback("gpt-4.1", ["gpt-4o"])
        .circuit_breaker(CircuitBreaker {
            failure_threshold: 2,
            cooldown: Duration::from_secs(60),
            ..CircuitBreaker::default()
        })
        .build()
        .unwrap();

    // A failover: all traffic to green, which fails once.
    client.set_canary_weight(100.0).unwrap();
    sims.fault(
        Side::Green,
        Faults {
            fail_next: 1,
            ..Faults::default()
        },
    );
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_failovers_total", &[("environment", "green")]),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "turnout_requests_total",
            &[("environment", "green"), ("outcome", "failure")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "turnout_requests_total",
            &[("environment", "blue"), ("outcome", "success")]
        ),
        1.0
    );

    // A rollback: the canary goes back to 0 (a manual rollback counts like an automatic one).
    client.rollback("test").unwrap();
    let m = scrape(&client);
    assert_eq!(value(&m, "turnout_rollbacks_total", &[]), 1.0);
    assert_eq!(value(&m, "turnout_canary_weight", &[]), 0.0);

    // A retry on the same side: pinned to blue, which fails once.
    sims.fault(
        Side::Blue,
        Faults {
            fail_next: 1,
            ..Faults::default()
        },
    );
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .unwrap();
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_retries_total", &[("environment", "blue")]),
        1.0
    );

    // A model fallback: blue does not serve gpt-4.1.
    sims.fault(
        Side::Blue,
        Faults {
            missing_models: vec!["gpt-4.1".to_string()],
            ..Faults::default()
        },
    );
    let resp = client
        .chat()
        .create(chat("gpt-4.1", "hi"))
        .environment(Side::Blue)
        .await
        .unwrap();
    assert_eq!(resp.route.model.as_deref(), Some("gpt-4o"));
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_fallbacks_total", &[("model", "gpt-4.1")]),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "turnout_requests_total",
            &[("model", "gpt-4.1"), ("outcome", "client_error")]
        ),
        1.0
    );

    // The circuit gauge: green fails until its circuit opens.
    sims.fault(Side::Green, common::always(500));
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Green)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_circuit_state", &[("environment", "green")]),
        2.0
    );
    assert_eq!(
        value(&m, "turnout_circuit_state", &[("environment", "blue")]),
        0.0
    );
    // Pinned to an open circuit: refused before any attempt.
    let err = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Green)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoHealthyEnvironment);
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_requests_total", &[("outcome", "unavailable")]),
        1.0
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn stream_usage_is_counted_when_the_stream_ends() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| {
            c.pricing.insert(
                "my-model".into(),
                Price {
                    input: 1.0,
                    output: 2.0,
                },
            );
        })
        .build()
        .unwrap();
    let mut stream = client
        .chat()
        .stream(with_usage(chat(
            "my-model",
            "one two three four five six seven",
        )))
        .await
        .unwrap();
    // Nothing is counted while the stream is open.
    let m = scrape(&client);
    assert_eq!(value(&m, "turnout_tokens_total", &[]), 0.0);
    assert_eq!(value(&m, "turnout_requests_total", &[]), 0.0);
    let mut usage = None;
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        if let Some(u) = chunk.unwrap().usage {
            usage = Some(u);
        }
    }
    let usage = usage.expect("the final chunk has the usage");
    assert!(usage.completion_tokens > 0);
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_tokens_total", &[("kind", "prompt")]),
        usage.prompt_tokens as f64
    );
    assert_eq!(
        value(&m, "turnout_tokens_total", &[("kind", "completion")]),
        usage.completion_tokens as f64
    );
    let expected = (usage.prompt_tokens as f64 + 2.0 * usage.completion_tokens as f64) / 1e6;
    assert!((value(&m, "turnout_cost_usd_total", &[]) - expected).abs() < 1e-15);
    assert_eq!(
        value(
            &m,
            "turnout_requests_total",
            &[("model", "my-model"), ("outcome", "success")]
        ),
        1.0
    );
    assert_eq!(value(&m, "turnout_ttft_seconds_count", &[]), 1.0);
    let costs = client.costs();
    assert_eq!(costs.total.prompt_tokens, usage.prompt_tokens);
    assert_eq!(costs.total.completion_tokens, usage.completion_tokens);
    assert_eq!(costs.by_model["my-model"].requests, 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_dropped_after_its_usage_chunk_is_still_counted() {
    let sims = Sims::start().await;
    let client = sims.client();
    let mut stream = client
        .chat()
        .stream(with_usage(chat(MODEL, "one two three")))
        .await
        .unwrap();
    use futures_util::StreamExt;
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        if let Some(u) = chunk.unwrap().usage {
            usage = Some(u);
            break;
        }
    }
    drop(stream);
    let usage = usage.expect("usage chunk");
    let m = scrape(&client);
    assert_eq!(
        value(&m, "turnout_tokens_total", &[("kind", "completion")]),
        usage.completion_tokens as f64
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn the_built_in_listener_serves_metrics_until_the_client_closes() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| c.metrics.listen = Some("127.0.0.1:0".parse().unwrap()))
        .build()
        .unwrap();
    client.chat().create(chat(MODEL, "hi")).await.unwrap();
    let addr = client.metrics_addr().expect("listening");
    let url = format!("http://{addr}/metrics");
    let http = reqwest::Client::new();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        Client::metrics_content_type()
    );
    let text = resp.text().await.unwrap();
    let m = parse(&text);
    assert_eq!(
        value(&m, "turnout_requests_total", &[("outcome", "success")]),
        1.0
    );
    assert_no_key("the listener", &text);
    assert_eq!(
        http.get(format!("http://{addr}/other"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A second client cannot take the same port: a clear error at build time.
    let err = sims
        .builder()
        .configure(move |c| c.metrics.listen = Some(addr))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("metrics.listen"), "{err}");

    client.close();
    let stopped = common::eventually(Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
    assert!(stopped, "the listener still accepts after close()");
    sims.shutdown().await;
}

/// The request with `stream_options.include_usage` set by the caller, so that the usage chunk
/// is handed over (turnout hides the one it asks for itself).
fn with_usage(
    mut request: turnout::protocol::ChatCompletionRequest,
) -> turnout::protocol::ChatCompletionRequest {
    request.stream_options = Some(serde_json::json!({"include_usage": true}));
    request
}
