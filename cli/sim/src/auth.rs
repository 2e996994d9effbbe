//! Which header carries the API key, and the check every `/v1` request passes.

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

/// The request headers that carry credentials in one provider style or another.
pub(crate) const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "api-key", "x-api-key"];

/// Where a simulator expects the API key, as the providers turnout talks to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>` (OpenAI).
    #[default]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI).
    ApiKey,
    /// `x-api-key: <key>` (Anthropic).
    XApiKey,
}

impl AuthStyle {
    /// The (lower-case) header this style reads the key from.
    pub fn header(self) -> &'static str {
        match self {
            AuthStyle::Bearer => "authorization",
            AuthStyle::ApiKey => "api-key",
            AuthStyle::XApiKey => "x-api-key",
        }
    }

    /// The key this style finds in `headers`, if any.
    pub(crate) fn key(self, headers: &HeaderMap) -> Option<&str> {
        match self {
            AuthStyle::Bearer => bearer(headers),
            AuthStyle::ApiKey | AuthStyle::XApiKey => headers
                .get(self.header())?
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty()),
        }
    }

    /// Whether a credential header of another style is present: a key sent where this
    /// provider does not read it is refused, so that a leaked credential shows as a 401.
    pub(crate) fn stray_credential(self, headers: &HeaderMap) -> bool {
        CREDENTIAL_HEADERS
            .iter()
            .any(|h| *h != self.header() && headers.contains_key(*h))
    }
}

/// The bearer key of the `Authorization` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// The key a request presents, for the `auth_keys_seen` counter: the one in the expected
/// header, else the first found in another credential header.
pub(crate) fn presented(style: AuthStyle, headers: &HeaderMap) -> Option<&str> {
    style.key(headers).or_else(|| {
        [AuthStyle::Bearer, AuthStyle::ApiKey, AuthStyle::XApiKey]
            .into_iter()
            .filter(|s| *s != style)
            .find_map(|s| s.key(headers))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn each_style_reads_its_own_header() {
        let h = headers(&[
            ("authorization", "Bearer sk-b"),
            ("api-key", "sk-a"),
            ("x-api-key", " sk-x "),
        ]);
        assert_eq!(AuthStyle::Bearer.key(&h), Some("sk-b"));
        assert_eq!(AuthStyle::ApiKey.key(&h), Some("sk-a"));
        assert_eq!(AuthStyle::XApiKey.key(&h), Some("sk-x"));
        assert_eq!(
            AuthStyle::Bearer.key(&headers(&[("authorization", "Basic abc")])),
            None
        );
    }

    #[test]
    fn stray_credentials_are_those_of_other_styles() {
        let h = headers(&[("api-key", "sk-a")]);
        assert!(!AuthStyle::ApiKey.stray_credential(&h));
        assert!(AuthStyle::Bearer.stray_credential(&h));
        assert!(AuthStyle::XApiKey.stray_credential(&h));
        assert_eq!(presented(AuthStyle::Bearer, &h), Some("sk-a"));
    }
}
