//! The models list: `GET /models`.

use serde::Serialize;

use super::Extra;

/// The answer of `GET /models`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(ModelList {
    object: "object" => default,
    data: "data" => required,
});

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// The model id.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The owner.
    pub owned_by: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra!(Model {
    id: "id" => required,
    object: "object" => default,
    created: "created" => default,
    owned_by: "owned_by" => default,
});
