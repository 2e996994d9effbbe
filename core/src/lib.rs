//! # turnout
//!
//! In-process blue/green, canary and fallback routing for OpenAI-compatible LLM APIs.
//!
//! An application talks to two *environments*, blue and green, each with its own base URL and
//! key; turnout decides per request which one serves it — no proxy hop. See the crate README
//! for the routing semantics.

#![warn(missing_docs)]

mod cache;
mod client;
mod clock;
pub mod config;
pub mod cost;
mod environment;
mod error;
pub mod events;
pub mod health;
mod keys;
mod limits;
pub mod logging;
mod metrics;
mod name_map;
pub mod otel;
pub mod protocol;
mod provider;
pub mod resilience;
pub mod rollout;
pub mod routing;
mod secret;
pub mod shadow;
pub mod state;
pub mod stats;
mod transport;

pub use client::supervise::panic_message;
pub use client::{
    Chat, ChatCreate, ChatStream, ChatStreamCreate, Client, ClientBuilder, ENVIRONMENT_HEADER,
    Embeddings, EnvironmentStatus, METADATA_HEADER, Models, ROUTING_KEY_HEADER, RawBody,
    RawRequest, RawResponse, RawStream, RequestOptions, Responses, RouteInfo, Routed, RoutedStream,
    Status, StoreStatus,
};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::Config;
pub use cost::{CostTotals, Costs};
pub use environment::{Environment, Side};
pub use error::{Error, ErrorKind, Result};
pub use keys::{KeyState, KeyStatus};
pub use limits::Priority;
pub use provider::AuthStyle;
pub use reqwest::Method;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use rollout::{Checkpoint, RolloutPlan, RolloutState, RolloutStatus, Step};
pub use secret::{ApiKey, FINGERPRINT_KEY_VAR, SecretUrl, fingerprint_key};

/// The Rust blocks of the READMEs and docs, compiled (and run unless `no_run`) by
/// `cargo test --doc`, so that the docs cannot drift from the code.
#[cfg(doctest)]
mod doc_blocks {
    #[doc = include_str!("../README.md")]
    struct CrateReadme;

    #[doc = include_str!("../../README.md")]
    struct Readme;

    #[doc = include_str!("../../docs/rollout.md")]
    struct Rollout;
}
