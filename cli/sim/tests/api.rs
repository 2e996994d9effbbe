//! The OpenAI-compatible surface: shapes, streams, auth, validation.

mod common;

use common::{Http, chat_body, stream_body};
use serde_json::{Value, json};
use turnout_sim::{Sim, SimConfig};

#[tokio::test]
async fn chat_answer_has_openai_shape_and_usage_arithmetic() {
    let sim = Sim::start(SimConfig::named("stable")).await.unwrap();
    let http = Http::new();
    let body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there, simulator"},
    ]});
    let answer = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &body.to_string(),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("x-sim-name"), Some("stable"));
    let v = answer.json();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["system_fingerprint"], "fp_stable");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Echo: Hello there, simulator");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["logprobs"], Value::Null);
    // "Be brief." (9) + "Hello there, simulator" (22) = 31 chars → 8 tokens;
    // "Echo: Hello there, simulator" = 28 chars → 7 tokens.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 7, "total_tokens": 15})
    );
}

#[tokio::test]
async fn ids_differ_and_content_is_deterministic() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    let a = http.post(&url, None, &chat_body("m", "same")).await.json();
    let b = http.post(&url, None, &chat_body("m", "same")).await.json();
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["choices"], b["choices"]);
    assert_eq!(a["usage"], b["usage"]);
}

#[tokio::test]
async fn stream_sends_role_words_finish_usage_then_done() {
    let sim = Sim::start(SimConfig::named("canary")).await.unwrap();
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    let answer = http
        .post(&url, None, &stream_body("gpt-4o", "one two three", true))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    assert!(!answer.body_error);
    let events = answer.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-4o");
        assert_eq!(c["system_fingerprint"], "fp_canary");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let content: Vec<&str> = chunks[1..chunks.len() - 2]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert!(content.len() >= 3, "{content:?}");
    assert_eq!(content.concat(), "Echo: one two three");
    // 13 chars → 4 prompt tokens; 19 chars → 5 completion tokens.
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9})
    );
    // Other chunks carry `usage: null`, as OpenAI does when usage is requested.
    assert_eq!(chunks[0]["usage"], Value::Null);
    assert!(chunks[0].as_object().unwrap().contains_key("usage"));
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    let answer = http.post(&url, None, &stream_body("m", "hi", false)).await;
    let events = answer.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    for e in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(e).unwrap();
        assert!(!c.as_object().unwrap().contains_key("usage"), "{e}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    // role + "Echo" + ":" + " hi" + finish
    assert_eq!(events.len() - 1, 5);
}

