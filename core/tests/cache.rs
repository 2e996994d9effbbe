//! The opt-in response cache: hit, miss, expiry on an injected clock, LRU eviction, and what
//! is never cached (streams, pinned requests, errors).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Sims, chat};
use serde_json::json;
use turnout::config::CacheConfig;
use turnout::{Client, ManualClock, Method, RequestOptions, Side};

const MODEL: &str = "gpt-4o-mini";

fn cache(max_entries: usize, ttl_secs: u64) -> CacheConfig {
    CacheConfig {
        enabled: true,
        max_entries,
        ttl: Duration::from_secs(ttl_secs),
    }
}

fn cached_client(sims: &Sims, config: CacheConfig, clock: &Arc<ManualClock>) -> Client {
    let config = sims
        .builder()
        .configure(move |c| c.cache = config)
        .into_config()
        .unwrap();
    Client::with_clock(config, clock.clone()).unwrap()
}

#[tokio::test]
async fn a_hit_skips_the_upstream_and_expires_after_the_ttl() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = cached_client(&sims, cache(100, 60), &clock);

    let first = client
        .chat()
        .create(chat(MODEL, "what is the capital of France?"))
        .await
        .unwrap();
    assert!(!first.route.cached);
    assert_eq!(sims.chats(Side::Blue), 1);

    // The same request, its keys in another order: a hit.
    let body = json!({
        "messages": [{"content": "what is the capital of France?", "role": "user"}],
        "model": MODEL,
    });
    clock.advance(Duration::from_secs(59));
    let hit = client
        .request_json(
            Method::POST,
            "/chat/completions",
            Some(body.clone()),
            RequestOptions::default(),
        )
        .await
        .unwrap();
    assert!(hit.route.cached);
    assert_eq!(hit.route.attempts, 0);
    assert_eq!(hit.route.cost_usd, Some(0.0));
    assert_eq!(hit.route.environment, first.route.environment);
    assert_eq!(hit.data["id"], json!(first.id));
    assert_eq!(
        sims.chats(Side::Blue),
        1,
        "a hit never reaches the upstream"
    );

    // A different request: a miss.
    let other = client
        .chat()
        .create(chat(MODEL, "and of Spain?"))
        .await
        .unwrap();
    assert!(!other.route.cached);
    assert_eq!(sims.chats(Side::Blue), 2);

    // After the TTL: a miss again, and the fresh answer is cached anew.
    clock.advance(Duration::from_secs(1));
    let again = client
        .chat()
        .create(chat(MODEL, "what is the capital of France?"))
        .await
        .unwrap();
    assert!(!again.route.cached);
    assert_eq!(sims.chats(Side::Blue), 3);
    let hit = client
        .chat()
        .create(chat(MODEL, "what is the capital of France?"))
        .await
        .unwrap();
    assert!(hit.route.cached);
    assert_eq!(hit.id, again.id);
    assert_eq!(sims.chats(Side::Blue), 3);

    let text = client.metrics_text();
    assert!(text.contains(r#"outcome="cached"} 2"#), "{text}");
    // Hits cost nothing: only the three upstream answers are charged.
    assert_eq!(client.costs().total.requests, 3);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_least_recently_used_answer_is_evicted_first() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = cached_client(&sims, cache(2, 3600), &clock);
    let ask = |q: &'static str| {
        let client = client.clone();
        async move { client.chat().create(chat(MODEL, q)).await.unwrap() }
    };
    assert!(!ask("a").await.route.cached);
    assert!(!ask("b").await.route.cached);
    assert!(ask("a").await.route.cached); // a is now the most recently used
    assert!(!ask("c").await.route.cached); // evicts b
    assert!(ask("a").await.route.cached);
    assert!(ask("c").await.route.cached);
    assert!(!ask("b").await.route.cached);
    assert_eq!(sims.chats(Side::Blue), 4);
    sims.shutdown().await;
}

#[tokio::test]
async fn streams_pinned_requests_and_errors_are_never_cached() {
    let sims = Sims::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = cached_client(&sims, cache(100, 3600), &clock);

    for _ in 0..2 {
        let stream = client.chat().stream(chat(MODEL, "stream")).await.unwrap();
        assert!(!stream.route().cached);
        stream.collect_all().await.unwrap();
    }
    assert_eq!(sims.chats(Side::Blue), 2);

    for _ in 0..2 {
        let resp = client
            .chat()
            .create(chat(MODEL, "pinned"))
            .environment(Side::Blue)
            .await
            .unwrap();
        assert!(!resp.route.cached);
    }
    assert_eq!(sims.chats(Side::Blue), 4);

    sims.fault(Side::Blue, common::always(400));
    client
        .chat()
        .create(chat(MODEL, "error"))
        .await
        .unwrap_err();
    sims.fault(Side::Blue, common::none());
    let resp = client.chat().create(chat(MODEL, "error")).await.unwrap();
    assert!(!resp.route.cached, "an error is not an answer to cache");
    assert_eq!(sims.chats(Side::Blue), 6);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_cache_is_off_by_default() {
    let sims = Sims::start().await;
    let client = sims.client();
    for _ in 0..2 {
        let resp = client.chat().create(chat(MODEL, "same")).await.unwrap();
        assert!(!resp.route.cached);
    }
    assert_eq!(sims.chats(Side::Blue), 2);
    sims.shutdown().await;
}

#[tokio::test]
async fn cache_settings_are_validated() {
    let sims = Sims::start().await;
    for (config, message) in [
        (cache(0, 60), "cache.max_entries must be >= 1, got 0"),
        (cache(10, 0), "cache.ttl must be > 0, got 0s"),
    ] {
        let err = sims
            .builder()
            .configure(move |c| c.cache = config)
            .build()
            .unwrap_err();
        assert_eq!(err.to_string(), format!("invalid configuration: {message}"));
    }
    sims.shutdown().await;
}

#[test]
fn the_config_sections_parse_with_defaults_and_reject_unknown_keys() {
    use turnout::config::{Config, Format};
    let base = "environments:\n  blue: {base_url: 'https://a.example/v1'}\n  green: {base_url: 'https://b.example/v1'}\n";
    let c = Config::from_str(base, Format::Yaml).unwrap();
    assert_eq!(c.cache, CacheConfig::default());
    assert!(!c.cache.enabled);
    assert_eq!(
        (c.cache.max_entries, c.cache.ttl),
        (1000, Duration::from_secs(300))
    );
    assert_eq!(c.metrics.listen, None);
    assert_eq!(c.cost_tag, "team");

    let yaml = format!(
        "{base}cache: {{enabled: true, max_entries: 50, ttl: 1.5}}\nmetrics: {{listen: '127.0.0.1:9464'}}\ncost_tag: project\n"
    );
    let c = Config::from_str(&yaml, Format::Yaml).unwrap();
    assert_eq!(
        c.cache,
        CacheConfig {
            enabled: true,
            max_entries: 50,
            ttl: Duration::from_millis(1500),
        }
    );
    assert_eq!(c.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert_eq!(c.cost_tag, "project");

    let err = Config::from_str(&format!("{base}cache: {{enabeld: true}}\n"), Format::Yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("enabeld") && err.contains("enabled"), "{err}");
    let err = Config::from_str(
        &format!("{base}metrics: {{listen: 'nowhere'}}\n"),
        Format::Yaml,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("metrics.listen"), "{err}");
}
