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
    // Reading from in-memory slices cannot fail, hence the `unwrap_or`. Short inputs (all
    // realistic ones) are joined on the stack: one contiguous slice hashes faster than a chain.
    let len = salt.len() + 1 + key.len();
    let hash = if len <= STACK_INPUT {
        let mut buf = [0u8; STACK_INPUT];
        buf[..salt.len()].copy_from_slice(salt.as_bytes());
        buf[salt.len()] = b':';
        buf[salt.len() + 1..len].copy_from_slice(key.as_bytes());
        murmur3::murmur3_32(&mut &buf[..len], 0).unwrap_or(0)
    } else {
        let mut input = salt.as_bytes().chain(&b":"[..]).chain(key.as_bytes());
        murmur3::murmur3_32(&mut input, 0).unwrap_or(0)
    };
    ((u64::from(hash) * 10_000) >> 32) as u32
}

/// Inputs up to this many bytes are hashed from a stack buffer.
const STACK_INPUT: usize = 256;

/// Whether `key` falls in the candidate's share of `weight_bp` basis points. The candidate owns
/// the low end of the range, so raising the weight only ever moves keys to the candidate.
pub fn is_candidate(salt: &str, key: &str, weight_bp: u32) -> bool {
    bucket(salt, key) < weight_bp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_hash_like_short_ones_would() {
        let long_key = "k".repeat(STACK_INPUT * 2);
        let mut joined = b"salt:".to_vec();
        joined.extend_from_slice(long_key.as_bytes());
        let direct = murmur3::murmur3_32(&mut &joined[..], 0).unwrap();
        assert_eq!(
            bucket("salt", &long_key),
            ((u64::from(direct) * 10_000) >> 32) as u32
        );
    }
}
