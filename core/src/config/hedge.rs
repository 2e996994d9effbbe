//! The `hedge` section: a second attempt on the same side when the first is slow.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Hedged requests (inference calls only): when the first attempt of a call has not answered
/// after `after`, up to `max_extra` more are sent to the same side; the first answer wins and
/// the others are cancelled. Each hedge withdraws from the side's retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hedge {
    /// When to send a hedge: the side's p95 latency, or a fixed delay.
    pub after: HedgeAfter,
    /// Hedges per call at most \[1\].
    #[serde(default = "one")]
    pub max_extra: u32,
}

fn one() -> u32 {
    1
}

/// The delay before a hedge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HedgeAfter {
    /// The side's 95th percentile latency over its window (`"p95"`); no hedge while the window
    /// holds fewer than [`HedgeAfter::MIN_SAMPLES`] successes.
    P95,
    /// A fixed delay (seconds in files).
    Delay(Duration),
}

impl HedgeAfter {
    /// Successes the window needs before `p95` hedging starts.
    pub const MIN_SAMPLES: u64 = 20;
}

impl Serialize for HedgeAfter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::P95 => s.serialize_str("p95"),
            Self::Delay(d) => s.serialize_f64(d.as_secs_f64()),
        }
    }
}

impl<'de> Deserialize<'de> for HedgeAfter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Secs(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Name(n) if n == "p95" => Ok(Self::P95),
            Raw::Name(n) => Err(serde::de::Error::custom(format!(
                "hedge.after must be \"p95\" or a number of seconds, got {n:?}"
            ))),
            Raw::Secs(v) => Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .map(Self::Delay)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "hedge.after must be a finite number of seconds > 0, got {v}"
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_reads_p95_or_seconds() {
        let h: Hedge = serde_json::from_str(r#"{"after": "p95"}"#).unwrap();
        assert_eq!((h.after, h.max_extra), (HedgeAfter::P95, 1));
        let h: Hedge = serde_json::from_str(r#"{"after": 0.25, "max_extra": 2}"#).unwrap();
        assert_eq!(h.after, HedgeAfter::Delay(Duration::from_millis(250)));
        assert_eq!(h.max_extra, 2);
        for bad in [r#"{"after": "p99"}"#, r#"{"after": 0}"#, r#"{"after": -1}"#] {
            assert!(serde_json::from_str::<Hedge>(bad).is_err(), "{bad}");
        }
        let back = serde_json::to_value(Hedge {
            after: HedgeAfter::P95,
            max_extra: 1,
        })
        .unwrap();
        assert_eq!(back, serde_json::json!({"after": "p95", "max_extra": 1}));
    }
}
