//! Optional durations as seconds (floats) in config files.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes an optional duration as float seconds or null.
pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => super::secs::serialize(d, s),
        None => s.serialize_none(),
    }
}

/// Reads optional float seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(with = "super::secs")] Duration);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}
