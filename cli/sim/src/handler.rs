//! One request through the fault pipeline: drop, latency, auth, injected errors, validation,
//! missing model, malformed JSON, answer.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::http::request::Parts;
use hyper::{Method, Request, Response};

use crate::auth;
use crate::faults::Faults;
use crate::openai::{
    self, Invalid, audio, batches, chat, embeddings, error, files, models, responses,
};
use crate::requests::Logged;
use crate::state::{ModelRefusal, Shared};
use crate::stats::Record;

/// Largest request body read.
const MAX_BODY: usize = 32 << 20;

/// Returned to hyper to close the connection without an answer (`drop_connection`).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the turnout-sim drop_connection fault")]
pub(crate) struct DropConnection;

/// The API endpoint a request addresses.
enum Endpoint<'a> {
    Chat,
    Embeddings,
    ListModels,
    GetModel(&'a str),
    CreateResponse,
    GetResponse(&'a str),
    DeleteResponse(&'a str),
    UploadFile,
    ListFiles,
    GetFile(&'a str),
    FileContent(&'a str),
    DeleteFile(&'a str),
    CreateBatch,
    ListBatches,
    GetBatch(&'a str),
    CancelBatch(&'a str),
    Speech,
    /// Under `/v1` but not an endpoint: 404 after auth, no faults.
    Unknown,
}

impl<'a> Endpoint<'a> {
    fn of(method: &Method, path: &'a str) -> Endpoint<'a> {
        // The two hot paths first, without splitting.
        match (method, path) {
            (&Method::POST, "/v1/chat/completions") => return Endpoint::Chat,
            (&Method::POST, "/v1/embeddings") => return Endpoint::Embeddings,
            _ => {}
        }
        let Some(rest) = path.strip_prefix("/v1/") else {
            return Endpoint::Unknown;
        };
        let mut segments = rest.split('/');
        let segments = [
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ];
        if segments.iter().flatten().any(|s| s.is_empty()) {
            return Endpoint::Unknown;
        }
        match (method, segments) {
            (&Method::GET, [Some("models"), None, ..]) => Endpoint::ListModels,
            (&Method::GET, [Some("models"), Some(id), None, _]) => Endpoint::GetModel(id),
            (&Method::POST, [Some("responses"), None, ..]) => Endpoint::CreateResponse,
            (&Method::GET, [Some("responses"), Some(id), None, _]) => Endpoint::GetResponse(id),
            (&Method::DELETE, [Some("responses"), Some(id), None, _]) => {
                Endpoint::DeleteResponse(id)
            }
            (&Method::POST, [Some("files"), None, ..]) => Endpoint::UploadFile,
            (&Method::GET, [Some("files"), None, ..]) => Endpoint::ListFiles,
            (&Method::GET, [Some("files"), Some(id), None, _]) => Endpoint::GetFile(id),
            (&Method::GET, [Some("files"), Some(id), Some("content"), None]) => {
                Endpoint::FileContent(id)
            }
            (&Method::DELETE, [Some("files"), Some(id), None, _]) => Endpoint::DeleteFile(id),
            (&Method::POST, [Some("batches"), None, ..]) => Endpoint::CreateBatch,
            (&Method::GET, [Some("batches"), None, ..]) => Endpoint::ListBatches,
            (&Method::GET, [Some("batches"), Some(id), None, _]) => Endpoint::GetBatch(id),
            (&Method::POST, [Some("batches"), Some(id), Some("cancel"), None]) => {
                Endpoint::CancelBatch(id)
            }
            (&Method::POST, [Some("audio"), Some("speech"), None, _]) => Endpoint::Speech,
            _ => Endpoint::Unknown,
        }
    }

    /// Whether the answer is JSON, which the `malformed_json` fault breaks; binary answers
    /// and the endpoints that shape their own malformed body are left alone.
    fn malformable(&self) -> bool {
        !matches!(
            self,
            Endpoint::Chat
                | Endpoint::CreateResponse
                | Endpoint::Speech
                | Endpoint::FileContent(_)
                | Endpoint::Unknown
        )
    }
}

/// A parsed request body, or why it is invalid.
enum Call<'a> {
    Chat(Result<chat::ChatRequest<'a>, Invalid>),
    Embeddings(Result<embeddings::Embeddings, Invalid>),
    Responses(Result<responses::ResponsesRequest, Invalid>),
    Upload(Result<files::Upload, Invalid>),
    Batch(Result<batches::BatchRequest, Invalid>),
    Speech(Result<audio::SpeechRequest, Invalid>),
    Other,
}

impl Call<'_> {
    fn model(&self) -> Option<&str> {
        match self {
            Call::Chat(Ok(r)) => r.model.as_deref(),
            Call::Embeddings(Ok(r)) => Some(&r.model),
            Call::Responses(Ok(r)) => r.model.as_deref(),
            Call::Speech(Ok(r)) => r.model.as_deref(),
            _ => None,
        }
    }

    fn invalid(&self) -> Option<&Invalid> {
        match self {
            Call::Chat(Err(e))
            | Call::Embeddings(Err(e))
            | Call::Responses(Err(e))
            | Call::Upload(Err(e))
            | Call::Batch(Err(e))
            | Call::Speech(Err(e)) => Some(e),
            _ => None,
        }
    }
}

fn parse<'a>(endpoint: &Endpoint<'_>, parts: &Parts, bytes: &'a Bytes) -> Call<'a> {
    match endpoint {
        Endpoint::Chat => Call::Chat(chat::parse(bytes)),
        Endpoint::Embeddings => Call::Embeddings(embeddings::parse(bytes)),
        Endpoint::CreateResponse => Call::Responses(responses::parse(bytes)),
        Endpoint::UploadFile => {
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            Call::Upload(files::parse(content_type, bytes))
        }
        Endpoint::CreateBatch => Call::Batch(batches::parse(bytes)),
        Endpoint::Speech => Call::Speech(audio::parse(bytes)),
        _ => Call::Other,
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if path.starts_with("/_sim/") {
        return Ok(crate::control::handle(&shared, &parts.method, path, body).await);
    }
    let bytes = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(bytes) => bytes,
        // An unreadable or oversized body reads as empty: 400 below where a body is needed.
        Err(_) => Bytes::new(),
    };
    let answer = if path != "/v1" && !path.starts_with("/v1/") {
        Ok(error::unknown_url(&shared, parts.method.as_str(), path))
    } else {
        let endpoint = Endpoint::of(&parts.method, path);
        let call = parse(&endpoint, &parts, &bytes);
        let key = auth::presented(shared.auth, &parts.headers);
        let faults = shared.faults();
        let answer = serve(&shared, &faults, &parts, &endpoint, &call).await;
        shared.stats.record(Record {
            path,
            model: call.model(),
            status: answer.as_ref().ok().map(|r| r.status().as_u16()),
            key,
        });
        answer
    };
    let target = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
    shared.requests.push(Logged {
        method: parts.method.clone(),
        target: target.to_owned(),
        headers: parts.headers.clone(),
        body_length: bytes.len(),
        status: answer.as_ref().ok().map(|r| r.status().as_u16()),
    });
    answer
}

async fn serve(
    shared: &Shared,
    faults: &Faults,
    parts: &Parts,
    endpoint: &Endpoint<'_>,
    call: &Call<'_>,
) -> Result<Response<Body>, DropConnection> {
    let api = !matches!(endpoint, Endpoint::Unknown);
    if api && faults.drop_connection {
        return Err(DropConnection);
    }
    if api && let Some(delay) = faults.delay(&shared.draws) {
        tokio::time::sleep(delay).await;
    }
    if let Some(expected) = &shared.api_key
        && (shared.auth.key(&parts.headers) != Some(expected.as_str())
            || shared.auth.stray_credential(&parts.headers))
    {
        return Ok(error::unauthorized(shared));
    }
    if !api {
        return Ok(error::unknown_url(
            shared,
            parts.method.as_str(),
            parts.uri.path(),
        ));
    }
    if shared.take_fail_next()
        || (faults.error_rate > 0.0 && shared.draws.chance(faults.error_rate))
    {
        return Ok(error::with_fault_headers(
            error::injected(shared, faults),
            faults,
        ));
    }
    if let Some(invalid) = call.invalid() {
        return Ok(error::invalid(shared, invalid));
    }
    if let Some(model) = call.model() {
        match shared.serves(faults, model) {
            Some(ModelRefusal::Fault) => {
                let answer = error::model_not_found(shared, model);
                return Ok(error::with_fault_headers(answer, faults));
            }
            Some(ModelRefusal::Unknown) => return Ok(error::model_not_found(shared, model)),
            None => {}
        }
    }
    if faults.malformed_json && endpoint.malformable() {
        return Ok(openai::json(
            shared,
            hyper::StatusCode::OK,
            b"{\"object\":\"list\",\"data\":[{".to_vec(),
        ));
    }
    let model = call.model().unwrap_or_default();
    Ok(match (endpoint, call) {
        (Endpoint::Chat, Call::Chat(Ok(request))) => chat::answer(shared, faults, request, model),
        (Endpoint::Embeddings, Call::Embeddings(Ok(request))) => {
            embeddings::answer(shared, request)
        }
        (Endpoint::CreateResponse, Call::Responses(Ok(request))) => {
            responses::answer(shared, faults, request, model)
        }
        (Endpoint::GetResponse(id), _) => responses::get(shared, id),
        (Endpoint::DeleteResponse(id), _) => responses::delete(shared, id),
        (Endpoint::UploadFile, Call::Upload(Ok(upload))) => files::create(shared, upload),
        (Endpoint::ListFiles, _) => files::list(shared, parts.uri.query()),
        (Endpoint::GetFile(id), _) => files::get(shared, id),
        (Endpoint::FileContent(id), _) => files::content(shared, id),
        (Endpoint::DeleteFile(id), _) => files::delete(shared, id),
        (Endpoint::CreateBatch, Call::Batch(Ok(request))) => batches::create(shared, request),
        (Endpoint::ListBatches, _) => batches::list(shared),
        (Endpoint::GetBatch(id), _) => batches::get(shared, id),
        (Endpoint::CancelBatch(id), _) => batches::cancel(shared, id),
        (Endpoint::Speech, Call::Speech(Ok(request))) => audio::answer(shared, request),
        (Endpoint::GetModel(id), _) => models::get(shared, faults, id),
        _ => models::list(shared, faults),
    })
}
