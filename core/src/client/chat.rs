//! Typed endpoints: chat completions (plain and streamed), embeddings, models.

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Client;
use super::attempt::{Call, Encoded};
use super::engine::Engine;
use super::options::RequestOptions;
use super::route::Routed;
use super::stream::{ChatStream, RoutedStream};
use crate::cost::KnownUsage;
use crate::environment::Side;
use crate::error::{Error, Result};
use crate::protocol::{
    ChatCompletion, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelList,
};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Routing options shared by the request builders.
macro_rules! routing_options {
    () => {
        /// Sets the sticky routing key (default: the request's `user` field).
        pub fn routing_key(mut self, key: impl Into<String>) -> Self {
            self.options.routing_key = Some(key.into());
            self
        }

        /// Pins the request to `side`: no failover, model fallbacks still apply.
        pub fn environment(mut self, side: Side) -> Self {
            self.options.environment = Some(side);
            self
        }

        /// Sets the metadata matched against rules.
        pub fn metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
            self.options.metadata = Some(metadata);
            self
        }

        /// Overrides the request timeout.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.options.timeout = Some(timeout);
            self
        }

        /// Bounds the whole call: limiter wait, every attempt, backoff and `Retry-After`
        /// sleeps, and a stream to its end.
        pub fn deadline(mut self, deadline: Duration) -> Self {
            self.options.deadline = Some(deadline);
            self
        }

        /// Replaces all routing options at once.
        pub fn options(mut self, options: RequestOptions) -> Self {
            self.options = options;
            self
        }
    };
}

fn to_body<B: Serialize>(body: &B) -> Result<serde_json::Value> {
    serde_json::to_value(body)
        .map_err(|e| Error::Config(format!("the request cannot be encoded: {e}")))
}

/// `client.chat()`: chat completions.
#[derive(Debug, Clone)]
pub struct Chat {
    client: Client,
}

impl Chat {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// A chat completion; await it (after setting routing options, if any).
    pub fn create(&self, request: ChatCompletionRequest) -> ChatCreate {
        ChatCreate {
            client: self.client.clone(),
            request,
            options: RequestOptions::default(),
        }
    }

    /// A streamed chat completion; await it to get a [`ChatStream`].
    pub fn stream(&self, request: ChatCompletionRequest) -> ChatStreamCreate {
        ChatStreamCreate {
            client: self.client.clone(),
            request,
            options: RequestOptions::default(),
        }
    }
}

/// A pending chat completion; `.await` sends it.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct ChatCreate {
    client: Client,
    request: ChatCompletionRequest,
    options: RequestOptions,
}

impl ChatCreate {
    routing_options!();
}

impl IntoFuture for ChatCreate {
    type Output = Result<Routed<ChatCompletion>>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(mut self) -> Self::IntoFuture {
        // The call is built before the future, which holds it in its own box (`Engine::run`).
        self.request.stream = None;
        let engine = std::sync::Arc::clone(&self.client.engine);
        match self.into_call() {
            Ok(call) => Box::pin(Engine::run(engine, call)),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

impl ChatCreate {
    /// The call this request stands for. Straight to bytes when nothing needs the JSON value
    /// (and no extra parameter shadows a field that routing reads); else through a `Value`,
    /// like untyped calls.
    fn into_call(self) -> Result<Call> {
        const SHADOWED: [&str; 5] = ["model", "messages", "stream", "stream_options", "user"];
        if self.client.engine.obs.needs_json_body()
            || SHADOWED.iter().any(|k| self.request.extra.contains_key(*k))
        {
            let body = to_body(&self.request)?;
            return Ok(Call::new(
                Method::POST,
                "/chat/completions",
                Some(body),
                self.options,
            ));
        }
        let bytes = serde_json::to_vec(&self.request)
            .map_err(|e| Error::Config(format!("the request cannot be encoded: {e}")))?;
        let encoded = Encoded {
            bytes: bytes.into(),
            model: Some(self.request.model),
            user: self.request.user,
        };
        Ok(Call::encoded(
            Method::POST,
            "/chat/completions",
            encoded,
            self.options,
        ))
    }
}

/// A pending streamed chat completion; `.await` opens it.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct ChatStreamCreate {
    client: Client,
    request: ChatCompletionRequest,
    options: RequestOptions,
}

impl ChatStreamCreate {
    routing_options!();
}

impl IntoFuture for ChatStreamCreate {
    type Output = Result<ChatStream>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            self.request.stream = Some(true);
            let body = to_body(&self.request)?;
            let call = Call::new(Method::POST, "/chat/completions", Some(body), self.options);
            std::sync::Arc::clone(&self.client.engine)
                .execute_stream(call)
                .await
        })
    }
}

async fn send<T: DeserializeOwned + KnownUsage>(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    options: RequestOptions,
) -> Result<Routed<T>> {
    Engine::run(&*client.engine, Call::new(method, path, body, options)).await
}

/// `client.embeddings()`.
#[derive(Debug, Clone)]
pub struct Embeddings {
    client: Client,
}

impl Embeddings {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Embeds the request's input.
    pub async fn create(
        &self,
        request: EmbeddingRequest,
        options: RequestOptions,
    ) -> Result<Routed<EmbeddingResponse>> {
        let body = to_body(&request)?;
        send(
            &self.client,
            Method::POST,
            "/embeddings",
            Some(body),
            options,
        )
        .await
    }
}

/// `client.models()`.
#[derive(Debug, Clone)]
pub struct Models {
    client: Client,
}

impl Models {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Lists the models of the side routing chooses.
    pub async fn list(&self, options: RequestOptions) -> Result<Routed<ModelList>> {
        send(&self.client, Method::GET, "/models", None, options).await
    }
}

impl<T: Send + 'static> RoutedStream<T> {
    /// Collects the whole stream (handy in tests and simple callers).
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item?);
        }
        Ok(items)
    }
}
