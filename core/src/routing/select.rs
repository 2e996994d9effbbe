//! Selection: a pure function of (traffic snapshot, rules, request attributes, random draw,
//! availability). No I/O, no clock, no lock.

use std::collections::BTreeMap;

use super::bucket::is_candidate;
use super::rules::first_match;
use super::state::TrafficState;
use crate::config::Rule;
use crate::environment::Side;
use crate::error::{Error, Result};

/// What selection reads of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestAttrs<'a> {
    /// An explicit `environment=` override: that side, pinned (no failover).
    pub pinned: Option<Side>,
    /// Request metadata, matched against rules.
    pub metadata: Option<&'a BTreeMap<String, String>>,
    /// The sticky routing key (defaults to the OpenAI `user` field upstream of here).
    pub routing_key: Option<&'a str>,
}

/// Which sides can take traffic now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// Circuit open (and not ready for a trial), indexed by [`Side::index`].
    pub circuit_open: [bool; 2],
    /// Health checks say unhealthy, indexed by [`Side::index`].
    pub unhealthy: [bool; 2],
}

impl Availability {
    /// Both sides available.
    pub const ALL: Availability = Availability {
        circuit_open: [false; 2],
        unhealthy: [false; 2],
    };

    /// Whether `side` may take traffic. When both sides are merely unhealthy, both may (panic
    /// mode: probes can be wrong, the circuit is the real guard).
    pub fn is_available(&self, side: Side) -> bool {
        let i = side.index();
        if self.circuit_open[i] {
            return false;
        }
        if !self.unhealthy[i] {
            return true;
        }
        let o = side.other().index();
        self.circuit_open[o] || self.unhealthy[o]
    }
}

/// Why a side was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request pinned it.
    Pinned,
    /// The rule at this index matched.
    Rule(usize),
    /// The routing key's bucket.
    Sticky,
    /// A random draw (no routing key, or sticky off).
    Random,
    /// The side holds an object the request names (pinned: the other side lacks it).
    Affinity,
    /// Opt-in active-active balancing chose it (lower latency, or lower price).
    Balanced,
}

impl Reason {
    /// `"pinned"`, `"rule"`, `"sticky"`, `"random"` or `"affinity"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pinned => "pinned",
            Self::Rule(_) => "rule",
            Self::Sticky => "sticky",
            Self::Random => "random",
            Self::Affinity => "affinity",
            Self::Balanced => "balanced",
        }
    }
}

/// The outcome of selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The side to send to.
    pub side: Side,
    /// Whether the request is pinned (no failover).
    pub pinned: bool,
    /// Why that side was preferred.
    pub reason: Reason,
    /// Set when the preferred side was unavailable and this is the other one.
    pub failed_over_from: Option<Side>,
}

/// Chooses the side for one request. `draw` is a uniform random number in `0..10000`, used only
/// when there is no routing key (or `sticky` is off).
///
/// ```
/// use turnout::routing::{select, Availability, RequestAttrs, TrafficState};
/// use turnout::Side;
/// let state = TrafficState { active: Side::Blue, weight_bp: 0, salt: "s".into(), version: 1 };
/// let attrs = RequestAttrs { routing_key: Some("user-1"), ..Default::default() };
/// let sel = select(&state, &[], true, &attrs, 0, Availability::ALL).unwrap();
/// assert_eq!(sel.side, Side::Blue);
/// ```
pub fn select(
    state: &TrafficState,
    rules: &[Rule],
    sticky: bool,
    attrs: &RequestAttrs<'_>,
    draw: u32,
    avail: Availability,
) -> Result<Selection> {
    if let Some(side) = attrs.pinned {
        if avail.circuit_open[side.index()] {
            return Err(Error::NoHealthyEnvironment(format!(
                "the request is pinned to {side}, whose circuit is open"
            )));
        }
        return Ok(Selection {
            side,
            pinned: true,
            reason: Reason::Pinned,
            failed_over_from: None,
        });
    }
    let (preferred, reason) = prefer(state, rules, sticky, attrs, draw);
    if avail.is_available(preferred) {
        return Ok(Selection {
            side: preferred,
            pinned: false,
            reason,
            failed_over_from: None,
        });
    }
    let other = preferred.other();
    if avail.is_available(other) {
        return Ok(Selection {
            side: other,
            pinned: false,
            reason,
            failed_over_from: Some(preferred),
        });
    }
    Err(Error::NoHealthyEnvironment(
        "the circuits of blue and green are both open".to_string(),
    ))
}

