//! Each fault, observed from the client side.

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::{Http, chat_body, stream_body};
use hyper::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turnout_sim::{Faults, Sim, SimConfig};

async fn sim_with(faults: Faults) -> Sim {
    Sim::start(SimConfig::default().with_faults(faults))
        .await
        .unwrap()
}

#[tokio::test]
async fn error_rate_one_answers_error_status_with_openai_shape() {
    let sim = sim_with(Faults {
        error_rate: 1.0,
        error_status: 429,
        retry_after: Some(2.0),
        should_retry: Some(true),
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    for _ in 0..5 {
        let answer = http
            .post(
                &format!("{}/chat/completions", sim.url()),
                None,
                &chat_body("m", "x"),
            )
            .await;
        assert_eq!(answer.status, 429);
        let v = answer.json();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert!(v["error"]["message"].is_string());
        assert_eq!(answer.header("retry-after"), Some("2"));
        assert_eq!(answer.header("retry-after-ms"), None);
        assert_eq!(answer.header("x-should-retry"), Some("true"));
    }
    // Health probes fail too: a dead side must fail its probes.
    assert_eq!(
        http.get(&format!("{}/models", sim.url()), None)
            .await
            .status,
        429
    );

    sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let answer = http.get(&format!("{}/models", sim.url()), None).await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["error"]["type"], "server_error");
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(answer.header("x-should-retry"), None);
}

#[tokio::test]
async fn error_rate_half_fails_about_half() {
    let sim = sim_with(Faults {
        error_rate: 0.5,
        error_status: 503,
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let mut failed = 0;
    for _ in 0..200 {
        let status = http
            .get(&format!("{}/models", sim.url()), None)
            .await
            .status;
        assert!(status == 200 || status == 503);
        failed += usize::from(status == 503);
    }
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
}

#[tokio::test]
async fn fractional_retry_after_also_sends_retry_after_ms() {
    let sim = sim_with(Faults {
        fail_next: 1,
        error_status: 503,
        retry_after: Some(0.25),
        should_retry: Some(false),
        ..Faults::default()
    })
    .await;
    let answer = Http::new()
        .get(&format!("{}/models", sim.url()), None)
        .await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"]["code"], "service_unavailable");
    assert_eq!(answer.header("retry-after"), Some("0.25"));
    assert_eq!(answer.header("retry-after-ms"), Some("250"));
    assert_eq!(answer.header("x-should-retry"), Some("false"));
}

#[tokio::test]
async fn fail_next_fails_exactly_that_many() {
    let sim = sim_with(Faults {
        fail_next: 2,
        error_status: 502,
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let url = format!("{}/chat/completions", sim.url());
    assert_eq!(
        http.post(&url, None, &chat_body("m", "1")).await.status,
        502
    );
    assert_eq!(sim.faults().fail_next, 1);
    assert_eq!(
        http.post(&url, None, &chat_body("m", "2")).await.status,
        502
    );
    assert_eq!(sim.faults().fail_next, 0);
    for _ in 0..3 {
        assert_eq!(
            http.post(&url, None, &chat_body("m", "3")).await.status,
            200
        );
    }
}

#[tokio::test]
async fn auth_is_checked_before_injected_errors() {
    let sim = Sim::start(
        SimConfig::default()
            .with_api_key("sk-good")
            .with_faults(Faults {
                fail_next: 1,
                ..Faults::default()
            }),
    )
    .await
    .unwrap();
    let http = Http::new();
    let url = format!("{}/models", sim.url());
    assert_eq!(http.get(&url, Some("sk-bad")).await.status, 401);
    assert_eq!(
        sim.faults().fail_next,
        1,
        "a 401 does not consume fail_next"
    );
    assert_eq!(http.get(&url, Some("sk-good")).await.status, 500);
    assert_eq!(http.get(&url, Some("sk-good")).await.status, 200);
}

// Paused tokio time: the simulator's delays are tokio sleeps, so the virtual clock measures them
// exactly, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn latency_delays_the_answer() {
    let sim = sim_with(Faults {
        latency_ms: 150,
        jitter_ms: 20,
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let start = Instant::now();
    let answer = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &chat_body("m", "x"),
        )
        .await;
    assert_eq!(answer.status, 200);
    let elapsed = start.elapsed();
    // 150 ms plus at most 20 ms of jitter.
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(171), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn first_byte_delay_sends_headers_first() {
    let sim = sim_with(Faults {
        first_byte_delay_ms: 200,
        ..Faults::default()
    })
    .await;
    let answer = Http::new()
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &stream_body("m", "x y", false),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.head_after, Duration::ZERO, "headers came at once");
    assert!(
        answer.done_after >= Duration::from_millis(200)
            && answer.done_after < Duration::from_millis(250),
        "{:?}",
        answer.done_after
    );
    assert_eq!(answer.events().last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn truncate_after_cuts_the_stream_without_done() {
    let sim = sim_with(Faults {
        truncate_after: Some(2),
        ..Faults::default()
    })
    .await;
    let answer = Http::new()
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &stream_body("m", "one two three four", true),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.body_error, "the body must end abruptly");
    let events = answer.events();
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    // The role chunk and exactly two content chunks, all valid JSON.
    assert_eq!(events.len(), 3, "{events:?}");
    let content: String = events[1..]
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            assert_eq!(v["choices"][0]["finish_reason"], serde_json::Value::Null);
            v["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(content, "Echo:");
}

#[tokio::test]
async fn malformed_json_is_not_json() {
    let sim = sim_with(Faults {
        malformed_json: true,
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let chat = format!("{}/chat/completions", sim.url());
    let answer = http.post(&chat, None, &chat_body("m", "x")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());

    let stream = http.post(&chat, None, &stream_body("m", "x", false)).await;
    assert_eq!(stream.status, 200);
    let events = stream.events();
    assert!(
        serde_json::from_str::<serde_json::Value>(&events[0]).is_err(),
        "{events:?}"
    );

    for answer in [
        http.get(&format!("{}/models", sim.url()), None).await,
        http.post(
            &format!("{}/embeddings", sim.url()),
            None,
            r#"{"model":"e","input":"x"}"#,
        )
        .await,
    ] {
        assert_eq!(answer.status, 200);
        assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
    }
}

#[tokio::test]
async fn drop_connection_closes_without_an_http_answer() {
    let sim = sim_with(Faults {
        drop_connection: true,
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let result = http
        .send(
            Method::POST,
            &format!("{}/chat/completions", sim.url()),
            None,
            Some(&chat_body("m", "x")),
        )
        .await;
    let err = result.expect_err("a connection error, not an HTTP status");
    assert!(
        !err.is_connect(),
        "the connection was made, then dropped: {err:?}"
    );

    // On the wire: the server closes the socket and sends not a single byte.
    let mut socket = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    socket
        .write_all(b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut received))
        .await
        .expect("closed promptly");
    assert!(read.is_err() || received.is_empty(), "{received:?}");

    // The control endpoints still answer, so the fault can be lifted.
    sim.set_faults(Faults::default());
    assert_eq!(
        http.get(&format!("{}/models", sim.url()), None)
            .await
            .status,
        200
    );
    assert_eq!(sim.stats().by_status.get(&200), Some(&1));
    assert_eq!(sim.stats().total, 3);
}

#[tokio::test]
async fn missing_models_answer_404_model_not_found() {
    let sim = sim_with(Faults {
        missing_models: vec!["gpt-4o".into(), "text-embedding-3-small".into()],
        should_retry: Some(false),
        ..Faults::default()
    })
    .await;
    let http = Http::new();
    let answer = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &chat_body("gpt-4o", "x"),
        )
        .await;
    assert_eq!(answer.status, 404);
    let v = answer.json();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-4o"));
    assert_eq!(answer.header("x-should-retry"), Some("false"));
    let embed = http
        .post(
            &format!("{}/embeddings", sim.url()),
            None,
            r#"{"model":"text-embedding-3-small","input":"x"}"#,
        )
        .await;
    assert_eq!(embed.status, 404);
    // Other models still answer; the listing hides the missing ones.
    let ok = http
        .post(
            &format!("{}/chat/completions", sim.url()),
            None,
            &chat_body("gpt-4o-mini", "x"),
        )
        .await;
    assert_eq!(ok.status, 200);
    let list = http
        .get(&format!("{}/models", sim.url()), None)
        .await
        .json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"gpt-4o") && ids.contains(&"gpt-4o-mini"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn faults_change_at_run_time() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let url = format!("{}/models", sim.url());
    assert_eq!(http.get(&url, None).await.status, 200);
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    assert_eq!(sim.faults().error_status, 503);
    assert_eq!(http.get(&url, None).await.status, 503);
    sim.set_faults(Faults::default());
    assert_eq!(http.get(&url, None).await.status, 200);
}
