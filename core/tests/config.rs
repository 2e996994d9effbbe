//! Config loading: the three file formats, `${VAR}` expansion, defaults, and the exact message
//! of each bad configuration.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use turnout::config::{
    CacheConfig, CircuitBreaker, Format, HealthCheck, Jitter, MetricsConfig, Price, RateLimit,
    RetryPolicy, RollbackAction, RollbackPolicy, Rule, StateBackend, StateConfig,
};
use turnout::{ApiKey, Config, Environment, Error, Side};

const SECRET: &str = "sk-secret-SHOULD-NOT-LEAK";

/// A file in a directory of its own under the system temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    /// Writes `text` to a fresh file named `name`.
    fn new(name: &str, text: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "turnout-config-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl std::ops::Deref for TempFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempFile {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Sets an environment variable for this test binary.
fn set_env(name: &str, value: &str) {
    // SAFETY: set_var is unsafe because C code may read the environment concurrently; nothing
    // in these tests does, std's own readers take a lock, and each test uses its own names.
    unsafe { std::env::set_var(name, value) };
}

/// The message of a config error.
fn message(result: turnout::Result<Config>) -> String {
    match result {
        Err(Error::Config(m)) => m,
        Err(other) => panic!("expected a config error, got {other:?}"),
        Ok(_) => panic!("expected a config error, got a config"),
    }
}

/// A minimal valid config whose blue key is [`SECRET`].
fn base() -> Value {
    json!({
        "environments": {
            "blue": {"base_url": "https://blue.example/v1", "api_key": SECRET},
            "green": {"base_url": "https://green.example/v1", "api_key": "sk-green-0000"},
        }
    })
}

/// `base` with `patch` merged in, key by key, recursively.
fn with(mut base: Value, patch: Value) -> Value {
    fn merge(into: &mut Value, patch: Value) {
        match (into, patch) {
            (Value::Object(into), Value::Object(patch)) => {
                for (k, v) in patch {
                    merge(into.entry(k).or_insert(Value::Null), v);
                }
            }
            (into, patch) => *into = patch,
        }
    }
    merge(&mut base, patch);
    base
}

const YAML: &str = r#"
environments:
  blue:
    base_url: https://blue.example/v1/
    api_key: ${TURNOUT_CFG_TEST_FMT_KEY}
    label: v1
    headers: {OpenAI-Organization: org-1}
  green:
    base_url: "https://${TURNOUT_CFG_TEST_FMT_HOST}/v1"
    api_key: sk-green-literal
    timeout: 12.5
active: green
canary_weight: 12.5
sticky: false
salt: s1
rules:
  - match: {tier: premium}
    environment: blue
retry:
  max_attempts: 4
  initial_backoff: 0.2
  max_backoff: 8
  multiplier: 1.5
  jitter: equal
model_fallbacks:
  gpt-4.1: [gpt-4o, gpt-4o-mini]
health_check: {enabled: false, interval: 10, timeout: 1.5, path: /health, unhealthy_threshold: 4, healthy_threshold: 1}
circuit_breaker: {failure_threshold: 7, failure_rate: 0.25, window_size: 40, min_calls: 5, cooldown: 2.5}
rollback: {max_error_rate: 0.1, min_success_rate: 0.9, max_p99_latency_ms: 1500, window: 120, min_requests: 50, action: alert}
timeout: 30
connect_timeout: 2
stats_window: 90
rate_limit: {requests_per_minute: 600, max_concurrency: 8}
pricing:
  my-model: {input: 0.5, output: 1.5}
cost_tag: project
metrics: {listen: "127.0.0.1:9464"}
cache: {enabled: true, max_entries: 50, ttl: 2.5}
state: {backend: file, path: /tmp/turnout-state.json, namespace: app}
audit_log: /tmp/audit.jsonl
webhook: https://hooks.example/turnout
"#;

const TOML: &str = r#"
active = "green"
canary_weight = 12.5
sticky = false
salt = "s1"
timeout = 30
connect_timeout = 2
stats_window = 90
audit_log = "/tmp/audit.jsonl"
webhook = "https://hooks.example/turnout"
cost_tag = "project"
metrics = { listen = "127.0.0.1:9464" }
cache = { enabled = true, max_entries = 50, ttl = 2.5 }

[environments.blue]
base_url = "https://blue.example/v1/"
api_key = "${TURNOUT_CFG_TEST_FMT_KEY}"
label = "v1"
headers = { OpenAI-Organization = "org-1" }

[environments.green]
base_url = "https://${TURNOUT_CFG_TEST_FMT_HOST}/v1"
api_key = "sk-green-literal"
timeout = 12.5

[[rules]]
match = { tier = "premium" }
environment = "blue"

[retry]
max_attempts = 4
initial_backoff = 0.2
max_backoff = 8
multiplier = 1.5
jitter = "equal"

[model_fallbacks]
"gpt-4.1" = ["gpt-4o", "gpt-4o-mini"]

[health_check]
enabled = false
interval = 10
timeout = 1.5
path = "/health"
unhealthy_threshold = 4
healthy_threshold = 1

[circuit_breaker]
failure_threshold = 7
failure_rate = 0.25
window_size = 40
min_calls = 5
cooldown = 2.5

[rollback]
max_error_rate = 0.1
min_success_rate = 0.9
max_p99_latency_ms = 1500
window = 120
min_requests = 50
action = "alert"

[rate_limit]
requests_per_minute = 600
max_concurrency = 8

[pricing.my-model]
input = 0.5
output = 1.5

[state]
backend = "file"
path = "/tmp/turnout-state.json"
namespace = "app"
"#;

const JSON: &str = r#"{
  "environments": {
    "blue": {"base_url": "https://blue.example/v1/", "api_key": "${TURNOUT_CFG_TEST_FMT_KEY}",
             "label": "v1", "headers": {"OpenAI-Organization": "org-1"}},
    "green": {"base_url": "https://${TURNOUT_CFG_TEST_FMT_HOST}/v1", "api_key": "sk-green-literal",
              "timeout": 12.5}
  },
  "active": "green", "canary_weight": 12.5, "sticky": false, "salt": "s1",
  "rules": [{"match": {"tier": "premium"}, "environment": "blue"}],
  "retry": {"max_attempts": 4, "initial_backoff": 0.2, "max_backoff": 8, "multiplier": 1.5,
            "jitter": "equal"},
  "model_fallbacks": {"gpt-4.1": ["gpt-4o", "gpt-4o-mini"]},
  "health_check": {"enabled": false, "interval": 10, "timeout": 1.5, "path": "/health",
                   "unhealthy_threshold": 4, "healthy_threshold": 1},
  "circuit_breaker": {"failure_threshold": 7, "failure_rate": 0.25, "window_size": 40,
                      "min_calls": 5, "cooldown": 2.5},
  "rollback": {"max_error_rate": 0.1, "min_success_rate": 0.9, "max_p99_latency_ms": 1500,
               "window": 120, "min_requests": 50, "action": "alert"},
  "timeout": 30, "connect_timeout": 2, "stats_window": 90,
  "rate_limit": {"requests_per_minute": 600, "max_concurrency": 8},
  "pricing": {"my-model": {"input": 0.5, "output": 1.5}},
  "cost_tag": "project",
  "metrics": {"listen": "127.0.0.1:9464"},
  "cache": {"enabled": true, "max_entries": 50, "ttl": 2.5},
  "state": {"backend": "file", "path": "/tmp/turnout-state.json", "namespace": "app"},
  "audit_log": "/tmp/audit.jsonl",
  "webhook": "https://hooks.example/turnout"
}"#;

