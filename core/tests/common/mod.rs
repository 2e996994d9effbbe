//! Shared helpers of the integration tests: two simulators (blue and green, each requiring its
//! own key), and a client tuned to fail fast: short timeouts and backoffs, a quick circuit
//! cooldown, health checks off unless a test turns them on.

#![allow(dead_code)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use turnout::config::{CircuitBreaker, HealthCheck, Jitter, RetryPolicy};
use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, ClientBuilder, Environment, Side};
use turnout_sim::{Faults, Sim, SimConfig, SimStats};

/// The part of every key that must never be printed.
pub const SECRET: &str = "SECRETSECRET";
/// Blue's key; the simulator records it as `lue1`.
pub const BLUE_KEY: &str = "sk-test-SECRETSECRET-blue1";
/// Green's key; the simulator records it as `grn2`.
pub const GREEN_KEY: &str = "sk-test-SECRETSECRET-grn2";

pub const MODEL: &str = "gpt-4.1";
pub const CHAT: &str = "/v1/chat/completions";

pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
pub const TIMEOUT: Duration = Duration::from_secs(1);
pub const COOLDOWN: Duration = Duration::from_millis(200);

/// The key of `side`.
pub fn key(side: Side) -> &'static str {
    match side {
        Side::Blue => BLUE_KEY,
        Side::Green => GREEN_KEY,
    }
}

/// The last four characters of `side`'s key, as the simulator records them.
pub fn key_tail(side: Side) -> &'static str {
    let k = key(side);
    &k[k.len() - 4..]
}

/// Two running simulators.
pub struct Sims {
    pub blue: Sim,
    pub green: Sim,
}

impl Sims {
    /// Blue and green, each requiring its own key, no faults.
    pub async fn start() -> Sims {
        let blue = Sim::start(SimConfig::named("blue").with_api_key(BLUE_KEY))
            .await
            .expect("start blue sim");
        let green = Sim::start(SimConfig::named("green").with_api_key(GREEN_KEY))
            .await
            .expect("start green sim");
        Sims { blue, green }
    }

    pub fn get(&self, side: Side) -> &Sim {
        match side {
            Side::Blue => &self.blue,
            Side::Green => &self.green,
        }
    }

    /// Sets the faults of one side.
    pub fn fault(&self, side: Side, faults: Faults) {
        self.get(side).set_faults(faults);
    }

    pub fn stats(&self, side: Side) -> SimStats {
        self.get(side).stats()
    }

    /// `/v1` requests seen by `side` (probes included).
    pub fn total(&self, side: Side) -> u64 {
        self.get(side).stats().total
    }

    /// Chat completion requests seen by `side` (probes excluded).
    pub fn chats(&self, side: Side) -> u64 {
        self.get(side)
            .stats()
            .by_path
            .get(CHAT)
            .copied()
            .unwrap_or(0)
    }

    /// A fast-failing client builder for these two simulators.
    pub fn builder(&self) -> ClientBuilder {
        fast(
            Client::builder()
                .blue(env(&self.blue.url(), BLUE_KEY))
                .green(env(&self.green.url(), GREEN_KEY)),
        )
    }

    /// A fast-failing client with every other default.
    pub fn client(&self) -> Client {
        self.builder().build().expect("client")
    }

    pub async fn shutdown(self) {
        self.blue.shutdown().await;
        self.green.shutdown().await;
    }
}

/// An environment at `url` with `key`.
pub fn env(url: &str, key: &str) -> Environment {
    Environment::new(url, ApiKey::new(key))
}

/// Short timeouts and backoffs, a short circuit cooldown, no health checks.
pub fn fast(builder: ClientBuilder) -> ClientBuilder {
    builder
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .retry(fast_retry())
        .circuit_breaker(CircuitBreaker {
            cooldown: COOLDOWN,
            ..CircuitBreaker::default()
        })
        .health_check(HealthCheck {
            enabled: false,
            ..HealthCheck::default()
        })
}

/// The default retry policy with 10..50 ms backoffs.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        jitter: Jitter::Full,
        ..RetryPolicy::default()
    }
}

/// A circuit breaker that never opens, for tests about something else.
pub fn no_circuit() -> CircuitBreaker {
    CircuitBreaker {
        failure_threshold: 100_000,
        failure_rate: 1.0,
        window_size: 100_000,
        min_calls: 100_000,
        cooldown: COOLDOWN,
    }
}

/// A URL on which nothing listens: a port taken from the OS and released at once.
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

/// A one-message chat request for `model`.
pub fn chat(model: &str, text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new(model, vec![ChatMessage::user(text)])
}

/// Every fault off.
pub fn none() -> Faults {
    Faults::default()
}

/// Every request answers `status`.
pub fn always(status: u16) -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: status,
        ..Faults::default()
    }
}

/// Polls `cond` every 10 ms until it holds or `within` has passed; returns whether it held.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts that `text` shows no key.
#[track_caller]
pub fn assert_no_key(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET) && !text.contains(BLUE_KEY) && !text.contains(GREEN_KEY),
        "{what} shows a key: {text}"
    );
}

/// Serves `app` on a free loopback port until the test's runtime ends; returns its `/v1`
/// base URL (the app's routes start with `/v1`).
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}
