//! The circuit breaker of one side: closed → open (consecutive failures, or a failure rate over
//! the last calls) → after a cooldown, half-open with one trial → closed or open again.
//!
//! Every attempt takes a [`Pass`] from [`Circuit::begin`] and hands it back with its outcome.
//! A half-open circuit is decided by its trial's pass alone: an outcome of a request sent
//! before the circuit opened (or of a trial that was given up) decides nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::config::CircuitBreaker;

/// The state of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Traffic flows.
    Closed,
    /// Traffic is refused until the cooldown ends.
    Open,
    /// One trial request decides.
    HalfOpen,
}

impl CircuitState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// How an outcome counts for the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The side served.
    Success,
    /// The side failed (connect, timeout, 5xx, undecodable, 401/403).
    Failure,
    /// Neither (the caller's 4xx, a 429): only frees a half-open trial.
    Neutral,
}

/// Leave to send one attempt, from [`Circuit::begin`]; its outcome is recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pass {
    /// The number of the half-open trial this attempt is, if it is one.
    trial: Option<u64>,
}

impl Pass {
    /// A pass of an attempt sent while the circuit was closed.
    pub const CLOSED: Pass = Pass { trial: None };
}

/// A change of state, to be reported as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Opened,
    Closed,
}

#[derive(Debug)]
pub(crate) struct Circuit {
    policy: CircuitBreaker,
    /// Mirror of `inner.state` so that a closed circuit is checked without the lock.
    fast: AtomicU8,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    consecutive: u32,
    recent: VecDeque<bool>,
    recent_failures: u32,
    opened_at: Duration,
    /// The running half-open trial: its number and start.
    trial: Option<(u64, Duration)>,
    /// Trials handed out so far; numbers the next one.
    trials: u64,
}

const CLOSED: u8 = 0;
const NOT_CLOSED: u8 = 1;

