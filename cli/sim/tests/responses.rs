//! `/v1/responses`: JSON and SSE shapes, usage, what each simulator remembers.

mod common;

use common::{Http, named_events};
use serde_json::{Value, json};
use turnout_sim::{Faults, Sim, SimConfig};

async fn create(http: &Http, sim: &Sim, body: Value) -> common::Answer {
    http.post(&format!("{}/responses", sim.url()), None, &body.to_string())
        .await
}

#[tokio::test]
async fn response_object_echoes_the_input_with_usage() {
    let sim = Sim::start(SimConfig::named("blue")).await.unwrap();
    let http = Http::new();
    let answer = create(
        &http,
        &sim,
        json!({"model": "gpt-4.1", "input": "Hello there, responses", "metadata": {"k": "v"}}),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let v = answer.json();
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("resp_"), "{id}");
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "gpt-4.1");
    assert_eq!(v["store"], true);
    assert_eq!(v["metadata"], json!({"k": "v"}));
    assert_eq!(v["previous_response_id"], Value::Null);
    let item = &v["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert!(item["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "Echo: Hello there, responses");
    // "Hello there, responses" = 22 chars → 6 tokens; "Echo: Hello there, responses" = 28 → 7.
    assert_eq!(
        v["usage"],
        json!({
            "input_tokens": 6,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 13,
        })
    );
    assert_eq!(sim.stats().by_path["/v1/responses"], 1);
    assert_eq!(sim.stats().by_model["gpt-4.1"], 1);
}

#[tokio::test]
async fn stored_responses_are_read_continued_and_deleted() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let first = create(&http, &sim, json!({"model": "m", "input": "first turn"}))
        .await
        .json();
    let id = first["id"].as_str().unwrap();
    let url = format!("{}/responses/{id}", sim.url());
    let read = http.get(&url, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), first);

    let second = create(
        &http,
        &sim,
        json!({"model": "m", "input": [{"role": "user", "content": "second turn"}], "previous_response_id": id}),
    )
    .await;
    assert_eq!(second.status, 200);
    let second = second.json();
    assert_eq!(second["previous_response_id"], id);
    assert_eq!(
        second["output"][0]["content"][0]["text"],
        "Echo: second turn"
    );
    // The first turn's whole conversation counts as cached input of the second.
    let cached = first["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(
        second["usage"]["input_tokens_details"]["cached_tokens"],
        cached
    );
    assert_eq!(second["usage"]["input_tokens"], cached + 3);

    let deleted = http.delete(&url).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.json(),
        json!({"id": id, "object": "response", "deleted": true})
    );
    assert_eq!(http.get(&url, None).await.status, 404);
    assert_eq!(http.delete(&url).await.status, 404);
    let orphan = create(
        &http,
        &sim,
        json!({"model": "m", "input": "x", "previous_response_id": id}),
    )
    .await;
    assert_eq!(orphan.status, 404);
}

