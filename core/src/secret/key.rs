//! The redacting API-key type: the key is sent upstream and never shown anywhere else.

use std::fmt;

use crate::error::{Error, Result};

/// An API key that never prints itself.
///
/// `Debug` and `Display` show a fingerprint: the key's last four characters, or `****` for
/// keys too short to reveal any.
///
/// ```
/// let key = turnout::ApiKey::new("sk-live-1234567890abcd");
/// assert_eq!(format!("{key}"), "sk-…abcd");
/// assert!(!format!("{key:?}").contains("1234567890"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key given as a string.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Reads a key from the environment variable `var`; a missing or empty variable is a
    /// [`Error::Config`] naming it.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Self(v)),
            Ok(_) => Err(Error::Config(format!(
                "environment variable {var} is empty"
            ))),
            Err(_) => Err(Error::Config(format!(
                "environment variable {var} is not set"
            ))),
        }
    }

    /// The key itself, for the `Authorization` header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty (an environment that needs no key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short fingerprint safe to print: a known prefix (`sk-`) and the last four characters.
    pub fn fingerprint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 12 {
            return "****".to_string();
        }
        let prefix = if self.0.starts_with("sk-") { "sk-" } else { "" };
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{prefix}…{tail}")
    }

    /// A stable, keyed digest of the key, for checkpoints: two checkpoints can tell whether a
    /// key changed without holding it. It is the first 12 hex characters of
    /// HMAC-SHA256(fingerprint key, key) — see [`super::fingerprint_key`] — so that a digest
    /// seen in a log or a store cannot be checked against guessed keys by whoever lacks the
    /// fingerprint key.
    pub fn digest(&self) -> String {
        super::keyed_digest(self.0.as_bytes())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.fingerprint())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_key_shows_only_its_tail() {
        let key = ApiKey::new("sk-proj-SECRETSECRETwxyz");
        assert_eq!(key.fingerprint(), "sk-…wxyz");
        assert_eq!(format!("{key:?}"), "ApiKey(sk-…wxyz)");
        assert!(!format!("{key:?}{key}").contains("SECRET"));
    }

    #[test]
    fn short_key_shows_nothing() {
        let key = ApiKey::new("abc12345");
        assert_eq!(format!("{key}"), "****");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = ApiKey::from_env("TURNOUT_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(err.to_string().contains("TURNOUT_TEST_SURELY_UNSET_VAR"));
    }

    #[test]
    fn digest_is_stable_and_tells_keys_apart() {
        let key = ApiKey::new("sk-proj-SECRETSECRETwxyz");
        assert_eq!(
            key.digest(),
            ApiKey::new("sk-proj-SECRETSECRETwxyz").digest()
        );
        assert_ne!(
            key.digest(),
            ApiKey::new("sk-proj-SECRETSECRETwxyZ").digest()
        );
        assert_eq!(key.digest().len(), 12);
        use sha2::Digest;
        let unkeyed = hex::encode(&sha2::Sha256::digest(b"sk-proj-SECRETSECRETwxyz")[..6]);
        assert_ne!(
            key.digest(),
            unkeyed,
            "the digest is keyed, not a bare hash"
        );
    }
}