#[tokio::test]
async fn max_tokens_caps_the_answer_with_finish_reason_length() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let body = json!({"model": "m", "max_completion_tokens": 3,
        "messages": [{"role": "user", "content": "a b c d e"}]});
    let v = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &body.to_string(),
        )
        .await
        .json();
    assert_eq!(v["choices"][0]["message"]["content"], "Echo: a");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn api_key_is_required_when_configured() {
    let sim = Sim::start(SimConfig::default().with_api_key("sk-right-key-9876"))
        .await
        .unwrap();
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    let body = chat_body("m", "hi");
    for key in [None, Some("sk-wrong-key-1234")] {
        let answer = http.post(&url, key, &body).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.json(),
            json!({"error": {"message": "Incorrect API key provided",
                "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})
        );
        assert!(!answer.text().contains("1234"));
    }
    assert_eq!(
        http.post(&url, Some("sk-right-key-9876"), &body)
            .await
            .status,
        200
    );
    assert_eq!(
        http.get(&format!("{}/models", sim.url()), None)
            .await
            .status,
        401
    );
    assert_eq!(
        http.get(&format!("{}/models", sim.url()), Some("sk-right-key-9876"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn invalid_chat_bodies_get_400_naming_the_field() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    let cases = [
        ("{not json", Value::Null),
        ("", Value::Null),
        (
            r#"{"messages":[{"role":"user","content":"x"}]}"#,
            json!("model"),
        ),
        (r#"{"model":"m"}"#, json!("messages")),
        (r#"{"model":"m","messages":[]}"#, json!("messages")),
        (
            r#"{"model":"m","messages":{"role":"user"}}"#,
            json!("messages"),
        ),
        (r#"{"model":["m"],"messages":[]}"#, json!("model")),
    ];
    for (body, param) in cases {
        let answer = http.post(&url, None, body).await;
        assert_eq!(answer.status, 400, "{body}");
        let v = answer.json();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{body}");
        assert_eq!(v["error"]["param"], param, "{body}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
}

#[tokio::test]
async fn embeddings_are_deterministic_per_input() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/embeddings", sim.url());
    let one = http
        .post(
            &url,
            None,
            r#"{"model":"text-embedding-3-small","input":"hello"}"#,
        )
        .await
        .json();
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "text-embedding-3-small");
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    assert_eq!(one["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(one["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));

    let many = http
        .post(&url, None, r#"{"model":"e","input":["hello","world"]}"#)
        .await
        .json();
    assert_eq!(many["data"].as_array().unwrap().len(), 2);
    assert_eq!(many["data"][1]["index"], 1);
    assert_eq!(many["data"][0]["embedding"], one["data"][0]["embedding"]);
    assert_ne!(many["data"][0]["embedding"], many["data"][1]["embedding"]);

    for (body, param) in [
        (r#"{"input":"x"}"#, "model"),
        (r#"{"model":"e"}"#, "input"),
        (r#"{"model":"e","input":[]}"#, "input"),
        (r#"{"model":"e","input":42}"#, "input"),
    ] {
        let answer = http.post(&url, None, body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["error"]["param"], param, "{body}");
    }
}

#[tokio::test]
async fn models_lists_defaults_or_configured_models() {
    let http = Http::new();
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let v = http
        .get(&format!("{}/models", sim.url()), None)
        .await
        .json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gpt-4o-mini") && ids.contains(&"text-embedding-3-small"));
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "turnout-sim");

    let sim = Sim::start(SimConfig::default().with_models(["a", "b"]))
        .await
        .unwrap();
    let v = http
        .get(&format!("{}/models", sim.url()), None)
        .await
        .json();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["id"], "b");
    assert_eq!(
        http.get(&format!("{}/models/a", sim.url()), None)
            .await
            .json()["id"],
        "a"
    );
    let unknown = http.get(&format!("{}/models/zzz", sim.url()), None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "model_not_found");
    // A chat request for a model outside the configured list is refused the same way.
    let chat = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &chat_body("zzz", "x"),
        )
        .await;
    assert_eq!(chat.status, 404);
    assert_eq!(chat.json()["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn unknown_paths_get_openai_404() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    for url in [
        format!("{}/completions/legacy", sim.url()),
        format!("http://{}/nope", sim.addr()),
    ] {
        let answer = http.post(&url, None, "{}").await;
        assert_eq!(answer.status, 404, "{url}");
        let v = answer.json();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid URL (POST /")
        );
    }
    let wrong_method = http
        .get(&format!("{}/chat/completions", sim.url()), None)
        .await;
    assert_eq!(wrong_method.status, 404);
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::http2();
    let url = format!("{}/chat/completions", sim.url());
    let answer = http
        .post(&url, None, &stream_body("m", "over h2", true))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.events().last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_concurrent_requests_on_a_multi_thread_runtime() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/chat/completions", sim.url());
    let http = std::sync::Arc::new(Http::new());
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                http.post(&url, None, &chat_body("m", &format!("n{i}")))
                    .await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let v = task.await.unwrap().json();
        assert_eq!(v["choices"][0]["message"]["content"], format!("Echo: n{i}"));
    }
    assert_eq!(sim.stats().total, 32);
}

#[tokio::test]
async fn shutdown_and_drop_stop_serving() {
    let http = Http::new();
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/models", sim.url());
    assert_eq!(http.get(&url, None).await.status, 200);
    sim.shutdown().await;
    assert!(
        http.send(hyper::Method::GET, &url, None, None)
            .await
            .is_err()
    );

    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/models", sim.url());
    assert_eq!(http.get(&url, None).await.status, 200);
    drop(sim);
    tokio::task::yield_now().await;
    assert!(
        http.send(hyper::Method::GET, &url, None, None)
            .await
            .is_err()
    );
}

#[test]
fn start_in_thread_serves_without_a_caller_runtime() {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = Sim::start_in_thread(addr, SimConfig::named("threaded")).unwrap();
    // A blocking client on this thread: the simulator must not need it to make progress.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}/models", sim.url());
    let answer = runtime.block_on(async { Http::new().get(&url, None).await });
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-sim-name"), Some("threaded"));
    runtime.block_on(sim.shutdown());
    let after =
        runtime.block_on(async { Http::new().send(hyper::Method::GET, &url, None, None).await });
    assert!(after.is_err());
}

#[tokio::test]
async fn start_in_thread_works_from_inside_a_runtime_and_stops_on_drop() {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = Sim::start_in_thread(addr, SimConfig::default()).unwrap();
    let url = format!("{}/models", sim.url());
    assert_eq!(Http::new().get(&url, None).await.status, 200);
    drop(sim);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        Http::new()
            .send(hyper::Method::GET, &url, None, None)
            .await
            .is_err()
    );
}
