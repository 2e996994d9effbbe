//! `new Client({...})` options (camelCase, milliseconds) to the config-file shape (snake_case,
//! seconds) that `turnout::Config::from_value` reads, so that every check stays in core.
//!
//! The conversion follows a fixed schema rather than renaming every key: maps whose keys are
//! user data (model names in `modelFallbacks` and `pricing`, metadata keys in `rules[].match`,
//! header names) must pass through untouched.

use serde_json::{Map, Value};

/// How one option is carried over.
#[derive(Clone, Copy)]
enum Kind {
    /// The value as it is.
    Plain,
    /// Milliseconds to seconds.
    Millis,
    /// An environment object (`{baseUrl, apiKey, label, headers, timeoutMs}`).
    Environment,
    /// A nested section with its own schema.
    Section(&'static [Field]),
    /// An array of sections with this schema.
    List(&'static [Field]),
}

/// One option: its camelCase name, its config-file name and how it converts.
struct Field {
    js: &'static str,
    file: &'static str,
    kind: Kind,
}

const fn f(js: &'static str, file: &'static str, kind: Kind) -> Field {
    Field { js, file, kind }
}

const ENVIRONMENT: &[Field] = &[
    f("baseUrl", "base_url", Kind::Plain),
    f("apiKey", "api_key", Kind::Plain),
    f("auth", "auth", Kind::Plain),
    f("query", "query", Kind::Plain),
    f("models", "models", Kind::Plain),
    f("label", "label", Kind::Plain),
    f("headers", "headers", Kind::Plain),
    f("timeoutMs", "timeout", Kind::Millis),
];

const ENVIRONMENTS: &[Field] = &[
    f("blue", "blue", Kind::Environment),
    f("green", "green", Kind::Environment),
];

const RETRY: &[Field] = &[
    f("maxAttempts", "max_attempts", Kind::Plain),
    f("initialBackoffMs", "initial_backoff", Kind::Millis),
    f("maxBackoffMs", "max_backoff", Kind::Millis),
    f("multiplier", "multiplier", Kind::Plain),
    f("jitter", "jitter", Kind::Plain),
    f("maxRetryAfterMs", "max_retry_after", Kind::Millis),
    f("budgetRatio", "budget_ratio", Kind::Plain),
    f("budgetMinPerSec", "budget_min_per_sec", Kind::Plain),
];

const HEALTH_CHECK: &[Field] = &[
    f("enabled", "enabled", Kind::Plain),
    f("intervalMs", "interval", Kind::Millis),
    f("timeoutMs", "timeout", Kind::Millis),
    f("path", "path", Kind::Plain),
    f("unhealthyThreshold", "unhealthy_threshold", Kind::Plain),
    f("healthyThreshold", "healthy_threshold", Kind::Plain),
];

const CIRCUIT_BREAKER: &[Field] = &[
    f("failureThreshold", "failure_threshold", Kind::Plain),
    f("failureRate", "failure_rate", Kind::Plain),
    f("windowSize", "window_size", Kind::Plain),
    f("minCalls", "min_calls", Kind::Plain),
    f("cooldownMs", "cooldown", Kind::Millis),
];

/// The automatic rollback guard.
const ROLLBACK: &[Field] = &[
    f("maxErrorRate", "max_error_rate", Kind::Plain),
    f("minSuccessRate", "min_success_rate", Kind::Plain),
    // Already milliseconds in the config file.
    f("maxP99LatencyMs", "max_p99_latency_ms", Kind::Plain),
    f("maxP99TtftMs", "max_p99_ttft_ms", Kind::Plain),
    f("maxErrorRateDelta", "max_error_rate_delta", Kind::Plain),
    f("maxRateLimitedRate", "max_rate_limited_rate", Kind::Plain),
    f("windowMs", "window", Kind::Millis),
    f("minRequests", "min_requests", Kind::Plain),
    f("action", "action", Kind::Plain),
    f(
        "maxCostPerRequestUsd",
        "max_cost_per_request_usd",
        Kind::Plain,
    ),
    f("maxCostRatio", "max_cost_ratio", Kind::Plain),
    f(
        "maxOutputTokensRatio",
        "max_output_tokens_ratio",
        Kind::Plain,
    ),
    f("minCachedTokenShare", "min_cached_token_share", Kind::Plain),
    f(
        "shadowMaxToolMismatchRate",
        "shadow_max_tool_mismatch_rate",
        Kind::Plain,
    ),
    f(
        "shadowMaxInvalidJsonRate",
        "shadow_max_invalid_json_rate",
        Kind::Plain,
    ),
    f("shadowMaxCostRatio", "shadow_max_cost_ratio", Kind::Plain),
];

const RATE_LIMIT: &[Field] = &[
    f("requestsPerMinute", "requests_per_minute", Kind::Plain),
    f("tokensPerMinute", "tokens_per_minute", Kind::Plain),
    f("maxConcurrency", "max_concurrency", Kind::Plain),
    f("priorityAgingMs", "priority_aging", Kind::Millis),
];

const METRICS: &[Field] = &[f("listen", "listen", Kind::Plain)];

const OTEL: &[Field] = &[
    f("endpoint", "endpoint", Kind::Plain),
    f("serviceName", "service_name", Kind::Plain),
    f("headers", "headers", Kind::Plain),
    f("exportIntervalMs", "export_interval", Kind::Millis),
];

const CACHE: &[Field] = &[
    f("enabled", "enabled", Kind::Plain),
    f("maxEntries", "max_entries", Kind::Plain),
    f("ttlMs", "ttl", Kind::Millis),
];

const STATE: &[Field] = &[
    f("backend", "backend", Kind::Plain),
    f("path", "path", Kind::Plain),
    f("url", "url", Kind::Plain),
    f("namespace", "namespace", Kind::Plain),
];

const BOUNDS: &[Field] = &[
    f("responseBodyBytes", "response_body_bytes", Kind::Plain),
    f("errorBodyBytes", "error_body_bytes", Kind::Plain),
    f("sseEventBytes", "sse_event_bytes", Kind::Plain),
];

const HEDGE: &[Field] = &[
    // `after: 'p95'`, or a delay in ms.
    f("after", "after", Kind::Plain),
    f("afterMs", "after", Kind::Millis),
    f("maxExtra", "max_extra", Kind::Plain),
];

const SHADOW: &[Field] = &[
    f("sample", "sample", Kind::Plain),
    f("maxConcurrency", "max_concurrency", Kind::Plain),
    f("maxUsdPerHour", "max_usd_per_hour", Kind::Plain),
];

const TOP: &[Field] = &[
    f("environments", "environments", Kind::Section(ENVIRONMENTS)),
    f("active", "active", Kind::Plain),
    f("canaryWeight", "canary_weight", Kind::Plain),
    f("sticky", "sticky", Kind::Plain),
    f("salt", "salt", Kind::Plain),
    f("rules", "rules", Kind::Plain),
    f("retry", "retry", Kind::Section(RETRY)),
    f("modelFallbacks", "model_fallbacks", Kind::Plain),
    f("healthCheck", "health_check", Kind::Section(HEALTH_CHECK)),
    f(
        "circuitBreaker",
        "circuit_breaker",
        Kind::Section(CIRCUIT_BREAKER),
    ),
    f("rollback", "rollback", Kind::Section(ROLLBACK)),
    f("timeoutMs", "timeout", Kind::Millis),
    f("connectTimeoutMs", "connect_timeout", Kind::Millis),
    f("deadlineMs", "deadline", Kind::Millis),
    f(
        "streamFirstEventTimeoutMs",
        "stream_first_event_timeout",
        Kind::Millis,
    ),
    f("bounds", "bounds", Kind::Section(BOUNDS)),
    f("statsWindowMs", "stats_window", Kind::Millis),
    f("rateLimit", "rate_limit", Kind::Section(RATE_LIMIT)),
    f("pricing", "pricing", Kind::Plain),
    f("costTag", "cost_tag", Kind::Plain),
    f("metrics", "metrics", Kind::Section(METRICS)),
    f("cache", "cache", Kind::Section(CACHE)),
    f("state", "state", Kind::Section(STATE)),
    f("auditLog", "audit_log", Kind::Plain),
    f("webhook", "webhook", Kind::Plain),
    f("otel", "otel", Kind::Section(OTEL)),
    f("hedge", "hedge", Kind::Section(HEDGE)),
    f("shadow", "shadow", Kind::Section(SHADOW)),
    f("balance", "balance", Kind::Plain),
];

const STEP: &[Field] = &[
    f("weight", "weight", Kind::Plain),
    f("holdMs", "hold", Kind::Millis),
    f("minRequests", "min_requests", Kind::Plain),
    f("shadow", "shadow", Kind::Plain),
];

const ROLLOUT_PLAN: &[Field] = &[
    f("steps", "steps", Kind::List(STEP)),
    f("gates", "gates", Kind::Section(ROLLBACK)),
    f("intervalMs", "interval", Kind::Millis),
    f("failureLimit", "failure_limit", Kind::Plain),
    f("stepDeadlineMs", "step_deadline", Kind::Millis),
];

/// Converts a rollout plan `{steps: [{weight, holdMs, minRequests}], gates, intervalMs, ...}`
/// to the shape `turnout::RolloutPlan::from_value` reads.
pub fn rollout_plan(plan: Value) -> Result<Value, String> {
    match plan {
        Value::Object(map) => section(map, ROLLOUT_PLAN, "plan"),
        other => Err(format!(
            "a rollout plan must be an object {{ steps, gates, intervalMs }}, got {}",
            type_name(&other)
        )),
    }
}

/// Converts the options of `new Client({...})` to the config-file shape.
///
/// `blue` and `green` at the top level are shorthands for `environments: {blue, green}`.
pub fn client_options(options: Value) -> Result<Value, String> {
    let Value::Object(mut map) = options else {
        return Err(format!(
            "Client options must be an object, got {}",
            type_name(&options)
        ));
    };
    let mut envs = Map::new();
    for side in ["blue", "green"] {
        if let Some(env) = map.remove(side) {
            envs.insert(side.to_string(), env);
        }
    }
    if !envs.is_empty() {
        match map.get_mut("environments") {
            Some(Value::Object(existing)) => {
                for (side, env) in envs {
                    if existing.contains_key(&side) {
                        return Err(format!(
                            "{side} is given twice: at the top level and in environments"
                        ));
                    }
                    existing.insert(side, env);
                }
            }
            _ => {
                map.insert("environments".to_string(), Value::Object(envs));
            }
        }
    }
    section(map, TOP, "")
}

/// Converts a section, in the schema `fields`; `at` is its path for error messages.
fn section(map: Map<String, Value>, fields: &[Field], at: &str) -> Result<Value, String> {
    let mut out = Map::new();
    for (key, value) in map {
        // `undefined` arrives as null: an option left out.
        if value.is_null() && !matches!(key.as_str(), "maxErrorRate" | "minSuccessRate") {
            continue;
        }
        let Some(field) = fields.iter().find(|f| f.js == key) else {
            return Err(unknown(&key, fields, at));
        };
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        out.insert(field.file.to_string(), convert(value, field.kind, &path)?);
    }
    Ok(Value::Object(out))
}

fn convert(value: Value, kind: Kind, path: &str) -> Result<Value, String> {
    match kind {
        Kind::Plain => Ok(value),
        Kind::Millis => millis(value, path),
        Kind::Environment => match value {
            Value::String(base_url) => {
                let mut m = Map::new();
                m.insert("base_url".to_string(), Value::String(base_url));
                Ok(Value::Object(m))
            }
            Value::Object(m) => section(m, ENVIRONMENT, path),
            other => Err(format!(
                "{path} must be an object {{ baseUrl, apiKey, label }}, got {}",
                type_name(&other)
            )),
        },
        Kind::List(fields) => match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(m) => section(m, fields, &format!("{path}[{i}]")),
                    other => Err(format!(
                        "{path}[{i}] must be an object, got {}",
                        type_name(&other)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Err(format!(
                "{path} must be an array, got {}",
                type_name(&other)
            )),
        },
        Kind::Section(fields) => match value {
            Value::Object(m) => section(m, fields, path),
            other => Err(format!(
                "{path} must be an object, got {}",
                type_name(&other)
            )),
        },
    }
}

/// Milliseconds to float seconds; anything else is left for core to reject with its message.
fn millis(value: Value, path: &str) -> Result<Value, String> {
    match value {
        Value::Number(n) => {
            let ms = n.as_f64().unwrap_or(f64::NAN);
            if !ms.is_finite() || ms < 0.0 {
                return Err(format!(
                    "{path} must be a finite, non-negative number of milliseconds, got {ms}"
                ));
            }
            serde_json::Number::from_f64(ms / 1000.0)
                .map(Value::Number)
                .ok_or_else(|| format!("{path} must be a number of milliseconds, got {ms}"))
        }
        other => Err(format!(
            "{path} must be a number of milliseconds, got {}",
            type_name(&other)
        )),
    }
}

fn unknown(key: &str, fields: &[Field], at: &str) -> String {
    let name = if at.is_empty() {
        format!("unknown option \"{key}\"")
    } else {
        format!("unknown option \"{key}\" in {at}")
    };
    let best = fields
        .iter()
        .map(|f| (strsim::jaro_winkler(key, f.js), f.js))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, hint)) => format!("{name}; did you mean \"{hint}\"?"),
        None => {
            let names: Vec<&str> = fields.iter().map(|f| f.js).collect();
            format!("{name}; expected one of {}", names.join(", "))
        }
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_names_and_milliseconds_but_not_user_keys() {
        let v = client_options(json!({
            "blue": {"baseUrl": "http://a/v1", "apiKey": "k", "label": "v1", "timeoutMs": 1500},
            "green": "http://b/v1",
            "canaryWeight": 10,
            "retry": {"maxAttempts": 4, "initialBackoffMs": 200},
            "modelFallbacks": {"gpt_4.1": ["gpt-4o"]},
            "rules": [{"match": {"user_tier": "premium"}, "environment": "green"}],
            "rollback": {"maxP99LatencyMs": 900, "windowMs": 60000, "maxErrorRate": null},
            "timeoutMs": 30000,
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({
                "environments": {
                    "blue": {"base_url": "http://a/v1", "api_key": "k", "label": "v1", "timeout": 1.5},
                    "green": {"base_url": "http://b/v1"},
                },
                "canary_weight": 10,
                "retry": {"max_attempts": 4, "initial_backoff": 0.2},
                "model_fallbacks": {"gpt_4.1": ["gpt-4o"]},
                "rules": [{"match": {"user_tier": "premium"}, "environment": "green"}],
                "rollback": {"max_p99_latency_ms": 900, "window": 60.0, "max_error_rate": null},
                "timeout": 30.0,
            })
        );
    }

    #[test]
    fn converts_deadlines_bounds_and_provider_options() {
        let v = client_options(json!({
            "blue": {"baseUrl": "http://a/v1", "auth": "api-key",
                     "query": {"api-version": "x"}, "models": {"gpt_4.1": "dep"}},
            "deadlineMs": 2500,
            "streamFirstEventTimeoutMs": 750,
            "bounds": {"sseEventBytes": 1024},
            "rollback": {"maxRateLimitedRate": 0.2},
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({
                "environments": {"blue": {"base_url": "http://a/v1", "auth": "api-key",
                    "query": {"api-version": "x"}, "models": {"gpt_4.1": "dep"}}},
                "deadline": 2.5,
                "stream_first_event_timeout": 0.75,
                "bounds": {"sse_event_bytes": 1024},
                "rollback": {"max_rate_limited_rate": 0.2},
            })
        );
    }

    #[test]
    fn converts_a_rollout_plan() {
        let v = rollout_plan(json!({
            "steps": [{"weight": 5, "holdMs": 1500, "minRequests": 10}, {"weight": 100}],
            "gates": {"maxErrorRate": 0.1},
            "intervalMs": 250,
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({
                "steps": [{"weight": 5, "hold": 1.5, "min_requests": 10}, {"weight": 100}],
                "gates": {"max_error_rate": 0.1},
                "interval": 0.25,
            })
        );
        let e = rollout_plan(json!({"steps": [{"weight": 5, "hold": 3}]})).unwrap_err();
        assert!(
            e.contains("in plan.steps[0]") && e.contains("holdMs"),
            "{e}"
        );
    }

    #[test]
    fn converts_otel_options_but_not_header_names() {
        let v = client_options(json!({
            "otel": {
                "endpoint": "http://127.0.0.1:4318",
                "serviceName": "checkout",
                "headers": {"x-api-key": "k"},
                "exportIntervalMs": 500,
            },
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({"otel": {
                "endpoint": "http://127.0.0.1:4318",
                "service_name": "checkout",
                "headers": {"x-api-key": "k"},
                "export_interval": 0.5,
            }})
        );
    }

    #[test]
    fn unknown_options_get_a_hint() {
        let e = client_options(json!({"canaryWeigth": 5})).unwrap_err();
        assert!(e.contains("did you mean \"canaryWeight\""), "{e}");
        let e = client_options(json!({"retry": {"maxAttempt": 5}})).unwrap_err();
        assert!(e.contains("in retry") && e.contains("maxAttempts"), "{e}");
        let e = client_options(json!({"timeoutMs": "soon"})).unwrap_err();
        assert!(
            e.contains("timeoutMs must be a number of milliseconds"),
            "{e}"
        );
    }
}
