//! `/_sim/*`: faults and stats over HTTP.

mod common;

use common::{Http, chat_body};
use hyper::Method;
use serde_json::json;
use turnout_sim::{Faults, Sim, SimConfig, SimStats};

#[tokio::test]
async fn faults_endpoint_reads_and_replaces_faults() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let base = format!("http://{}/_sim", sim.addr());

    let current = http.get(&format!("{base}/faults"), None).await.json();
    assert_eq!(current["error_status"], 500);
    assert_eq!(current["error_rate"], 0.0);

    let answer = http
        .post(
            &format!("{base}/faults"),
            None,
            r#"{"fail_next": 1, "error_status": 429}"#,
        )
        .await;
    assert_eq!(answer.status, 200);
    let v = answer.json();
    assert_eq!(v["fail_next"], 1);
    assert_eq!(v["error_status"], 429);
    assert_eq!(v["drop_connection"], false);
    assert_eq!(sim.faults().error_status, 429);

    let api = format!("{}/chat/completions", sim.url());
    assert_eq!(
        http.post(&api, None, &chat_body("m", "x")).await.status,
        429
    );
    assert_eq!(
        http.post(&api, None, &chat_body("m", "x")).await.status,
        200
    );
    assert_eq!(
        http.get(&format!("{base}/faults"), None).await.json()["fail_next"],
        0
    );

    // POST changes only the fields given, like PATCH: the 429 status stays.
    http.post(&format!("{base}/faults"), None, r#"{"latency_ms": 1}"#)
        .await;
    assert_eq!(sim.faults().error_status, 429);
    assert_eq!(sim.faults().latency_ms, 1);
}

