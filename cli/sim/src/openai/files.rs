//! `/v1/files`: multipart uploads kept in memory, listed, read back byte for byte, deleted.

use axum::body::Body;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::{Invalid, error, multipart, now_secs, page, respond, to_json};
use crate::objects::StoredFile;
use crate::state::Shared;

/// The purposes OpenAI accepts for an upload.
const PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];

/// A valid upload.
pub(crate) struct Upload {
    filename: String,
    purpose: String,
    content: Bytes,
}

/// Reads an upload from a `multipart/form-data` body: the `file` and `purpose` fields.
pub(crate) fn parse(content_type: Option<&str>, body: &Bytes) -> Result<Upload, Invalid> {
    let Some(boundary) = content_type.and_then(multipart::boundary) else {
        return Err(Invalid {
            message: format!(
                "Invalid Content-Type header ({}), expected multipart/form-data with a boundary.",
                content_type.unwrap_or("none")
            ),
            param: None,
            code: None,
        });
    };
    let parts = multipart::parse(&boundary, body).map_err(|e| Invalid {
        message: format!("Invalid multipart body: {e}."),
        param: None,
        code: None,
    })?;
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| Invalid::missing("file"))?;
    let purpose = parts
        .iter()
        .find(|p| p.name == "purpose")
        .ok_or_else(|| Invalid::missing("purpose"))?;
    let purpose = String::from_utf8_lossy(purpose.data).trim().to_owned();
    if !PURPOSES.contains(&purpose.as_str()) {
        return Err(Invalid::field(
            "purpose",
            format!(
                "Invalid value for 'purpose': '{purpose}'. Supported values are: {}.",
                PURPOSES.join(", ")
            ),
        ));
    }
    Ok(Upload {
        filename: file.filename.clone().unwrap_or_else(|| "file".to_owned()),
        purpose,
        // A view of the request body, not a copy.
        content: body.slice_ref(file.data),
    })
}

/// Stores the upload and answers its `File` object.
pub(crate) fn create(shared: &Shared, upload: &Upload) -> Response<Body> {
    let id = shared.objects.mint("file-");
    let object = json!({
        "id": id,
        "object": "file",
        "bytes": upload.content.len(),
        "created_at": now_secs(),
        "expires_at": null,
        "filename": upload.filename,
        "purpose": upload.purpose,
        "status": "processed",
        "status_details": null,
    });
    let stored = StoredFile {
        object: object.clone(),
        content: upload.content.clone(),
    };
    let weight = upload.content.len();
    shared.objects.files.lock().insert(id, stored, weight);
    to_json(shared, &object)
}

/// `GET /v1/files[?purpose=…]`: the files kept, newest first.
pub(crate) fn list(shared: &Shared, query: Option<&str>) -> Response<Body> {
    let purpose = query.and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("purpose="))
            .map(str::to_owned)
    });
    let data: Vec<Value> = shared
        .objects
        .files
        .lock()
        .newest_first()
        .filter(|f| purpose.as_deref().is_none_or(|p| f.object["purpose"] == p))
        .map(|f| f.object.clone())
        .collect();
    to_json(shared, &page(data))
}

/// `GET /v1/files/{id}`.
pub(crate) fn get(shared: &Shared, id: &str) -> Response<Body> {
    match shared.objects.files.lock().get(id) {
        Some(file) => to_json(shared, &file.object),
        None => missing(shared, id),
    }
}

/// `GET /v1/files/{id}/content`: the bytes as uploaded.
pub(crate) fn content(shared: &Shared, id: &str) -> Response<Body> {
    let content = shared
        .objects
        .files
        .lock()
        .get(id)
        .map(|f| f.content.clone());
    match content {
        Some(bytes) => respond(
            shared,
            StatusCode::OK,
            HeaderValue::from_static("application/octet-stream"),
            Body::from(bytes),
        ),
        None => missing(shared, id),
    }
}

/// `DELETE /v1/files/{id}`.
pub(crate) fn delete(shared: &Shared, id: &str) -> Response<Body> {
    match shared.objects.files.lock().remove(id) {
        Some(_) => to_json(
            shared,
            &json!({"id": id, "object": "file", "deleted": true}),
        ),
        None => missing(shared, id),
    }
}

/// 404 for a file id this simulator does not have.
pub(crate) fn missing(shared: &Shared, id: &str) -> Response<Body> {
    error::not_found(
        shared,
        &format!("No such File object: {id}"),
        Some("id"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, Option<&str>, &str)]) -> Bytes {
        let mut body = String::new();
        for (name, filename, value) in fields {
            body.push_str("--XX\r\nContent-Disposition: form-data; name=\"");
            body.push_str(name);
            body.push('"');
            if let Some(f) = filename {
                body.push_str(&format!("; filename=\"{f}\""));
            }
            body.push_str("\r\n\r\n");
            body.push_str(value);
            body.push_str("\r\n");
        }
        body.push_str("--XX--\r\n");
        Bytes::from(body)
    }

    const CT: Option<&str> = Some("multipart/form-data; boundary=XX");

    #[test]
    fn upload_needs_file_and_purpose() {
        let ok = parse(
            CT,
            &form(&[("purpose", None, "batch"), ("file", Some("a.jsonl"), "{}")]),
        );
        let ok = ok.map_err(|e| e.message).unwrap();
        assert_eq!(
            (ok.filename.as_str(), ok.purpose.as_str()),
            ("a.jsonl", "batch")
        );
        assert_eq!(&ok.content[..], b"{}");
        let no_file = parse(CT, &form(&[("purpose", None, "batch")]))
            .err()
            .unwrap();
        assert_eq!(no_file.param, Some("file"));
        let no_purpose = parse(CT, &form(&[("file", Some("a"), "x")])).err().unwrap();
        assert_eq!(no_purpose.param, Some("purpose"));
        let bad_purpose = parse(
            CT,
            &form(&[("file", Some("a"), "x"), ("purpose", None, "nope")]),
        );
        assert_eq!(bad_purpose.err().unwrap().param, Some("purpose"));
        let json = parse(Some("application/json"), &Bytes::from_static(b"{}"));
        assert_eq!(json.err().unwrap().param, None);
    }
}
