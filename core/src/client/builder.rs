//! [`ClientBuilder`]: every option of the config, with the names of API.md.

use std::time::Duration;

use super::Client;
use crate::config::{
    CircuitBreaker, Config, HealthCheck, RateLimit, RetryPolicy, RollbackPolicy, Rule,
};
use crate::environment::{Environment, Side};
use crate::error::{Error, Result};

/// Builds a [`Client`]; `blue` and `green` are required, everything else has a safe default.
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    blue: Option<Environment>,
    green: Option<Environment>,
    edits: Vec<Edit>,
}

type Edit = Box<dyn FnOnce(&mut Config) + Send>;

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("blue", &self.blue)
            .field("green", &self.green)
            .field("edits", &self.edits.len())
            .finish()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty => |$c:ident, $v:ident| $body:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, $v: $ty) -> Self {
            self.edits.push(Box::new(move |$c: &mut Config| $body));
            self
        }
    };
}

impl ClientBuilder {
    /// The blue environment.
    pub fn blue(mut self, env: Environment) -> Self {
        self.blue = Some(env);
        self
    }

    /// The green environment.
    pub fn green(mut self, env: Environment) -> Self {
        self.green = Some(env);
        self
    }

    setter!(
        /// The stable side \[blue\].
        active: Side => |c, v| c.active = v);
    setter!(
        /// Percent (0..=100) of traffic sent to the candidate \[0\].
        canary_weight: f64 => |c, v| c.canary_weight = v);
    setter!(
        /// Bucket by routing key when one is given \[true\].
        sticky: bool => |c, v| c.sticky = v);
    setter!(
        /// The bucketing salt.
        salt: String => |c, v| c.salt = v);
    setter!(
        /// Adds a rule; the first matching rule wins.
        rule: Rule => |c, v| c.rules.push(v));
    setter!(
        /// Retries, backoff and budget.
        retry: RetryPolicy => |c, v| c.retry = v);
    setter!(
        /// Active health probes.
        health_check: HealthCheck => |c, v| c.health_check = v);
    setter!(
        /// The circuit breaker of each side.
        circuit_breaker: CircuitBreaker => |c, v| c.circuit_breaker = v);
    setter!(
        /// The automatic rollback guard.
        rollback: RollbackPolicy => |c, v| c.rollback = v);
    setter!(
        /// Request timeout [600 s].
        timeout: Duration => |c, v| c.timeout = v);
    setter!(
        /// Connect timeout [5 s].
        connect_timeout: Duration => |c, v| c.connect_timeout = v);
    setter!(
        /// Sliding window of the per-side statistics [60 s].
        stats_window: Duration => |c, v| c.stats_window = v);
    setter!(
        /// Client-side limits.
        rate_limit: RateLimit => |c, v| c.rate_limit = Some(v));

    /// Adds a model fallback chain: `model_fallback("gpt-4.1", ["gpt-4o", "gpt-4o-mini"])`.
    pub fn model_fallback<I, S>(mut self, model: impl Into<String>, chain: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let model = model.into();
        let chain: Vec<String> = chain.into_iter().map(Into::into).collect();
        self.edits.push(Box::new(move |c: &mut Config| {
            c.model_fallbacks.insert(model, chain);
        }));
        self
    }

    /// Edits the config directly, for options without a setter.
    pub fn configure(mut self, edit: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.edits.push(Box::new(edit));
        self
    }

    /// The config this builder describes, validated.
    pub fn into_config(self) -> Result<Config> {
        let blue = self
            .blue
            .ok_or_else(|| Error::Config("environments.blue is required".to_string()))?;
        let green = self
            .green
            .ok_or_else(|| Error::Config("environments.green is required".to_string()))?;
        let mut config = Config::new(blue, green);
        for edit in self.edits {
            edit(&mut config);
        }
        config.validate()?;
        Ok(config)
    }

    /// Validates and builds the client (inside a tokio runtime when health checks are on).
    pub fn build(self) -> Result<Client> {
        Client::from_config(self.into_config()?)
    }
}