/// Checks every field of the config written in [`YAML`], [`TOML`] and [`JSON`].
fn assert_full_config(c: &Config) {
    let blue = &c.environments.blue;
    assert_eq!(blue.base_url(), "https://blue.example/v1");
    assert_eq!(blue.api_key().expose(), "sk-fmt-key-1234");
    assert_eq!(blue.label_str(), Some("v1"));
    assert_eq!(
        blue.headers(),
        [("OpenAI-Organization".to_string(), "org-1".to_string())]
    );
    assert_eq!(blue.timeout_override(), None);
    let green = &c.environments.green;
    assert_eq!(green.base_url(), "https://green.example/v1");
    assert_eq!(green.api_key().expose(), "sk-green-literal");
    assert_eq!(green.label_str(), None);
    assert_eq!(
        green.timeout_override(),
        Some(Duration::from_millis(12_500))
    );

    assert_eq!(c.active, Side::Green);
    assert_eq!(c.canary_weight, 12.5);
    assert!(!c.sticky);
    assert_eq!(c.salt, "s1");
    assert_eq!(c.rules, [Rule::new([("tier", "premium")], Side::Blue)]);
    assert_eq!(
        c.retry,
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(8),
            multiplier: 1.5,
            jitter: Jitter::Equal,
            ..RetryPolicy::default()
        }
    );
    assert_eq!(
        c.model_fallbacks.get("gpt-4.1").map(Vec::as_slice),
        Some(["gpt-4o".to_string(), "gpt-4o-mini".to_string()].as_slice())
    );
    assert_eq!(
        c.health_check,
        HealthCheck {
            enabled: false,
            interval: Duration::from_secs(10),
            timeout: Duration::from_millis(1500),
            path: "/health".to_string(),
            unhealthy_threshold: 4,
            healthy_threshold: 1,
        }
    );
    assert_eq!(
        c.circuit_breaker,
        CircuitBreaker {
            failure_threshold: 7,
            failure_rate: 0.25,
            window_size: 40,
            min_calls: 5,
            cooldown: Duration::from_millis(2500),
        }
    );
    assert_eq!(
        c.rollback,
        RollbackPolicy {
            max_error_rate: Some(0.1),
            min_success_rate: Some(0.9),
            max_p99_latency_ms: Some(1500.0),
            max_p99_ttft_ms: None,
            max_error_rate_delta: None,
            max_rate_limited_rate: None,
            window: Duration::from_secs(120),
            min_requests: 50,
            action: RollbackAction::Alert,
            ..RollbackPolicy::default()
        }
    );
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.stats_window, Duration::from_secs(90));
    assert_eq!(
        c.rate_limit,
        Some(RateLimit {
            requests_per_minute: Some(600),
            tokens_per_minute: None,
            max_concurrency: Some(8),
            ..RateLimit::default()
        })
    );
    assert_eq!(
        c.pricing.get("my-model"),
        Some(&Price {
            input: 0.5,
            output: 1.5
        })
    );
    assert_eq!(
        c.state,
        StateConfig {
            backend: StateBackend::File,
            path: Some("/tmp/turnout-state.json".into()),
            url: None,
            namespace: Some("app".to_string()),
            instance_id: None,
            lease_ttl: None,
        }
    );
    assert_eq!(c.audit_log, Some("/tmp/audit.jsonl".into()));
    assert_eq!(c.webhook.as_deref(), Some("https://hooks.example/turnout"));
    assert_eq!(c.cost_tag, "project");
    assert_eq!(
        c.metrics,
        MetricsConfig {
            listen: Some("127.0.0.1:9464".parse().unwrap())
        }
    );
    assert_eq!(
        c.cache,
        CacheConfig {
            enabled: true,
            max_entries: 50,
            ttl: Duration::from_millis(2500),
        }
    );
}

