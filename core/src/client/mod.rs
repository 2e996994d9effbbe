//! The public entry point: [`Client`], its builder, requests and operations.

mod analyst;
mod attempt;
mod balance;
mod builder;
mod call_kind;
mod chat;
pub(crate) mod control;
mod deadline;
pub(crate) mod engine;
mod fleet_rollout;
mod fork;
#[cfg(test)]
mod future_size;
pub(crate) mod guard;
mod hedge;
mod key_pool;
mod llm_judge;
mod objects;
mod observe;
mod operations;
mod options;
mod passthrough;
mod peek;
mod raw;
mod responses;
mod rollout;
mod route;
mod shadow;
pub(crate) mod shared_state;
mod stream;
pub(crate) mod supervise;

pub use builder::ClientBuilder;
pub use chat::{Chat, ChatCreate, ChatStreamCreate, Embeddings, Models};
pub use operations::{EnvironmentStatus, Status};
pub use options::RequestOptions;
pub use raw::{
    ENVIRONMENT_HEADER, METADATA_HEADER, ROUTING_KEY_HEADER, RawBody, RawRequest, RawResponse,
    RawStream,
};
pub use responses::Responses;
pub use route::{RouteInfo, Routed};
pub use shared_state::StoreStatus;
pub use stream::{ChatStream, RoutedStream};

use std::future::Future;
use std::sync::Arc;

use futures_util::future::Either;
use reqwest::Method;
use serde_json::Value;

use crate::error::Result;
use engine::Engine;

/// A routed client for an OpenAI-compatible API with two environments, blue and green.
///
/// Cheap to clone: clones share one engine (traffic state, pool, circuits, statistics).
///
/// ```no_run
/// # async fn run() -> turnout::Result<()> {
/// use turnout::{ApiKey, Client, Environment};
/// use turnout::protocol::{ChatCompletionRequest, ChatMessage};
/// let client = Client::builder()
///     .blue(Environment::new("https://a.example/v1", ApiKey::from_env("BLUE_KEY")?))
///     .green(Environment::new("https://b.example/v1", ApiKey::from_env("GREEN_KEY")?))
///     .canary_weight(10.0)
///     .model_fallback("gpt-4.1", ["gpt-4o"])
///     .build()?;
/// let request = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")]);
/// let resp = client.chat().create(request).routing_key("user-42").await?;
/// println!("{} via {}", resp.choices[0].message.text().unwrap_or(""), resp.route.environment);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.engine.traffic.peek();
        f.debug_struct("Client")
            .field("blue", &self.engine.config.environments.blue)
            .field("green", &self.engine.config.environments.green)
            .field("active", &state.active)
            .field("weight_bp", &state.weight_bp)
            .finish()
    }
}

impl Client {
    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from a loaded [`crate::Config`]. Must run inside a tokio runtime when health
    /// checks are enabled (they run as background tasks).
    pub fn from_config(config: crate::Config) -> Result<Self> {
        Ok(Self {
            engine: Engine::start(config)?,
        })
    }

    /// A client reading time from `clock` instead of the system's: with a
    /// [`crate::ManualClock`], tests run hour-long holds and windows in milliseconds, driving
    /// the rollout with [`Client::tick`].
    pub fn with_clock(config: crate::Config, clock: crate::SharedClock) -> Result<Self> {
        Ok(Self {
            engine: Engine::start_with_clock(config, clock)?,
        })
    }

    /// Chat completions.
    pub fn chat(&self) -> Chat {
        Chat::new(self.clone())
    }

    /// Embeddings.
    pub fn embeddings(&self) -> Embeddings {
        Embeddings::new(self.clone())
    }

    /// The Responses API.
    pub fn responses(&self) -> Responses {
        Responses::new(self.clone())
    }

    /// The models list.
    pub fn models(&self) -> Models {
        Models::new(self.clone())
    }

