//! Conformance with the real API: Stoplight Prism serves OpenAI's published spec for chat
//! completions (../shared/openai/openapi-chat.json) as a validating mock, answering 422 to any
//! request the real API would reject. Every request our client builds must pass.
//!
//! Needs Prism, so it is `#[ignore]`d for plain `cargo test`; `make test` installs Prism
//! (tests/prism) and runs it with `--ignored`, setting `TURNOUT_PRISM_BIN`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment, Method, RequestOptions};

struct Prism {
    child: Child,
    url: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prism() -> Prism {
    let bin = std::env::var("TURNOUT_PRISM_BIN")
        .expect("TURNOUT_PRISM_BIN must point at the prism binary (make test sets it)");
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/openai/openapi-chat.json"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = Command::new(bin)
        .args(["mock", spec, "-h", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("prism starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Prism is listening") => break,
            Some(Ok(_)) => continue,
            _ => panic!("prism exited before listening"),
        }
    }
    // Keep draining Prism's log so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Prism {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn client(url: &str) -> Client {
    Client::builder()
        .blue(Environment::new(
            url,
            ApiKey::new("sk-test-blue-0000000000"),
        ))
        .green(Environment::new(
            url,
            ApiKey::new("sk-test-green-000000000"),
        ))
        .configure(|c| {
            c.health_check.enabled = false;
            c.retry.max_attempts = 1;
        })
        .timeout(Duration::from_secs(10))
        .build()
        .expect("valid config")
}

fn requests() -> Vec<(&'static str, ChatCompletionRequest)> {
    let base = || {
        ChatCompletionRequest::new(
            "gpt-4.1",
            vec![
                ChatMessage::system("You are terse."),
                ChatMessage::user("Say hi."),
            ],
        )
    };
    let mut every = base()
        .param("temperature", 0.7)
        .param("top_p", 0.9)
        .param("max_completion_tokens", 64)
        .param("n", 1)
        .param("stop", json!(["\n\n"]))
        .param("presence_penalty", 0.1)
        .param("frequency_penalty", 0.2)
        .param("logit_bias", json!({"50256": -100}))
        .param("logprobs", true)
        .param("top_logprobs", 2)
        .param("seed", 7)
        .param("store", false)
        .param("metadata", json!({"team": "search"}))
        .param("service_tier", "auto");
    every.user = Some("user-42".into());
    let tools = base()
        .param(
            "tools",
            json!([{
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                    "strict": true
                }
            }]),
        )
        .param("tool_choice", "auto")
        .param("parallel_tool_calls", true);
    let mut tool_turn = base();
    tool_turn.messages.push(ChatMessage {
        role: "assistant".into(),
        content: None,
        extra: serde_json::from_value(json!({"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})).expect("object"),
    });
    tool_turn.messages.push(ChatMessage {
        role: "tool".into(),
        content: Some(json!("18C and sunny")),
        extra: serde_json::from_value(json!({"tool_call_id": "call_1"})).expect("object"),
    });
    let json_schema = base().param(
        "response_format",
        json!({"type": "json_schema", "json_schema": {"name": "greeting", "strict": true,
               "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}}}),
    );
    let json_object = base().param("response_format", json!({"type": "json_object"}));
    let parts = ChatCompletionRequest::new(
        "gpt-4.1",
        vec![ChatMessage {
            role: "user".into(),
            content: Some(json!([{"type": "text", "text": "Describe this."},
                                  {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}])),
            extra: Default::default(),
        }],
    );
    vec![
        ("plain", base()),
        ("every common parameter", every),
        ("tools", tools),
        ("tool call turn", tool_turn),
        ("response_format json_schema", json_schema),
        ("response_format json_object", json_object),
        ("content parts", parts),
    ]
}

#[tokio::test]
#[ignore = "needs Prism; run by make test"]
async fn every_request_we_build_is_accepted_by_the_official_spec() {
    let prism = start_prism();
    let client = client(&prism.url).await;
    for (name, request) in requests() {
        let resp = client.chat().create(request).await;
        let resp = resp.unwrap_or_else(|e| panic!("{name}: the spec rejected our request: {e}"));
        assert!(!resp.choices.is_empty(), "{name}: decoded a completion");
    }
    // The body of a streamed request, validated too (Prism does not mock streams, so it is
    // sent as a plain exchange; the validation is of the request).
    let mut body = serde_json::to_value(requests().remove(0).1).expect("encodes");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    client
        .request_json(
            Method::POST,
            "/chat/completions",
            Some(body),
            RequestOptions::default(),
        )
        .await
        .expect("a stream request body is valid");
    let models = client.models().list(RequestOptions::default()).await;
    assert!(models.is_ok(), "models list: {models:?}");
}

#[tokio::test]
#[ignore = "needs Prism; run by make test"]
async fn prism_really_validates() {
    let prism = start_prism();
    let client = client(&prism.url).await;
    let bad = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")])
        .param("temperature", 5);
    let err = client
        .chat()
        .create(bad)
        .await
        .expect_err("temperature 5 is out of range");
    assert_eq!(err.status(), Some(422), "{err}");
    let body: Value = serde_json::from_str(err.body().unwrap_or("{}")).unwrap_or_default();
    assert!(body.to_string().contains("temperature"), "{body}");
}
