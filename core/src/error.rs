//! The one error type of the crate, with stable kinds that every binding maps to its idiom.

use std::time::Duration;

use crate::environment::Side;

/// Shorthand for `Result<T, turnout::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in turnout.
///
/// Each variant is a stable *kind* (see [`Error::kind`]); bindings map kinds to exception
/// classes, so new variants are additions, never renames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message names the field and the value.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The connection to an environment failed (refused, DNS, TLS, reset).
    #[error("cannot connect to {environment}: {message}")]
    Connect {
        /// The side that was tried.
        environment: Side,
        /// What the transport said.
        message: String,
        /// Whether the request may have reached the upstream (the connection was made before
        /// it failed): a write that is not idempotent is then not retried.
        request_sent: bool,
    },

    /// The request did not finish within its timeout.
    #[error("request to {environment} timed out after {}ms", .after.as_millis())]
    Timeout {
        /// The side that was tried.
        environment: Side,
        /// The timeout that fired.
        after: Duration,
    },

    /// The upstream answered with a non-success HTTP status.
    #[error("{environment} answered HTTP {status}: {}", crate::protocol::ErrorBody::summary(.body))]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The raw body the upstream sent (an OpenAI error object, usually).
        body: String,
        /// The side that answered.
        environment: Side,
        /// A `Retry-After` / `retry-after-ms` demand, if the upstream made one.
        retry_after: Option<Duration>,
        /// The upstream's `x-should-retry` header, if present.
        should_retry: Option<bool>,
    },

    /// A body could not be decoded; `excerpt` is a short, key-free prefix of it.
    #[error("cannot decode the answer of {environment}: {message} (body starts: {excerpt:?})")]
    Decode {
        /// The side that answered.
        environment: Side,
        /// What the decoder said.
        message: String,
        /// At most 200 characters of the body.
        excerpt: String,
    },

    /// A stream ended or failed after data had reached the caller; it is never retried.
    #[error("stream from {environment} was interrupted after data reached the caller: {message}")]
    StreamInterrupted {
        /// The side that was streaming.
        environment: Side,
        /// Why it ended.
        message: String,
    },

    /// Both environments are unavailable (both circuits open), or the pinned one is.
    #[error("no healthy environment: {0}")]
    NoHealthyEnvironment(String),

    /// A client-side limit (rate or concurrency) gave no permit within the request's timeout.
    #[error("client-side rate limit: {0}")]
    RateLimited(String),

    /// The client was closed.
    #[error("the client is closed")]
    Closed,

    /// The shared state store is unreachable, or holds contents turnout refuses; the message
    /// names the backend and the key.
    #[error("state store: {0}")]
    Store(String),

    /// A rollout operation was asked for while no rollout is running.
    #[error("no rollout is running: {0}")]
    NoRollout(String),

    /// No checkpoint has the id asked for.
    #[error("unknown checkpoint: {0}")]
    UnknownCheckpoint(String),

    /// A change was refused: it would send traffic to an unavailable side (pass `force`), or
    /// its precondition (`if_version`, a stale rollout step) no longer holds.
    #[error("refused: {0}")]
    Refused(String),

    /// The connection succeeded, then was cut (or the body could not be read) while the answer
    /// was arriving. Its kind is [`ErrorKind::Connect`]: retried and counted like one.
    #[error("the connection to {environment} was cut after it had succeeded: {message}")]
    Interrupted {
        /// The side that was answering.
        environment: Side,
        /// What the transport said.
        message: String,
    },
}

/// The stable kind of an [`Error`], as bindings expose it (`code` in Node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::Config`]
    Config,
    /// [`Error::Connect`]
    Connect,
    /// [`Error::Timeout`]
    Timeout,
    /// [`Error::Status`]
    Status,
    /// [`Error::Decode`]
    Decode,
    /// [`Error::StreamInterrupted`]
    StreamInterrupted,
    /// [`Error::NoHealthyEnvironment`]
    NoHealthyEnvironment,
    /// [`Error::RateLimited`]
    RateLimited,
    /// [`Error::Closed`]
    Closed,
    /// [`Error::Store`]
    Store,
    /// [`Error::NoRollout`]
    NoRollout,
    /// [`Error::UnknownCheckpoint`]
    UnknownCheckpoint,
    /// [`Error::Refused`]
    Refused,
}

