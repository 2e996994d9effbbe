//! `/_sim/*`: the simulator's own control endpoints (no auth, no faults, not counted).

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};

use crate::faults::{Faults, SimError};
use crate::openai::{Invalid, error, to_json};
use crate::state::Shared;

/// Largest fault document accepted.
const MAX_BODY: usize = 1 << 20;

pub(crate) async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/_sim/faults") => to_json(shared, &shared.faults_view()),
        (&Method::POST | &Method::PUT, "/_sim/faults") => {
            let Ok(bytes) = axum::body::to_bytes(Body::new(body), MAX_BODY).await else {
                return error::answer(shared, StatusCode::BAD_REQUEST, "Unreadable request body.");
            };
            let faults: Faults = match serde_json::from_slice(&bytes) {
                Ok(f) => f,
                Err(e) => {
                    let invalid = Invalid {
                        message: format!("Invalid faults: {e}."),
                        param: None,
                        code: None,
                    };
                    return error::invalid(shared, &invalid);
                }
            };
            if let Err(SimError::InvalidFault { field, message }) = faults.validate() {
                let invalid = Invalid::field(field, format!("{field} {message}"));
                return error::invalid(shared, &invalid);
            }
            shared.set_faults(faults);
            to_json(shared, &shared.faults_view())
        }
        (&Method::GET, "/_sim/stats") => to_json(shared, &shared.stats.snapshot()),
        (&Method::POST, "/_sim/reset") => {
            shared.stats.reset();
            to_json(shared, &shared.stats.snapshot())
        }
        _ => error::unknown_url(shared, method.as_str(), path),
    }
}
