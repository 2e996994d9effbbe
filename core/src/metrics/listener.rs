//! The optional built-in listener: `GET /metrics` on `metrics.listen`, for apps that have no
//! registry of their own. A tiny axum server on the engine's runtime.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::{Error, Result};

/// The content type of `prometheus-client`'s text encoding.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` now (so that a taken port is a build error) and serves `/metrics` with what
/// `scrape` returns until `stop` resolves. `scrape` returns `None` once the client is gone.
pub(crate) fn spawn(
    handle: &tokio::runtime::Handle,
    addr: SocketAddr,
    scrape: impl Fn() -> Option<String> + Send + Sync + 'static,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Error::Config(format!("metrics.listen cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("metrics.listen cannot listen on {addr}: {e}")))?;
    let scrape = Arc::new(scrape);
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = scrape();
            async move {
                match text {
                    Some(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
                    None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            }
        }),
    );
    handle.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%local, error = %e, "the metrics listener cannot start");
                return;
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%local, error = %e, "the metrics listener stopped");
        }
    });
    Ok(local)
}
