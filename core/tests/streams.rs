//! Streams: retried only until their first event, interrupted (never retried) after it, and
//! cheap to abandon.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use turnout::{ErrorKind, Method, RequestOptions, Side};
use turnout_sim::Faults;

/// The text of a collected stream.
fn text(chunks: &[turnout::protocol::ChatCompletionChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.as_deref())
        .collect()
}

#[tokio::test]
async fn a_stream_streams_with_usage() {
    let sims = Sims::start().await;
    let client = sims.client();
    let stream = client
        .chat()
        .stream(chat(MODEL, "one two three"))
        .await
        .unwrap();
    assert_eq!(stream.route().environment, Side::Blue);
    assert_eq!(stream.route().attempts, 1);
    let chunks = stream.collect_all().await.unwrap();
    assert_eq!(text(&chunks), "Echo: one two three");
    // turnout asked for usage on the caller's behalf: it is accounted, and the usage-only
    // chunk the caller did not ask for is not handed over.
    assert!(chunks.iter().all(|c| !c.choices.is_empty()), "{chunks:?}");
    assert!(client.costs().total.completion_tokens > 0, "usage was read");
    assert_eq!(sims.total(Side::Blue), 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_caller_who_asks_for_usage_gets_the_usage_chunk() {
    let sims = Sims::start().await;
    let client = sims.client();
    let mut request = chat(MODEL, "one two three");
    request.stream_options = Some(json!({"include_usage": true}));
    let chunks = client
        .chat()
        .stream(request)
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let last = chunks.last().expect("chunks");
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.as_ref().map(|u| u.total_tokens > 0), Some(true));
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_after_its_first_chunk_is_interrupted_and_not_retried() {
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
        .stream(chat(MODEL, "one two three four five"))
        .await
        .expect("the stream opens: its first chunk arrived");
    let first = stream.next().await.expect("a first item");
    assert!(first.is_ok());
    let mut items = 1;
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => items += 1,
            Some(Err(e)) => break e,
            None => panic!("the stream ended silently after {items} items: a silent truncation"),
        }
    };
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted, "{err}");
    assert_eq!(err.environment(), Some(Side::Blue));
    assert!(
        stream.next().await.is_none(),
        "nothing after the interruption"
    );
    assert_eq!(items, 2, "the role chunk and one content chunk");
    assert_eq!(
        sims.total(Side::Blue) + sims.total(Side::Green),
        1,
        "no second upstream request"
    );
    // The interruption counts against the side.
    let window = client.status().environments[&Side::Blue].window;
    assert_eq!(window.failures, 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_failing_before_any_chunk_is_retried_on_the_other_side() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, always(503));
    let stream = client.chat().stream(chat(MODEL, "a b")).await.unwrap();
    assert_eq!(stream.route().environment, Side::Green);
    assert_eq!(stream.route().attempts, 2);
    let chunks = stream.collect_all().await.unwrap();
    assert_eq!(text(&chunks), "Echo: a b");
    assert_eq!(chunks[0].extra["system_fingerprint"], "fp_green");
    assert_eq!(sims.chats(Side::Blue), 1);
    assert_eq!(sims.chats(Side::Green), 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_malformed_first_event_is_retried_on_the_other_side() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(
        Side::Blue,
        Faults {
            malformed_json: true,
            ..none()
        },
    );
    let stream = client.chat().stream(chat(MODEL, "a b")).await.unwrap();
    assert_eq!(stream.route().environment, Side::Green);
    assert_eq!(stream.route().attempts, 2);
    assert_eq!(text(&stream.collect_all().await.unwrap()), "Echo: a b");
    sims.shutdown().await;
}

// Paused tokio time: blue's first-byte delay and the client's timeout share one virtual clock.
#[tokio::test(start_paused = true)]
async fn a_slow_first_byte_times_out_and_fails_over() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    sims.fault(
        Side::Blue,
        Faults {
            first_byte_delay_ms: 2000,
            ..none()
        },
    );
    let started = tokio::time::Instant::now();
    let stream = client.chat().stream(chat(MODEL, "a b")).await.unwrap();
    assert_eq!(stream.route().environment, Side::Green);
    assert_eq!(stream.route().attempts, 2);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2000),
        "blue's timeout, not its first byte, ended the attempt: {waited:?}"
    );
    stream.collect_all().await.unwrap();
    sims.shutdown().await;
}

