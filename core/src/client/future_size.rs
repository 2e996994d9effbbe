//! The size of the futures a request awaits. A future is copied whole into its box and
//! through each layer that awaits it, so its bytes are instructions and cache lines on every
//! request; and glibc serves a block under about 1 KB from a per-thread cache, while a larger
//! one takes its slow path, which also consolidates its free lists (1.8 k instructions per
//! request under callgrind when a chat completion's box was 2.3 KB). These bounds keep a cold
//! path's state (a Redis lookup, a rate-limit wait, a backoff, a hedge, an error body) out of
//! the hot path's future: before them, a chat completion's future was 7.3 KB.

use std::future::IntoFuture;
use std::mem::size_of_val;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::Client;
use super::attempt::Call;
use crate::client::RequestOptions;
use crate::protocol::{ChatCompletion, ChatCompletionRequest, ChatMessage};
use crate::transport::Exchange;
use crate::{ApiKey, Environment, Side};

/// The most a request's whole future may take, in bytes: under glibc's 1,008-byte line
/// (664 bytes when this was written).
const REQUEST_BOUND: usize = 1000;

/// The most one HTTP exchange's future (boxed once per attempt) may take (896 bytes when this
/// was written).
const EXCHANGE_BOUND: usize = 1000;

fn client() -> Client {
    Client::builder()
        .blue(Environment::new(
            "http://127.0.0.1:9/v1",
            ApiKey::new("sk-blue-000000"),
        ))
        .green(Environment::new(
            "http://127.0.0.1:9/v1",
            ApiKey::new("sk-green-00000"),
        ))
        .build()
        .expect("a valid configuration")
}

#[tokio::test]
async fn the_futures_of_a_request_stay_small() {
    let client = client();
    let call = Call::new(Method::GET, "/models", None, RequestOptions::default());
    let chat = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")]);
    let sizes = [
        (
            "execute",
            size_of_val(&client.engine.execute::<ChatCompletion>(&call)),
        ),
        (
            "request_json",
            size_of_val(&client.request_json(
                Method::GET,
                "/models",
                None::<Value>,
                RequestOptions::default(),
            )),
        ),
        (
            "request_text",
            size_of_val(&client.request_text(
                Method::GET,
                "/models",
                None,
                RequestOptions::default(),
            )),
        ),
        (
            "chat().create()",
            size_of_val(&*client.chat().create(chat).into_future()),
        ),
    ];
    for (what, size) in sizes {
        assert!(size <= REQUEST_BOUND, "{what}: {size} bytes");
    }
}

#[tokio::test]
async fn an_exchange_future_stays_small() {
    let client = client();
    let engine = &client.engine;
    let exchange = Exchange {
        method: Method::GET,
        path: "/models",
        body: None,
        timeout: Duration::from_secs(1),
        idempotency: None,
        headers: None,
    };
    let fetch = engine
        .transport
        .fetch(&engine.side(Side::Blue).endpoint, exchange);
    assert!(
        size_of_val(&fetch) <= EXCHANGE_BOUND,
        "{}",
        size_of_val(&fetch)
    );
}
