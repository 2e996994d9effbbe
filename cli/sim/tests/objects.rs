//! `/v1/files` (multipart), `/v1/batches` and `/v1/audio/speech`: objects kept per simulator,
//! bytes returned as uploaded, binary answers.

mod common;

use common::{Answer, Http, multipart};
use hyper::Method;
use serde_json::{Value, json};
use turnout_sim::{Faults, Sim, SimConfig};

/// Some bytes that are not UTF-8, CRLFs and a line that looks like a boundary included.
fn payload() -> Vec<u8> {
    let mut bytes = b"{\"custom_id\":\"1\"}\r\n--sim-test-boundary\r\n".to_vec();
    bytes.extend((0u8..=255).rev());
    bytes
}

async fn upload(http: &Http, sim: &Sim, purpose: &str, bytes: &[u8]) -> Answer {
    let (content_type, body) = multipart(&[("purpose", purpose)], Some(("input.jsonl", bytes)));
    http.send_raw(
        Method::POST,
        &format!("{}/files", sim.url()),
        &[("content-type", &content_type)],
        body,
    )
    .await
    .expect("upload")
}

#[tokio::test]
async fn files_are_uploaded_listed_read_back_and_deleted() {
    let sim = Sim::start(SimConfig::named("blue")).await.unwrap();
    let http = Http::new();
    let bytes = payload();
    let answer = upload(&http, &sim, "batch", &bytes).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let file = answer.json();
    let id = file["id"].as_str().unwrap();
    assert!(id.starts_with("file-"), "{id}");
    assert_eq!(file["object"], "file");
    assert_eq!(file["bytes"], bytes.len());
    assert_eq!(file["filename"], "input.jsonl");
    assert_eq!(file["purpose"], "batch");
    assert_eq!(file["status"], "processed");
    let other = upload(&http, &sim, "assistants", b"x").await.json();

    let url = format!("{}/files/{id}", sim.url());
    assert_eq!(http.get(&url, None).await.json(), file);
    let content = http.get(&format!("{url}/content"), None).await;
    assert_eq!(content.status, 200);
    assert_eq!(
        content.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(content.body, bytes);

    let list = http.get(&format!("{}/files", sim.url()), None).await.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let ids: Vec<&Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["id"])
        .collect();
    assert_eq!(ids, [&other["id"], &file["id"]], "newest first");
    let batch_only = http
        .get(&format!("{}/files?purpose=batch", sim.url()), None)
        .await
        .json();
    assert_eq!(batch_only["data"], json!([file]));

    let deleted = http.delete(&url).await;
    assert_eq!(
        deleted.json(),
        json!({"id": id, "object": "file", "deleted": true})
    );
    for gone in [
        http.get(&url, None).await,
        http.get(&format!("{url}/content"), None).await,
        http.delete(&url).await,
    ] {
        assert_eq!(gone.status, 404);
        assert_eq!(
            gone.json()["error"]["message"],
            format!("No such File object: {id}")
        );
    }
    let stats = sim.stats();
    // Two uploads and two listings (the query is not part of the path).
    assert_eq!(stats.by_path["/v1/files"], 4);
    assert_eq!(stats.by_path[&format!("/v1/files/{id}/content")], 2);
}

#[tokio::test]
async fn uploads_name_the_missing_field() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/files", sim.url());
    let cases = [
        multipart(&[("purpose", "batch")], None),
        multipart(&[], Some(("a.jsonl", b"{}"))),
    ];
    for ((content_type, body), param) in cases.into_iter().zip(["file", "purpose"]) {
        let answer = http
            .send_raw(Method::POST, &url, &[("content-type", &content_type)], body)
            .await
            .unwrap();
        assert_eq!(answer.status, 400);
        let error = &answer.json()["error"];
        assert_eq!(error["param"], param);
        assert_eq!(
            error["message"],
            format!("Missing required parameter: '{param}'.")
        );
    }
    let json_body = http.post(&url, None, "{\"purpose\":\"batch\"}").await;
    assert_eq!(json_body.status, 400);
    assert!(
        json_body.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data")
    );
}

