//! The `outcome` label of `turnout_requests_total`.

use crate::error::Error;
use crate::stats::Outcome as Class;

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
    /// The caller dropped the request or stream, or its own deadline ended it.
    Cancelled,
    /// Answered from the response cache, without an upstream call.
    Cached,
    /// Refused by a client-side limit before any upstream call.
    Throttled,
    /// No side could take it (both circuits open, or the pinned one is).
    Unavailable,
}

// Per-outcome arrays are indexed by discriminant: `Unavailable` must stay the last variant.
const _: () = assert!(Outcome::Unavailable as usize + 1 == Outcome::COUNT);

impl Outcome {
    /// How many outcomes there are: the length of per-outcome arrays.
    pub const COUNT: usize = 8;

    /// An index into per-outcome arrays, below [`Outcome::COUNT`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The outcome of a request that ended with `result`: refusals before any attempt by
    /// their own names, attempts by their class
    /// ([`crate::resilience::outcome::classify`]).
    pub fn of(result: Result<(), &Error>) -> Self {
        match result {
            Err(Error::RateLimited(_)) => Self::Throttled,
            Err(Error::NoHealthyEnvironment(_) | Error::Closed) => Self::Unavailable,
            r => crate::resilience::outcome::classify(r).into(),
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::RateLimited => "rate_limited",
            Self::ClientError => "client_error",
            Self::Cancelled => "cancelled",
            Self::Cached => "cached",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
        }
    }
}

impl From<Class> for Outcome {
    fn from(class: Class) -> Self {
        match class {
            Class::Success => Self::Success,
            Class::Failure => Self::Failure,
            Class::RateLimited => Self::RateLimited,
            Class::ClientError => Self::ClientError,
            Class::Cancelled => Self::Cancelled,
        }
    }
}
