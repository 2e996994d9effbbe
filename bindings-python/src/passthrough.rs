//! The conversions of a pass-through request (the httpx transports' path): Python headers and
//! body to a `turnout::RawRequest`, and the answer back to `(status, headers, body, route)`.
//! Every failure becomes an answer here (the core's synthetic one), so the official client
//! raises its own exception without retrying.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use turnout::{RawBody, RawRequest, RawResponse};

use crate::stream::{Stream, pump_bytes};

/// Headers as httpx holds them: `(name, value)` byte pairs.
pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// The request; a [`turnout::Error::Config`] for what HTTP does not allow (the caller turns
/// it into the answer that stands for it). `timeout`, the HTTP client's read timeout in
/// seconds, bounds every attempt's ([`RawRequest::timeout_at_most`]).
pub fn request(
    method: &str,
    path: &str,
    headers: Headers,
    body: Option<Vec<u8>>,
    timeout: Option<f64>,
) -> turnout::Result<RawRequest> {
    use turnout::Error::Config;
    let method = turnout::Method::from_bytes(method.as_bytes())
        .map_err(|_| Config(format!("invalid method {method:?}")))?;
    let mut map = turnout::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = turnout::HeaderName::from_bytes(&name)
            .map_err(|_| Config("invalid header name".into()))?;
        let value = turnout::HeaderValue::from_bytes(&value)
            .map_err(|_| Config(format!("invalid value for header {name}")))?;
        map.append(name, value);
    }
    let request = RawRequest::new(method, path)
        .headers(map)
        .body(body.unwrap_or_default());
    match timeout {
        Some(t) => Ok(request.timeout_at_most(
            std::time::Duration::try_from_secs_f64(t)
                .map_err(|_| Config(format!("invalid timeout {t}")))?,
        )),
        None => Ok(request),
    }
}

/// `(status, [(name, value)], bytes | Stream)`: the route rides in the `x-turnout-*` headers.
pub fn answer(py: Python<'_>, answer: RawResponse) -> PyResult<Py<PyAny>> {
    let headers = PyList::empty(py);
    for (name, value) in &answer.headers {
        let pair = (
            PyBytes::new(py, name.as_str().as_bytes()),
            PyBytes::new(py, value.as_bytes()),
        );
        headers.append(pair)?;
    }
    let body = match answer.body {
        RawBody::Full(bytes) => PyBytes::new(py, &bytes).into_any().unbind(),
        RawBody::Stream(stream) => {
            let Some(route) = answer.route else {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "a streamed answer without its route (a bug; please report it)",
                ));
            };
            let pumped = pump_bytes(stream, route);
            Py::new(py, Stream::new(py, pumped)?)?.into_any()
        }
    };
    let status = answer.status.into_pyobject(py)?.into_any().unbind();
    Ok(
        PyTuple::new(py, [status, headers.into_any().unbind(), body])?
            .into_any()
            .unbind(),
    )
}
