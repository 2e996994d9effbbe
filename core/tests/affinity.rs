//! Object affinity: a file uploaded to one side, and everything that names it, stays on that
//! side under a 50 % canary (SEMANTICS.md, *Under the official SDKs*). Two loopback upstreams
//! that each know only their own objects, so that a request on the wrong side is a real 404.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use turnout::{Client, Method, RequestOptions, Side};

#[derive(Clone)]
struct Store {
    name: &'static str,
    files: Arc<Mutex<HashSet<String>>>,
    next: Arc<AtomicU64>,
}

fn json(body: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn upload(State(s): State<Store>) -> Response {
    let id = format!("file-{}{}", s.name, s.next.fetch_add(1, Ordering::Relaxed));
    s.files.lock().map(|mut f| f.insert(id.clone())).ok();
    json(serde_json::json!({"id": id, "object": "file", "purpose": "batch"}))
}

async fn read(State(s): State<Store>, Path(id): Path<String>) -> Response {
    if s.files.lock().is_ok_and(|f| f.contains(&id)) {
        json(serde_json::json!({"id": id, "object": "file"}))
    } else {
        (
            StatusCode::NOT_FOUND,
            r#"{"error":{"message":"no such file"}}"#,
        )
            .into_response()
    }
}

async fn batch(State(s): State<Store>, body: String) -> Response {
    let file = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|b| b["input_file_id"].as_str().map(str::to_string))
        .unwrap_or_default();
    if !s.files.lock().is_ok_and(|f| f.contains(&file)) {
        return (
            StatusCode::NOT_FOUND,
            r#"{"error":{"message":"no such file"}}"#,
        )
            .into_response();
    }
    json(serde_json::json!({"id": format!("batch_{}", s.name), "input_file_id": file}))
}

async fn upstream(name: &'static str) -> String {
    let store = Store {
        name,
        files: Arc::default(),
        next: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/files", post(upload))
        .route("/v1/files/{id}", get(read))
        .route("/v1/batches", post(batch))
        .with_state(store);
    serve(app).await
}

async fn client() -> Client {
    let blue = upstream("blue").await;
    let green = upstream("green").await;
    fast(
        Client::builder()
            .blue(env(&blue, BLUE_KEY))
            .green(env(&green, GREEN_KEY)),
    )
    .canary_weight(50.0)
    .build()
    .expect("client")
}

#[tokio::test]
async fn a_batch_goes_where_its_file_is_under_a_50_percent_canary() {
    let client = client().await;
    let mut sides = HashSet::new();
    for _ in 0..100 {
        let file = client
            .request_json(
                Method::POST,
                "/files",
                Some(serde_json::json!({"purpose": "batch"})),
                RequestOptions::default(),
            )
            .await
            .expect("upload");
        let id = file.data["id"].as_str().unwrap_or_default().to_string();
        sides.insert(file.route.environment);
        let batch = client
            .request_json(
                Method::POST,
                "/batches",
                Some(serde_json::json!({"input_file_id": id, "endpoint": "/v1/chat/completions"})),
                RequestOptions::default(),
            )
            .await
            .expect("the batch lands where the file is");
        assert_eq!(batch.route.environment, file.route.environment);
        assert_eq!(batch.route.reason, "affinity");
        assert_eq!(batch.route.attempts, 1);
        // The batch itself is an object of that side too.
        let batch_id = batch.data["id"].as_str().unwrap_or_default();
        assert!(batch_id.ends_with(file.route.environment.as_str()));
    }
    assert_eq!(sides.len(), 2, "the canary split the uploads");
}

#[tokio::test]
async fn an_unknown_object_is_looked_for_once_on_the_other_side() {
    let blue = upstream("blue").await;
    let green = upstream("green").await;
    // A process that did not see the upload (another instance, or a restart).
    let uploader = fast(
        Client::builder()
            .blue(env(&blue, BLUE_KEY))
            .green(env(&green, GREEN_KEY)),
    )
    .build()
    .expect("client");
    let file = uploader
        .request_json(
            Method::POST,
            "/files",
            None,
            RequestOptions::default().environment(Side::Green),
        )
        .await
        .expect("upload");
    let id = file.data["id"].as_str().unwrap_or_default().to_string();
    let reader = fast(
        Client::builder()
            .blue(env(&blue, BLUE_KEY))
            .green(env(&green, GREEN_KEY)),
    )
    .build()
    .expect("client");
    let found = reader
        .request_json(
            Method::GET,
            &format!("/files/{id}"),
            None,
            RequestOptions::default(),
        )
        .await
        .expect("found on green after blue's 404");
    assert_eq!(found.route.environment, Side::Green);
    assert_eq!(found.route.attempts, 2);
    let again = reader
        .request_json(
            Method::GET,
            &format!("/files/{id}"),
            None,
            RequestOptions::default(),
        )
        .await
        .expect("now known");
    assert_eq!(
        (again.route.environment, again.route.attempts),
        (Side::Green, 1)
    );
    assert_eq!(again.route.reason, "affinity");
}
