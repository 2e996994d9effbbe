//! The optional built-in listener: `GET /metrics` on `metrics.listen`, for apps that have no
//! registry of their own. A tiny axum server on the engine's runtime.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use tokio::sync::watch;

use super::CONTENT_TYPE;
use crate::client::supervise::{METRICS_LISTENER, Supervisor};
use crate::error::{Error, Result};

/// Binds `addr` now (so that a taken port is a build error) and serves `/metrics` with what
/// `scrape` returns until `stop` turns true. `scrape` returns `None` once the client is gone.
/// The serving task is supervised: after a panic it serves the same socket again.
pub(crate) fn spawn(
    handle: &tokio::runtime::Handle,
    supervisor: &Supervisor,
    addr: SocketAddr,
    scrape: impl Fn() -> Option<String> + Send + Sync + 'static,
    stop: watch::Receiver<bool>,
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
    supervisor.spawn(handle, METRICS_LISTENER, move || {
        serve(listener.try_clone(), app.clone(), local, stop.clone())
    });
    Ok(local)
}

/// Serves `app` on `listener` (a handle on the bound socket) until `stop` turns true.
async fn serve(
    listener: std::io::Result<std::net::TcpListener>,
    app: Router,
    local: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match listener.and_then(tokio::net::TcpListener::from_std) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%local, error = %e, "the metrics listener cannot start");
            return;
        }
    };
    let stop = async move {
        let _ = stop.wait_for(|closed| *closed).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(%local, error = %e, "the metrics listener stopped");
    }
}
