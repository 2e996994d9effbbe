//! URLs that may carry credentials (`redis://:password@host`, a webhook with a token in its
//! path or query): kept whole for use, masked whenever shown.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// A URL that may hold a secret. Derefs to the full URL for use; `Debug` and `Display` show
/// `masked_url` of it.
///
/// ```
/// let url = turnout::SecretUrl::from("redis://:hunter2@cache:6379/0");
/// assert_eq!(url.to_string(), "redis://:****@cache:6379/0");
/// assert_eq!(&*url, "redis://:hunter2@cache:6379/0");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The full URL, secrets included. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Deref for SecretUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretUrl {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<String> for SecretUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", masked_url(&self.0))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&masked_url(&self.0))
    }
}

/// `url` fit to be shown: the password and every query value replaced by `****`, and a path
/// segment that looks like a token (long, with digits and letters: webhook URLs carry their
/// secret there) too. A string that does not parse as a URL is shown with everything before
/// an `@` masked (it may be a mistyped `user:password@host`).
pub(crate) fn masked_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("****@{host}"),
            None => url.to_string(),
        };
    };
    let mut masked = false;
    if u.password().is_some() {
        // Fails only for URLs that cannot carry a password, and this one does.
        let _ = u.set_password(Some("****"));
        masked = true;
    }
    if u.query().is_some() {
        let pairs: Vec<String> = u.query_pairs().map(|(k, _)| format!("{k}=****")).collect();
        u.set_query(Some(&pairs.join("&")));
        masked = true;
    }
    let segments: Vec<&str> = u.path_segments().map(Iterator::collect).unwrap_or_default();
    if segments.iter().any(|s| looks_like_token(s)) {
        let path: Vec<&str> = segments
            .iter()
            .map(|s| if looks_like_token(s) { "****" } else { s })
            .collect();
        u.set_path(&path.join("/"));
        masked = true;
    }
    // Nothing secret: shown exactly as written.
    if masked {
        u.to_string()
    } else {
        url.to_string()
    }
}

/// Whether a path segment looks like a token: long, with digits and letters mixed.
fn looks_like_token(segment: &str) -> bool {
    let digits = segment.chars().filter(char::is_ascii_digit).count();
    let letters = segment.chars().filter(char::is_ascii_alphabetic).count();
    segment.len() >= 20 && digits >= 2 && letters >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_query_values_and_tokens_are_masked() {
        assert_eq!(
            masked_url("rediss://user:pw@redis.internal:6380/2"),
            "rediss://user:****@redis.internal:6380/2"
        );
        assert_eq!(
            masked_url("https://x.openai.azure.com/openai/v1?api-version=2024-10-21&key=abc"),
            "https://x.openai.azure.com/openai/v1?api-version=****&key=****"
        );
        let hook = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/Xy12abcdEFGH34ijklMNOP56";
        let shown = masked_url(hook);
        assert!(!shown.contains("Xy12abcdEFGH34ijklMNOP56"), "{shown}");
        assert!(
            shown.starts_with("https://hooks.slack.com/services/"),
            "{shown}"
        );
        assert_eq!(masked_url("not a url"), "not a url");
        assert_eq!(masked_url("ftp://hooks.example"), "ftp://hooks.example");
        assert_eq!(masked_url("redis//:pw@host"), "****@host");
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let url = SecretUrl::from("redis://:s3cr3t-pass@localhost:6379");
        assert!(!format!("{url:?} {url}").contains("s3cr3t"));
        assert_eq!(url.expose(), "redis://:s3cr3t-pass@localhost:6379");
    }
}
