//! OpenTelemetry export (the core's `otel` feature): spans of requests and attempts reach an
//! OTLP/HTTP receiver started by the test, which decodes them with the OpenTelemetry project's
//! own protobuf types and checks the GenAI and turnout attributes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, status};
use parking_lot::Mutex;
use prost::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use turnout::rollout::{RolloutPlan, Step};
use turnout::{Client, Config, Method, RequestOptions, Side};
use turnout_sim::{Faults, Sim, SimConfig};

/// Export requests received, as decoded, and their `content-type`s.
#[derive(Default)]
struct Received {
    exports: Vec<ExportTraceServiceRequest>,
    content_types: Vec<String>,
    paths: Vec<String>,
}

/// A minimal HTTP/1.1 server on loopback that takes OTLP/HTTP protobuf exports.
async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Received::default()));
    let store = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                // Keep-alive: one request after another on the connection.
                loop {
                    let mut request_line = String::new();
                    if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_string();
                    let mut length = 0usize;
                    let mut content_type = String::new();
                    loop {
                        let mut line = String::new();
                        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "content-type" => content_type = value.trim().to_string(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    if read.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let decoded = ExportTraceServiceRequest::decode(body.as_slice());
                    let status = if decoded.is_ok() {
                        "200 OK"
                    } else {
                        "400 Bad Request"
                    };
                    {
                        let mut r = store.lock();
                        r.paths.push(path);
                        r.content_types.push(content_type);
                        if let Ok(export) = decoded {
                            r.exports.push(export);
                        }
                    }
                    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("{key} is not a string on {}: {other:?}", span.name),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(any_value::Value::IntValue(i)) => *i,
        other => panic!("{key} is not an int on {}: {other:?}", span.name),
    }
}

fn resource_name(attributes: &[KeyValue]) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(ref s)),
            }) => Some(s.clone()),
            _ => None,
        })
}

fn chat(content: &str) -> Value {
    json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 3})
}