async fn create_batch(http: &Http, sim: &Sim, file_id: &str) -> Answer {
    let body = json!({
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"job": "nightly"},
    });
    http.post(&format!("{}/batches", sim.url()), None, &body.to_string())
        .await
}

#[tokio::test]
async fn batches_need_a_file_of_the_same_simulator() {
    let blue = Sim::start(SimConfig::named("blue")).await.unwrap();
    let green = Sim::start(SimConfig::named("green")).await.unwrap();
    let http = Http::new();
    let file = upload(&http, &blue, "batch", b"{}\n").await.json();
    let file_id = file["id"].as_str().unwrap();
    // The same upload on green makes another id: green never has blue's.
    let green_file = upload(&http, &green, "batch", b"{}\n").await.json();
    assert_ne!(green_file["id"], file["id"]);
    assert_eq!(
        http.get(&format!("{}/files/{file_id}", green.url()), None)
            .await
            .status,
        404
    );

    let wrong_side = create_batch(&http, &green, file_id).await;
    assert_eq!(wrong_side.status, 404);
    assert_eq!(wrong_side.json()["error"]["param"], "input_file_id");

    let batch = create_batch(&http, &blue, file_id).await;
    assert_eq!(batch.status, 200);
    let batch = batch.json();
    let id = batch["id"].as_str().unwrap();
    assert!(id.starts_with("batch_"), "{id}");
    assert_eq!(batch["object"], "batch");
    assert_eq!(batch["status"], "validating");
    assert_eq!(batch["input_file_id"], file_id);
    assert_eq!(batch["endpoint"], "/v1/chat/completions");
    assert_eq!(batch["completion_window"], "24h");
    assert_eq!(batch["metadata"], json!({"job": "nightly"}));
    assert_eq!(
        batch["request_counts"],
        json!({"total": 0, "completed": 0, "failed": 0})
    );

    let url = format!("{}/batches/{id}", blue.url());
    assert_eq!(http.get(&url, None).await.json(), batch);
    assert_eq!(
        http.get(&format!("{}/batches/{id}", green.url()), None)
            .await
            .status,
        404
    );
    let list = http
        .get(&format!("{}/batches", blue.url()), None)
        .await
        .json();
    assert_eq!(list["data"], json!([batch]));

    let cancel = http.post(&format!("{url}/cancel"), None, "").await;
    assert_eq!(cancel.status, 200);
    assert_eq!(cancel.json()["status"], "cancelling");
    let after = http.get(&url, None).await.json();
    assert_eq!(after["status"], "cancelled");
    assert!(after["cancelled_at"].as_u64().is_some());
    let unknown = http
        .post(
            &format!("{}/batches/batch_nope/cancel", blue.url()),
            None,
            "",
        )
        .await;
    assert_eq!(unknown.status, 404);
    let no_endpoint = http
        .post(
            &format!("{}/batches", blue.url()),
            None,
            &json!({"input_file_id": file_id, "completion_window": "24h"}).to_string(),
        )
        .await;
    assert_eq!(no_endpoint.status, 400);
    assert_eq!(no_endpoint.json()["error"]["param"], "endpoint");
}

async fn speech(http: &Http, sim: &Sim, body: Value) -> Answer {
    http.post(
        &format!("{}/audio/speech", sim.url()),
        None,
        &body.to_string(),
    )
    .await
}

