//! The webhook: every event POSTed as JSON to `config.webhook`, from a background task.
//!
//! Publishing an event only pushes its JSON onto a bounded queue ([`QUEUE`] events) and wakes
//! the task: the request path never waits for the network. The task delivers events one at a
//! time, in order: each POST has a [`ATTEMPT_TIMEOUT`] timeout and is retried on a connect
//! error, a timeout, 408, 429 or 5xx, up to [`ATTEMPTS`] attempts with exponential backoff
//! and full jitter (0.5 s, 1 s, 2 s, … capped at 8 s); other answers are not retried. An event
//! that cannot be delivered is logged and dropped. When the queue is full (a receiver down for
//! a long time) the oldest event is dropped and a warning logged, so memory stays bounded.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::client::supervise::{Supervisor, WEBHOOK};
use crate::error::{Error, Result};

/// Events waiting for delivery, at most.
pub const QUEUE: usize = 1000;
/// Attempts per event, the first included.
pub const ATTEMPTS: u32 = 4;
/// The timeout of one POST.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

#[derive(Debug)]
struct Queue {
    items: Mutex<VecDeque<String>>,
    capacity: usize,
    wake: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl Queue {
    fn push(&self, body: String) -> bool {
        let mut items = self.items.lock();
        let full = items.len() >= self.capacity;
        if full {
            items.pop_front();
        }
        items.push_back(body);
        drop(items);
        self.wake.notify_one();
        full
    }
}

/// The handle kept by the event bus; dropping it lets the task finish the queue and stop.
#[derive(Debug)]
pub(crate) struct Webhook {
    queue: Arc<Queue>,
}

impl Webhook {
    /// Starts the delivery task on `runtime`.
    pub fn start(
        url: &str,
        runtime: &tokio::runtime::Handle,
        supervisor: &Supervisor,
    ) -> Result<Self> {
        Self::start_with(url, runtime, supervisor, QUEUE)
    }

    fn start_with(
        url: &str,
        runtime: &tokio::runtime::Handle,
        supervisor: &Supervisor,
        capacity: usize,
    ) -> Result<Self> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| Error::Config(format!("webhook is not a valid URL: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| Error::Config(format!("webhook: cannot build its HTTP client: {e}")))?;
        let queue = Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let delivered = Arc::clone(&queue);
        supervisor.spawn(runtime, WEBHOOK, move || {
            deliver_all(Arc::clone(&delivered), http.clone(), url.clone())
        });
        Ok(Self { queue })
    }

    /// Queues one event's JSON. Never blocks; a full queue drops its oldest event.
    pub fn send(&self, body: String) {
        if self.queue.push(body) {
            let n = self.queue.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(target: "turnout::webhook", dropped_total = n, "webhook queue full ({} events); dropped the oldest", self.queue.capacity);
        }
    }

    /// Events dropped because the queue was full.
    #[cfg(test)]
    fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.wake.notify_one();
    }
}

async fn deliver_all(queue: Arc<Queue>, http: reqwest::Client, url: reqwest::Url) {
    loop {
        let next = queue.items.lock().pop_front();
        match next {
            Some(body) => deliver(&http, &url, body).await,
            None if queue.closed.load(Ordering::Acquire) => return,
            // A notification sent while the queue was being read is kept as a permit.
            None => queue.wake.notified().await,
        }
    }
}

/// Delivers one event, retrying as the module describes.
async fn deliver(http: &reqwest::Client, url: &reqwest::Url, body: String) {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let cap = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            tokio::time::sleep(cap.mul_f64(rand::random::<f64>())).await;
        }
        let sent = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => return,
            Ok(resp) => {
                let status = resp.status().as_u16();
                last = format!("HTTP {status}");
                let retryable = status == 408 || status == 429 || status >= 500;
                if !retryable {
                    break;
                }
            }
            // Without the URL: a webhook's URL usually holds its secret.
            Err(e) => last = crate::transport::error_chain(&e),
        }
    }
    tracing::warn!(target: "turnout::webhook", url = %url.origin().ascii_serialization(), "webhook delivery failed, event dropped: {last}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest() {
        // A port nobody answers on: the task keeps retrying the first event.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hook = Webhook::start_with(
            &url,
            &tokio::runtime::Handle::current(),
            &Supervisor::default(),
            3,
        )
        .unwrap();
        for i in 0..10 {
            hook.send(format!("{{\"i\":{i}}}"));
        }
        let items: Vec<String> = hook.queue.items.lock().iter().cloned().collect();
        assert!(items.len() <= 3);
        assert_eq!(items.last().map(String::as_str), Some("{\"i\":9}"));
        assert!(hook.dropped() >= 6, "{}", hook.dropped());
    }
}