#[test]
fn yaml_toml_and_json_files_load_the_same_config() {
    set_env("TURNOUT_CFG_TEST_FMT_KEY", "sk-fmt-key-1234");
    set_env("TURNOUT_CFG_TEST_FMT_HOST", "green.example");
    for (name, text) in [
        ("turnout.yaml", YAML),
        ("turnout.yml", YAML),
        ("turnout.toml", TOML),
        ("turnout.json", JSON),
    ] {
        let path = TempFile::new(name, text);
        let config = Config::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_full_config(&config);
    }
    for (format, text) in [
        (Format::Yaml, YAML),
        (Format::Toml, TOML),
        (Format::Json, JSON),
    ] {
        assert_full_config(&Config::from_str(text, format).unwrap());
    }
    let value: Value = serde_json::from_str(JSON).unwrap();
    assert_full_config(&Config::from_value(value).unwrap());
}

#[test]
fn defaults_apply() {
    let c = Config::from_value(base()).unwrap();
    assert_eq!(c.active, Side::Blue);
    assert_eq!(c.canary_weight, 0.0);
    assert!(c.sticky);
    assert_eq!(c.salt, "turnout");
    assert!(c.rules.is_empty());
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(c.retry.max_attempts, 3);
    assert_eq!(c.retry.initial_backoff, Duration::from_millis(500));
    assert_eq!(c.retry.jitter, Jitter::Full);
    assert!(c.model_fallbacks.is_empty());
    assert_eq!(c.health_check, HealthCheck::default());
    assert_eq!(c.health_check.path, "/models");
    assert_eq!(c.circuit_breaker, CircuitBreaker::default());
    assert_eq!(c.rollback, RollbackPolicy::default());
    assert_eq!(c.rollback.max_error_rate, Some(0.05));
    assert_eq!(c.timeout, Duration::from_secs(600));
    assert_eq!(c.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.stats_window, Duration::from_secs(60));
    assert_eq!(c.rate_limit, None);
    assert!(c.pricing.is_empty());
    assert_eq!(c.state, StateConfig::default());
    assert_eq!(c.audit_log, None);
    assert_eq!(c.webhook, None);
    assert_eq!(c.cost_tag, "team");
    assert_eq!(c.metrics, MetricsConfig::default());
    assert_eq!(c.cache, CacheConfig::default());
    assert!(!c.cache.enabled);
    assert_eq!(c.environments.green.label_str(), None);

    // A section given in part keeps the defaults of the keys it leaves out.
    let c = Config::from_value(with(base(), json!({"retry": {"max_attempts": 5}}))).unwrap();
    assert_eq!(
        c.retry,
        RetryPolicy {
            max_attempts: 5,
            ..RetryPolicy::default()
        }
    );

    // An explicit null turns an optional gate off.
    let c =
        Config::from_value(with(base(), json!({"rollback": {"max_error_rate": null}}))).unwrap();
    assert_eq!(c.rollback.max_error_rate, None);

    // The typed defaults are those of Config::new.
    let n = Config::new(
        Environment::new("https://a.example", ApiKey::new("k")),
        Environment::new("https://b.example", ApiKey::new("k")),
    );
    assert_eq!(
        (n.active, n.canary_weight, n.sticky, &n.salt),
        (c.active, c.canary_weight, c.sticky, &c.salt)
    );
}

