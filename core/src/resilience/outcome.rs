//! The one classification of an attempt's end (SEMANTICS.md, *What counts against a side*),
//! used alike by the windows, the gates, the circuits and the metrics.

use crate::error::Error;
use crate::resilience::circuit::Verdict;
use crate::stats::Outcome;

/// The class of an attempt that ended with `result`. A cancellation (the caller dropped the
/// request, or its own deadline ended it) is not an error of the attempt: the attempt loop and
/// the stream say [`Outcome::Cancelled`] themselves.
pub(crate) fn classify(result: Result<(), &Error>) -> Outcome {
    match result {
        Ok(()) => Outcome::Success,
        Err(e) if e.is_side_failure() => Outcome::Failure,
        Err(e) if e.status() == Some(429) => Outcome::RateLimited,
        Err(_) => Outcome::ClientError,
    }
}

/// How an outcome counts for the circuit: only successes and side failures decide anything.
pub(crate) fn verdict(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Success => Verdict::Success,
        Outcome::Failure => Verdict::Failure,
        Outcome::RateLimited | Outcome::ClientError | Outcome::Cancelled => Verdict::Neutral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Side;
    use std::time::Duration;

    fn status(status: u16) -> Error {
        Error::Status {
            status,
            body: String::new(),
            environment: Side::Green,
            retry_after: None,
            should_retry: None,
        }
    }

    #[test]
    fn the_table_of_semantics_md() {
        let cases = [
            (200, None, Outcome::Success),
            (400, Some(status(400)), Outcome::ClientError),
            (404, Some(status(404)), Outcome::ClientError),
            (409, Some(status(409)), Outcome::ClientError),
            (413, Some(status(413)), Outcome::ClientError),
            (422, Some(status(422)), Outcome::ClientError),
            (429, Some(status(429)), Outcome::RateLimited),
            (401, Some(status(401)), Outcome::Failure),
            (403, Some(status(403)), Outcome::Failure),
            (500, Some(status(500)), Outcome::Failure),
            (503, Some(status(503)), Outcome::Failure),
            (307, Some(status(307)), Outcome::Failure),
        ];
        for (code, err, want) in cases {
            let got = classify(err.as_ref().map_or(Ok(()), Err));
            assert_eq!(got, want, "HTTP {code}");
        }
        let timeout = Error::Timeout {
            environment: Side::Blue,
            after: Duration::from_secs(1),
        };
        assert_eq!(classify(Err(&timeout)), Outcome::Failure);
        let connect = Error::Connect {
            environment: Side::Blue,
            message: "refused".into(),
            request_sent: false,
        };
        assert_eq!(classify(Err(&connect)), Outcome::Failure);
    }

    #[test]
    fn only_successes_and_failures_decide_a_circuit() {
        assert_eq!(verdict(Outcome::Success), Verdict::Success);
        assert_eq!(verdict(Outcome::Failure), Verdict::Failure);
        for o in [
            Outcome::RateLimited,
            Outcome::ClientError,
            Outcome::Cancelled,
        ] {
            assert_eq!(verdict(o), Verdict::Neutral);
        }
    }
}
