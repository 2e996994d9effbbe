//! Embeddings: `POST /embeddings`.

use serde::Serialize;
use serde_json::Value;

use super::{Extra, Usage};

/// A `POST /embeddings` body; `input` is a string, an array of strings or of token arrays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingRequest {
    /// The model asked for.
    pub model: String,
    /// What to embed.
    pub input: Value,
    /// The end-user id; the default routing key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other parameter (dimensions, encoding_format, …).
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(EmbeddingRequest {
    model: "model" => required,
    input: "input" => required,
    user: "user" => default,
});

impl EmbeddingRequest {
    /// A request embedding `input` with `model`.
    pub fn new(model: impl Into<String>, input: impl Into<Value>) -> Self {
        Self {
            model: model.into(),
            input: input.into(),
            user: None,
            extra: Extra::new(),
        }
    }
}

/// The answer of `POST /embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingResponse {
    /// `list`.
    pub object: String,
    /// One embedding per input.
    pub data: Vec<Embedding>,
    /// The model that answered.
    pub model: String,
    /// Token counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(EmbeddingResponse {
    object: "object" => default,
    data: "data" => required,
    model: "model" => default,
    usage: "usage" => default,
});

/// One embedding vector (or a base64 string when `encoding_format` asked for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embedding {
    /// Its index among the inputs.
    pub index: u32,
    /// The vector.
    pub embedding: Value,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(Embedding {
    index: "index" => default,
    embedding: "embedding" => required,
});