#[test]
fn variables_expand_everywhere() {
    set_env("TURNOUT_CFG_TEST_EXP_HOST", "green.example");
    set_env("TURNOUT_CFG_TEST_EXP_KEY", "sk-expanded-9999");
    set_env("TURNOUT_CFG_TEST_EXP_WEIGHT", "25");
    set_env("TURNOUT_CFG_TEST_EXP_LABEL", "42");
    set_env("TURNOUT_CFG_TEST_EXP_TIER", "gold");
    let yaml = r#"
environments:
  blue:
    base_url: https://blue.example/v1
    label: "${TURNOUT_CFG_TEST_EXP_LABEL}"
  green:
    base_url: "https://${TURNOUT_CFG_TEST_EXP_HOST}/v1"
    api_key: ${TURNOUT_CFG_TEST_EXP_KEY}
    label: "release $${NOT_A_VAR} ${TURNOUT_CFG_TEST_EXP_UNSET:-v2}"
canary_weight: ${TURNOUT_CFG_TEST_EXP_WEIGHT}
sticky: ${TURNOUT_CFG_TEST_EXP_UNSET:-false}
retry: {initial_backoff: "${TURNOUT_CFG_TEST_EXP_UNSET:-0.2}"}
rules:
  - match: {tier: "${TURNOUT_CFG_TEST_EXP_TIER}"}
    environment: green
"#;
    let c = Config::from_file(TempFile::new("vars.yaml", yaml)).unwrap();
    assert_eq!(c.environments.green.base_url(), "https://green.example/v1");
    assert_eq!(c.environments.green.api_key().expose(), "sk-expanded-9999");
    assert_eq!(
        c.environments.green.label_str(),
        Some("release ${NOT_A_VAR} v2")
    );
    // A whole-string reference becomes a number or a boolean only where one is expected.
    assert_eq!(c.environments.blue.label_str(), Some("42"));
    assert_eq!(c.canary_weight, 25.0);
    assert!(!c.sticky);
    assert_eq!(c.retry.initial_backoff, Duration::from_millis(200));
    assert_eq!(
        c.rules[0].matches.get("tier").map(String::as_str),
        Some("gold")
    );

    // Python's and Node's in-memory configs expand too.
    let c = Config::from_value(with(
        base(),
        json!({"environments": {"green": {"api_key": "${TURNOUT_CFG_TEST_EXP_KEY}"}}}),
    ))
    .unwrap();
    assert_eq!(c.environments.green.api_key().expose(), "sk-expanded-9999");

    // A value that is not a number stays an error, with its path.
    set_env("TURNOUT_CFG_TEST_EXP_BAD", "lots");
    let err = message(Config::from_value(with(
        base(),
        json!({"canary_weight": "${TURNOUT_CFG_TEST_EXP_BAD}"}),
    )));
    assert_eq!(
        err,
        "canary_weight: expected a number, got the string \"lots\" \
         (from ${TURNOUT_CFG_TEST_EXP_BAD})"
    );
}

