//! Sticky bucketing: `murmur3_x86_32(salt + ":" + key, seed 0)` scaled to basis points.

use std::io::Read;

/// The bucket (0..10000) of `key` under `salt`.
///
/// ```
/// let b = turnout::routing::bucket("s1", "user-42");
/// assert!(b < 10_000);
/// assert_eq!(b, turnout::routing::bucket("s1", "user-42"));
/// ```
pub fn bucket(salt: &str, key: &str) -> u32 {
    let mut input = salt.as_bytes().chain(&b":"[..]).chain(key.as_bytes());
    // Reading from in-memory slices cannot fail; 0 would still be a valid bucket.
    let hash = murmur3::murmur3_32(&mut input, 0).unwrap_or(0);
    ((u64::from(hash) * 10_000) >> 32) as u32
}

/// Whether `key` falls in the candidate's share of `weight_bp` basis points. The candidate owns
/// the low end of the range, so raising the weight only ever moves keys to the candidate.
pub fn is_candidate(salt: &str, key: &str, weight_bp: u32) -> bool {
    bucket(salt, key) < weight_bp
}
