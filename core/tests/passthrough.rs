//! Pass-through requests (SEMANTICS.md, *Under the official SDKs*): every header but the
//! credentials reaches the side, bodies of any type go and come back byte for byte, an answer
//! turnout gave up on comes back as sent with `x-should-retry: false`, and a failure without an
//! answer becomes a synthetic one — against loopback upstreams that record what they receive.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use futures_util::StreamExt;
use turnout::config::RetryPolicy;
use turnout::{Client, Method, RawBody, RawRequest, RawResponse, Side};

/// What an upstream received: one entry per request, headers and body.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// Binary bytes no UTF-8 or JSON decoder would pass through unharmed.
fn audio() -> Vec<u8> {
    (0..=255u8).cycle().take(3000).collect()
}

/// An upstream with `/v1/audio/speech` (binary answer), `/v1/files` (echoes the upload's
/// length as a File object), `/v1/broken` (500 with headers of its own) and `/v1/responses`
/// (a Responses API event stream, with usage in `response.completed`).
async fn upstream(seen: Seen) -> String {
    let record = move |headers: HeaderMap, body: Bytes| {
        if let Ok(mut s) = seen.lock() {
            s.push((headers, body.clone()));
        }
        body
    };
    let (r1, r2, r3, r4) = (record.clone(), record.clone(), record.clone(), record);
    let app = Router::new()
        .route(
            "/v1/audio/speech",
            post(move |h: HeaderMap, b: Bytes| async move {
                r1(h, b);
                ([(header::CONTENT_TYPE, "audio/mpeg")], audio()).into_response()
            }),
        )
        .route(
            "/v1/files",
            post(move |h: HeaderMap, b: Bytes| async move {
                let n = r2(h, b).len();
                let body = format!(r#"{{"id":"file-up1","object":"file","bytes":{n}}}"#);
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        )
        .route(
            "/v1/broken",
            post(move |h: HeaderMap, b: Bytes| async move {
                r3(h, b);
                let body = r#"{"error":{"message":"boom","type":"server_error","param":null,"code":null}}"#;
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [("x-request-id", "req_9"), ("content-type", "application/json")],
                    body,
                )
                    .into_response()
            }),
        )
        .route(
            "/v1/responses",
            post(move |h: HeaderMap, b: Bytes| async move {
                r4(h, b);
                responses_stream()
            }),
        );
    serve(app).await
}

/// The event stream `/v1/responses` sends.
const RESPONSES_SSE: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\",\"sequence_number\":1}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_7\",\"model\":\"gpt-4.1\",\"usage\":{\"input_tokens\":11,\"output_tokens\":3,\"total_tokens\":14}},\"sequence_number\":2}\n\n";

fn responses_stream() -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream")], RESPONSES_SSE).into_response()
}

fn client(blue: &str, green: &str, max_attempts: u32) -> Client {
    fast(
        Client::builder()
            .blue(env(blue, BLUE_KEY))
            .green(env(green, GREEN_KEY)),
    )
    .circuit_breaker(no_circuit())
    .retry(RetryPolicy {
        max_attempts,
        ..fast_retry()
    })
    .build()
    .expect("client")
}

/// The bytes of an answer handed over as a stream, read to its end: every chunk must arrive.
async fn streamed(body: RawBody) -> Vec<u8> {
    let stream = match body {
        RawBody::Stream(stream) => stream,
        RawBody::Full(b) => panic!("expected a stream, got {} bytes whole", b.len()),
    };
    let chunks: Vec<Bytes> = stream
        .map(|c| c.expect("a chunk, nothing cut"))
        .collect()
        .await;
    chunks.concat()
}

fn full(answer: RawResponse) -> Bytes {
    match answer.body {
        RawBody::Full(b) => b,
        RawBody::Stream(_) => panic!("expected a whole body"),
    }
}

#[tokio::test]
async fn headers_reach_the_side_and_binary_answers_come_back_unchanged() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let req = RawRequest::new(Method::POST, "/audio/speech")
        .header("content-type", "application/json")
        .and_then(|r| r.header("authorization", "Bearer sk-from-the-sdk"))
        .and_then(|r| r.header("OpenAI-Beta", "assistants=v2"))
        .and_then(|r| r.header("X-Trace-Id", "trace-1"))
        .and_then(|r| r.header("Idempotency-Key", "stainless-retry-1"))
        .and_then(|r| r.header("x-turnout-environment", "green"))
        .expect("headers")
        .body(r#"{"model":"tts-1","input":"hello","voice":"alloy"}"#);
    let answer = client.send_raw(req).await.expect("answer");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "audio/mpeg");
    assert_eq!(answer.headers["x-turnout-environment"], "green");
    assert_eq!(answer.headers["x-turnout-attempts"], "1");
    assert!(!answer.headers.contains_key("x-should-retry"));
    // Audio is passed on as it arrives, not held whole: the answer is a stream.
    // Audio is handed over as it arrives, not held whole.
    assert_eq!(streamed(answer.body).await, audio());

    let seen = seen.lock().expect("seen");
    let (headers, body) = &seen[0];
    assert_eq!(headers["openai-beta"], "assistants=v2");
    assert_eq!(headers["x-trace-id"], "trace-1");
    assert_eq!(headers["idempotency-key"], "stainless-retry-1");
    assert_eq!(headers.get_all("idempotency-key").iter().count(), 1);
    assert_eq!(
        headers["authorization"].to_str().ok(),
        Some(format!("Bearer {GREEN_KEY}").as_str()),
        "the caller's credentials are replaced by the side's"
    );
    assert!(!headers.contains_key("x-turnout-environment"));
    assert_eq!(
        body.as_ref(),
        br#"{"model":"tts-1","input":"hello","voice":"alloy"}"#
    );
    let status = client.status();
    let green = &status.environments[&Side::Green];
    assert_eq!(
        (green.window.successes, green.window.failures),
        (1, 0),
        "a binary 2xx is a success"
    );
}