#[test]
fn missing_variable_names_it_and_the_path() {
    let err = message(Config::from_value(with(
        base(),
        json!({"environments": {"green": {"api_key": "${TURNOUT_CFG_TEST_MISSING_GREEN_KEY}"}}}),
    )));
    assert_eq!(
        err,
        "environments.green.api_key: environment variable TURNOUT_CFG_TEST_MISSING_GREEN_KEY is not set"
    );
    let path = TempFile::new(
        "missing.toml",
        "[environments.blue]\nbase_url = \"https://${TURNOUT_CFG_TEST_MISSING_HOST}/v1\"\n",
    );
    let err = message(Config::from_file(&path));
    assert_eq!(
        err,
        format!(
            "{}: environments.blue.base_url: environment variable TURNOUT_CFG_TEST_MISSING_HOST is not set",
            path.display()
        )
    );
}

/// Bad configurations and their exact messages.
fn bad_configs() -> Vec<(Value, &'static str)> {
    vec![
        (
            with(base(), json!({"canary_weigth": 5})),
            "unknown key \"canary_weigth\" at top level; did you mean \"canary_weight\"?",
        ),
        (
            with(base(), json!({"canaryWeight": 5})),
            "unknown key \"canaryWeight\" at top level; did you mean \"canary_weight\"?",
        ),
        (
            json!({"environments": {
                "blue": {"base_ur": "https://blue.example/v1", "api_key": SECRET},
                "green": {"base_url": "https://green.example/v1"},
            }}),
            "unknown key \"base_ur\" in environments.blue; did you mean \"base_url\"?",
        ),
        (
            with(base(), json!({"retry": {"max_attempts": 3, "foo": 1}})),
            "unknown key \"foo\" in retry; expected one of: max_attempts, initial_backoff, \
             max_backoff, multiplier, jitter, max_retry_after, budget_ratio, budget_min_per_sec",
        ),
        (
            with(base(), json!({"max_attempts": 4})),
            "unknown key \"max_attempts\" at top level; did you mean \"max_attempts\" in retry?",
        ),
        (
            with(base(), json!({"retry": {"max_attempts": "three"}})),
            "retry.max_attempts: expected a whole number (0 or more), got the string \"three\"",
        ),
        (
            with(base(), json!({"retry": null})),
            "retry: expected a mapping, got null",
        ),
        (
            with(
                base(),
                json!({"rules": [{"match": {"a": "b"}, "environment": 1}]}),
            ),
            "rules[0].environment: expected a string, got 1",
        ),
        (
            with(base(), json!({"retry": {"jitter": "ful"}})),
            "retry.jitter: unknown value \"ful\"; did you mean \"full\"?",
        ),
        (
            with(base(), json!({"active": "gren"})),
            "active: unknown value \"gren\"; did you mean \"green\"?",
        ),
        (
            json!({"canary_weight": 5}),
            "missing required key \"environments\" at top level",
        ),
        (
            json!({"environments": {"blue": {"base_url": "https://blue.example/v1", "api_key": SECRET}}}),
            "missing required key \"green\" in environments",
        ),
        (
            json!({"environments": {
                "blue": {"base_url": "https://blue.example/v1", "api_key": SECRET},
                "green": {"api_key": "k", "label": "x"},
            }}),
            "missing required key \"base_url\" in environments.green",
        ),
        (
            with(base(), json!({"environments": {"green": {"api_key": 42}}})),
            "environments.green.api_key: must be a string",
        ),
        (
            with(
                base(),
                json!({"environments": {"green": {"headers": ["X-A: b"]}}}),
            ),
            "environments.green.headers: must be a mapping of header names to strings",
        ),
        (
            with(base(), json!({"canary_weight": 150})),
            "canary_weight must be within 0..=100, got 150",
        ),
        (
            with(base(), json!({"canary_weight": -1})),
            "canary_weight must be within 0..=100, got -1",
        ),
        (
            with(
                base(),
                json!({"environments": {"blue": {"base_url": "ftp://blue.example"}}}),
            ),
            "environments.blue.base_url must use http or https, got \"ftp://blue.example\"",
        ),
        (
            with(base(), json!({"environments": {"blue": {"timeout": 0}}})),
            "environments.blue.timeout must be > 0, got 0s",
        ),
        (
            with(base(), json!({"retry": {"max_attempts": 0}})),
            "retry.max_attempts must be within 1..=20, got 0",
        ),
        (
            with(base(), json!({"retry": {"max_attempts": 21}})),
            "retry.max_attempts must be within 1..=20, got 21",
        ),
        (
            with(base(), json!({"retry": {"multiplier": 0.5}})),
            "retry.multiplier must be a finite number >= 1, got 0.5",
        ),
        (
            with(
                base(),
                json!({"retry": {"initial_backoff": 10, "max_backoff": 8}}),
            ),
            "retry.initial_backoff must not exceed retry.max_backoff, got 10s > 8s",
        ),
        (
            with(base(), json!({"retry": {"budget_ratio": 1.5}})),
            "retry.budget_ratio must be within 0..=1, got 1.5",
        ),
        (
            with(base(), json!({"health_check": {"interval": 0}})),
            "health_check.interval must be > 0, got 0s",
        ),
        (
            with(base(), json!({"health_check": {"timeout": 0}})),
            "health_check.timeout must be > 0, got 0s",
        ),
        (
            with(base(), json!({"health_check": {"unhealthy_threshold": 0}})),
            "health_check.unhealthy_threshold must be >= 1, got 0",
        ),
        (
            with(base(), json!({"health_check": {"path": "models"}})),
            "health_check.path must start with \"/\", got \"models\"",
        ),
        (
            with(base(), json!({"circuit_breaker": {"failure_threshold": 0}})),
            "circuit_breaker.failure_threshold must be >= 1, got 0",
        ),
        (
            with(base(), json!({"circuit_breaker": {"failure_rate": 0}})),
            "circuit_breaker.failure_rate must be within (0, 1], got 0",
        ),
        (
            with(
                base(),
                json!({"circuit_breaker": {"window_size": 5, "min_calls": 10}}),
            ),
            "circuit_breaker.window_size must be >= circuit_breaker.min_calls, got 5 < 10",
        ),
        (
            with(base(), json!({"circuit_breaker": {"min_calls": 0}})),
            "circuit_breaker.min_calls must be >= 1, got 0",
        ),
        (
            with(base(), json!({"circuit_breaker": {"cooldown": 0}})),
            "circuit_breaker.cooldown must be > 0, got 0s",
        ),
        (
            with(base(), json!({"rollback": {"max_error_rate": 2}})),
            "rollback.max_error_rate must be within 0..=1, got 2",
        ),
        (
            with(base(), json!({"rollback": {"min_success_rate": -0.5}})),
            "rollback.min_success_rate must be within 0..=1, got -0.5",
        ),
        (
            with(base(), json!({"rollback": {"max_p99_latency_ms": 0}})),
            "rollback.max_p99_latency_ms must be a finite number > 0, got 0",
        ),
        (
            with(base(), json!({"rollback": {"window": 0}})),
            "rollback.window must be > 0, got 0s",
        ),
        (
            with(base(), json!({"rollback": {"min_requests": 0}})),
            "rollback.min_requests must be >= 1, got 0",
        ),
        (
            with(base(), json!({"rollback": {"action": "page"}})),
            "rollback.action: unknown value \"page\"; expected one of: \"rollback\", \"alert\"",
        ),
        (
            with(
                base(),
                json!({"rules": [{"match": {}, "environment": "green"}]}),
            ),
            "rules[0].match must name at least one metadata key, got {}",
        ),
        (
            with(
                base(),
                json!({"rules": [
                    {"match": {"a": "b"}, "environment": "green"},
                    {"match": {"a": "c"}, "environment": "purple"},
                ]}),
            ),
            "rules[1].environment: unknown value \"purple\"; expected one of: \"blue\", \"green\"",
        ),
        (
            with(base(), json!({"model_fallbacks": {"gpt-4.1": []}})),
            "model_fallbacks[\"gpt-4.1\"] must list at least one fallback model, got []",
        ),
        (
            with(
                base(),
                json!({"model_fallbacks": {"gpt-4o": ["gpt-4o-mini", "gpt-4o"]}}),
            ),
            "model_fallbacks.gpt-4o must not fall back to itself, got [\"gpt-4o-mini\", \"gpt-4o\"]",
        ),
        (
            with(base(), json!({"model_fallbacks": {"a": ["b"], "b": ["a"]}})),
            "model_fallbacks must not form a cycle, got \"a\" -> \"b\" -> \"a\"",
        ),
        (
            with(base(), json!({"timeout": 0})),
            "timeout must be > 0, got 0s",
        ),
        (
            with(base(), json!({"connect_timeout": -1})),
            "connect_timeout: a duration must be a finite, non-negative number of seconds, got -1",
        ),
        (
            with(base(), json!({"rate_limit": {"requests_per_minute": 0}})),
            "rate_limit.requests_per_minute must be >= 1, got 0",
        ),
        (
            with(
                base(),
                json!({"pricing": {"gpt-4o": {"input": -1, "output": 2}}}),
            ),
            "pricing.gpt-4o.input must be a finite number >= 0, got -1",
        ),
        (
            with(base(), json!({"pricing": {"gpt-4o": {"input": 1}}})),
            "missing required key \"output\" in pricing.gpt-4o",
        ),
        (
            with(base(), json!({"cost_tag": ""})),
            "cost_tag must not be empty, got \"\"",
        ),
        (
            with(
                base(),
                json!({"cache": {"enabled": true, "max_entries": 0}}),
            ),
            "cache.max_entries must be >= 1, got 0",
        ),
        (
            with(base(), json!({"cache": {"ttl": 0}})),
            "cache.ttl must be > 0, got 0s",
        ),
        (
            with(base(), json!({"metrics": {"listen": "localhost"}})),
            "metrics.listen: invalid socket address syntax",
        ),
        (
            with(base(), json!({"metrics": {"port": 9464}})),
            "unknown key \"port\" in metrics; expected one of: listen",
        ),
        (
            with(base(), json!({"state": {"backend": "file"}})),
            "state.path is required when state.backend is \"file\"",
        ),
        (
            with(base(), json!({"state": {"backend": "redis"}})),
            "state.url is required when state.backend is \"redis\"",
        ),
        (
            with(
                base(),
                json!({"state": {"backend": "redis", "url": "http://:hunter2@cache:6379"}}),
            ),
            "state.url must start with redis:// or rediss://, got \"http://:****@cache:6379/\"",
        ),
        (
            with(base(), json!({"webhook": "ftp://hooks.example"})),
            "webhook must be an absolute http(s) URL, got \"ftp://hooks.example\"",
        ),
        (
            json!("environments"),
            "the config must be a mapping of keys to values, got a string",
        ),
    ]
}

