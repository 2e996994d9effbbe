//! Typed configuration: the model, loading from files and values, and validation.
//!
//! A config file is YAML, TOML or JSON with the keys of the Python constructor; durations are
//! seconds. `${VAR}` in any string value expands from the environment (`${VAR:-default}` gives
//! a default, `$${` is a literal `${`). Unknown keys are errors with a "did you mean" hint, and
//! every value is validated. The full reference is `docs/configuration.md`.
//!
//! ```yaml
//! environments:
//!   blue:  { base_url: "https://api.openai.com/v1", api_key: "${OPENAI_KEY}", label: v1 }
//!   green: { base_url: "https://${GREEN_HOST}/v1", api_key: "${GREEN_KEY}", label: v2 }
//! active: blue
//! canary_weight: 10
//! rules:
//!   - match: { tier: premium }
//!     environment: green
//! retry: { max_attempts: 4, initial_backoff: 0.2, max_backoff: 8 }
//! model_fallbacks:
//!   gpt-4.1: [gpt-4o, gpt-4o-mini]
//! rollback: { max_error_rate: 0.05, window: 60, min_requests: 20 }
//! timeout: 30
//! ```
//!
//! ```
//! use turnout::config::{Config, Format};
//! let config = Config::from_str(
//!     "environments:\n  blue: {base_url: 'https://a.example/v1'}\n  green: {base_url: 'https://b.example/v1'}\ncanary_weight: 5\n",
//!     Format::Yaml,
//! )?;
//! assert_eq!(config.canary_weight, 5.0);
//! # Ok::<(), turnout::Error>(())
//! ```

mod diagnose;
mod expand;
mod hedge;
mod keypath;
mod load;
mod model;
pub mod secs;
pub mod secs_opt;
mod shadow;
mod validate;

pub use diagnose::suggest;
pub use hedge::{Hedge, HedgeAfter};
pub use load::Format;
pub use model::{
    Bounds, CacheConfig, CircuitBreaker, Config, Environments, HealthCheck, Jitter, MetricsConfig,
    Price, RateLimit, RetryPolicy, RollbackAction, RollbackPolicy, Rule, StateBackend, StateConfig,
};
pub use shadow::Shadow;