impl ErrorKind {
    /// The kind as a stable string, e.g. `"status"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Status => "status",
            Self::Decode => "decode",
            Self::StreamInterrupted => "stream_interrupted",
            Self::NoHealthyEnvironment => "no_healthy_environment",
            Self::RateLimited => "rate_limited",
            Self::Closed => "closed",
            Self::Store => "store",
            Self::NoRollout => "no_rollout",
            Self::UnknownCheckpoint => "unknown_checkpoint",
            Self::Refused => "refused",
        }
    }
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) => ErrorKind::Config,
            Self::Connect { .. } => ErrorKind::Connect,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Status { .. } => ErrorKind::Status,
            Self::Decode { .. } => ErrorKind::Decode,
            Self::StreamInterrupted { .. } => ErrorKind::StreamInterrupted,
            Self::NoHealthyEnvironment(_) => ErrorKind::NoHealthyEnvironment,
            Self::RateLimited(_) => ErrorKind::RateLimited,
            Self::Closed => ErrorKind::Closed,
            Self::Store(_) => ErrorKind::Store,
            Self::NoRollout(_) => ErrorKind::NoRollout,
            Self::UnknownCheckpoint(_) => ErrorKind::UnknownCheckpoint,
            Self::Refused(_) => ErrorKind::Refused,
            Self::Interrupted { .. } => ErrorKind::Connect,
        }
    }

    /// The HTTP status of an upstream answer, if this error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The side the error came from, when one is known.
    pub fn environment(&self) -> Option<Side> {
        match self {
            Self::Connect { environment, .. }
            | Self::Interrupted { environment, .. }
            | Self::Timeout { environment, .. }
            | Self::Status { environment, .. }
            | Self::Decode { environment, .. }
            | Self::StreamInterrupted { environment, .. } => Some(*environment),
            _ => None,
        }
    }

    /// The raw upstream body of a [`Error::Status`].
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::Status { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Whether another attempt may succeed (SEMANTICS.md, *Attempts*): connect errors, timeouts,
    /// 408, 409, 429, 5xx, undecodable answers, and any answer with `x-should-retry: true`;
    /// never one with `x-should-retry: false`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::Interrupted { .. }
            | Self::Timeout { .. }
            | Self::Decode { .. } => true,
            Self::Status {
                status,
                should_retry,
                ..
            } => should_retry.unwrap_or(matches!(status, 408 | 409 | 429 | 500..=599)),
            _ => false,
        }
    }

    /// Whether the upstream said the requested model does not exist there: an error body
    /// with `code: model_not_found`. (The attempt loop also takes a bare 404 on an inference
    /// path as one; a 404 elsewhere is an object that does not exist.)
    pub fn is_model_unavailable(&self) -> bool {
        match self {
            Self::Status { body, .. } => crate::protocol::ErrorBody::parse(body)
                .and_then(|b| b.error.code)
                .is_some_and(|c| c.as_str() == Some("model_not_found")),
            _ => false,
        }
    }

    /// Whether the request surely never reached the upstream (the connection was never made),
    /// so that sending it again cannot do anything twice.
    pub fn nothing_sent(&self) -> bool {
        matches!(
            self,
            Self::Connect {
                request_sent: false,
                ..
            }
        )
    }

    /// Whether this outcome counts against the side's health (SEMANTICS.md, *What counts
    /// against a side*): connect errors, timeouts, 5xx, undecodable answers, 401 and 403, and
    /// a redirect turnout would not follow (to another origin: the side is misconfigured).
    pub fn is_side_failure(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::Interrupted { .. }
            | Self::Timeout { .. }
            | Self::Decode { .. } => true,
            Self::Status { status, .. } => matches!(status, 300..=399 | 401 | 403 | 500..=599),
            _ => false,
        }
    }

    /// The delay the upstream asked for before a retry, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Builds a key-free excerpt of at most 200 characters of a body, for [`Error::Decode`].
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}