fn prefer(
    state: &TrafficState,
    rules: &[Rule],
    sticky: bool,
    attrs: &RequestAttrs<'_>,
    draw: u32,
) -> (Side, Reason) {
    if let Some(meta) = attrs.metadata
        && let Some((i, rule)) = first_match(rules, meta)
    {
        return (rule.environment, Reason::Rule(i));
    }
    let (to_candidate, reason) = match attrs.routing_key {
        _ if state.weight_bp == 0 => (false, Reason::Sticky),
        Some(key) if sticky => (
            is_candidate(&state.salt, key, state.weight_bp),
            Reason::Sticky,
        ),
        _ => (draw < state.weight_bp, Reason::Random),
    };
    let side = if to_candidate {
        state.candidate()
    } else {
        state.active
    };
    (side, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(weight_bp: u32) -> TrafficState {
        TrafficState {
            active: Side::Blue,
            weight_bp,
            salt: "salt".into(),
            version: 1,
        }
    }

    #[test]
    fn pinned_wins_and_never_fails_over() {
        let attrs = RequestAttrs {
            pinned: Some(Side::Green),
            ..Default::default()
        };
        let mut avail = Availability::ALL;
        avail.unhealthy[1] = true;
        let sel = select(&state(0), &[], true, &attrs, 0, avail).unwrap();
        assert_eq!((sel.side, sel.pinned), (Side::Green, true));
        avail.circuit_open[1] = true;
        let err = select(&state(0), &[], true, &attrs, 0, avail).unwrap_err();
        assert!(matches!(err, Error::NoHealthyEnvironment(_)));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            Rule::new([("tier", "premium"), ("region", "eu")], Side::Blue),
            Rule::new([("tier", "premium")], Side::Green),
        ];
        let meta: BTreeMap<String, String> = [("tier".to_string(), "premium".to_string())].into();
        let attrs = RequestAttrs {
            metadata: Some(&meta),
            ..Default::default()
        };
        let sel = select(&state(0), &rules, true, &attrs, 0, Availability::ALL).unwrap();
        assert_eq!((sel.side, sel.reason), (Side::Green, Reason::Rule(1)));
    }

    #[test]
    fn random_draw_without_key() {
        let attrs = RequestAttrs::default();
        let sel = select(&state(2500), &[], true, &attrs, 2499, Availability::ALL).unwrap();
        assert_eq!((sel.side, sel.reason), (Side::Green, Reason::Random));
        let sel = select(&state(2500), &[], true, &attrs, 2500, Availability::ALL).unwrap();
        assert_eq!(sel.side, Side::Blue);
    }

    #[test]
    fn unavailable_side_fails_over_and_both_open_is_an_error() {
        let attrs = RequestAttrs::default();
        let mut avail = Availability::ALL;
        avail.circuit_open[0] = true;
        let sel = select(&state(0), &[], true, &attrs, 0, avail).unwrap();
        assert_eq!(
            (sel.side, sel.failed_over_from),
            (Side::Green, Some(Side::Blue))
        );
        avail.circuit_open[1] = true;
        assert!(select(&state(0), &[], true, &attrs, 0, avail).is_err());
    }

    #[test]
    fn both_unhealthy_is_panic_mode() {
        let avail = Availability {
            circuit_open: [false; 2],
            unhealthy: [true; 2],
        };
        let sel = select(&state(0), &[], true, &RequestAttrs::default(), 0, avail).unwrap();
        assert_eq!((sel.side, sel.failed_over_from), (Side::Blue, None));
    }
}
