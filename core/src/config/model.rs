//! The typed configuration: one struct per section of the config file, with safe defaults.
//!
//! Durations are seconds (floats) in files and in Python, `Duration` in Rust.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{secs, secs_opt};
use crate::environment::{Environment, Side};
use crate::secret::SecretUrl;

/// Everything a [`crate::Client`] needs. Build it with [`crate::Client::builder`] or load it with
/// [`Config::from_file`] / [`Config::from_value`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The two environments.
    pub environments: Environments,
    /// The stable side \[blue\].
    #[serde(default = "default_active")]
    pub active: Side,
    /// Percent of traffic (0..=100) sent to the candidate \[0\].
    #[serde(default)]
    pub canary_weight: f64,
    /// Bucket by routing key when one is given \[true\].
    #[serde(default = "yes")]
    pub sticky: bool,
    /// Salt of the sticky bucketing; a rollout draws a new one [fixed default].
    #[serde(default = "default_salt")]
    pub salt: String,
    /// Rules sending matching requests to a side, first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Retries, backoff and budget.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Model fallback chains: `{"gpt-4.1": ["gpt-4o", "gpt-4o-mini"]}`.
    #[serde(default)]
    pub model_fallbacks: BTreeMap<String, Vec<String>>,
    /// Active health probes.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// The circuit breaker of each side.
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
    /// The automatic rollback guard.
    #[serde(default)]
    pub rollback: RollbackPolicy,
    /// Request timeout [600 s].
    #[serde(default = "default_timeout", with = "secs")]
    pub timeout: Duration,
    /// Connect timeout [5 s].
    #[serde(default = "default_connect_timeout", with = "secs")]
    pub connect_timeout: Duration,
    /// Bounds the whole of every call — limiter wait, every attempt, backoff and `Retry-After`
    /// sleeps, and a stream to its end; a request's own `deadline` overrides it \[none\].
    #[serde(default, with = "secs_opt")]
    pub deadline: Option<Duration>,
    /// Bounds a stream's time from sending to its first event; past it the attempt fails as a
    /// timeout of the side and may be retried \[none\].
    #[serde(default, with = "secs_opt")]
    pub stream_first_event_timeout: Option<Duration>,
    /// How much an upstream may send.
    #[serde(default)]
    pub bounds: Bounds,
    /// Sliding window of the per-side statistics [60 s].
    #[serde(default = "default_window", with = "secs")]
    pub stats_window: Duration,
    /// Client-side limits.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// USD per million tokens, by model; merged over the built-in table.
    #[serde(default)]
    pub pricing: BTreeMap<String, Price>,
    /// The request metadata key whose value `costs()` totals by \[team\].
    #[serde(default = "default_cost_tag")]
    pub cost_tag: String,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The opt-in response cache.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Where the traffic state lives.
    #[serde(default)]
    pub state: StateConfig,
    /// Append every event as a JSON line to this file.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    /// POST every event to this URL (with retries, off the request path). Masked when shown.
    #[serde(default)]
    pub webhook: Option<SecretUrl>,
    /// OpenTelemetry trace export (needs the `otel` feature).
    #[serde(default)]
    pub otel: Option<crate::otel::OtelConfig>,
    /// Hedged requests \[off\].
    #[serde(default)]
    pub hedge: Option<super::Hedge>,
    /// Shadow traffic to the candidate \[off\].
    #[serde(default)]
    pub shadow: Option<super::Shadow>,
    /// Opt-in active-active balancing of unpinned, non-sticky requests \[off\].
    #[serde(default)]
    pub balance: Option<crate::routing::balance::Balance>,
}

/// The `bounds` section: how much an upstream may send (SEMANTICS.md, *Bounds*). Past a bound
/// the attempt fails as a failure of the side, with an error naming the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bounds {
    /// Largest answer body read, in bytes [64 MiB].
    pub response_body_bytes: u64,
    /// Largest part of an error answer's body kept, in bytes; the rest is dropped [64 KiB].
    pub error_body_bytes: u64,
    /// Largest single server-sent event, in bytes [16 MiB].
    pub sse_event_bytes: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            response_body_bytes: 64 * 1024 * 1024,
            error_body_bytes: 64 * 1024,
            sse_event_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The `environments` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environments {
    /// The blue environment.
    pub blue: Environment,
    /// The green environment.
    pub green: Environment,
}

