//! An OpenAI-compatible simulator on loopback, with fault injection: the upstream that
//! turnout's tests, demo and benchmarks run against.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use turnout_sim::{Faults, Sim, SimConfig};
//!
//! let sim = Sim::start(SimConfig::named("canary").with_api_key("sk-test")).await?;
//! println!("base URL: {}", sim.url()); // http://127.0.0.1:PORT/v1
//! sim.set_faults(Faults { error_rate: 0.2, error_status: 503, ..Faults::default() });
//! # sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Endpoints
//!
//! | Endpoint | Answer |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI's `chat.completion`: the content echoes the last user message (`"Echo: <first 50 chars>"`), usage estimates a token per 4 characters (at least 1). With `"stream": true`, `text/event-stream` chunks: the role, one per word, the finish reason, a usage chunk when `stream_options.include_usage` is set, then `data: [DONE]`. `max_tokens` / `max_completion_tokens` cap the pieces (`finish_reason: "length"`). |
//! | `POST /v1/embeddings` | `input` as a string, strings, tokens or token arrays; each gets a deterministic unit vector of 8 floats (`dimensions` to change, `encoding_format: "base64"` supported). |
//! | `GET /v1/models`, `GET /v1/models/{id}` | The configured models, or `gpt-4.1`, `gpt-4.1-mini`, `gpt-4o`, `gpt-4o-mini`, `text-embedding-3-small`. |
//! | `POST /v1/responses` | A `response` object (`resp_…`): one assistant `message` whose `output_text` echoes the last user input as chat does (`input` a string or input items), usage as `input_tokens` (plus, after `previous_response_id`, that response's `total_tokens` as `input_tokens_details.cached_tokens`), `output_tokens`, `total_tokens`. With `"stream": true`, `event:`/`data:` SSE: `response.created`, `response.in_progress`, `response.output_item.added`, `response.content_part.added`, one `response.output_text.delta` per word, `response.output_text.done`, `response.content_part.done`, `response.output_item.done`, `response.completed` (with usage; `response.incomplete` when `max_output_tokens` cut it), each with `sequence_number`. Kept unless `"store": false`; a `previous_response_id` this simulator does not have gets 404 `previous_response_not_found`. |
//! | `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}` | The kept response; deleting answers `{"id","object":"response","deleted":true}`. 404 for an id this simulator does not have. |
//! | `POST /v1/files` | `multipart/form-data` with `file` and `purpose` (400 naming a missing one) → a `file` object (`file-…`, `bytes`, `filename`, `purpose`, `status: "processed"`). |
//! | `GET /v1/files[?purpose=]`, `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}` | The files kept, newest first; one file object; its bytes as uploaded (`application/octet-stream`); `{"id","object":"file","deleted":true}`. 404 for an unknown id. |
//! | `POST /v1/batches` | `input_file_id` (a file of this simulator, else 404), `endpoint`, `completion_window: "24h"` → a `batch` object (`batch_…`, `status: "validating"`); nothing is run. |
//! | `GET /v1/batches`, `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel` | The batches kept; one batch; cancelling answers `status: "cancelling"`, the batch reads `cancelled` afterwards. |
//! | `POST /v1/audio/speech` | `model`, `input`, `voice` (400 naming a missing one) → a few KB of bytes derived from the request only (an ID3 tag, then pseudo-random bytes), `audio/mpeg` or the `response_format`'s type. |
//! | other `/v1/*` | 404 in OpenAI's error shape (`unknown_url`). |
//! | `GET /_sim/faults` | The current [`Faults`] (`fail_next` shows the failures left). |
//! | `PATCH /_sim/faults` (or `POST`) | Changes only the fields in the JSON body; answers the new faults. |
//! | `PUT /_sim/faults` | Replaces every fault: fields not in the body take their defaults. |
//! | `DELETE /_sim/faults` | Clears every fault. |
//! | `GET /_sim/stats` | The [`SimStats`] counters: `total`, `by_path` (the path without its query), `by_model`, `by_status`, `auth_keys_seen` (last 4 characters of each key). |
//! | `GET /_sim/requests` | The last 256 requests outside `/_sim` as [`SimRequest`]s, oldest first: `method`, `path` (query included), every header (credential headers show only their last 4 characters: `Bearer ***abcd`), `content_type`, `body_length`, `status` (`null` for a dropped connection). |
//! | `POST /_sim/reset` | Zeroes the counters, clears the request log and restarts the seeded random sequence ([`SimConfig::seed`]); responses, files and batches are kept. |
//!
//! Responses, files and batches live in the simulator's memory (the last 10 000 responses and
//! batches, 1 000 files or 256 MiB of them). Their ids carry a random part drawn when the
//! simulator starts (never from the seed), so an id made by one simulator is unknown to every
//! other: a request sent to the wrong side gets a real 404.
//!
//! Fault documents reject unknown fields (400 naming them) and out-of-range values (400 with
//! `param` naming the field).
//!
//! Every answer carries `x-sim-name: <name>`, and chat answers `system_fingerprint: "fp_<name>"`,
//! so a test can tell which simulator served a request. Errors use OpenAI's shape
//! `{"error":{"message","type","param","code"}}`. With an `api_key` configured, the key must come
//! in the header of [`SimConfig::auth`] (`Authorization: Bearer`, `api-key` or `x-api-key`): a
//! missing or wrong key, or any other credential header present beside it, gets 401
//! `invalid_api_key` (the key is never echoed). A chat body that is not JSON, or lacks `model` or
//! a non-empty `messages` array, gets 400 with `param` naming the field; so do the other bodies
//! that lack a required field. A model outside the configured list gets 404 `model_not_found`
//! (chat, embeddings, responses, speech). `/_sim/*` needs no key, sees no faults and is neither
//! counted nor logged.
//!
//! ## Faults
//!
//! Faults apply to every `/v1` endpoint above, health probes (`GET /v1/models`) included, in
//! this order:
//!
//! | Field | Effect |
//! |---|---|
//! | `drop_connection` | Close the TCP connection without any HTTP answer. |
//! | `latency_ms`, `jitter_ms` | Wait `latency_ms + U(0, jitter_ms)` before answering. |
//! | *(auth)* | 401 when the key is wrong. |
//! | `fail_next` | The next N requests answer `error_status`; counts down. |
//! | `error_rate` | That share of requests answers `error_status` (default 500); drawn from the seeded sequence when [`SimConfig::seed`] is set. |
//! | *(validation)* | 400 for an invalid body. |
//! | `missing_models` | These models answer 404 `model_not_found`. |
//! | `malformed_json` | 200 with a body that is not JSON (streams: a malformed `data:` line). Binary answers (speech, file content) are left alone. |
//! | `first_byte_delay_ms` | Streams (chat and responses): headers at once, the first event after this delay. |
//! | `truncate_after` | Streams: after N content chunks (responses: `response.output_text.delta` events) the connection is cut: no finish chunk, no `[DONE]`, no `response.completed`. |
//! | `retry_after` | Injected errors (`fail_next`, `error_rate`, `missing_models`) carry `Retry-After` (whole seconds, or the decimal value plus `retry-after-ms`). |
//! | `should_retry` | Injected errors carry `x-should-retry: true` or `false`. |
//!
//! Injected errors use the status' usual OpenAI type and code: 429 `rate_limit_exceeded`,
//! 500 `server_error`, 502 `bad_gateway`, 503 `service_unavailable`, 504 `timeout`.

