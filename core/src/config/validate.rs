//! Validation: every message names the field and the value, never an API key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::keypath::child;
use super::{Config, StateBackend};
use crate::environment::Side;
use crate::error::{Error, Result};

/// A validation failure, before it becomes an [`Error::Config`].
type Check = std::result::Result<(), String>;

impl Config {
    /// Checks every field; the error names the first bad one and its value.
    ///
    /// [`Config::from_value`] and the client builder call it; call it yourself after changing a
    /// config by hand.
    pub fn validate(&self) -> Result<()> {
        self.check_environments()?;
        self.check_routing()
            .and_then(|()| self.check_retry())
            .and_then(|()| self.check_health())
            .and_then(|()| self.check_rollback())
            .and_then(|()| self.check_model_fallbacks())
            .and_then(|()| self.check_limits())
            .and_then(|()| self.check_state())
            .and_then(|()| crate::otel::check(self.otel.as_ref()))
            .and_then(|()| self.shadow.as_ref().map_or(Ok(()), super::Shadow::check))
            .map_err(Error::Config)
    }

    fn check_environments(&self) -> Result<()> {
        for side in Side::BOTH {
            let env = self.environments.get(side);
            env.validate(side)?;
            if let Some(t) = env.timeout_override() {
                positive(&format!("environments.{side}.timeout"), t).map_err(Error::Config)?;
            }
            for (name, value) in env.headers() {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(Error::Config(format!(
                        "environments.{side}.headers has an invalid header name, got {name:?}"
                    )));
                }
                // The value is not shown: headers often carry credentials.
                if HeaderValue::from_str(value).is_err() {
                    return Err(Error::Config(format!(
                        "{} is not a valid header value (it must be visible ASCII)",
                        child(&format!("environments.{side}.headers"), name)
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_routing(&self) -> Check {
        within("canary_weight", self.canary_weight, 0.0, 100.0)?;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matches.is_empty() {
                return Err(format!(
                    "rules[{i}].match must name at least one metadata key, got {{}}"
                ));
            }
        }
        positive("timeout", self.timeout)?;
        positive("connect_timeout", self.connect_timeout)?;
        positive("stats_window", self.stats_window)
    }

    fn check_retry(&self) -> Check {
        let r = &self.retry;
        if !(1..=20).contains(&r.max_attempts) {
            return Err(format!(
                "retry.max_attempts must be within 1..=20, got {}",
                r.max_attempts
            ));
        }
        if !(1.0..=f64::MAX).contains(&r.multiplier) {
            return Err(format!(
                "retry.multiplier must be a finite number >= 1, got {}",
                r.multiplier
            ));
        }
        if r.initial_backoff > r.max_backoff {
            return Err(format!(
                "retry.initial_backoff must not exceed retry.max_backoff, got {} > {}",
                secs(r.initial_backoff),
                secs(r.max_backoff)
            ));
        }
        within("retry.budget_ratio", r.budget_ratio, 0.0, 1.0)
    }

    fn check_health(&self) -> Check {
        let h = &self.health_check;
        positive("health_check.interval", h.interval)?;
        positive("health_check.timeout", h.timeout)?;
        at_least_one(
            "health_check.unhealthy_threshold",
            h.unhealthy_threshold.into(),
        )?;
        at_least_one("health_check.healthy_threshold", h.healthy_threshold.into())?;
        if !h.path.starts_with('/') {
            return Err(format!(
                "health_check.path must start with \"/\", got {:?}",
                h.path
            ));
        }

        let c = &self.circuit_breaker;
        at_least_one(
            "circuit_breaker.failure_threshold",
            c.failure_threshold.into(),
        )?;
        if !(c.failure_rate > 0.0 && c.failure_rate <= 1.0) {
            return Err(format!(
                "circuit_breaker.failure_rate must be within (0, 1], got {}",
                c.failure_rate
            ));
        }
        at_least_one("circuit_breaker.min_calls", c.min_calls.into())?;
        if c.window_size < c.min_calls {
            return Err(format!(
                "circuit_breaker.window_size must be >= circuit_breaker.min_calls, got {} < {}",
                c.window_size, c.min_calls
            ));
        }
        positive("circuit_breaker.cooldown", c.cooldown)
    }

    fn check_rollback(&self) -> Check {
        let r = &self.rollback;
        for (name, rate) in [
            ("rollback.max_error_rate", r.max_error_rate),
            ("rollback.min_success_rate", r.min_success_rate),
            ("rollback.max_error_rate_delta", r.max_error_rate_delta),
            ("rollback.max_rate_limited_rate", r.max_rate_limited_rate),
            ("rollback.min_cached_token_share", r.min_cached_token_share),
            (
                "rollback.shadow_max_tool_mismatch_rate",
                r.shadow_max_tool_mismatch_rate,
            ),
            (
                "rollback.shadow_max_invalid_json_rate",
                r.shadow_max_invalid_json_rate,
            ),
        ] {
            if let Some(rate) = rate {
                within(name, rate, 0.0, 1.0)?;
            }
        }
        for (name, ms) in [
            ("rollback.max_p99_latency_ms", r.max_p99_latency_ms),
            ("rollback.max_p99_ttft_ms", r.max_p99_ttft_ms),
            (
                "rollback.max_cost_per_request_usd",
                r.max_cost_per_request_usd,
            ),
            ("rollback.max_cost_ratio", r.max_cost_ratio),
            (
                "rollback.max_output_tokens_ratio",
                r.max_output_tokens_ratio,
            ),
            ("rollback.shadow_max_cost_ratio", r.shadow_max_cost_ratio),
        ] {
            if let Some(ms) = ms
                && !(ms > 0.0 && ms.is_finite())
            {
                return Err(format!("{name} must be a finite number > 0, got {ms}"));
            }
        }
        positive("rollback.window", r.window)?;
        let b = &self.bounds;
        for (name, n) in [
            ("bounds.response_body_bytes", b.response_body_bytes),
            ("bounds.error_body_bytes", b.error_body_bytes),
            ("bounds.sse_event_bytes", b.sse_event_bytes),
        ] {
            at_least_one(name, n)?;
        }
        for (name, d) in [
            ("deadline", self.deadline),
            (
                "stream_first_event_timeout",
                self.stream_first_event_timeout,
            ),
        ] {
            if let Some(d) = d {
                positive(name, d)?;
            }
        }
        at_least_one("rollback.min_requests", r.min_requests)
    }

    fn check_model_fallbacks(&self) -> Check {
        for (model, chain) in &self.model_fallbacks {
            let name = child("model_fallbacks", model);
            if model.is_empty() {
                return Err("model_fallbacks has an empty model name, got \"\"".to_string());
            }
            if chain.is_empty() {
                return Err(format!(
                    "{name} must list at least one fallback model, got []"
                ));
            }
            if chain.contains(model) {
                return Err(format!(
                    "{name} must not fall back to itself, got {chain:?}"
                ));
            }
            let mut seen = BTreeSet::new();
            for fallback in chain {
                if fallback.is_empty() {
                    return Err(format!("{name} has an empty model name, got {chain:?}"));
                }
                if !seen.insert(fallback) {
                    return Err(format!(
                        "{name} must list each model once, got {fallback:?} twice in {chain:?}"
                    ));
                }
            }
        }
        if let Some(cycle) = find_cycle(&self.model_fallbacks) {
            let shown: Vec<String> = cycle.iter().map(|m| format!("{m:?}")).collect();
            return Err(format!(
                "model_fallbacks must not form a cycle, got {}",
                shown.join(" -> ")
            ));
        }
        Ok(())
    }

    fn check_limits(&self) -> Check {
        if let Some(limit) = &self.rate_limit {
            for (name, value) in [
                (
                    "rate_limit.requests_per_minute",
                    limit.requests_per_minute.map(u64::from),
                ),
                ("rate_limit.tokens_per_minute", limit.tokens_per_minute),
                (
                    "rate_limit.max_concurrency",
                    limit.max_concurrency.map(u64::from),
                ),
            ] {
                if let Some(value) = value {
                    at_least_one(name, value)?;
                }
            }
        }
        if self.cost_tag.is_empty() {
            return Err("cost_tag must not be empty, got \"\"".into());
        }
        at_least_one("cache.max_entries", self.cache.max_entries as u64)?;
        positive("cache.ttl", self.cache.ttl)?;
        for (model, price) in &self.pricing {
            let name = child("pricing", model);
            for (field, value) in [("input", price.input), ("output", price.output)] {
                if !(0.0..=f64::MAX).contains(&value) {
                    return Err(format!(
                        "{name}.{field} must be a finite number >= 0, got {value}"
                    ));
                }
            }
        }
        if self.cost_tag.is_empty() {
            return Err("cost_tag must not be empty, got \"\"".into());
        }
        at_least_one(
            "cache.max_entries",
            u64::try_from(self.cache.max_entries).unwrap_or(u64::MAX),
        )?;
        positive("cache.ttl", self.cache.ttl)?;
        Ok(())
    }

    fn check_state(&self) -> Check {
        let s = &self.state;
        match s.backend {
            StateBackend::Memory => {}
            StateBackend::File => match &s.path {
                None => return Err("state.path is required when state.backend is \"file\"".into()),
                Some(p) if p.as_os_str().is_empty() => {
                    return Err("state.path must not be empty, got \"\"".into());
                }
                Some(_) => {}
            },
            StateBackend::Redis => match &s.url {
                None => return Err("state.url is required when state.backend is \"redis\"".into()),
                Some(url) if !(url.starts_with("redis://") || url.starts_with("rediss://")) => {
                    return Err(format!(
                        "state.url must start with redis:// or rediss://, got {:?}",
                        shown_url(url)
                    ));
                }
                Some(_) => {}
            },
        }
        if s.namespace.as_deref() == Some("") {
            return Err("state.namespace must not be empty, got \"\"".into());
        }
        if let Some(p) = &self.audit_log
            && p.as_os_str().is_empty()
        {
            return Err("audit_log must not be empty, got \"\"".into());
        }
        if let Some(url) = &self.webhook {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(format!(
                    "webhook must be an absolute http(s) URL, got {:?}",
                    shown_url(url)
                ));
            }
        }
        Ok(())
    }
}

/// `v` within `lo..=hi` (NaN never is).
fn within(name: &str, v: f64, lo: f64, hi: f64) -> Check {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{name} must be within {lo}..={hi}, got {v}"))
    }
}

fn positive(name: &str, d: Duration) -> Check {
    if d.is_zero() {
        Err(format!("{name} must be > 0, got {}", secs(d)))
    } else {
        Ok(())
    }
}

fn at_least_one(name: &str, n: u64) -> Check {
    if n == 0 {
        Err(format!("{name} must be >= 1, got 0"))
    } else {
        Ok(())
    }
}

/// A duration as the file writes it: `0.2s`.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// A URL fit for a message: its secrets are masked.
fn shown_url(url: &str) -> String {
    crate::secret::masked_url(url)
}

/// A cycle of fallbacks across chains (`a -> b -> a`), if there is one, in a stable order.
fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<&str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }

    fn visit<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, Vec<String>>,
        marks: &mut BTreeMap<&'g str, Mark>,
        path: &mut Vec<&'g str>,
    ) -> Option<Vec<&'g str>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::OnPath) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node);
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::OnPath);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }

    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|model| visit(model, graph, &mut marks, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiKey, Environment};

    fn config() -> Config {
        Config::new(
            Environment::new("https://a.example/v1", ApiKey::new("sk-blue-123456789")),
            Environment::new("https://b.example/v1", ApiKey::new("sk-green-123456789")),
        )
    }

    fn message(c: &Config) -> String {
        match c.validate() {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn nan_and_infinity_are_refused() {
        let mut c = config();
        c.canary_weight = f64::NAN;
        assert_eq!(message(&c), "canary_weight must be within 0..=100, got NaN");
        let mut c = config();
        c.retry.multiplier = f64::INFINITY;
        assert_eq!(
            message(&c),
            "retry.multiplier must be a finite number >= 1, got inf"
        );
        let mut c = config();
        c.rollback.max_p99_latency_ms = Some(f64::NAN);
        assert_eq!(
            message(&c),
            "rollback.max_p99_latency_ms must be a finite number > 0, got NaN"
        );
    }

    #[test]
    fn cycles_are_found_across_chains() {
        let graph: BTreeMap<String, Vec<String>> = [
            ("a", vec!["x", "b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec!["a"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        assert_eq!(find_cycle(&graph), Some(vec!["a", "b", "c", "a"]));
        let dag: BTreeMap<String, Vec<String>> = [("a", vec!["b", "c"]), ("c", vec!["b"])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
        assert_eq!(find_cycle(&dag), None);
    }

    #[test]
    fn header_values_are_not_shown() {
        let mut c = config();
        c.environments.blue = Environment::new("https://a.example/v1", ApiKey::new("k"))
            .header("X-Token", "secret\nvalue");
        let m = message(&c);
        assert_eq!(
            m,
            "environments.blue.headers.X-Token is not a valid header value (it must be visible ASCII)"
        );
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            shown_url("http://user:hunter2@h.example/x"),
            "http://user:****@h.example/x"
        );
        assert_eq!(shown_url("not a url"), "not a url");
    }
}
