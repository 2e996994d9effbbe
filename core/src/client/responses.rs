//! `client.responses()`: OpenAI's Responses API, routed like chat. A follow-up that names
//! `previous_response_id` goes to the side that holds that response (object affinity).

use serde_json::Value;

use super::Client;
use super::options::RequestOptions;
use super::route::Routed;
use super::stream::RoutedStream;
use crate::error::Result;

/// The Responses API resource. Bodies and answers are JSON values, so every parameter and
/// field of the API passes through.
///
/// ```no_run
/// # async fn run(client: turnout::Client) -> turnout::Result<()> {
/// use turnout::RequestOptions;
/// let first = client
///     .responses()
///     .create(serde_json::json!({"model": "gpt-4.1", "input": "hi"}), RequestOptions::default())
///     .await?;
/// let id = first["id"].as_str().unwrap_or_default();
/// let next = client
///     .responses()
///     .create(
///         serde_json::json!({"model": "gpt-4.1", "input": "and?", "previous_response_id": id}),
///         RequestOptions::default(),
///     )
///     .await?;
/// assert_eq!(next.route.environment, first.route.environment);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Responses {
    client: Client,
}

impl Responses {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Creates a response.
    pub async fn create(&self, body: Value, options: RequestOptions) -> Result<Routed<Value>> {
        self.client
            .request_json(reqwest::Method::POST, "/responses", Some(body), options)
            .await
    }

    /// Creates a response as a stream of its events (`response.created` …
    /// `response.completed`), each a JSON value; `"stream": true` is set on the body.
    pub async fn stream(
        &self,
        mut body: Value,
        options: RequestOptions,
    ) -> Result<RoutedStream<Value>> {
        if let Value::Object(map) = &mut body {
            map.insert("stream".to_string(), Value::Bool(true));
        }
        self.client
            .stream_json(reqwest::Method::POST, "/responses", Some(body), options)
            .await
    }
}