impl Environments {
    /// The environment of `side`.
    pub fn get(&self, side: Side) -> &Environment {
        match side {
            Side::Blue => &self.blue,
            Side::Green => &self.green,
        }
    }
}

/// Sends requests whose metadata has every `match` pair to `environment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Metadata keys and the values they must equal.
    #[serde(rename = "match")]
    pub matches: BTreeMap<String, String>,
    /// The side to send to.
    pub environment: Side,
}

impl Rule {
    /// A rule sending requests whose metadata matches all of `matches` to `environment`.
    pub fn new<K: Into<String>, V: Into<String>>(
        matches: impl IntoIterator<Item = (K, V)>,
        environment: Side,
    ) -> Self {
        Self {
            matches: matches
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            environment,
        }
    }
}

/// How backoff delays are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// `U(0, d)`: the AWS "full jitter" \[default\].
    Full,
    /// `d/2 + U(0, d/2)`.
    Equal,
    /// Exactly `d`.
    None,
}

/// Retries: attempts, backoff, `Retry-After` cap and the retry budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Every HTTP attempt counts, failovers included \[3\].
    pub max_attempts: u32,
    /// First backoff [0.5 s].
    #[serde(with = "secs")]
    pub initial_backoff: Duration,
    /// Backoff cap [8 s].
    #[serde(with = "secs")]
    pub max_backoff: Duration,
    /// Growth per retry [2.0].
    pub multiplier: f64,
    /// Randomisation \[full\].
    pub jitter: Jitter,
    /// The longest `Retry-After` that is waited for [60 s]; a longer demand fails at once.
    #[serde(with = "secs")]
    pub max_retry_after: Duration,
    /// Share of extra load retries may add [0.2].
    pub budget_ratio: f64,
    /// Retries per second always allowed \[10\].
    pub budget_min_per_sec: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            multiplier: 2.0,
            jitter: Jitter::Full,
            max_retry_after: Duration::from_secs(60),
            budget_ratio: 0.2,
            budget_min_per_sec: 10,
        }
    }
}

/// Active probes of each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// Whether probes run in the background \[true\].
    pub enabled: bool,
    /// Time between probes [30 s].
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Timeout of one probe [2 s].
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Path probed under the base URL \[`/models`\].
    pub path: String,
    /// Consecutive failures that mark a side unhealthy \[3\].
    pub unhealthy_threshold: u32,
    /// Consecutive successes that mark it healthy again \[2\].
    pub healthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
            path: "/models".to_string(),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
        }
    }
}

/// The circuit breaker of each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreaker {
    /// Consecutive failures that open it \[5\].
    pub failure_threshold: u32,
    /// Failure share over the last `window_size` calls that opens it [0.5].
    pub failure_rate: f64,
    /// Calls considered for the rate \[20\].
    pub window_size: u32,
    /// Calls needed before the rate counts \[10\].
    pub min_calls: u32,
    /// Time open before a half-open trial [30 s].
    #[serde(with = "secs")]
    pub cooldown: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            failure_rate: 0.5,
            window_size: 20,
            min_calls: 10,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// What a failed rollback gate does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RollbackAction {
    /// Weight 0 at once \[default\].
    Rollback,
    /// Only an event.
    Alert,
}

