//! Secrets: the redacting API-key type, URLs that may carry credentials, and keyed digests.
//!
//! Nothing here ever prints a secret: `Debug` and `Display` show a short fingerprint or a
//! masked URL.

mod key;
mod url;

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use key::ApiKey;
pub use url::SecretUrl;
pub(crate) use url::masked_url;

/// The environment variable holding the key of [`ApiKey::digest`].
pub const FINGERPRINT_KEY_VAR: &str = "TURNOUT_FINGERPRINT_KEY";

/// Used when [`FINGERPRINT_KEY_VAR`] is unset: digests then stay comparable across every
/// process and machine, and are as strong as the keys they digest are long. Set the variable
/// (the same value across a fleet) to make them unguessable to anyone without it.
const DEFAULT_FINGERPRINT_KEY: &[u8] = b"turnout key digest v1";

/// The key of [`ApiKey::digest`]: `TURNOUT_FINGERPRINT_KEY`, read once per process.
pub fn fingerprint_key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| match std::env::var(FINGERPRINT_KEY_VAR) {
        Ok(v) if !v.is_empty() => v.into_bytes(),
        _ => DEFAULT_FINGERPRINT_KEY.to_vec(),
    })
}

/// 12 hex characters of HMAC-SHA256(fingerprint key, `secret`).
fn keyed_digest(secret: &[u8]) -> String {
    keyed_digest_with(fingerprint_key(), secret)
}

fn keyed_digest_with(key: &[u8], secret: &[u8]) -> String {
    // HMAC accepts keys of any length; the error case cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return "????????????".to_string();
    };
    mac.update(secret);
    hex::encode(&mac.finalize().into_bytes()[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_depends_on_the_key() {
        let a = keyed_digest_with(b"fleet-one", b"sk-secret");
        assert_eq!(a, keyed_digest_with(b"fleet-one", b"sk-secret"));
        assert_ne!(a, keyed_digest_with(b"fleet-two", b"sk-secret"));
        assert_eq!(a.len(), 12);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            keyed_digest_with(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60"
        );
    }
}