    /// Sends any request (`path` under the base URL, e.g. `/responses`), routed like the
    /// others, and returns the JSON answer. This is what the bindings build on.
    pub fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        options: RequestOptions,
    ) -> impl Future<Output = Result<Routed<Value>>> + Send + '_ {
        Engine::run(
            &*self.engine,
            attempt::Call::new(method, path, body, options),
        )
    }

    /// [`Client::request_json`] for a body that is JSON text already, answered as JSON text:
    /// what the bindings use. When nothing needs the body as a JSON value (no response cache,
    /// no token limit, no field naming a stored object), its text is sent as it came, and only
    /// `model` and `user` are read from it; else it is decoded as for `request_json`. The
    /// answer is checked to be JSON but not decoded.
    ///
    /// ```no_run
    /// # async fn run(client: turnout::Client) -> turnout::Result<()> {
    /// let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    /// let answer = client
    ///     .request_text(turnout::Method::POST, "/chat/completions", Some(body.into()), Default::default())
    ///     .await?;
    /// println!("{} via {}", answer.data.get(), answer.route.environment);
    /// # Ok(()) }
    /// ```
    pub fn request_text(
        &self,
        method: Method,
        path: &str,
        body: Option<bytes::Bytes>,
        options: RequestOptions,
    ) -> impl Future<Output = Result<Routed<Box<serde_json::value::RawValue>>>> + Send + '_ {
        match self.text_call(method, path, body, options) {
            Ok(call) => Either::Left(Engine::run(&*self.engine, call)),
            Err(e) => Either::Right(std::future::ready(Err(e))),
        }
    }

    /// The call [`Client::request_text`] sends: the text as it came when nothing needs it
    /// decoded, else its JSON value.
    fn text_call(
        &self,
        method: Method,
        path: &str,
        body: Option<bytes::Bytes>,
        options: RequestOptions,
    ) -> Result<attempt::Call> {
        let Some(text) = body else {
            return Ok(attempt::Call::new(method, path, None, options));
        };
        let peeked = if self.engine.obs.needs_json_body() {
            None
        } else {
            peek::Peeked::of(&text).filter(|p| !p.names_objects)
        };
        Ok(match peeked {
            Some(p) => {
                let encoded = attempt::Encoded {
                    bytes: text,
                    model: p.model,
                    user: p.user,
                };
                attempt::Call::encoded(method, path, encoded, options)
            }
            None => {
                let body = serde_json::from_slice(&text).map_err(|e| {
                    crate::Error::Config(format!("the request body is not valid JSON: {e}"))
                })?;
                attempt::Call::new(method, path, Some(body), options)
            }
        })
    }

    /// Sends any streaming request and returns its server-sent events decoded as JSON. For
    /// `/chat/completions`, `stream_options.include_usage` is asked for unless the caller set
    /// `stream_options`.
    pub async fn stream_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        options: RequestOptions,
    ) -> Result<RoutedStream<Value>> {
        Arc::clone(&self.engine)
            .execute_stream(attempt::Call::new(method, path, body, options))
            .await
    }

    /// [`Client::stream_json`] with each chunk as its JSON text (`Box<RawValue>`: checked to be
    /// JSON, not decoded), for callers that decode chunks themselves: the Python binding, which
    /// decodes them as openai-python does.
    pub async fn stream_text(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        options: RequestOptions,
    ) -> Result<RoutedStream<Box<serde_json::value::RawValue>>> {
        Arc::clone(&self.engine)
            .execute_stream(attempt::Call::new(method, path, body, options))
            .await
    }

    /// Passes a request through as it is — any method, path, headers and body (JSON,
    /// multipart, binary) — routed, retried and failed over like the others, and returns the
    /// side's answer as it was sent (SEMANTICS.md, *Under the official SDKs*). An HTTP answer
    /// turnout gave up on is `Ok` (with `x-should-retry: false`); a failure without one is
    /// `Err`, which [`RawResponse::from_error`] turns into the answer an SDK expects.
    ///
    /// ```no_run
    /// # async fn run(client: turnout::Client) -> turnout::Result<()> {
    /// use turnout::{Method, RawBody, RawRequest};
    /// let req = RawRequest::new(Method::POST, "/audio/speech")
    ///     .header("content-type", "application/json")?
    ///     .body(r#"{"model":"tts-1","input":"hello","voice":"alloy"}"#);
    /// let answer = client
    ///     .send_raw(req)
    ///     .await
    ///     .unwrap_or_else(|e| turnout::RawResponse::from_error(&e));
    /// if let RawBody::Full(audio) = answer.body {
    ///     println!("{} bytes of audio", audio.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_raw(&self, request: RawRequest) -> Result<RawResponse> {
        Arc::clone(&self.engine).execute_raw(request).await
    }
}