#[tokio::test]
async fn multipart_uploads_go_byte_for_byte() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let mut form = b"--b0\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--b0\r\ncontent-disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n".to_vec();
    form.extend(audio());
    form.extend(b"\r\n--b0--\r\n");
    let req = RawRequest::new(Method::POST, "/files")
        .header("content-type", "multipart/form-data; boundary=b0")
        .expect("header")
        .body(form.clone());
    let answer = client.send_raw(req).await.expect("answer");
    assert_eq!(answer.status, 200);
    let created: serde_json::Value = serde_json::from_slice(&full(answer)).expect("json");
    assert_eq!(created["bytes"], form.len());
    let seen = seen.lock().expect("seen");
    assert_eq!(seen[0].1.as_ref(), form.as_slice());
    assert_eq!(
        seen[0].0["content-type"],
        "multipart/form-data; boundary=b0"
    );
}

#[tokio::test]
async fn an_answer_turnout_gave_up_on_comes_back_as_sent_and_says_do_not_retry() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 3);
    let req = RawRequest::new(Method::POST, "/broken")
        .header("Idempotency-Key", "k1")
        .expect("header")
        .body("{}");
    let answer = client.send_raw(req).await.expect("an HTTP answer");
    assert_eq!(answer.status, 500);
    assert_eq!(answer.headers["x-should-retry"], "false");
    assert_eq!(answer.headers["x-request-id"], "req_9");
    assert_eq!(answer.headers["x-turnout-attempts"], "3");
    let body = full(answer);
    assert!(body.starts_with(br#"{"error":{"message":"boom""#));
    assert_eq!(
        seen.lock().expect("seen").len(),
        3,
        "max_attempts requests reach the upstreams, no more"
    );
}

#[tokio::test]
async fn failures_without_an_answer_become_a_synthetic_502() {
    let client = client(&refused_url(), &refused_url(), 2);
    let req = RawRequest::new(Method::POST, "/chat/completions").body(r#"{"model":"m"}"#);
    let err = client.send_raw(req).await.expect_err("nothing answers");
    let answer = RawResponse::from_error(&err);
    assert_eq!(answer.status, 502);
    assert_eq!(answer.headers["x-should-retry"], "false");
    let body: serde_json::Value = serde_json::from_slice(&full(answer)).expect("json");
    assert_eq!(body["error"]["code"], "upstream_unreachable");
}

#[tokio::test]
async fn the_callers_timeout_bounds_each_attempt_and_a_shorter_configured_one_wins() {
    let hung = serve(Router::new().route(
        "/v1/audio/speech",
        post(std::future::pending::<&'static str>),
    ))
    .await;
    let seen = Seen::default();
    let green = upstream(Arc::clone(&seen)).await;
    let speech = || RawRequest::new(Method::POST, "/audio/speech").body("{}");
    // Blue hangs: within the caller's 100 ms the call fails over to green (turnout's own
    // timeout is the tests' longer one).
    let client = client(&hung, &green, 2);
    let cap = std::time::Duration::from_millis(100);
    let answer = client
        .send_raw(speech().timeout_at_most(cap))
        .await
        .expect("green answers");
    assert_eq!(side_of(&answer), "green");
    // Pinned to blue, the timeout is the caller's.
    let pinned = speech()
        .header("x-turnout-environment", "blue")
        .expect("header")
        .timeout_at_most(cap);
    match client.send_raw(pinned).await {
        Err(turnout::Error::Timeout { after, .. }) => assert_eq!(after, cap),
        other => panic!("expected blue's timeout, got {other:?}"),
    }
    // A longer cap does not stretch a shorter configured timeout.
    let pinned = speech()
        .header("x-turnout-environment", "blue")
        .expect("header")
        .timeout_at_most(std::time::Duration::from_secs(3600));
    match client.send_raw(pinned).await {
        Err(turnout::Error::Timeout { after, .. }) => assert_eq!(after, TIMEOUT),
        other => panic!("expected blue's timeout, got {other:?}"),
    }
}

/// An upstream whose `/v1/audio/speech` never answers; counts the requests it got.
async fn hung(hits: Arc<AtomicUsize>) -> String {
    serve(Router::new().route(
        "/v1/audio/speech",
        post(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<&'static str>()
        }),
    ))
    .await
}

/// A client whose own timeout (30 s) is far longer than the callers' below.
fn patient(blue: &str, green: &str, max_attempts: u32, timeout: Duration) -> Client {
    fast(
        Client::builder()
            .blue(env(blue, BLUE_KEY))
            .green(env(green, GREEN_KEY)),
    )
    .timeout(timeout)
    .circuit_breaker(no_circuit())
    .retry(RetryPolicy {
        max_attempts,
        ..fast_retry()
    })
    .build()
    .expect("client")
}

#[tokio::test]
async fn a_caller_that_gives_up_gets_a_504_before_it_does_not_a_hang() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = hung(Arc::clone(&hits)).await;
    // turnout's own timeout (30 s) would outlast the caller's 2 s many times over.
    let client = patient(&url, &url, 3, Duration::from_secs(30));
    let limit = Duration::from_secs(2);
    let req = RawRequest::new(Method::POST, "/audio/speech")
        .body("{}")
        .answer_within(limit);
    let err = client.send_raw(req).await.expect_err("nothing answers");
    // The caller's limit less the margin (a tenth, at most 250 ms) is what bounded the call:
    // turnout's 504 comes before the caller gives up.
    assert!(
        matches!(err, turnout::Error::Timeout { after, .. } if after == limit - Duration::from_millis(200)),
        "{err:?}"
    );
    let answer = RawResponse::from_error(&err);
    assert_eq!(answer.status, 504);
    assert_eq!(answer.headers["x-should-retry"], "false");
    // The one attempt had all the time: no second one started with none left.
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn within_the_callers_time_a_hung_side_fails_over_and_no_attempt_outlasts_it() {
    let (blue_hits, green_hits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let blue = hung(Arc::clone(&blue_hits)).await;
    let seen = Seen::default();
    let healthy = upstream(Arc::clone(&seen)).await;
    // turnout's own 1 s timeout leaves room, in the caller's 3 s, for the other side.
    let client = patient(&blue, &healthy, 3, TIMEOUT);
    let speech = || {
        RawRequest::new(Method::POST, "/audio/speech")
            .body("{}")
            .answer_within(Duration::from_secs(3))
    };
    let answer = client.send_raw(speech()).await.expect("green answers");
    assert_eq!(side_of(&answer), "green");
    assert_eq!(answer.headers["x-turnout-attempts"], "2");
    assert_eq!(blue_hits.load(Ordering::SeqCst), 1);

    // Both sides hang: blue's attempt times out at 1 s, green's gets what is left of the
    // caller's 2 s (less 200 ms), and no third attempt is made.
    let green = hung(Arc::clone(&green_hits)).await;
    let client = patient(&blue, &green, 3, TIMEOUT);
    let req = RawRequest::new(Method::POST, "/audio/speech")
        .body("{}")
        .answer_within(Duration::from_secs(2));
    let err = client.send_raw(req).await.expect_err("nothing answers");
    assert!(
        matches!(err, turnout::Error::Timeout { after, .. } if after == Duration::from_millis(1800)),
        "{err:?}"
    );
    assert_eq!(RawResponse::from_error(&err).status, 504);
    assert_eq!(blue_hits.load(Ordering::SeqCst), 2);
    assert_eq!(green_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_handed_over_outlives_the_callers_time() {
    // The first event at once, the rest after 600 ms: past the caller's 300 ms.
    let app = Router::new().route(
        "/v1/responses",
        post(|| async {
            let (head, tail) = RESPONSES_SSE.split_at(RESPONSES_SSE.find("\n\n").unwrap_or(0) + 2);
            let first = futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(Bytes::from_static(head.as_bytes()))
            });
            let rest = futures_util::stream::once(async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                Ok::<_, std::io::Error>(Bytes::from_static(tail.as_bytes()))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(axum::body::Body::from_stream(first.chain(rest)))
                .unwrap_or_default()
        }),
    );
    let url = serve(app).await;
    let client = client(&url, &url, 2);
    let req = RawRequest::new(Method::POST, "/responses")
        .header("content-type", "application/json")
        .expect("header")
        .body(r#"{"model":"gpt-4.1","input":"hi","stream":true}"#)
        .answer_within(Duration::from_millis(300));
    let answer = client.send_raw(req).await.expect("answer");
    assert_eq!(streamed(answer.body).await, RESPONSES_SSE.as_bytes());
}

#[test]
fn the_sdk_timeout_header_is_read_in_seconds() {
    let with = |value: &str| {
        RawRequest::new(Method::GET, "/models")
            .header("X-Stainless-Timeout", value)
            .map(|r| r.sdk_timeout())
            .expect("header")
    };
    assert_eq!(with("5"), Some(Duration::from_secs(5)));
    assert_eq!(with("1.5"), Some(Duration::from_millis(1500)));
    // openai-node truncates a timeout under a second to 0: unknown, not "at once".
    assert_eq!(with("0"), None);
    assert_eq!(with("-1"), None);
    assert_eq!(with("soon"), None);
    assert_eq!(RawRequest::new(Method::GET, "/models").sdk_timeout(), None);
}

#[tokio::test]
async fn an_unknown_environment_header_is_refused_before_anything_is_sent() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let req = RawRequest::new(Method::POST, "/files")
        .header("x-turnout-environment", "purple")
        .expect("header");
    let err = client.send_raw(req).await.expect_err("refused");
    let answer = RawResponse::from_error(&err);
    assert_eq!(answer.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&full(answer)).expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("purple"))
    );
    assert!(seen.lock().expect("seen").is_empty());
}

#[tokio::test]
async fn a_responses_stream_passes_through_and_its_usage_is_charged() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let req = RawRequest::new(Method::POST, "/responses")
        .header("content-type", "application/json")
        .expect("header")
        .body(r#"{"model":"gpt-4.1","input":"hi","stream":true}"#);
    let answer = client.send_raw(req).await.expect("answer");
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    assert_eq!(streamed(answer.body).await, RESPONSES_SSE.as_bytes());
    let costs = client.costs();
    assert_eq!(
        (costs.total.prompt_tokens, costs.total.completion_tokens),
        (11, 3)
    );
    assert_eq!(
        client.status().environments[&Side::Blue].window.successes
            + client.status().environments[&Side::Green].window.successes,
        1
    );
}

/// The side that answered a pass-through request.
fn side_of(answer: &RawResponse) -> String {
    answer.headers["x-turnout-environment"]
        .to_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_conversation_stays_on_the_side_that_holds_it_streamed_or_not() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().expect("client");
    let mut sides = std::collections::BTreeSet::new();
    for i in 0..40 {
        let stream = i % 2 == 0;
        let first = RawRequest::new(Method::POST, "/responses")
            .header("content-type", "application/json")
            .expect("header")
            .body(format!(
                r#"{{"model":"gpt-4.1","input":"turn {i}","stream":{stream}}}"#
            ));
        let answer = client.send_raw(first).await.expect("first turn");
        let side = side_of(&answer);
        let id = match answer.body {
            RawBody::Full(b) => {
                let v: serde_json::Value = serde_json::from_slice(&b).expect("json");
                v["id"].as_str().expect("id").to_string()
            }
            RawBody::Stream(mut s) => {
                let mut text = Vec::new();
                while let Some(chunk) = s.next().await {
                    text.extend_from_slice(&chunk.expect("chunk"));
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                let at = text.find("\"id\":\"resp_").expect("an id in the stream") + 6;
                text[at..].split('"').next().expect("id").to_string()
            }
        };
        let follow = RawRequest::new(Method::POST, "/responses")
            .header("content-type", "application/json")
            .expect("header")
            .body(format!(
                r#"{{"model":"gpt-4.1","input":"and?","previous_response_id":"{id}"}}"#
            ));
        let answer = client.send_raw(follow).await.expect("follow-up");
        assert_eq!(
            answer.status, 200,
            "turn {i}: the side that has {id} answered"
        );
        assert_eq!(side_of(&answer), side, "turn {i}");
        assert_eq!(answer.route.as_ref().map(|r| r.reason), Some("affinity"));
        sides.insert(side);
    }
    assert_eq!(
        sides.len(),
        2,
        "the canary sent conversations to both sides"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn the_responses_resource_streams_to_its_final_event_and_follows_its_conversation() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().expect("client");
    let opts = turnout::RequestOptions::default;
    for i in 0..10 {
        let events = client
            .responses()
            .stream(
                serde_json::json!({"model": "gpt-4.1", "input": format!("hello {i}")}),
                opts(),
            )
            .await
            .expect("stream");
        let side = events.route().environment;
        let events = events
            .collect_all()
            .await
            .expect("a clean end without [DONE]");
        assert_eq!(events[0]["type"], "response.created");
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some("response.completed".into())
        );
        let id = events[0]["response"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let next = client
            .responses()
            .create(
                serde_json::json!({"model": "gpt-4.1", "input": "and?", "previous_response_id": id}),
                opts(),
            )
            .await
            .expect("follow-up on the side that has it");
        assert_eq!(next.route.environment, side);
        assert_eq!(next["object"], "response");
    }
    let costs = client.costs();
    assert_eq!(
        costs.total.requests, 20,
        "both turns' usage is charged, streamed or not"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_body_sent_without_a_content_type_goes_without_one() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let req = RawRequest::new(Method::POST, "/files").body(audio());
    let answer = client.send_raw(req).await.expect("answer");
    assert_eq!(answer.status, 200);
    let seen = seen.lock().expect("seen");
    assert!(
        !seen[0].0.contains_key("content-type"),
        "a pass-through body is not labelled JSON"
    );
}

#[tokio::test]
async fn a_responses_stream_read_as_events_ends_at_its_final_event() {
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = client(&url, &url, 2);
    let body = serde_json::json!({"model": "gpt-4.1", "input": "hi", "stream": true});
    let mut stream = client
        .stream_json(Method::POST, "/responses", Some(body), Default::default())
        .await
        .expect("stream");
    let mut types = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.expect("no [DONE] is needed after response.completed");
        types.push(event["type"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(
        types,
        [
            "response.created",
            "response.output_text.delta",
            "response.completed"
        ]
    );
    assert_eq!(client.costs().total.completion_tokens, 3);
}

#[tokio::test]
async fn a_request_without_a_body_goes_with_the_length_an_sdk_would_send() {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = Router::new().route(
        "/v1/batches/batch_1/cancel",
        axum::routing::any(move |h: HeaderMap, b: Bytes| async move {
            if let Ok(mut s) = record.lock() {
                s.push((h, b));
            }
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"id":"batch_1"}"#,
            )
        }),
    );
    let url = serve(app).await;
    let client = client(&url, &url, 2);
    for method in [
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::GET,
        Method::DELETE,
    ] {
        let req = RawRequest::new(method.clone(), "/batches/batch_1/cancel")
            // The caller's own length is not forwarded: turnout's HTTP client frames the body.
            .header("content-length", "0")
            .expect("header");
        let answer = client.send_raw(req).await.expect("answer");
        assert_eq!(answer.status, 200, "{method}");
    }
    let seen = seen.lock().expect("seen");
    let lengths: Vec<_> = seen
        .iter()
        .map(|(h, _)| h.get("content-length").and_then(|v| v.to_str().ok()))
        .collect();
    // As httpx and fetch do: an empty POST, PUT or PATCH says `Content-Length: 0` (strict
    // front ends answer 411 without it); a GET or DELETE without a body says nothing.
    assert_eq!(lengths, [Some("0"), Some("0"), Some("0"), None, None]);
}

#[tokio::test]
async fn an_empty_answer_labelled_json_is_a_success_not_a_decode_failure() {
    let app = Router::new()
        .route(
            "/v1/no-content",
            post(|| async {
                (
                    StatusCode::NO_CONTENT,
                    [(header::CONTENT_TYPE, "application/json")],
                )
            }),
        )
        .route(
            "/v1/empty",
            post(|| async { ([(header::CONTENT_TYPE, "application/json")], "") }),
        )
        // axum answers HEAD with GET's headers (and its length) but no body.
        .route(
            "/v1/models/m",
            axum::routing::get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"id":"m"}"#,
                )
            }),
        );
    let url = serve(app).await;
    let client = client(&url, &url, 3);
    let requests = [
        (Method::POST, "/no-content", 204),
        (Method::POST, "/empty", 200),
        (Method::HEAD, "/models/m", 200),
    ];
    for (method, path, status) in requests {
        let req = RawRequest::new(method.clone(), path);
        let answer = client.send_raw(req).await.expect("answer");
        assert_eq!(answer.status, status, "{method} {path}");
        assert_eq!(answer.headers["x-turnout-attempts"], "1", "{method} {path}");
        assert!(!answer.headers.contains_key("x-should-retry"));
        assert!(full(answer).is_empty());
    }
    let status = client.status();
    let (successes, failures) = status.environments.values().fold((0, 0), |(s, f), e| {
        (s + e.window.successes, f + e.window.failures)
    });
    assert_eq!((successes, failures), (3, 0), "no decode failure counted");
}

#[tokio::test]
async fn a_body_other_than_json_passes_the_response_bound_as_it_arrives() {
    // The bound protects what turnout holds; a body it only passes on is the caller's to read,
    // as it would be without turnout (a large file's contents, long audio).
    let seen: Seen = Arc::default();
    let url = upstream(Arc::clone(&seen)).await;
    let client = fast(
        Client::builder()
            .blue(env(&url, BLUE_KEY))
            .green(env(&url, GREEN_KEY)),
    )
    .configure(|c| c.bounds.response_body_bytes = 1024)
    .build()
    .expect("client");
    let speech = RawRequest::new(Method::POST, "/audio/speech").body("{}");
    let answer = client.send_raw(speech).await.expect("answer");
    assert_eq!(answer.headers["x-turnout-attempts"], "1");
    assert_eq!(streamed(answer.body).await.len(), audio().len());
    assert!(audio().len() > 1024);
}

/// A Responses API stream that fails after it began: the response exists on the side.
const CREATED_THEN_ERROR: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_err1\",\"object\":\"response\"},\"sequence_number\":0}\n\n\
event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error\",\"param\":null,\"sequence_number\":1}\n\n";

/// A Responses API stream whose first event is an error (the side was overloaded).
const ERROR_FIRST: &str = "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"overloaded\",\"param\":null,\"sequence_number\":0}\n\n";

/// An upstream whose `/v1/responses` answers 200 with `sse`, in one chunk, and `x-request-id`;
/// `hits` counts its requests.
async fn sse_upstream(
    sse: &'static str,
    request_id: &'static str,
    hits: Arc<AtomicUsize>,
) -> String {
    let app = Router::new().route(
        "/v1/responses",
        post(move || async move {
            hits.fetch_add(1, Ordering::SeqCst);
            (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::HeaderName::from_static("x-request-id"), request_id),
                ],
                sse,
            )
                .into_response()
        }),
    );
    serve(app).await
}

