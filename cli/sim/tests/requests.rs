//! `GET /_sim/requests`: what reached the simulator, header by header, credentials masked.

mod common;

use common::{Http, multipart};
use hyper::Method;
use turnout_sim::{Faults, Sim, SimConfig, SimRequest};

#[tokio::test]
async fn the_log_shows_every_header_with_credentials_masked() {
    let sim = Sim::start(SimConfig::default().with_api_key("sk-secret-abcd"))
        .await
        .unwrap();
    let http = Http::new();
    let (content_type, body) = multipart(&[("purpose", "batch")], Some(("f.jsonl", b"{}")));
    let length = body.len();
    let answer = http
        .send_raw(
            Method::POST,
            &format!("{}/files?trace=1", sim.url()),
            &[
                ("authorization", "Bearer sk-secret-abcd"),
                ("content-type", &content_type),
                ("idempotency-key", "idem-42"),
                ("openai-beta", "assistants=v2"),
                ("x-trace-id", "trace-7"),
            ],
            body,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    // Control requests are not logged.
    let logged = http
        .get(&format!("http://{}/_sim/requests", sim.addr()), None)
        .await;
    assert_eq!(logged.status, 200);
    let logged: Vec<SimRequest> = serde_json::from_slice(&logged.body).unwrap();
    assert_eq!(logged.len(), 1);
    let r = &logged[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/files?trace=1");
    assert_eq!(r.content_type.as_deref(), Some(content_type.as_str()));
    assert_eq!(r.body_length, length);
    assert_eq!(r.status, Some(200));
    assert_eq!(r.headers["authorization"], "Bearer ***abcd");
    assert_eq!(r.headers["idempotency-key"], "idem-42");
    assert_eq!(r.headers["openai-beta"], "assistants=v2");
    assert_eq!(r.headers["x-trace-id"], "trace-7");
    assert!(!serde_json::to_string(&logged).unwrap().contains("secret"));
    assert_eq!(sim.requests(), logged);
}

#[tokio::test]
async fn the_log_keeps_refusals_drops_and_wrong_paths_until_reset() {
    let sim = Sim::start(SimConfig::default().with_api_key("sk-k"))
        .await
        .unwrap();
    let http = Http::new();
    assert_eq!(
        http.get(&format!("{}/models", sim.url()), None)
            .await
            .status,
        401
    );
    assert_eq!(
        http.get(&format!("http://{}/chat/completions", sim.addr()), None)
            .await
            .status,
        404
    );
    sim.set_faults(Faults {
        drop_connection: true,
        ..Faults::default()
    });
    let dropped = http
        .send(
            Method::GET,
            &format!("{}/models", sim.url()),
            Some("sk-k"),
            None,
        )
        .await;
    assert!(dropped.is_err());
    let log = sim.requests();
    let seen: Vec<(&str, Option<u16>)> = log.iter().map(|r| (r.path.as_str(), r.status)).collect();
    assert_eq!(
        seen,
        [
            ("/v1/models", Some(401)),
            ("/chat/completions", Some(404)),
            ("/v1/models", None)
        ]
    );
    assert_eq!(log[2].headers["authorization"], "Bearer ***sk-k");
    let reset = http
        .post(&format!("http://{}/_sim/reset", sim.addr()), None, "")
        .await;
    assert_eq!(reset.status, 200);
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn the_log_holds_the_last_256() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    for i in 0..260 {
        http.get(&format!("{}/models?n={i}", sim.url()), None).await;
    }
    let log = sim.requests();
    assert_eq!(log.len(), 256);
    assert_eq!(log[0].path, "/v1/models?n=4");
    assert_eq!(log[255].path, "/v1/models?n=259");
}