#[tokio::test]
async fn a_pinned_stream_does_not_fail_over() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, always(500));
    let err = client
        .chat()
        .stream(chat(MODEL, "a"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(sims.total(Side::Green), 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_stream_left_early_does_not_hang() {
    let sims = Sims::start().await;
    let client = sims.client();
    let long = "word ".repeat(40);
    for _ in 0..20 {
        let mut stream = client.chat().stream(chat(MODEL, &long)).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the first chunk comes");
        assert!(first.expect("an item").is_ok());
        drop(stream);
    }
    // The client is still usable, and each abandoned stream was recorded once.
    let resp = tokio::time::timeout(
        Duration::from_secs(2),
        client.chat().create(chat(MODEL, "x")),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    let window = client.status().environments[&Side::Blue].window;
    assert_eq!(
        (window.requests, window.cancelled, window.failures),
        (1, 20, 0),
        "a stream left early is cancelled: it judges nothing"
    );

    // Abandoned while the upstream has not sent anything yet: the await can be cancelled.
    sims.fault(
        Side::Blue,
        Faults {
            first_byte_delay_ms: 5000,
            ..none()
        },
    );
    let pending = client.chat().stream(chat(MODEL, "x"));
    let cancelled = tokio::time::timeout(Duration::from_millis(100), pending).await;
    assert!(cancelled.is_err(), "still waiting for the first byte");
    sims.fault(Side::Blue, none());
    let resp = tokio::time::timeout(
        Duration::from_secs(2),
        client.chat().create(chat(MODEL, "y")),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(resp.route.environment, Side::Blue);
    sims.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_abandoned_at_once() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut stream = client
                    .chat()
                    .stream(chat(MODEL, "a b c d e f g"))
                    .routing_key(format!("s{i}"))
                    .await?;
                let first = stream.next().await.expect("first")?;
                Ok::<_, turnout::Error>(first.id)
            })
        })
        .collect();
    for t in tasks {
        let id = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("no hang")
            .expect("task")
            .expect("stream");
        assert!(id.starts_with("chatcmpl-"));
    }
    let served: u64 = client
        .status()
        .environments
        .values()
        .map(|e| e.window.cancelled)
        .sum();
    assert_eq!(
        served, 100,
        "each abandoned stream was recorded once, as cancelled"
    );
    sims.shutdown().await;
}

/// What an untyped chat stream hands over: chunks, each with choices (the usage-only chunk
/// turnout asked for is not handed over).
fn assert_chunks_as_sent(events: &[serde_json::Value]) {
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["object"] == "chat.completion.chunk"
            && e["choices"].as_array().is_some_and(|c| !c.is_empty())),
        "chunks as sent, without the usage-only chunk turnout asked for"
    );
}

#[tokio::test]
async fn untyped_streams_decoded_or_as_text_are_routed_too() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, always(500));
    let body =
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x y"}], "stream": true});
    let (post, path, options) = (Method::POST, "/chat/completions", RequestOptions::default);

    let stream = client
        .stream_json(post.clone(), path, Some(body.clone()), options())
        .await
        .unwrap();
    assert_eq!(stream.route().environment, Side::Green);
    assert_chunks_as_sent(&stream.collect_all().await.unwrap());
    let counted = client.costs().total.completion_tokens;
    assert!(counted > 0, "include_usage was added to the body");

    let stream = client
        .stream_text(post, path, Some(body), options())
        .await
        .unwrap();
    assert_eq!(stream.route().environment, Side::Green);
    let texts = stream.collect_all().await.unwrap();
    let events: Vec<serde_json::Value> = texts
        .iter()
        .map(|text| serde_json::from_str(text.get()).unwrap())
        .collect();
    assert_chunks_as_sent(&events);
    assert!(
        client.costs().total.completion_tokens > counted,
        "a stream read as text is counted too"
    );
    sims.shutdown().await;
}