mod auth;
mod control;
mod draws;
mod faults;
mod handler;
mod objects;
mod openai;
mod requests;
mod server;
mod state;
mod stats;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::AuthStyle;
pub use faults::{Faults, SimError};
pub use requests::SimRequest;
pub use stats::SimStats;

use state::Shared;

/// How a simulator is set up.
#[derive(Clone)]
pub struct SimConfig {
    /// The key required on `/v1`; `None` accepts any request.
    pub api_key: Option<String>,
    /// The header that must carry `api_key` (credentials in any other one get 401).
    pub auth: AuthStyle,
    /// The faults injected from the start.
    pub faults: Faults,
    /// The models served; `None` accepts any model.
    pub models: Option<Vec<String>>,
    /// A name shown in `x-sim-name` and `system_fingerprint` (`fp_<name>`).
    pub name: String,
    /// Seeds the random draws (`error_rate`, `jitter_ms`): the same requests in the same order
    /// meet the same faults. `None` draws from the OS.
    pub seed: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_key: None,
            auth: AuthStyle::default(),
            faults: Faults::default(),
            models: None,
            name: "sim".to_owned(),
            seed: None,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("faults", &self.faults)
            .field("models", &self.models)
            .field("name", &self.name)
            .field("seed", &self.seed)
            .finish()
    }
}

