//! Provider differences per environment (SEMANTICS.md, *Under the official SDKs*): how the key
//! is sent, a query on every request (Azure's `api-version`, also when written into the base
//! URL), and model names mapped per side — against a loopback upstream that demands each.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use turnout::{ApiKey, AuthStyle, Client, Environment, Side};

/// What the upstream saw of the last request.
#[derive(Default)]
struct Seen {
    query: Vec<(String, String)>,
    model: Option<String>,
}

#[derive(Clone)]
struct Upstream {
    /// The header that must carry the key, and its value.
    header: &'static str,
    value: String,
    seen: Arc<Mutex<Seen>>,
}

async fn answer(
    State(up): State<Upstream>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let ok = headers.get(up.header).and_then(|v| v.to_str().ok()) == Some(up.value.as_str());
    let others = ["authorization", "api-key", "x-api-key"]
        .into_iter()
        .filter(|h| *h != up.header)
        .any(|h| headers.contains_key(h));
    if !ok || others {
        return (StatusCode::UNAUTHORIZED, "wrong auth").into_response();
    }
    let model = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|b| b["model"].as_str().map(str::to_string));
    let query = reqwest::Url::parse(&format!("http://q/?{}", query.unwrap_or_default()))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(mut seen) = up.seen.lock() {
        *seen = Seen {
            query,
            model: model.clone(),
        };
    }
    let completion = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
        "model": model, "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "hi"}}]
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        completion.to_string(),
    )
        .into_response()
}

async fn upstream(header: &'static str, value: &str) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Upstream {
        header,
        value: value.to_string(),
        seen: Arc::clone(&seen),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(state);
    (serve(app).await, seen)
}

fn client_for(blue: Environment) -> Client {
    fast(
        Client::builder()
            .blue(blue)
            .green(env(&refused_url(), GREEN_KEY)),
    )
    .build()
    .expect("client")
}

#[tokio::test]
async fn each_auth_style_sends_the_key_where_the_provider_wants_it() {
    for (style, header, value) in [
        (
            AuthStyle::Bearer,
            "authorization",
            format!("Bearer {BLUE_KEY}"),
        ),
        (AuthStyle::ApiKey, "api-key", BLUE_KEY.to_string()),
        (AuthStyle::XApiKey, "x-api-key", BLUE_KEY.to_string()),
    ] {
        let (url, _) = upstream(header, &value).await;
        let client = client_for(Environment::new(url, ApiKey::new(BLUE_KEY)).auth(style));
        let answer = client
            .chat()
            .create(chat(MODEL, "hi"))
            .environment(Side::Blue)
            .await
            .unwrap_or_else(|e| panic!("{style:?}: {e}"));
        assert_eq!(answer.route.environment, Side::Blue);
    }
}

#[tokio::test]
async fn a_query_in_the_base_url_goes_after_the_path_with_the_configured_ones() {
    let (url, seen) = upstream("api-key", BLUE_KEY).await;
    let env = Environment::new(
        format!("{url}?api-version=2024-10-21"),
        ApiKey::new(BLUE_KEY),
    )
    .auth(AuthStyle::ApiKey)
    .query_param("tenant", "a b");
    let client = client_for(env);
    client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect("the path is /v1/chat/completions, the query after it");
    let query = seen.lock().map(|s| s.query.clone()).unwrap_or_default();
    assert!(
        query.contains(&("api-version".into(), "2024-10-21".into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("tenant".into(), "a b".into())),
        "{query:?}"
    );
}

#[tokio::test]
async fn a_sides_model_map_renames_the_model_for_that_side_only() {
    let (url, seen) = upstream("api-key", BLUE_KEY).await;
    let env = Environment::new(url, ApiKey::new(BLUE_KEY))
        .auth(AuthStyle::ApiKey)
        .model(MODEL, "prod-gpt41-deployment");
    let client = client_for(env);
    let answer = client
        .chat()
        .create(chat(MODEL, "hi"))
        .environment(Side::Blue)
        .await
        .expect("answer");
    assert_eq!(
        seen.lock().ok().and_then(|s| s.model.clone()).as_deref(),
        Some("prod-gpt41-deployment")
    );
    assert_eq!(answer.route.model.as_deref(), Some(MODEL));
    assert_eq!(
        answer.route.upstream_model.as_deref(),
        Some("prod-gpt41-deployment")
    );
}

#[test]
fn the_config_file_reads_auth_query_and_models() {
    let config = turnout::Config::from_value(serde_json::json!({
        "environments": {
            "blue": {"base_url": "https://r.openai.azure.com/openai/v1?api-version=preview",
                     "api_key": "k", "auth": "api-key",
                     "query": {"x": "1"}, "models": {"gpt-4.1": "dep-41"}},
            "green": {"base_url": "https://api.anthropic.com/v1/", "api_key": "k2",
                      "auth": "x-api-key"}
        }
    }))
    .expect("config");
    let blue = &config.environments.blue;
    assert_eq!(blue.base_url(), "https://r.openai.azure.com/openai/v1");
    assert_eq!(blue.auth_style(), AuthStyle::ApiKey);
    assert_eq!(blue.query()["api-version"], "preview");
    assert_eq!(blue.query()["x"], "1");
    assert_eq!(blue.upstream_model("gpt-4.1"), "dep-41");
    assert_eq!(config.environments.green.auth_style(), AuthStyle::XApiKey);
    let bad = turnout::Config::from_value(serde_json::json!({
        "environments": {
            "blue": {"base_url": "https://a/v1", "auth": "basic"},
            "green": {"base_url": "https://b/v1"}
        }
    }))
    .expect_err("unknown auth style");
    assert!(bad.to_string().contains("auth"), "{bad}");
}

#[tokio::test]
async fn the_simulator_demanding_each_auth_style_is_served_by_the_same_style() {
    use turnout_sim::{AuthStyle as SimAuth, Sim, SimConfig};
    let styles = [
        (AuthStyle::Bearer, SimAuth::Bearer),
        (AuthStyle::ApiKey, SimAuth::ApiKey),
        (AuthStyle::XApiKey, SimAuth::XApiKey),
    ];
    for (ours, theirs) in styles {
        let sim = Sim::start(
            SimConfig::named("p")
                .with_api_key(BLUE_KEY)
                .with_auth(theirs),
        )
        .await
        .expect("sim");
        let right = Environment::new(sim.url(), ApiKey::new(BLUE_KEY)).auth(ours);
        let client = fast(
            Client::builder()
                .blue(right)
                .green(env(&sim.url(), BLUE_KEY)),
        )
        .build()
        .expect("client");
        let opts = turnout::RequestOptions::default().environment(Side::Blue);
        let resp = client
            .chat()
            .create(chat("gpt-4.1", "hi"))
            .options(opts)
            .await;
        assert!(resp.is_ok(), "{ours:?}: {resp:?}");
        // The same key in the wrong header is refused: the style is what the side checks.
        let wrong = if ours == AuthStyle::Bearer {
            AuthStyle::XApiKey
        } else {
            AuthStyle::Bearer
        };
        let client = fast(
            Client::builder()
                .blue(Environment::new(sim.url(), ApiKey::new(BLUE_KEY)).auth(wrong))
                .green(env(&sim.url(), BLUE_KEY)),
        )
        .build()
        .expect("client");
        let opts = turnout::RequestOptions::default().environment(Side::Blue);
        let err = client
            .chat()
            .create(chat("gpt-4.1", "hi"))
            .options(opts)
            .await
            .expect_err("wrong header");
        assert_eq!(err.status(), Some(401), "{ours:?}");
        sim.shutdown().await;
    }
}
