//! The `outcome` label of `turnout_requests_total`.

use crate::error::Error;

/// How a request (one upstream attempt, or a request answered or refused without one) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// The side answered.
    Success,
    /// The side failed: connect error, timeout, 5xx, undecodable answer, 401/403.
    Failure,
    /// The side answered 429.
    RateLimited,
    /// The side refused the request itself: another 4xx.
    ClientError,
    /// Answered from the response cache, without an upstream call.
    Cached,
    /// Refused by a client-side limit before any upstream call.
    Throttled,
    /// No side could take it (both circuits open, or the pinned one is).
    Unavailable,
}

impl Outcome {
    /// The outcome of an attempt that ended with `result`.
    pub fn of(result: Result<(), &Error>) -> Self {
        match result {
            Ok(()) => Self::Success,
            Err(e) if e.is_side_failure() => Self::Failure,
            Err(e) if e.status() == Some(429) => Self::RateLimited,
            Err(Error::RateLimited(_)) => Self::Throttled,
            Err(Error::NoHealthyEnvironment(_) | Error::Closed) => Self::Unavailable,
            Err(_) => Self::ClientError,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::RateLimited => "rate_limited",
            Self::ClientError => "client_error",
            Self::Cached => "cached",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
        }
    }
}
