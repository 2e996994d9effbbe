//! `GET /v1/models` and `GET /v1/models/{id}`.

use axum::body::Body;
use hyper::Response;
use serde::Serialize;

use super::{error, to_json};
use crate::faults::Faults;
use crate::state::{DEFAULT_MODELS, Shared};

/// A fixed `created` stamp, so that listings are reproducible.
const CREATED: u64 = 1_700_000_000;

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Model<'a>>,
}

fn model(id: &str) -> Model<'_> {
    Model {
        id,
        object: "model",
        created: CREATED,
        owned_by: "turnout-sim",
    }
}

/// The configured models (or the default list), minus those the `missing_models` fault hides.
pub(crate) fn list(shared: &Shared, faults: &Faults) -> Response<Body> {
    let ids: Vec<&str> = match &shared.models {
        Some(models) => models.iter().map(String::as_str).collect(),
        None => DEFAULT_MODELS.to_vec(),
    };
    let data = ids
        .into_iter()
        .filter(|id| !faults.missing_models.iter().any(|m| m == id))
        .map(model)
        .collect();
    to_json(
        shared,
        &List {
            object: "list",
            data,
        },
    )
}

/// One model, or 404 `model_not_found`.
pub(crate) fn get(shared: &Shared, faults: &Faults, id: &str) -> Response<Body> {
    match shared.serves(faults, id) {
        None => to_json(shared, &model(id)),
        Some(_) => error::model_not_found(shared, id),
    }
}