#[test]
fn bad_configs_have_exact_messages() {
    let cases = bad_configs();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (value, expected) in cases {
        let got = message(Config::from_value(value));
        if got != expected {
            failures.push(format!("expected: {expected}\n     got: {got}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn display_says_it_is_a_config_error() {
    let err = Config::from_value(with(base(), json!({"canary_weight": 150}))).unwrap_err();
    assert_eq!(err.kind(), turnout::ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "invalid configuration: canary_weight must be within 0..=100, got 150"
    );
}

#[test]
fn file_errors_name_the_file() {
    let path = TempFile::new("turnout.ini", "x = 1");
    let err = message(Config::from_file(&path));
    assert_eq!(
        err,
        format!(
            "{}: unsupported config file extension \".ini\"; use .yaml, .yml, .toml or .json",
            path.display()
        )
    );

    let missing = std::env::temp_dir().join("turnout-config-test-surely-missing.yaml");
    let err = message(Config::from_file(&missing));
    assert!(
        err.starts_with(&format!("cannot read {}: ", missing.display())),
        "{err}"
    );

    let path = TempFile::new("bad.yaml", "environments:\n  blue: [\n");
    let err = message(Config::from_file(&path));
    assert!(
        err.starts_with(&format!("{}: cannot parse YAML: ", path.display())),
        "{err}"
    );

    let path = TempFile::new("bad.json", "{\"environments\": }");
    let err = message(Config::from_file(&path));
    assert_eq!(
        err,
        format!(
            "{}: cannot parse JSON: expected value at line 1 column 18",
            path.display()
        )
    );

    let path = TempFile::new("empty.yaml", "");
    assert_eq!(
        message(Config::from_file(&path)),
        format!("{}: the config is empty", path.display())
    );

    let path = TempFile::new("typo.toml", "canary_weigth = 3\n");
    assert_eq!(
        message(Config::from_file(&path)),
        format!(
            "{}: unknown key \"canary_weigth\" at top level; did you mean \"canary_weight\"?",
            path.display()
        )
    );
}

#[test]
fn api_key_never_appears_in_errors() {
    let mut cases: Vec<turnout::Result<Config>> = bad_configs()
        .into_iter()
        .map(|(v, _)| Config::from_value(v))
        .collect();
    // The key in places where serde would quote it.
    cases.push(Config::from_value(with(base(), json!({"active": SECRET}))));
    cases.push(Config::from_value(with(
        base(),
        json!({"environments": {"green": {"api_key": 123456789}}}),
    )));
    cases.push(Config::from_value(with(
        base(),
        json!({"environments": {"green": {"headers": {"Authorization": 5}}}}),
    )));
    cases.push(Config::from_value(with(
        base(),
        json!({"environments": {"green": {"headers": {"X-Key": format!("{SECRET}\n")}}}}),
    )));
    cases.push(Config::from_value(with(
        base(),
        json!({"canary_weight": SECRET}),
    )));
    cases.push(Config::from_str(
        &format!("[environments.blue]\napi_key = \"{SECRET}\nbase_url = 3\n"),
        Format::Toml,
    ));
    cases.push(Config::from_str(
        &format!("environments:\n  blue: {{api_key: \"{SECRET}\", base_url: [}}\n"),
        Format::Yaml,
    ));
    cases.push(Config::from_str(
        &format!("{{\"environments\": {{\"blue\": {{\"api_key\": \"{SECRET}\"}}}}"),
        Format::Json,
    ));
    for result in cases {
        let err = result.expect_err("every case is a bad config");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("SHOULD-NOT-LEAK"), "leaked: {shown}");
            assert!(!shown.contains("123456789"), "leaked: {shown}");
        }
    }
    // A valid config's Debug does not show it either.
    let config = Config::from_value(base()).unwrap();
    assert!(!format!("{config:?}").contains("SHOULD-NOT-LEAK"));
}

/// The first fenced block of `lang` in `markdown`.
fn fenced(markdown: &str, lang: &str) -> String {
    let start = markdown
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no {lang} block"));
    let body = &markdown[start + lang.len() + 4..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn documented_examples_load() {
    set_env("BLUE_API_KEY", "sk-doc-blue-0000");
    set_env("GREEN_API_KEY", "sk-doc-green-0000");
    let reference = include_str!("../../docs/configuration.md");
    let c = Config::from_str(&fenced(reference, "yaml"), Format::Yaml).unwrap();
    assert_eq!(c.canary_weight, 10.0);
    assert_eq!(c.environments.green.label_str(), Some("v2"));
    assert_eq!(c.retry.initial_backoff, Duration::from_millis(200));
    let c = Config::from_str(&fenced(reference, "toml"), Format::Toml).unwrap();
    assert_eq!(c.model_fallbacks["gpt-4.1"], ["gpt-4o", "gpt-4o-mini"]);

    set_env("OPENAI_KEY", "sk-doc-openai-0000");
    set_env("GREEN_HOST", "green.example");
    set_env("GREEN_KEY", "sk-doc-green-1111");
    let module_doc = include_str!("../src/config/mod.rs")
        .replace("//! ", "")
        .replace("//!", "");
    let c = Config::from_str(&fenced(&module_doc, "yaml"), Format::Yaml).unwrap();
    assert_eq!(c.environments.green.base_url(), "https://green.example/v1");
    assert_eq!(c.timeout, Duration::from_secs(30));
}