/// The gates judging the candidate over its sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackPolicy {
    /// Highest error share allowed [0.05].
    pub max_error_rate: Option<f64>,
    /// Lowest success share allowed.
    pub min_success_rate: Option<f64>,
    /// Highest p99 latency allowed, in ms.
    pub max_p99_latency_ms: Option<f64>,
    /// Highest p99 time to first token of streams, in ms.
    pub max_p99_ttft_ms: Option<f64>,
    /// Highest error rate of the candidate minus the active side's.
    pub max_error_rate_delta: Option<f64>,
    /// Highest share of 429s among the candidate's answers (429s count in no other gate).
    pub max_rate_limited_rate: Option<f64>,
    /// The window judged [60 s].
    #[serde(with = "secs")]
    pub window: Duration,
    /// Below this many candidate requests a gate is inconclusive \[20\].
    pub min_requests: u64,
    /// What a failure does \[rollback\].
    pub action: RollbackAction,
    /// Highest mean cost of the candidate's priced answers, in USD.
    // Left out when unset, so that checkpoint hashes of configs without it do not change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_per_request_usd: Option<f64>,
    /// Highest ratio of the candidate's mean cost per answer to the stable side's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_ratio: Option<f64>,
    /// Highest ratio of the candidate's mean output tokens per answer to the stable side's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens_ratio: Option<f64>,
    /// Lowest share of prompt tokens the candidate's prompt cache serves, judged only while
    /// the stable side's share reaches it (a release that breaks prompt caching).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cached_token_share: Option<f64>,
    /// Highest share of shadow pairs whose tool calls differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_max_tool_mismatch_rate: Option<f64>,
    /// Highest share of the candidate's shadow answers whose structured output is invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_max_invalid_json_rate: Option<f64>,
    /// Highest ratio of the candidate's shadow cost to the stable side's for the same requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_max_cost_ratio: Option<f64>,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        Self {
            max_error_rate: Some(0.05),
            min_success_rate: None,
            max_p99_latency_ms: None,
            max_p99_ttft_ms: None,
            max_error_rate_delta: None,
            max_rate_limited_rate: None,
            window: Duration::from_secs(60),
            min_requests: 20,
            action: RollbackAction::Rollback,
            max_cost_per_request_usd: None,
            max_cost_ratio: None,
            max_output_tokens_ratio: None,
            min_cached_token_share: None,
            shadow_max_tool_mismatch_rate: None,
            shadow_max_invalid_json_rate: None,
            shadow_max_cost_ratio: None,
        }
    }
}

/// Client-side limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute (estimated before the call, corrected after).
    pub tokens_per_minute: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrency: Option<u32>,
    /// How long a waiting request waits before it rises one priority class [5 s].
    #[serde(with = "secs_opt")]
    pub priority_aging: Option<Duration>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
}

/// The `metrics` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` on this address (`"127.0.0.1:9464"`) for apps without their own
    /// registry \[off\].
    pub listen: Option<std::net::SocketAddr>,
}

/// The `cache` section: an in-memory LRU of non-streaming answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Whether answers are cached \[false\].
    pub enabled: bool,
    /// Answers kept at most; the least recently used goes first \[1000\].
    pub max_entries: usize,
    /// How long an answer stays fresh [300 s].
    #[serde(with = "secs")]
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_entries: 1000,
            ttl: Duration::from_secs(300),
        }
    }
}

/// Where the traffic state is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// In this process only \[default\].
    #[default]
    Memory,
    /// A file shared by the processes of one host.
    File,
    /// Redis, shared by a fleet.
    Redis,
}

/// The `state` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// The backend.
    pub backend: StateBackend,
    /// The file of the `file` backend.
    pub path: Option<PathBuf>,
    /// The URL of the `redis` backend (its password is masked when shown).
    pub url: Option<SecretUrl>,
    /// Key prefix, so that several apps share one Redis \[`turnout`\].
    pub namespace: Option<String>,
    /// This instance's id in the shared history \[`host:pid`\].
    pub instance_id: Option<String>,
    /// How long the analyst lease lasts unless renewed (every third of it) [10 s].
    #[serde(with = "secs_opt")]
    pub lease_ttl: Option<Duration>,
}

fn default_active() -> Side {
    Side::Blue
}

fn yes() -> bool {
    true
}

/// The salt used until a rollout draws its own.
pub(crate) fn default_salt() -> String {
    "turnout".to_string()
}

fn default_cost_tag() -> String {
    "team".to_string()
}

fn default_timeout() -> Duration {
    Duration::from_secs(600)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_window() -> Duration {
    Duration::from_secs(60)
}

impl Config {
    /// A config with these two environments and every default.
    pub fn new(blue: Environment, green: Environment) -> Self {
        Self {
            environments: Environments { blue, green },
            active: default_active(),
            canary_weight: 0.0,
            sticky: true,
            salt: default_salt(),
            rules: Vec::new(),
            retry: RetryPolicy::default(),
            model_fallbacks: BTreeMap::new(),
            health_check: HealthCheck::default(),
            circuit_breaker: CircuitBreaker::default(),
            rollback: RollbackPolicy::default(),
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            deadline: None,
            stream_first_event_timeout: None,
            bounds: Bounds::default(),
            stats_window: default_window(),
            rate_limit: None,
            pricing: BTreeMap::new(),
            cost_tag: default_cost_tag(),
            metrics: MetricsConfig::default(),
            cache: CacheConfig::default(),
            state: StateConfig::default(),
            audit_log: None,
            webhook: None,
            otel: None,
            hedge: None,
            shadow: None,
            balance: None,
        }
    }
}
