//! The models list: `GET /models`.

use serde::{Deserialize, Serialize};

use super::Extra;

/// The answer of `GET /models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    #[serde(default)]
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The model id.
    pub id: String,
    /// `model`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The owner.
    #[serde(default)]
    pub owned_by: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}
