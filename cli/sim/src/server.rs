//! The accept loop: one hyper connection per socket, HTTP/1.1 and HTTP/2 (prior knowledge).

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::handler;
use crate::state::Shared;

/// How long a graceful shutdown waits for answers in flight before cutting connections.
const GRACE: Duration = Duration::from_secs(5);

/// Serves until `stop` fires: `true` lets answers in flight finish (up to [`GRACE`]), `false`
/// or a dropped sender closes every connection at once. Connection tasks live in a `JoinSet`,
/// so aborting this task closes every connection too.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<bool>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let graceful_stop = loop {
        tokio::select! {
            stop = &mut stop => break stop.unwrap_or(false),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let service = service_fn(move |request| handler::handle(shared.clone(), request));
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let connection = graceful.watch(connection);
                    connections.spawn(async move {
                        // Errors here are client disconnects and injected faults: nothing to do.
                        let _ = connection.await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    drop(listener);
    if !graceful_stop {
        return;
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(GRACE) => {}
    }
    connections.shutdown().await;
}