/// Every span received, grouped by trace id.
fn traces(received: &Received) -> HashMap<Vec<u8>, Vec<Span>> {
    let mut out: HashMap<Vec<u8>, Vec<Span>> = HashMap::new();
    for export in &received.exports {
        for rs in &export.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    out.entry(span.trace_id.clone())
                        .or_default()
                        .push(span.clone());
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_attempts_are_exported_with_genai_attributes() {
    let (endpoint, received) = receiver().await;
    let blue = Sim::start(SimConfig::named("blue")).await.expect("sim");
    let green = Sim::start(SimConfig::named("green")).await.expect("sim");
    let config = Config::from_value(json!({
        "environments": {
            "blue": {"base_url": blue.url(), "api_key": "sk-blue-SECRET", "label": "v1"},
            "green": {"base_url": green.url(), "api_key": "sk-green-SECRET", "label": "v2"},
        },
        "health_check": {"enabled": false},
        "otel": {
            "endpoint": endpoint,
            "service_name": "checkout",
            "export_interval": 0.05,
            "headers": {"x-collector-token": "tok-SECRET"},
        },
    }))
    .expect("config");
    let client = Client::from_config(config).expect("client");

    // 1. Blue fails once with 503: the request fails over to green.
    blue.set_faults(Faults {
        fail_next: 1,
        error_status: 503,
        ..Faults::default()
    });
    let failed_over = client
        .request_json(
            Method::POST,
            "/chat/completions",
            Some(chat("prompt-alpha")),
            RequestOptions::default(),
        )
        .await
        .expect("answered by green");
    assert_eq!(failed_over.route.environment, Side::Green);

    // 2. A stream during a rollout, pinned to green.
    client
        .start_rollout(RolloutPlan::new(vec![Step::new(10.0), Step::new(100.0)]))
        .expect("rollout");
    let step = client.rollout().map(|r| r.step).expect("a rollout runs");
    let mut body = chat("prompt-beta words");
    body["stream"] = Value::Bool(true);
    let mut stream = client
        .stream_json(
            Method::POST,
            "/chat/completions",
            Some(body),
            RequestOptions::default().environment(Side::Green),
        )
        .await
        .expect("stream");
    while let Some(chunk) = stream.next().await {
        chunk.expect("chunk");
    }

    // Wait for both traces (3 + 2 spans), looking at most 1500 times.
    let mut looks = 0;
    let all = loop {
        let all = traces(&received.lock());
        if all.values().map(Vec::len).sum::<usize>() >= 5 {
            break all;
        }
        looks += 1;
        assert!(looks < 1500, "spans received after {looks} looks: {all:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    client.close();

    {
        let r = received.lock();
        assert!(r.paths.iter().all(|p| p == "/v1/traces"), "{:?}", r.paths);
        assert!(
            r.content_types
                .iter()
                .all(|c| c == "application/x-protobuf"),
            "{:?}",
            r.content_types
        );
        for export in &r.exports {
            for rs in &export.resource_spans {
                let resource = rs.resource.as_ref().expect("a resource");
                assert_eq!(
                    resource_name(&resource.attributes).as_deref(),
                    Some("checkout")
                );
                for ss in &rs.scope_spans {
                    assert_eq!(ss.scope.as_ref().map(|s| s.name.as_str()), Some("turnout"));
                }
            }
        }
    }
    assert_eq!(all.len(), 2, "two traces: {all:?}");

    // The failed-over request: a request span and two attempt spans under it.
    let failover = all
        .values()
        .find(|t| t.len() == 3)
        .expect("a trace of 3 spans");
    let request = failover
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("a root span");
    let mut attempts: Vec<&Span> = failover
        .iter()
        .filter(|s| !s.parent_span_id.is_empty())
        .collect();
    attempts.sort_by_key(|s| int(s, "turnout.attempt"));
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(
            a.parent_span_id, request.span_id,
            "attempts are children of the request"
        );
        assert_eq!(a.trace_id, request.trace_id);
        assert_eq!(text(a, "gen_ai.operation.name"), "chat");
        assert_eq!(text(a, "gen_ai.system"), "openai");
        assert_eq!(text(a, "gen_ai.request.model"), "gpt-4.1-mini");
        assert!(a.start_time_unix_nano <= a.end_time_unix_nano);
        assert!(request.start_time_unix_nano <= a.start_time_unix_nano);
    }
    let (first, second) = (attempts[0], attempts[1]);
    assert_eq!(
        (
            int(first, "turnout.attempt"),
            text(first, "turnout.environment")
        ),
        (1, "blue".to_string())
    );
    assert_eq!(text(first, "turnout.label"), "v1");
    assert_eq!(text(first, "turnout.reason"), "first");
    assert_eq!(int(first, "http.response.status_code"), 503);
    assert_eq!(
        first.status.as_ref().map(|s| s.code),
        Some(status::StatusCode::Error as i32)
    );
    assert_eq!(
        (
            int(second, "turnout.attempt"),
            text(second, "turnout.environment")
        ),
        (2, "green".to_string())
    );
    assert_eq!(text(second, "turnout.label"), "v2");
    assert_eq!(text(second, "turnout.reason"), "failover");
    assert_eq!(
        second.status.as_ref().map(|s| s.code),
        Some(status::StatusCode::Ok as i32)
    );

    let usage = &failed_over["usage"];
    let (input, output) = (
        usage["prompt_tokens"].as_i64().expect("prompt tokens"),
        usage["completion_tokens"]
            .as_i64()
            .expect("completion tokens"),
    );
    for span in [request, second] {
        assert_eq!(int(span, "gen_ai.usage.input_tokens"), input);
        assert_eq!(int(span, "gen_ai.usage.output_tokens"), output);
        assert_eq!(
            text(span, "gen_ai.response.model"),
            failed_over["model"].as_str().expect("model")
        );
    }
    assert_eq!(request.name, "chat gpt-4.1-mini");
    assert_eq!(text(request, "turnout.environment"), "green");
    assert_eq!(text(request, "turnout.reason"), "failover");
    assert_eq!(text(request, "turnout.outcome"), "success");
    assert_eq!(int(request, "turnout.attempts"), 2);
    assert!(
        attr(request, "turnout.rollout.step").is_none(),
        "no rollout ran yet"
    );

    // The stream during the rollout.
    let streamed = all
        .values()
        .find(|t| t.len() == 2)
        .expect("a trace of 2 spans");
    for span in streamed {
        assert_eq!(
            int(span, "turnout.rollout.step"),
            i64::try_from(step).unwrap_or(-1)
        );
        assert_eq!(text(span, "turnout.environment"), "green");
        assert!(
            int(span, "gen_ai.usage.output_tokens") > 0,
            "stream usage: {span:?}"
        );
    }
    let attempt = streamed
        .iter()
        .find(|s| !s.parent_span_id.is_empty())
        .expect("an attempt");
    assert_eq!(text(attempt, "turnout.reason"), "first");

    // No key, no header value, no prompt in any span.
    for span in all.values().flatten() {
        let dump = format!("{span:?}");
        for secret in ["SECRET", "prompt-alpha", "prompt-beta"] {
            assert!(!dump.contains(secret), "{secret} leaked into {dump}");
        }
    }
}

#[test]
fn a_bad_otel_endpoint_is_a_config_error_naming_the_field() {
    let result = Config::from_value(json!({
        "environments": {
            "blue": {"base_url": "http://127.0.0.1:9/v1", "api_key": "k"},
            "green": {"base_url": "http://127.0.0.1:9/v1", "api_key": "k"},
        },
        "otel": {"endpoint": "collector:4318"},
    }));
    let message = result.map(|_| ()).expect_err("refused").to_string();
    assert!(message.contains("otel.endpoint"), "{message}");
}