fn stream_request() -> RawRequest {
    RawRequest::new(Method::POST, "/responses")
        .header("content-type", "application/json")
        .expect("header")
        .body(r#"{"model":"gpt-4.1","input":"hi","stream":true}"#)
}

#[tokio::test]
async fn an_error_event_after_the_streams_first_event_is_passed_on_not_retried() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = sse_upstream(CREATED_THEN_ERROR, "req_s1", Arc::clone(&hits)).await;
    let client = client(&url, &url, 3);
    let answer = client.send_raw(stream_request()).await.expect("answer");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["x-request-id"], "req_s1");
    assert_eq!(answer.headers["x-turnout-attempts"], "1");
    assert!(!answer.headers.contains_key("x-should-retry"));
    // Committed at its first event; the side ended it, nothing was cut.
    assert_eq!(streamed(answer.body).await, CREATED_THEN_ERROR.as_bytes());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the response is created once"
    );
    let status = client.status();
    let failures: u64 = status
        .environments
        .values()
        .map(|e| e.window.failures)
        .sum();
    assert_eq!(failures, 1, "the stream's outcome is its error");
}

#[tokio::test]
async fn an_error_event_first_that_turnout_gives_up_on_comes_back_as_the_side_sent_it() {
    // No attempt left.
    let hits = Arc::new(AtomicUsize::new(0));
    let url = sse_upstream(ERROR_FIRST, "req_s2", Arc::clone(&hits)).await;
    let last = client(&url, &url, 1);
    let answer = last
        .send_raw(stream_request())
        .await
        .expect("an HTTP answer");
    assert_eq!(answer.status, 200, "the side's status, not a synthetic one");
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    assert_eq!(answer.headers["x-request-id"], "req_s2");
    assert_eq!(answer.headers["x-should-retry"], "false");
    assert_eq!(answer.headers["x-turnout-attempts"], "1");
    assert_eq!(full(answer), ERROR_FIRST.as_bytes());
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // An error that is not retryable (its code is a 4xx status), with attempts to spare.
    const INVALID: &str = "data: {\"error\":{\"message\":\"bad input\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":400}}\n\n";
    let hits = Arc::new(AtomicUsize::new(0));
    let url = sse_upstream(INVALID, "req_s3", Arc::clone(&hits)).await;
    let spare = client(&url, &url, 3);
    let answer = spare
        .send_raw(stream_request())
        .await
        .expect("an HTTP answer");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["x-request-id"], "req_s3");
    assert_eq!(answer.headers["x-should-retry"], "false");
    assert_eq!(answer.headers["x-turnout-attempts"], "1");
    assert_eq!(full(answer), INVALID.as_bytes());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test]
async fn a_retryable_error_event_first_is_retried_on_the_other_side() {
    let blue_hits = Arc::new(AtomicUsize::new(0));
    let green_hits = Arc::new(AtomicUsize::new(0));
    let blue = sse_upstream(ERROR_FIRST, "req_blue", Arc::clone(&blue_hits)).await;
    let green = sse_upstream(RESPONSES_SSE, "req_green", Arc::clone(&green_hits)).await;
    // Blue takes the traffic; its overloaded error came before anything else: nothing was
    // committed, so the second attempt goes to green.
    let client = client(&blue, &green, 2);
    let answer = client.send_raw(stream_request()).await.expect("answer");
    assert_eq!(answer.status, 200);
    assert_eq!(side_of(&answer), "green");
    assert_eq!(answer.headers["x-request-id"], "req_green");
    assert_eq!(answer.headers["x-turnout-attempts"], "2");
    assert_eq!(streamed(answer.body).await, RESPONSES_SSE.as_bytes());
    assert_eq!(blue_hits.load(Ordering::SeqCst), 1);
    assert_eq!(green_hits.load(Ordering::SeqCst), 1);
}