#[tokio::test]
async fn store_false_is_not_kept() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let v = create(
        &http,
        &sim,
        json!({"model": "m", "input": "x", "store": false}),
    )
    .await
    .json();
    assert_eq!(v["store"], false);
    let read = http
        .get(
            &format!("{}/responses/{}", sim.url(), v["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(read.status, 404);
}

#[tokio::test]
async fn another_simulator_has_none_of_the_responses() {
    let blue = Sim::start(SimConfig::named("blue")).await.unwrap();
    let green = Sim::start(SimConfig::named("green")).await.unwrap();
    let http = Http::new();
    let on_blue = create(&http, &blue, json!({"model": "m", "input": "x"}))
        .await
        .json();
    let id = on_blue["id"].as_str().unwrap();
    let on_green = create(&http, &green, json!({"model": "m", "input": "x"}))
        .await
        .json();
    assert_ne!(on_green["id"], on_blue["id"]);

    let follow_up = create(
        &http,
        &green,
        json!({"model": "m", "input": "y", "previous_response_id": id}),
    )
    .await;
    assert_eq!(follow_up.status, 404);
    assert_eq!(follow_up.header("x-sim-name"), Some("green"));
    let error = &follow_up.json()["error"];
    assert_eq!(error["code"], "previous_response_not_found");
    assert_eq!(error["param"], "previous_response_id");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(
        error["message"],
        format!("Previous response with id '{id}' not found.")
    );
    let read = http
        .get(&format!("{}/responses/{id}", green.url()), None)
        .await;
    assert_eq!(read.status, 404);
    assert_eq!(read.json()["error"]["type"], "invalid_request_error");
}

const EVENTS: [&str; 9] = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
];

#[tokio::test]
async fn stream_sends_every_event_in_order_with_usage() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let body = json!({"model": "m", "input": "one two three", "stream": true});
    let answer = create(&http, &sim, body.clone()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("text/event-stream"));
    assert!(!answer.body_error);
    let events = named_events(&answer);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected: Vec<&str> = EVENTS[..4].to_vec();
    // "Echo", ":", " one", " two", " three": one delta each.
    expected.extend([EVENTS[4]; 5]);
    expected.extend(&EVENTS[5..]);
    assert_eq!(names, expected);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i);
    }
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Echo: one two three");
    let item_id = &events[2].1["item"]["id"];
    for (_, data) in &events[3..events.len() - 2] {
        assert_eq!(&data["item_id"], item_id);
        assert_eq!(data["output_index"], 0);
        assert_eq!(data["content_index"], 0);
    }
    assert_eq!(events[9].1["text"], "Echo: one two three");
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["output"][0]["content"][0]["text"],
        "Echo: one two three"
    );

    // The usage equals the non-streamed answer's, and the streamed response is kept.
    let whole = create(&http, &sim, json!({"model": "m", "input": "one two three"}))
        .await
        .json();
    assert_eq!(done["usage"], whole["usage"]);
    let read = http
        .get(
            &format!("{}/responses/{}", sim.url(), done["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(&read.json(), done);
}

#[tokio::test]
async fn max_output_tokens_ends_incomplete() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = Http::new();
    let body = json!({"model": "m", "input": "a b c", "max_output_tokens": 2, "stream": true});
    let events = named_events(&create(&http, &sim, body).await);
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(data["response"]["status"], "incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[tokio::test]
async fn stream_faults_cut_and_break_responses_streams() {
    let sim = Sim::start(SimConfig::default().with_faults(Faults {
        truncate_after: Some(2),
        ..Faults::default()
    }))
    .await
    .unwrap();
    let http = Http::new();
    let body = json!({"model": "m", "input": "one two three", "stream": true});
    let cut = create(&http, &sim, body.clone()).await;
    assert_eq!(cut.status, 200);
    assert!(cut.body_error, "the connection is cut mid-stream");
    let text = cut.text();
    assert_eq!(text.matches("event: response.output_text.delta").count(), 2);
    assert!(!text.contains("response.completed"));

    sim.set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let malformed = create(&http, &sim, body).await;
    assert_eq!(malformed.status, 200);
    let data = malformed.text();
    let data = data.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert!(serde_json::from_str::<Value>(data).is_err());
    let whole = create(&http, &sim, json!({"model": "m", "input": "x"})).await;
    assert!(serde_json::from_slice::<Value>(&whole.body).is_err());
}

#[tokio::test]
async fn invalid_requests_and_missing_models_are_refused() {
    let sim = Sim::start(SimConfig::default().with_models(["gpt-4.1"]))
        .await
        .unwrap();
    let http = Http::new();
    let no_input = create(&http, &sim, json!({"model": "gpt-4.1"})).await;
    assert_eq!(no_input.status, 400);
    assert_eq!(no_input.json()["error"]["param"], "input");
    let unknown = create(&http, &sim, json!({"model": "gpt-x", "input": "x"})).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn a_seed_replays_the_same_faults_on_responses() {
    let sim = Sim::start(SimConfig::default().with_seed(7).with_faults(Faults {
        error_rate: 0.5,
        ..Faults::default()
    }))
    .await
    .unwrap();
    let http = Http::new();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut statuses = Vec::new();
        for i in 0..20 {
            let body = json!({"model": "m", "input": format!("turn {i}"), "stream": i % 2 == 0});
            statuses.push(create(&http, &sim, body).await.status);
        }
        runs.push(statuses);
        sim.reset_stats();
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&500),
        "{:?}",
        runs[0]
    );
}