#[tokio::test]
async fn speech_answers_deterministic_audio_bytes() {
    let a = Sim::start(SimConfig::named("a")).await.unwrap();
    let b = Sim::start(SimConfig::named("b")).await.unwrap();
    let http = Http::new();
    let body = json!({"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hello, world"});
    let first = speech(&http, &a, body.clone()).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("audio/mpeg"));
    assert!(first.body.starts_with(b"ID3"));
    assert!(
        (2048..=16384).contains(&first.body.len()),
        "{}",
        first.body.len()
    );
    assert!(serde_json::from_slice::<Value>(&first.body).is_err());
    // The same request gives the same bytes, on any simulator; another input other bytes.
    assert_eq!(speech(&http, &b, body).await.body, first.body);
    let other = speech(
        &http,
        &a,
        json!({"model": "m", "voice": "alloy", "input": "Bye"}),
    )
    .await;
    assert_ne!(other.body, first.body);
    let wav = speech(
        &http,
        &a,
        json!({"model": "m", "voice": "alloy", "input": "x", "response_format": "wav"}),
    )
    .await;
    assert_eq!(wav.header("content-type"), Some("audio/wav"));
    for (body, param) in [
        (json!({"voice": "alloy", "input": "x"}), "model"),
        (json!({"model": "m", "voice": "alloy"}), "input"),
        (json!({"model": "m", "input": "x"}), "voice"),
    ] {
        let refused = speech(&http, &a, body).await;
        assert_eq!(refused.status, 400);
        assert_eq!(refused.json()["error"]["param"], param);
    }
    assert_eq!(a.stats().by_model["gpt-4o-mini-tts"], 1);
}

/// One request to replay under different faults.
struct Probe {
    method: Method,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

impl Probe {
    fn json(method: Method, path: &str, body: Value) -> Probe {
        Probe {
            method,
            path: path.to_owned(),
            content_type: "application/json".to_owned(),
            body: body.to_string().into_bytes(),
        }
    }

    async fn send(
        &self,
        http: &Http,
        sim: &Sim,
    ) -> Result<Answer, hyper_util::client::legacy::Error> {
        let url = format!("{}{}", sim.url(), self.path);
        let headers = [("content-type", self.content_type.as_str())];
        http.send_raw(self.method.clone(), &url, &headers, self.body.clone())
            .await
    }
}

#[tokio::test]
async fn faults_apply_to_every_new_endpoint() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let file = upload(&http, &sim, "batch", b"{}").await.json();
    let file_id = file["id"].as_str().unwrap();
    let (content_type, body) = multipart(&[("purpose", "batch")], Some(("f", b"x")));
    let probes = [
        Probe::json(
            Method::POST,
            "/responses",
            json!({"model": "m", "input": "x"}),
        ),
        Probe {
            method: Method::POST,
            path: "/files".to_owned(),
            content_type,
            body,
        },
        Probe::json(Method::GET, &format!("/files/{file_id}/content"), json!({})),
        Probe::json(
            Method::POST,
            "/batches",
            json!({"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"}),
        ),
        Probe::json(
            Method::POST,
            "/audio/speech",
            json!({"model": "m", "voice": "v", "input": "x"}),
        ),
    ];
    sim.set_faults(Faults {
        fail_next: probes.len() as u32,
        error_status: 503,
        should_retry: Some(false),
        ..Faults::default()
    });
    for probe in &probes {
        let answer = probe.send(&http, &sim).await.unwrap();
        assert_eq!(answer.status, 503, "{}", probe.path);
        assert_eq!(answer.header("x-should-retry"), Some("false"));
        assert_eq!(answer.json()["error"]["code"], "service_unavailable");
    }
    for probe in &probes {
        assert_eq!(
            probe.send(&http, &sim).await.unwrap().status,
            200,
            "{}",
            probe.path
        );
    }
    sim.set_faults(Faults {
        drop_connection: true,
        ..Faults::default()
    });
    for probe in &probes {
        assert!(
            probe.send(&http, &sim).await.is_err(),
            "{} answered",
            probe.path
        );
    }
    sim.set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let upload = probes[1].send(&http, &sim).await.unwrap();
    assert_eq!(upload.status, 200);
    assert!(serde_json::from_slice::<Value>(&upload.body).is_err());
    // Binary answers are left alone: there is no JSON to break.
    let audio = probes[4].send(&http, &sim).await.unwrap();
    assert_eq!(audio.header("content-type"), Some("audio/mpeg"));
    assert_eq!(audio.status, 200);
}