#[tokio::test]
async fn patch_changes_the_given_knobs_put_replaces_delete_clears() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("http://{}/_sim/faults", sim.addr());
    let send = |method: Method, body: Option<&'static str>| {
        let http = &http;
        let url = url.clone();
        async move { http.send(method, &url, None, body).await.expect("sent") }
    };

    let first = send(
        Method::PATCH,
        Some(r#"{"error_rate": 0.5, "error_status": 503}"#),
    )
    .await;
    assert_eq!(first.status, 200);
    let second = send(Method::PATCH, Some(r#"{"latency_ms": 7}"#))
        .await
        .json();
    assert_eq!(second["error_rate"], 0.5, "PATCH keeps the knobs not given");
    assert_eq!(second["error_status"], 503);
    assert_eq!(second["latency_ms"], 7);

    let typo = send(Method::PATCH, Some(r#"{"latency_sm": 7}"#)).await;
    assert_eq!(typo.status, 400);
    assert!(typo.text().contains("latency_sm"), "{}", typo.text());
    let range = send(Method::PATCH, Some(r#"{"error_rate": 2}"#)).await;
    assert_eq!(range.json()["error"]["param"], "error_rate");
    assert_eq!(
        sim.faults().error_rate,
        0.5,
        "a refused PATCH changes nothing"
    );

    let replaced = send(Method::PUT, Some(r#"{"fail_next": 2}"#)).await.json();
    assert_eq!(replaced["fail_next"], 2);
    assert_eq!(
        replaced["error_rate"], 0.0,
        "PUT resets the knobs not given"
    );
    assert_eq!(replaced["latency_ms"], 0);
    assert_eq!(replaced["error_status"], 500);

    sim.set_faults(Faults {
        drop_connection: true,
        missing_models: vec!["m".into()],
        ..Faults::default()
    });
    let cleared = send(Method::DELETE, None).await;
    assert_eq!(cleared.status, 200);
    assert_eq!(sim.faults(), Faults::default());

    let mut changes = serde_json::Map::new();
    changes.insert("jitter_ms".into(), json!(3));
    assert_eq!(sim.patch_faults(changes).unwrap().jitter_ms, 3);
}

/// The statuses of `n` sequential chat calls.
async fn statuses(sim: &Sim, http: &Http, n: usize) -> Vec<u16> {
    let api = format!("{}/chat/completions", sim.url());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(http.post(&api, None, &chat_body("m", "x")).await.status);
    }
    out
}

#[tokio::test]
async fn a_seed_gives_the_same_fault_sequence_and_reset_replays_it() {
    let faults = Faults {
        error_rate: 0.5,
        ..Faults::default()
    };
    let http = Http::new();
    let config = || {
        SimConfig::default()
            .with_faults(faults.clone())
            .with_seed(42)
    };
    let a = Sim::start(config()).await.unwrap();
    let b = Sim::start(config()).await.unwrap();
    let first = statuses(&a, &http, 40).await;
    assert_eq!(
        first,
        statuses(&b, &http, 40).await,
        "same seed, same sequence"
    );
    assert!(
        first.contains(&500) && first.contains(&200),
        "a 50% rate mixes outcomes: {first:?}"
    );

    http.post(&format!("http://{}/_sim/reset", a.addr()), None, "")
        .await;
    assert_eq!(
        statuses(&a, &http, 40).await,
        first,
        "reset replays the sequence"
    );

    let other = Sim::start(SimConfig::default().with_faults(faults).with_seed(7))
        .await
        .unwrap();
    assert_ne!(
        statuses(&other, &http, 40).await,
        first,
        "another seed, another sequence"
    );
}

#[tokio::test]
async fn faults_endpoint_rejects_bad_documents() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("http://{}/_sim/faults", sim.addr());
    for (body, param) in [
        (r#"{"error_rate": 1.5}"#, json!("error_rate")),
        (r#"{"error_status": 200}"#, json!("error_status")),
        (r#"{"retry_after": -1}"#, json!("retry_after")),
        (r#"{"eror_rate": 0.5}"#, json!(null)),
        ("nope", json!(null)),
    ] {
        let answer = http.post(&url, None, body).await;
        assert_eq!(answer.status, 400, "{body}");
        let v = answer.json();
        assert_eq!(v["error"]["param"], param, "{body}");
    }
    let typo = http.post(&url, None, r#"{"eror_rate": 0.5}"#).await.json();
    assert!(
        typo["error"]["message"]
            .as_str()
            .unwrap()
            .contains("eror_rate")
    );
    let range = http.post(&url, None, r#"{"error_rate": 1.5}"#).await.json();
    assert_eq!(
        range["error"]["message"],
        "error_rate must be within 0..=1, got 1.5"
    );
    assert_eq!(sim.faults(), Faults::default());
}

#[tokio::test]
async fn stats_count_paths_models_statuses_and_key_fingerprints() {
    let sim = Sim::start(SimConfig::default().with_api_key("sk-live-abcd"))
        .await
        .unwrap();
    let http = Http::new();
    let chat = format!("{}/chat/completions", sim.url());
    let key = Some("sk-live-abcd");
    http.post(&chat, key, &chat_body("gpt-4o", "a")).await;
    http.post(&chat, key, &chat_body("gpt-4o", "b")).await;
    http.post(&chat, key, &chat_body("gpt-4o-mini", "c")).await;
    http.post(&chat, Some("sk-other-wxyz"), &chat_body("gpt-4o", "d"))
        .await;
    http.post(
        &format!("{}/embeddings", sim.url()),
        key,
        r#"{"model":"emb","input":"x"}"#,
    )
    .await;
    http.get(&format!("{}/models", sim.url()), None).await;
    // Control calls are not counted.
    http.get(&format!("http://{}/_sim/faults", sim.addr()), None)
        .await;

    let expected = SimStats {
        total: 6,
        by_path: [
            ("/v1/chat/completions", 4),
            ("/v1/embeddings", 1),
            ("/v1/models", 1),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        by_model: [("gpt-4o", 3), ("gpt-4o-mini", 1), ("emb", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into(),
        by_status: [(200, 4), (401, 2)].into(),
        auth_keys_seen: [("abcd", 4), ("wxyz", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into(),
    };
    assert_eq!(sim.stats(), expected);

    let over_http = http
        .get(&format!("http://{}/_sim/stats", sim.addr()), None)
        .await;
    let parsed: SimStats = serde_json::from_slice(&over_http.body).unwrap();
    assert_eq!(parsed, expected);
    assert!(!over_http.text().contains("sk-live"));

    let reset = http
        .post(&format!("http://{}/_sim/reset", sim.addr()), None, "")
        .await;
    assert_eq!(reset.status, 200);
    assert_eq!(sim.stats(), SimStats::default());

    http.get(&format!("{}/models", sim.url()), key).await;
    assert_eq!(sim.stats().total, 1);
    sim.reset_stats();
    assert_eq!(sim.stats().total, 0);
}
