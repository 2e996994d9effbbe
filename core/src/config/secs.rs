//! Durations as seconds (floats) in config files.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration as float seconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Reads float seconds; negative, infinite and NaN values are refused.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = f64::deserialize(d)?;
    Duration::try_from_secs_f64(v).map_err(|_| {
        serde::de::Error::custom(format!(
            "a duration must be a finite, non-negative number of seconds, got {v}"
        ))
    })
}
