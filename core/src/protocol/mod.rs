//! OpenAI-compatible wire types. Every type keeps unknown fields in `extra`, so new OpenAI
//! parameters and response fields pass through untouched.

#[macro_use]
mod with_extra;

mod chat;
mod embeddings;
mod error_body;
mod models;
mod sse;

pub use chat::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Choice, ChunkChoice,
    Delta, Usage,
};
pub use embeddings::{Embedding, EmbeddingRequest, EmbeddingResponse};
pub use error_body::{ErrorBody, ErrorDetail};
pub use models::{Model, ModelList};
pub use sse::{DEFAULT_MAX_EVENT_BYTES, SseDecoder, SseError, SseEvent, is_final_event};

/// Unknown JSON fields kept verbatim.
pub type Extra = serde_json::Map<String, serde_json::Value>;
