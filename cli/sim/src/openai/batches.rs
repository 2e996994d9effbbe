//! `/v1/batches`: batch objects over files this simulator holds; nothing is ever run.

use axum::body::Body;
use hyper::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Invalid, error, now_secs, page, to_json};
use crate::state::Shared;

/// The endpoints a batch may target.
const ENDPOINTS: &[&str] = &[
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
];

/// How long a batch may take: OpenAI offers only this window.
const WINDOW: &str = "24h";

/// The fields of a batch request the simulator reads.
#[derive(Deserialize)]
pub(crate) struct BatchRequest {
    input_file_id: Option<String>,
    endpoint: Option<String>,
    completion_window: Option<String>,
    metadata: Option<Map<String, Value>>,
}

/// Parses and validates a batch request body.
pub(crate) fn parse(body: &[u8]) -> Result<BatchRequest, Invalid> {
    let request: BatchRequest = serde_json::from_slice(body).map_err(|e| {
        Invalid::from_serde(
            body,
            &e,
            &[
                ("input_file_id", |v| v.is_string(), "a string"),
                ("endpoint", |v| v.is_string(), "a string"),
                ("completion_window", |v| v.is_string(), "a string"),
                ("metadata", |v| v.is_object(), "an object"),
            ],
        )
    })?;
    if request.input_file_id.is_none() {
        return Err(Invalid::missing("input_file_id"));
    }
    match request.endpoint.as_deref() {
        None => return Err(Invalid::missing("endpoint")),
        Some(e) if !ENDPOINTS.contains(&e) => {
            return Err(Invalid::field(
                "endpoint",
                format!(
                    "Invalid value for 'endpoint': '{e}'. Supported values are: {}.",
                    ENDPOINTS.join(", ")
                ),
            ));
        }
        Some(_) => {}
    }
    match request.completion_window.as_deref() {
        None => Err(Invalid::missing("completion_window")),
        Some(WINDOW) => Ok(request),
        Some(w) => Err(Invalid::field(
            "completion_window",
            format!(
                "Invalid value for 'completion_window': '{w}'. Supported values are: {WINDOW}."
            ),
        )),
    }
}

/// Creates a batch over a file of this simulator (404 when it has no such file).
pub(crate) fn create(shared: &Shared, request: &BatchRequest) -> Response<Body> {
    let file_id = request.input_file_id.as_deref().unwrap_or_default();
    if !shared.objects.files.lock().contains(file_id) {
        let message = format!("File with id '{file_id}' not found.");
        return error::not_found(shared, &message, Some("input_file_id"), None);
    }
    let id = shared.objects.mint("batch_");
    let created = now_secs();
    let batch = json!({
        "id": id,
        "object": "batch",
        "endpoint": request.endpoint,
        "errors": null,
        "input_file_id": file_id,
        "completion_window": WINDOW,
        "status": "validating",
        "output_file_id": null,
        "error_file_id": null,
        "created_at": created,
        "in_progress_at": null,
        "expires_at": created + 24 * 3600,
        "finalizing_at": null,
        "completed_at": null,
        "failed_at": null,
        "expired_at": null,
        "cancelling_at": null,
        "cancelled_at": null,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "metadata": request.metadata,
    });
    shared.objects.batches.lock().insert(id, batch.clone(), 1);
    to_json(shared, &batch)
}

/// `GET /v1/batches`: the batches kept, newest first.
pub(crate) fn list(shared: &Shared) -> Response<Body> {
    let data = shared
        .objects
        .batches
        .lock()
        .newest_first()
        .cloned()
        .collect();
    to_json(shared, &page(data))
}

/// `GET /v1/batches/{id}`.
pub(crate) fn get(shared: &Shared, id: &str) -> Response<Body> {
    let batch = shared.objects.batches.lock().get(id).cloned();
    match batch {
        Some(batch) => to_json(shared, &batch),
        None => missing(shared, id),
    }
}

/// `POST /v1/batches/{id}/cancel`: answers the batch `cancelling`, as OpenAI does; it reads
/// `cancelled` afterwards. A batch already cancelled is answered as it is.
pub(crate) fn cancel(shared: &Shared, id: &str) -> Response<Body> {
    let mut batches = shared.objects.batches.lock();
    let Some(batch) = batches.get_mut(id) else {
        drop(batches);
        return missing(shared, id);
    };
    if batch["status"] == "cancelled" {
        let answer = batch.clone();
        drop(batches);
        return to_json(shared, &answer);
    }
    let now = now_secs();
    batch["cancelling_at"] = json!(now);
    batch["cancelled_at"] = json!(now);
    batch["status"] = json!("cancelled");
    let mut answer = batch.clone();
    drop(batches);
    answer["status"] = json!("cancelling");
    answer["cancelled_at"] = Value::Null;
    to_json(shared, &answer)
}

fn missing(shared: &Shared, id: &str) -> Response<Body> {
    let message = format!("No batch found with id '{id}'.");
    error::not_found(shared, &message, Some("batch_id"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_requests_name_the_bad_field() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                br#"{"endpoint":"/v1/chat/completions","completion_window":"24h"}"#,
                Some("input_file_id"),
            ),
            (
                br#"{"input_file_id":"f","completion_window":"24h"}"#,
                Some("endpoint"),
            ),
            (
                br#"{"input_file_id":"f","endpoint":"/v1/x","completion_window":"24h"}"#,
                Some("endpoint"),
            ),
            (
                br#"{"input_file_id":"f","endpoint":"/v1/embeddings"}"#,
                Some("completion_window"),
            ),
            (
                br#"{"input_file_id":"f","endpoint":"/v1/embeddings","completion_window":"1h"}"#,
                Some("completion_window"),
            ),
            (br#"{"input_file_id":7}"#, Some("input_file_id")),
        ];
        for (body, param) in cases {
            assert_eq!(parse(body).err().map(|e| e.param), Some(*param));
        }
        assert!(
            parse(
                br#"{"input_file_id":"f","endpoint":"/v1/embeddings","completion_window":"24h"}"#
            )
            .is_ok()
        );
    }
}
