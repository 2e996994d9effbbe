//! Sticky bucketing: `murmur3_x86_32(salt + ":" + key, seed 0)` scaled to basis points.

use std::hash::Hasher as _;

/// The bucket (0..10000) of `key` under `salt`.
///
/// ```
/// let b = turnout::routing::bucket("s1", "user-42");
/// assert!(b < 10_000);
/// assert_eq!(b, turnout::routing::bucket("s1", "user-42"));
/// ```
pub fn bucket(salt: &str, key: &str) -> u32 {
    // Short inputs (all realistic ones) are joined on the stack and hashed as one slice, the
    // fastest way; longer ones are fed to the streaming hasher piece by piece.
    let len = salt.len() + 1 + key.len();
    let hash = if len <= STACK_INPUT {
        let mut buf = [0u8; STACK_INPUT];
        buf[..salt.len()].copy_from_slice(salt.as_bytes());
        buf[salt.len()] = b':';
        buf[salt.len() + 1..len].copy_from_slice(key.as_bytes());
        mur3::murmurhash3_x86_32(&buf[..len], 0)
    } else {
        let mut hasher = mur3::Hasher32::with_seed(0);
        hasher.write(salt.as_bytes());
        hasher.write(b":");
        hasher.write(key.as_bytes());
        hasher.finish32()
    };
    ((u64::from(hash) * 10_000) >> 32) as u32
}

/// Inputs up to this many bytes are hashed from a stack buffer.
const STACK_INPUT: usize = 64;

/// Whether `key` falls in the candidate's share of `weight_bp` basis points. The candidate owns
/// the low end of the range, so raising the weight only ever moves keys to the candidate.
pub fn is_candidate(salt: &str, key: &str, weight_bp: u32) -> bool {
    bucket(salt, key) < weight_bp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_murmur3_crate_short_and_long() {
        let text: String = (0..300)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        for salt_len in [0, 1, 2, 3, 4, 5, 7, 12, 33] {
            for key_len in 0..70 {
                let (salt, key) = (&text[..salt_len], &text[100..100 + key_len]);
                let joined = format!("{salt}:{key}");
                let direct = murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap();
                assert_eq!(
                    bucket(salt, key),
                    ((u64::from(direct) * 10_000) >> 32) as u32,
                    "salt {salt:?}, key {key:?}"
                );
            }
        }
    }

    #[test]
    fn long_inputs_hash_like_joined_ones() {
        let long_key = "k".repeat(512);
        let mut joined = b"salt:".to_vec();
        joined.extend_from_slice(long_key.as_bytes());
        let direct = murmur3::murmur3_32(&mut &joined[..], 0).unwrap();
        assert_eq!(
            bucket("salt", &long_key),
            ((u64::from(direct) * 10_000) >> 32) as u32
        );
    }
}