impl Circuit {
    pub fn new(policy: CircuitBreaker) -> Self {
        Self {
            fast: AtomicU8::new(CLOSED),
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                consecutive: 0,
                recent: VecDeque::with_capacity(policy.window_size as usize),
                recent_failures: 0,
                opened_at: Duration::ZERO,
                trial: None,
                trials: 0,
            }),
            policy,
        }
    }

    /// The state as of `now` (an open circuit past its cooldown reads as half-open).
    pub fn state(&self, now: Duration) -> CircuitState {
        let inner = self.inner.lock();
        match inner.state {
            CircuitState::Open if now >= inner.opened_at.saturating_add(self.policy.cooldown) => {
                CircuitState::HalfOpen
            }
            s => s,
        }
    }

    /// Whether the circuit is open now: it opened, or its trial failed, less than a cooldown
    /// ago. This is the rollback gate's signal. Half-open is not open: it is waiting for (or
    /// running) its trial, which alone decides, and it can wait indefinitely when the side gets
    /// no traffic, as a candidate at weight 0 does after an earlier release opened its circuit.
    pub fn is_open(&self, now: Duration) -> bool {
        self.state(now) == CircuitState::Open
    }

    /// Whether a request may be sent now.
    pub fn allows(&self, now: Duration) -> bool {
        if self.fast.load(Ordering::Acquire) == CLOSED {
            return true;
        }
        let inner = self.inner.lock();
        match inner.state {
            CircuitState::Closed => true,
            CircuitState::Open => now >= inner.opened_at.saturating_add(self.policy.cooldown),
            CircuitState::HalfOpen => !self.trial_busy(&inner, now),
        }
    }

    /// Marks the start of an attempt; past the cooldown this is the half-open trial. Returns the
    /// attempt's pass, or `None` when it may not go: checking [`Self::allows`] first is not
    /// enough, since concurrent requests may both see the trial free and only one may take it.
    pub fn begin(&self, now: Duration) -> Option<Pass> {
        if self.fast.load(Ordering::Acquire) == CLOSED {
            return Some(Pass::CLOSED);
        }
        let mut inner = self.inner.lock();
        match inner.state {
            CircuitState::Closed => Some(Pass::CLOSED),
            CircuitState::Open if now >= inner.opened_at.saturating_add(self.policy.cooldown) => {
                inner.state = CircuitState::HalfOpen;
                Some(Self::take_trial(&mut inner, now))
            }
            CircuitState::HalfOpen if !self.trial_busy(&inner, now) => {
                Some(Self::take_trial(&mut inner, now))
            }
            CircuitState::Open | CircuitState::HalfOpen => None,
        }
    }

    fn take_trial(inner: &mut Inner, now: Duration) -> Pass {
        inner.trials = inner.trials.wrapping_add(1);
        inner.trial = Some((inner.trials, now));
        Pass {
            trial: Some(inner.trials),
        }
    }

    /// Records the outcome of the attempt that held `pass`; returns the transition it caused.
    pub fn record(&self, verdict: Verdict, pass: Pass, now: Duration) -> Option<Transition> {
        let mut inner = self.inner.lock();
        match inner.state {
            CircuitState::HalfOpen => {
                let is_trial = pass.trial.is_some() && inner.trial.map(|t| t.0) == pass.trial;
                if !is_trial {
                    return None;
                }
                match verdict {
                    Verdict::Failure => Some(self.open(&mut inner, now)),
                    Verdict::Success => {
                        self.reset(&mut inner);
                        Some(Transition::Closed)
                    }
                    Verdict::Neutral => {
                        inner.trial = None;
                        None
                    }
                }
            }
            CircuitState::Open => None,
            CircuitState::Closed if verdict == Verdict::Neutral => None,
            CircuitState::Closed => {
                let failed = verdict == Verdict::Failure;
                inner.consecutive = if failed { inner.consecutive + 1 } else { 0 };
                if inner.recent.len() == self.policy.window_size as usize
                    && inner.recent.pop_front() == Some(true)
                {
                    inner.recent_failures -= 1;
                }
                inner.recent.push_back(failed);
                inner.recent_failures += u32::from(failed);
                let calls = inner.recent.len() as u32;
                let rate_trips = calls >= self.policy.min_calls
                    && f64::from(inner.recent_failures)
                        >= self.policy.failure_rate * f64::from(calls);
                (failed && (inner.consecutive >= self.policy.failure_threshold || rate_trips))
                    .then(|| self.open(&mut inner, now))
            }
        }
    }

    fn open(&self, inner: &mut Inner, now: Duration) -> Transition {
        inner.state = CircuitState::Open;
        inner.opened_at = now;
        inner.trial = None;
        self.fast.store(NOT_CLOSED, Ordering::Release);
        Transition::Opened
    }

    fn reset(&self, inner: &mut Inner) {
        inner.state = CircuitState::Closed;
        inner.consecutive = 0;
        inner.recent.clear();
        inner.recent_failures = 0;
        inner.trial = None;
        self.fast.store(CLOSED, Ordering::Release);
    }

    /// A trial is busy while it runs, but one that never reported (its caller gave up) frees
    /// the slot after a cooldown.
    fn trial_busy(&self, inner: &Inner, now: Duration) -> bool {
        inner
            .trial
            .is_some_and(|(_, started)| now < started.saturating_add(self.policy.cooldown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuit() -> Circuit {
        Circuit::new(CircuitBreaker {
            failure_threshold: 3,
            failure_rate: 0.5,
            window_size: 10,
            min_calls: 6,
            cooldown: Duration::from_secs(30),
        })
    }

    const T0: Duration = Duration::from_secs(100);

    #[test]
    fn opens_after_consecutive_failures() {
        let c = circuit();
        assert_eq!(c.record(Verdict::Failure, Pass::CLOSED, T0), None);
        assert_eq!(c.record(Verdict::Failure, Pass::CLOSED, T0), None);
        assert_eq!(
            c.record(Verdict::Failure, Pass::CLOSED, T0),
            Some(Transition::Opened)
        );
        assert!(!c.allows(T0 + Duration::from_secs(29)));
        assert_eq!(c.state(T0), CircuitState::Open);
    }

    #[test]
    fn opens_on_failure_rate() {
        let c = circuit();
        let mut opened = None;
        for i in 0..10 {
            let v = if i % 2 == 0 {
                Verdict::Failure
            } else {
                Verdict::Success
            };
            if let Some(t) = c.record(v, Pass::CLOSED, T0) {
                opened = Some((i, t));
                break;
            }
        }
        assert_eq!(opened, Some((6, Transition::Opened)), "4 of 7 calls failed");
    }

    #[test]
    fn half_open_trial_closes_or_reopens() {
        let c = circuit();
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        let later = T0 + Duration::from_secs(30);
        assert!(c.allows(later));
        let trial = c.begin(later).unwrap();
        assert_eq!(c.state(later), CircuitState::HalfOpen);
        assert!(!c.allows(later), "one trial at a time");
        assert_eq!(
            c.record(Verdict::Failure, trial, later),
            Some(Transition::Opened)
        );
        assert!(!c.allows(later + Duration::from_secs(1)));
        let again = later + Duration::from_secs(30);
        let trial = c.begin(again).unwrap();
        assert_eq!(
            c.record(Verdict::Success, trial, again),
            Some(Transition::Closed)
        );
        assert!(c.allows(again));
        assert_eq!(c.state(again), CircuitState::Closed);
    }

    #[test]
    fn is_open_only_within_the_cooldown_and_again_after_a_failed_trial() {
        let c = circuit();
        assert!(!c.is_open(T0));
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        assert!(c.is_open(T0 + Duration::from_secs(29)));
        let later = T0 + Duration::from_secs(30);
        assert!(!c.is_open(later), "half-open, waiting for its trial");
        assert!(
            !c.is_open(later + Duration::from_secs(3600)),
            "without traffic it waits as long as it takes"
        );
        let trial = c.begin(later).unwrap();
        assert!(!c.is_open(later), "half-open, its trial running");
        c.record(Verdict::Failure, trial, later);
        assert!(c.is_open(later), "the trial failed: open again");
    }

    #[test]
    fn neutral_outcomes_do_not_count() {
        let c = circuit();
        for _ in 0..20 {
            assert_eq!(c.record(Verdict::Neutral, Pass::CLOSED, T0), None);
        }
        c.record(Verdict::Failure, Pass::CLOSED, T0);
        c.record(Verdict::Failure, Pass::CLOSED, T0);
        assert_eq!(c.record(Verdict::Success, Pass::CLOSED, T0), None);
        assert_eq!(
            c.record(Verdict::Failure, Pass::CLOSED, T0),
            None,
            "the success reset the streak"
        );
    }

    #[test]
    fn only_one_attempt_takes_the_trial() {
        let c = circuit();
        assert!(c.begin(T0).is_some(), "closed: every attempt goes");
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        assert!(c.begin(T0).is_none(), "open: refused");
        let later = T0 + Duration::from_secs(30);
        assert!(
            c.allows(later) && c.allows(later),
            "both callers see the trial free"
        );
        let trial = c.begin(later).expect("the first takes it");
        assert!(c.begin(later).is_none(), "the second is refused");
        assert_eq!(
            c.record(Verdict::Success, trial, later),
            Some(Transition::Closed)
        );
        assert!(c.begin(later).is_some());
    }

    #[test]
    fn an_abandoned_trial_frees_the_slot() {
        let c = circuit();
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        let later = T0 + Duration::from_secs(30);
        c.begin(later);
        assert!(!c.allows(later + Duration::from_secs(29)));
        assert!(c.allows(later + Duration::from_secs(30)));
    }

    #[test]
    fn only_the_trial_decides_a_half_open_circuit() {
        let c = circuit();
        let before = c.begin(T0).unwrap();
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        let later = T0 + Duration::from_secs(30);
        let trial = c.begin(later).unwrap();
        assert_eq!(
            c.record(Verdict::Success, before, later),
            None,
            "sent before the circuit opened: decides nothing"
        );
        assert_eq!(c.record(Verdict::Failure, before, later), None);
        assert_eq!(c.state(later), CircuitState::HalfOpen);
        assert_eq!(
            c.record(Verdict::Success, trial, later),
            Some(Transition::Closed)
        );
    }

    #[test]
    fn a_given_up_trial_decides_nothing_after_the_next_one_started() {
        let c = circuit();
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        let first = c.begin(T0 + Duration::from_secs(30)).unwrap();
        let later = T0 + Duration::from_secs(60);
        let second = c.begin(later).expect("the abandoned trial freed the slot");
        assert_eq!(c.record(Verdict::Failure, first, later), None);
        assert_eq!(
            c.record(Verdict::Success, second, later),
            Some(Transition::Closed)
        );
    }

    #[test]
    fn a_neutral_trial_frees_the_slot_without_deciding() {
        let c = circuit();
        for _ in 0..3 {
            c.record(Verdict::Failure, Pass::CLOSED, T0);
        }
        let later = T0 + Duration::from_secs(30);
        let trial = c.begin(later).unwrap();
        assert_eq!(c.record(Verdict::Neutral, trial, later), None);
        assert_eq!(c.state(later), CircuitState::HalfOpen);
        assert!(c.begin(later).is_some(), "the next request is the trial");
    }
}