impl SimConfig {
    /// A default configuration with this name.
    pub fn named(name: impl Into<String>) -> Self {
        SimConfig {
            name: name.into(),
            ..SimConfig::default()
        }
    }

    /// Requires this key (in `Authorization: Bearer` unless [`SimConfig::with_auth`] says
    /// otherwise).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Expects the key in this provider's header.
    pub fn with_auth(mut self, auth: AuthStyle) -> Self {
        self.auth = auth;
        self
    }

    /// Starts with these faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Seeds the random draws, for reproducible fault sequences.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Serves only these models.
    pub fn with_models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.models = Some(models.into_iter().map(Into::into).collect());
        self
    }
}

/// A running simulator; stops on [`Sim::shutdown`] or when dropped.
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// `true` asks for a graceful stop; dropping it stops at once.
    stop: Option<oneshot::Sender<bool>>,
    runner: Option<Runner>,
}

/// Where the accept loop runs.
enum Runner {
    /// A task on the caller's runtime.
    Task(JoinHandle<()>),
    /// A thread of its own, which reports when it is done.
    Thread(oneshot::Receiver<()>),
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("addr", &self.addr)
            .field("fingerprint", &self.shared.fingerprint)
            .finish()
    }
}

impl Sim {
    /// Starts a simulator on `127.0.0.1` at a free port.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        Sim::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<Sim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, shared.clone(), stopped));
        Ok(Sim {
            addr,
            shared,
            stop: Some(stop),
            runner: Some(Runner::Task(task)),
        })
    }

    /// Starts a simulator on `addr` with a thread and runtime of its own, callable outside any
    /// runtime: for tests of blocking clients, which would starve a simulator sharing their
    /// (current-thread) runtime.
    pub fn start_in_thread(addr: SocketAddr, config: SimConfig) -> std::io::Result<Sim> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (stop, stopped) = oneshot::channel();
        let (done, finished) = oneshot::channel();
        let (ready, started) = std::sync::mpsc::channel();
        let serving = shared.clone();
        std::thread::Builder::new()
            .name(format!("turnout-sim {addr}"))
            .spawn(move || {
                // Everything runtime-related happens on this thread, so that the caller may be
                // inside or outside a runtime.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let _ = ready.send(Ok(()));
                            server::serve(listener, serving, stopped).await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                });
                let _ = done.send(());
            })?;
        started
            .recv()
            .map_err(|_| std::io::Error::other("the simulator thread exited"))??;
        Ok(Sim {
            addr,
            shared,
            stop: Some(stop),
            runner: Some(Runner::Thread(finished)),
        })
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `/v1` included: `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replaces the faults; requests already past a fault check are not affected.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// The current faults, `fail_next` showing the failures left.
    pub fn faults(&self) -> Faults {
        self.shared.faults_view()
    }

    /// The counters since the start or the last reset.
    pub fn stats(&self) -> SimStats {
        self.shared.stats.snapshot()
    }

    /// Changes only the faults named in `changes` (a JSON object), as `PATCH /_sim/faults` does.
    pub fn patch_faults(
        &self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Faults, SimError> {
        let faults = self
            .shared
            .faults_view()
            .merged(changes)
            .map_err(|e| SimError::InvalidDocument(e.to_string()))?;
        faults.validate()?;
        self.shared.set_faults(faults.clone());
        Ok(faults)
    }

    /// The last requests received (up to 256, oldest first), as `GET /_sim/requests` shows.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.shared.requests.snapshot()
    }

    /// Zeroes the counters, clears the request log and restarts the seeded random sequence,
    /// as `POST /_sim/reset` does.
    pub fn reset_stats(&self) {
        self.shared.reset();
    }

    /// Stops accepting, lets answers in flight finish (up to 5 s), then closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        match self.runner.take() {
            Some(Runner::Task(task)) => {
                let _ = task.await;
            }
            Some(Runner::Thread(finished)) => {
                let _ = finished.await;
            }
            None => {}
        }
    }
}

impl Drop for Sim {
    /// Stops at once: the listener closes and every connection is cut.
    fn drop(&mut self) {
        if let Some(Runner::Task(task)) = self.runner.take() {
            task.abort();
        }
        // A thread runner sees `stop` dropped and closes everything itself.
    }
}
