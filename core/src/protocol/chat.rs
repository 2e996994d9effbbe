//! Chat completions: request, answer and stream chunk.

use serde::Serialize;
use serde_json::Value;

use super::Extra;

/// A `POST /chat/completions` body. Only the fields the engine reads are typed; every other
/// parameter (temperature, tools, response_format, …) lives in `extra` and is sent as given.
///
/// ```
/// use turnout::protocol::{ChatCompletionRequest, ChatMessage};
/// let req = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("hi")])
///     .param("temperature", 0.2);
/// assert_eq!(serde_json::to_value(&req).unwrap()["temperature"], 0.2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletionRequest {
    /// The model asked for.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Whether to stream the answer as server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Value>,
    /// The end-user id; the default routing key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other parameter, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ChatCompletionRequest {
    model: "model" => required,
    messages: "messages" => required,
    stream: "stream" => default,
    stream_options: "stream_options" => default,
    user: "user" => default,
});

impl ChatCompletionRequest {
    /// A request for `model` with `messages`.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        Self {
            model: model.into(),
            messages,
            stream: None,
            stream_options: None,
            user: None,
            extra: Extra::new(),
        }
    }

    /// Sets any other OpenAI parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// One message of a conversation; `content` may be a string or an array of parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`, `developer`.
    pub role: String,
    /// The content: a string, an array of content parts, or null (tool calls).
    pub content: Option<Value>,
    /// Every other field (name, tool_calls, tool_call_id, refusal, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ChatMessage {
    role: "role" => required,
    content: "content" => default,
});

impl ChatMessage {
    /// A message with `role` and text `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(Value::String(content.into())),
            extra: Extra::new(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// The content as text, when it is a plain string.
    pub fn text(&self) -> Option<&str> {
        self.content.as_ref().and_then(Value::as_str)
    }
}

/// Token counts of an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Every other field (prompt_tokens_details, completion_tokens_details, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(Usage {
    prompt_tokens: "prompt_tokens" => default,
    completion_tokens: "completion_tokens" => default,
    total_tokens: "total_tokens" => default,
});

/// A `chat.completion` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletion {
    /// The upstream's id.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The choices.
    pub choices: Vec<Choice>,
    /// Token counts, when the upstream reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Every other field (system_fingerprint, service_tier, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ChatCompletion {
    id: "id" => default,
    object: "object" => default,
    created: "created" => default,
    model: "model" => default,
    choices: "choices" => required,
    usage: "usage" => default,
});

/// One choice of a [`ChatCompletion`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// Its index.
    pub index: u32,
    /// The generated message.
    pub message: ChatMessage,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
    /// Every other field (logprobs, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(Choice {
    index: "index" => default,
    message: "message" => required,
    finish_reason: "finish_reason" => default,
});

/// A `chat.completion.chunk` of a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletionChunk {
    /// The upstream's id.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The choices; empty in the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Token counts, in the final chunk when `stream_options.include_usage` was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ChatCompletionChunk {
    id: "id" => default,
    object: "object" => default,
    created: "created" => default,
    model: "model" => default,
    choices: "choices" => default,
    usage: "usage" => default,
});

/// One choice of a [`ChatCompletionChunk`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkChoice {
    /// Its index.
    pub index: u32,
    /// The increment.
    pub delta: Delta,
    /// Why generation stopped, in the last chunk of a choice.
    pub finish_reason: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ChunkChoice {
    index: "index" => default,
    delta: "delta" => default,
    finish_reason: "finish_reason" => default,
});

/// The increment carried by a chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// The role, in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A piece of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Every other field (tool_calls, refusal, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(Delta {
    role: "role" => default,
    content: "content" => default,
});
