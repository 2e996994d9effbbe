//! One request through the fault pipeline: drop, latency, auth, injected errors, validation,
//! missing model, malformed JSON, answer.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{HeaderMap, Method, Request, Response};

use crate::faults::Faults;
use crate::openai::{self, Invalid, chat, embeddings, error, models};
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
    /// Under `/v1` but not an endpoint: 404 after auth, no faults.
    Unknown,
}

impl<'a> Endpoint<'a> {
    fn of(method: &Method, path: &'a str) -> Endpoint<'a> {
        match (method, path) {
            (&Method::POST, "/v1/chat/completions") => Endpoint::Chat,
            (&Method::POST, "/v1/embeddings") => Endpoint::Embeddings,
            (&Method::GET, "/v1/models") => Endpoint::ListModels,
            (&Method::GET, _) => match path.strip_prefix("/v1/models/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Endpoint::GetModel(id),
                _ => Endpoint::Unknown,
            },
            _ => Endpoint::Unknown,
        }
    }
}

/// A parsed request body, or why it is invalid.
enum Call<'a> {
    Chat(Result<chat::ChatRequest<'a>, Invalid>),
    Embeddings(Result<embeddings::Embeddings, Invalid>),
    Other,
}

impl Call<'_> {
    fn model(&self) -> Option<&str> {
        match self {
            Call::Chat(Ok(r)) => r.model.as_deref(),
            Call::Embeddings(Ok(r)) => Some(&r.model),
            _ => None,
        }
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
    if path != "/v1" && !path.starts_with("/v1/") {
        return Ok(error::unknown_url(&shared, parts.method.as_str(), path));
    }
    let endpoint = Endpoint::of(&parts.method, path);
    let bytes = match endpoint {
        Endpoint::Chat | Endpoint::Embeddings => {
            match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
                Ok(bytes) => bytes,
                // An unreadable or oversized body parses as empty: 400 below.
                Err(_) => Bytes::new(),
            }
        }
        _ => Bytes::new(),
    };
    let call = match endpoint {
        Endpoint::Chat => Call::Chat(chat::parse(&bytes)),
        Endpoint::Embeddings => Call::Embeddings(embeddings::parse(&bytes)),
        _ => Call::Other,
    };
    let key = bearer(&parts.headers);
    let faults = shared.faults();
    let answer = serve(&shared, &faults, &parts.method, path, &endpoint, &call, key).await;
    shared.stats.record(Record {
        path,
        model: call.model(),
        status: answer.as_ref().ok().map(|r| r.status().as_u16()),
        key,
    });
    answer
}

async fn serve(
    shared: &Shared,
    faults: &Faults,
    method: &Method,
    path: &str,
    endpoint: &Endpoint<'_>,
    call: &Call<'_>,
    key: Option<&str>,
) -> Result<Response<Body>, DropConnection> {
    let api = !matches!(endpoint, Endpoint::Unknown);
    if api && faults.drop_connection {
        return Err(DropConnection);
    }
    if api && let Some(delay) = faults.delay(&shared.draws) {
        tokio::time::sleep(delay).await;
    }
    if let Some(expected) = &shared.api_key
        && key != Some(expected.as_str())
    {
        return Ok(error::unauthorized(shared));
    }
    if !api {
        return Ok(error::unknown_url(shared, method.as_str(), path));
    }
    if shared.take_fail_next()
        || (faults.error_rate > 0.0 && shared.draws.chance(faults.error_rate))
    {
        return Ok(error::with_fault_headers(
            error::injected(shared, faults),
            faults,
        ));
    }
    let invalid = match call {
        Call::Chat(Err(e)) | Call::Embeddings(Err(e)) => Some(e),
        _ => None,
    };
    if let Some(invalid) = invalid {
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
    if faults.malformed_json && !matches!(call, Call::Chat(_)) {
        // Chat answers its own malformed body, shaped for streams when streaming.
        return Ok(openai::json(
            shared,
            hyper::StatusCode::OK,
            b"{\"object\":\"list\",\"data\":[{".to_vec(),
        ));
    }
    Ok(match (endpoint, call) {
        (Endpoint::Chat, Call::Chat(Ok(request))) => {
            let model = request.model.as_deref().unwrap_or_default();
            chat::answer(shared, faults, request, model)
        }
        (Endpoint::Embeddings, Call::Embeddings(Ok(request))) => {
            embeddings::answer(shared, request)
        }
        (Endpoint::GetModel(id), _) => models::get(shared, faults, id),
        _ => models::list(shared, faults),
    })
}

/// The bearer key of the `Authorization` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}
