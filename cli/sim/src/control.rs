//! `/_sim/*`: the simulator's own control endpoints (no auth, no faults, not counted or logged).

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use serde_json::{Map, Value};

use crate::faults::{Faults, SimError};
use crate::openai::{Invalid, error, to_json};
use crate::state::Shared;

/// Largest fault document accepted.
const MAX_BODY: usize = 1 << 20;

/// How a fault document applies to the current faults.
#[derive(Clone, Copy)]
enum Apply {
    /// `PATCH` (and `POST`): the fields given change, the others stay.
    Merge,
    /// `PUT`: the document is the whole set; missing fields take their defaults.
    Replace,
}

pub(crate) async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/_sim/faults") => to_json(shared, &shared.faults_view()),
        (&Method::PATCH | &Method::POST, "/_sim/faults") => {
            set_faults(shared, body, Apply::Merge).await
        }
        (&Method::PUT, "/_sim/faults") => set_faults(shared, body, Apply::Replace).await,
        (&Method::DELETE, "/_sim/faults") => {
            shared.set_faults(Faults::default());
            to_json(shared, &shared.faults_view())
        }
        (&Method::GET, "/_sim/stats") => to_json(shared, &shared.stats.snapshot()),
        (&Method::GET, "/_sim/requests") => to_json(shared, &shared.requests.snapshot()),
        (&Method::POST, "/_sim/reset") => {
            shared.reset();
            to_json(shared, &shared.stats.snapshot())
        }
        _ => error::unknown_url(shared, method.as_str(), path),
    }
}

async fn set_faults(shared: &Shared, body: Incoming, apply: Apply) -> Response<Body> {
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), MAX_BODY).await else {
        return error::answer(shared, StatusCode::BAD_REQUEST, "Unreadable request body.");
    };
    let document = match parse(&bytes, apply, shared) {
        Ok(faults) => faults,
        Err(message) => {
            let invalid = Invalid {
                message: format!("Invalid faults: {message}."),
                param: None,
                code: None,
            };
            return error::invalid(shared, &invalid);
        }
    };
    if let Err(SimError::InvalidFault { field, message }) = document.validate() {
        let invalid = Invalid::field(field, format!("{field} {message}"));
        return error::invalid(shared, &invalid);
    }
    shared.set_faults(document);
    to_json(shared, &shared.faults_view())
}

/// The faults a document asks for; an empty body counts as `{}`.
fn parse(bytes: &[u8], apply: Apply, shared: &Shared) -> Result<Faults, String> {
    let changes: Map<String, Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?
    };
    let base = match apply {
        Apply::Merge => shared.faults_view(),
        Apply::Replace => Faults::default(),
    };
    base.merged(changes).map_err(|e| e.to_string())
}
