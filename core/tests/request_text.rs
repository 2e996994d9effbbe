//! `Client::request_text`, the bindings' path: a body given as JSON text goes upstream as it
//! came when nothing needs it decoded, routing reads `model` and `user` from it, and the
//! answer comes back as the side sent it. Where something needs the body decoded (the cache,
//! a field naming a stored object), it is, and routing is the same as `request_json`'s.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use common::*;
use turnout::config::CacheConfig;
use turnout::{Client, Error, Method, RequestOptions, Side};

/// What an upstream saw: each request body, as bytes.
type Seen = Arc<Mutex<Vec<String>>>;

/// An upstream that records request bodies and answers with `answer` as it is.
async fn recording(answer: &'static str) -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                |State(s): State<(Seen, &'static str)>, body: String| async move {
                    s.0.lock().map(|mut v| v.push(body)).ok();
                    ([(header::CONTENT_TYPE, "application/json")], s.1).into_response()
                },
            ),
        )
        .with_state((Arc::clone(&seen), answer));
    (serve(app).await, seen)
}

fn bodies(seen: &Seen) -> Vec<String> {
    seen.lock().map(|v| v.clone()).unwrap_or_default()
}

/// Blue and green both at `url`; blue may map a model to its own name.
fn both_at(url: &str, blue_model: Option<(&str, &str)>) -> Client {
    let blue = match blue_model {
        Some((model, upstream)) => env(url, BLUE_KEY).model(model, upstream),
        None => env(url, BLUE_KEY),
    };
    fast(Client::builder().blue(blue).green(env(url, GREEN_KEY)))
        .build()
        .expect("client")
}

/// `text` sent to `path` with no routing options.
async fn send(
    client: &Client,
    path: &str,
    text: &str,
) -> turnout::Result<turnout::Routed<Box<serde_json::value::RawValue>>> {
    client
        .request_text(
            Method::POST,
            path,
            Some(text.to_string().into()),
            RequestOptions::default(),
        )
        .await
}

/// A request body with nothing in it but the model.
const SHORT: &str = r#"{"model":"gpt-4.1","messages":[]}"#;

const ANSWER: &str = r#"{"id":"c-1", "object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"x_extra":1.50}"#;

#[tokio::test]
async fn the_text_goes_and_comes_back_as_it_is() {
    let (url, seen) = recording(ANSWER).await;
    let client = both_at(&url, None);
    // Spacing, key order and `0.50` would all change if the body were decoded and encoded.
    let body =
        r#"{ "temperature" : 0.50, "model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#;
    let routed = send(&client, "/chat/completions", body)
        .await
        .expect("answer");
    assert_eq!(bodies(&seen), vec![body.to_string()]);
    assert_eq!(routed.data.get(), ANSWER);
    assert_eq!(routed.route.model.as_deref(), Some("gpt-4.1"));
    assert_eq!(
        client.costs().total.prompt_tokens,
        3,
        "usage read from the text"
    );
}

#[tokio::test]
async fn routing_reads_user_and_model_from_the_text() {
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().expect("client");
    for i in 0..40 {
        let user = format!("user-{i}");
        let text = format!(
            r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"hi"}}],"user":"{user}"}}"#
        );
        let by_text = send(&client, "/chat/completions", &text)
            .await
            .expect("text");
        let by_value = client
            .request_json(
                Method::POST,
                "/chat/completions",
                Some(serde_json::from_str(&text).expect("json")),
                RequestOptions::default(),
            )
            .await
            .expect("value");
        assert_eq!(
            by_text.route.environment, by_value.route.environment,
            "{user}: the same sticky side either way"
        );
        assert_eq!(by_text.route.model.as_deref(), Some(MODEL));
    }
    assert!(sims.chats(Side::Blue) > 0 && sims.chats(Side::Green) > 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_side_s_model_name_is_written_into_the_text() {
    let (url, seen) = recording(ANSWER).await;
    let client = both_at(&url, Some(("gpt-4.1", "deploy-41")));
    let routed = send(&client, "/chat/completions", SHORT)
        .await
        .expect("answer");
    assert_eq!(routed.route.upstream_model.as_deref(), Some("deploy-41"));
    let sent: serde_json::Value = serde_json::from_str(&bodies(&seen)[0]).expect("json");
    assert_eq!(sent["model"], "deploy-41");
}

#[tokio::test]
async fn bad_text_is_refused_before_anything_is_sent() {
    let (url, seen) = recording(ANSWER).await;
    let client = both_at(&url, None);
    for bad in [r#"{"model":"gpt-4.1","#, "not json", ""] {
        let err = send(&client, "/chat/completions", bad)
            .await
            .expect_err(bad);
        assert!(
            matches!(&err, Error::Config(m) if m.contains("not valid JSON")),
            "{bad}: {err}"
        );
    }
    assert!(bodies(&seen).is_empty());
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_decode_failure() {
    let (url, _seen) = recording("<html>oops</html>").await;
    let client = both_at(&url, None);
    let err = send(&client, "/chat/completions", SHORT)
        .await
        .expect_err("not JSON");
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[tokio::test]
async fn the_cache_still_sees_the_decoded_body() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| {
            c.cache = CacheConfig {
                enabled: true,
                ..CacheConfig::default()
            }
        })
        .build()
        .expect("client");
    let text = format!(r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"same"}}]}}"#);
    let first = send(&client, "/chat/completions", &text)
        .await
        .expect("first");
    let second = send(&client, "/chat/completions", &text)
        .await
        .expect("second");
    assert!(!first.route.cached);
    assert!(second.route.cached);
    assert_eq!(first.data.get(), second.data.get());
    assert_eq!(sims.chats(Side::Blue) + sims.chats(Side::Green), 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_body_naming_a_stored_response_goes_where_it_lives() {
    // Under a 50 % canary without a routing key, only affinity keeps the follow-up on the
    // side that stored the response; the other side answers 404.
    let sims = Sims::start().await;
    let client = sims.builder().canary_weight(50.0).build().expect("client");
    for i in 0..20 {
        let first = send(
            &client,
            "/responses",
            &format!(r#"{{"model":"{MODEL}","input":"hello {i}"}}"#),
        )
        .await
        .expect("create");
        let stored: serde_json::Value = serde_json::from_str(first.data.get()).expect("json");
        let id = stored["id"].as_str().expect("id");
        let next = send(
            &client,
            "/responses",
            &format!(r#"{{"model":"{MODEL}","input":"again","previous_response_id":"{id}"}}"#),
        )
        .await
        .expect("follow-up on the side that has it");
        assert_eq!(next.route.environment, first.route.environment, "{id}");
    }
    sims.shutdown().await;
}
