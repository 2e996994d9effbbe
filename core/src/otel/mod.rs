//! OpenTelemetry traces (cargo feature `otel`, config section `otel`): a span per request and
//! one per upstream attempt, with the GenAI semantic conventions (`gen_ai.operation.name`,
//! `gen_ai.system`, `gen_ai.request.model`, `gen_ai.response.model`,
//! `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`) and turnout's own attributes
//! (`turnout.environment`, `turnout.label`, `turnout.attempt`, `turnout.reason`,
//! `turnout.rollout.step`), exported over OTLP/HTTP as protobuf by a background task.
//!
//! The engine calls in at a few points of a request's life (its start, each attempt's end,
//! its usage, its end); without the feature those calls do nothing.

mod config;

pub use config::OtelConfig;
pub(crate) use config::check;

#[cfg(feature = "otel")]
mod export;
#[cfg(feature = "otel")]
mod proto;
#[cfg(feature = "otel")]
mod span;
#[cfg(feature = "otel")]
mod trace;
#[cfg(feature = "otel")]
pub(crate) use trace::{RequestTrace, Tracer};

#[cfg(not(feature = "otel"))]
mod noop;
#[cfg(not(feature = "otel"))]
pub(crate) use noop::{RequestTrace, Tracer};
