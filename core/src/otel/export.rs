//! The background export: ended spans are queued and POSTed in batches, as OTLP/HTTP
//! protobuf, off the request path.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::config::OtelConfig;
use super::proto::export_request;
use super::span::SpanData;

/// Spans queued at most; beyond, new spans are dropped (a collector that is down must not
/// grow the app's memory).
const MAX_QUEUED: usize = 16_384;
/// Timeout of one export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue and the exporter task of one client.
pub(crate) struct Exporter {
    config: OtelConfig,
    queue: Mutex<Vec<SpanData>>,
    http: Option<reqwest::Client>,
    task: OnceLock<()>,
    warned_full: OnceLock<()>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    pub fn new(config: OtelConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| tracing::warn!(error = %e, "otel: no HTTP client; spans are not exported"))
            .ok();
        Self {
            config,
            queue: Mutex::new(Vec::new()),
            http,
            task: OnceLock::new(),
            warned_full: OnceLock::new(),
        }
    }

    /// Queues the spans of one request, and starts the export task on first use (on the
    /// runtime the request runs on).
    pub fn submit(self: &Arc<Self>, spans: Vec<SpanData>) {
        {
            let mut queue = self.queue.lock();
            if queue.len() + spans.len() > MAX_QUEUED {
                if self.warned_full.set(()).is_ok() {
                    tracing::warn!(
                        endpoint = %crate::secret::masked_url(&self.config.endpoint),
                        "otel: the export queue is full; spans are dropped until it drains"
                    );
                }
                return;
            }
            queue.extend(spans);
        }
        if self.task.get().is_none()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
            && self.task.set(()).is_ok()
        {
            handle.spawn(run(Arc::downgrade(self)));
        }
    }

    fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *self.queue.lock())
    }

    async fn post(&self, spans: Vec<SpanData>) {
        let Some(http) = &self.http else { return };
        let body = export_request(&self.config.service_name, &spans);
        let mut request = http
            .post(self.config.traces_url())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body);
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => tracing::warn!(
                status = resp.status().as_u16(),
                spans = spans.len(),
                "otel: the collector refused an export"
            ),
            // Without the URL: a collector's may carry a token in its path or query.
            Err(e) => tracing::warn!(
                error = %crate::transport::error_chain(&e),
                spans = spans.len(),
                "otel: an export failed"
            ),
        }
    }
}

/// Exports every `export_interval` until the client is gone, then once more.
async fn run(exporter: Weak<Exporter>) {
    loop {
        let Some(interval) = exporter.upgrade().map(|e| e.config.export_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(e) = exporter.upgrade() else { return };
        let spans = e.take();
        if !spans.is_empty() {
            e.post(spans).await;
        }
    }
}

impl Drop for Exporter {
    /// The spans still queued go out in a last export when a runtime is at hand.
    fn drop(&mut self) {
        let spans = self.take();
        if spans.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let last = Exporter {
                config: self.config.clone(),
                queue: Mutex::new(Vec::new()),
                http: self.http.clone(),
                task: OnceLock::new(),
                warned_full: OnceLock::new(),
            };
            handle.spawn(async move { last.post(spans).await });
        }
    }
}
