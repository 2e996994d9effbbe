//! The upstream error body: `{"error": {"message", "type", "param", "code"}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Extra;

/// An OpenAI error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// The fields of an OpenAI error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    /// Human-readable message.
    pub message: String,
    /// Error type, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The parameter at fault.
    pub param: Option<Value>,
    /// A machine code, e.g. `model_not_found` (a string, sometimes a number).
    pub code: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ErrorDetail {
    message: "message" => default,
    kind: "type" => default,
    param: "param" => default,
    code: "code" => default,
});

impl ErrorBody {
    /// Builds an error body.
    pub fn new(message: impl Into<String>, kind: &str, code: Option<&str>) -> Self {
        Self {
            error: ErrorDetail {
                message: message.into(),
                kind: Some(kind.to_string()),
                param: None,
                code: code.map(|c| Value::String(c.to_string())),
                extra: Extra::new(),
            },
        }
    }

    /// Parses a body as an OpenAI error, if it is one.
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }

    /// A one-line summary of a raw body for error messages: the error's message when the body
    /// is an OpenAI error, else a short excerpt.
    pub fn summary(body: &str) -> String {
        match Self::parse(body) {
            Some(b) if !b.error.message.is_empty() => b.error.message,
            _ => crate::error::excerpt(body.as_bytes()),
        }
    }
}
