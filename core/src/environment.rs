//! The two sides, blue and green, and what it takes to reach each one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::provider::{AuthStyle, split_query};
use crate::secret::ApiKey;

/// One of the two environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The blue environment.
    Blue,
    /// The green environment.
    Green,
}

impl Side {
    /// Both sides, blue first.
    pub const BOTH: [Side; 2] = [Side::Blue, Side::Green];

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Blue => Side::Green,
            Side::Green => Side::Blue,
        }
    }

    /// `"blue"` or `"green"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Blue => "blue",
            Side::Green => "green",
        }
    }

    /// 0 for blue, 1 for green: an index into per-side arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Side {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "blue" => Ok(Side::Blue),
            "green" => Ok(Side::Green),
            other => Err(Error::Config(format!(
                "environment must be \"blue\" or \"green\", got {other:?}"
            ))),
        }
    }
}

/// How to reach one environment: base URL, its own key and how it is sent, a label, extra
/// headers, query parameters, model names, a timeout.
///
/// ```
/// use turnout::{ApiKey, AuthStyle, Environment};
/// let env = Environment::new("https://api.openai.com/v1/", ApiKey::new("sk-test"))
///     .label("v2")
///     .header("OpenAI-Organization", "org-1");
/// assert_eq!(env.base_url(), "https://api.openai.com/v1");
///
/// // Azure OpenAI (v1 API): the key in `api-key`, a query on every request, deployment names.
/// let azure = Environment::new(
///     "https://my-resource.openai.azure.com/openai/v1?api-version=preview",
///     ApiKey::new("azure-key"),
/// )
/// .auth(AuthStyle::ApiKey)
/// .model("gpt-4.1", "prod-gpt41-deployment");
/// assert_eq!(azure.base_url(), "https://my-resource.openai.azure.com/openai/v1");
/// assert_eq!(azure.query()["api-version"], "preview");
/// ```
#[derive(Clone)]
pub struct Environment {
    base_url: String,
    api_key: ApiKey,
    /// Further keys of a pool, used round-robin with `api_key` (see `docs/keys.md`).
    more_keys: Vec<ApiKey>,
    auth: AuthStyle,
    label: Option<String>,
    headers: Vec<(String, String)>,
    query: BTreeMap<String, String>,
    models: BTreeMap<String, String>,
    timeout: Option<Duration>,
}

impl Environment {
    /// An environment at `base_url` (trailing `/` removed) using `api_key`. A query in the base
    /// URL (`…/v1?api-version=…`) becomes the environment's [`Environment::query`], sent with
    /// every request after its path.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<ApiKey>) -> Self {
        let (mut base_url, query) = split_query(&base_url.into());
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Self {
            base_url,
            api_key: api_key.into(),
            more_keys: Vec::new(),
            auth: AuthStyle::default(),
            label: None,
            headers: Vec::new(),
            query,
            models: BTreeMap::new(),
            timeout: None,
        }
    }

    /// Sets how the key is sent: `Authorization: Bearer` \[default\], `api-key` or `x-api-key`.
    pub fn auth(mut self, auth: AuthStyle) -> Self {
        self.auth = auth;
        self
    }

    /// Adds a query parameter sent with every request (e.g. Azure's `api-version`).
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.insert(name.into(), value.into());
        self
    }

    /// Sends `model` to this side as `upstream` (a deployment name): the request body's model
    /// is rewritten for this side only, and `route.upstream_model` says what was sent.
    pub fn model(mut self, model: impl Into<String>, upstream: impl Into<String>) -> Self {
        self.models.insert(model.into(), upstream.into());
        self
    }

    /// How the key is sent.
    pub fn auth_style(&self) -> AuthStyle {
        self.auth
    }

    /// Query parameters sent with every request.
    pub fn query(&self) -> &BTreeMap<String, String> {
        &self.query
    }

    /// The model name map of this side.
    pub fn models(&self) -> &BTreeMap<String, String> {
        &self.models
    }

    /// The name `model` is sent as to this side.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.models.get(model).map_or(model, String::as_str)
    }

    /// Sets a human label (e.g. a release name) shown in routes, status and events.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a header sent with every request to this environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a request timeout for this environment (overrides the client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The base URL fit to be shown: a password, query values and token-like path segments
    /// masked, as in `Debug` and `status()`.
    ///
    /// ```
    /// let env = turnout::Environment::new("https://gw.example/t/sk-live-abc123def456ghi789/v1", "sk-x");
    /// assert_eq!(env.shown_url(), "https://gw.example/t/****/v1");
    /// ```
    pub fn shown_url(&self) -> String {
        crate::secret::masked_url(&self.base_url)
    }

    /// The key of this environment (the first of its pool).
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// Adds a key to this environment's pool: requests use the keys round-robin, a key
    /// answered 401/403 is taken out, one answered 429 rests for its `Retry-After`.
    pub fn with_key(mut self, key: impl Into<ApiKey>) -> Self {
        if self.api_key.is_empty() {
            self.api_key = key.into();
        } else {
            self.more_keys.push(key.into());
        }
        self
    }

    /// Every key of the pool, the first one first (empty keys left out).
    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKey> {
        std::iter::once(&self.api_key)
            .chain(&self.more_keys)
            .filter(|k| !k.is_empty())
    }

    /// The label, if one was set.
    pub fn label_str(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The environment's own timeout, if set.
    pub fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }

    /// Checks that the base URL is an absolute http(s) URL.
    pub(crate) fn validate(&self, side: Side) -> Result<()> {
        let shown = crate::secret::masked_url(&self.base_url);
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            Error::Config(format!(
                "environments.{side}.base_url must be an absolute URL, got {shown:?}: {e}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "environments.{side}.base_url must use http or https, got {shown:?}"
            )));
        }
        if url.fragment().is_some() {
            return Err(Error::Config(format!(
                "environments.{side}.base_url must not have a #fragment, got {shown:?}"
            )));
        }
        Ok(())
    }
}

/// The file form of an environment:
/// `{base_url, api_key, auth, label, headers, query, models, timeout}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentFile {
    base_url: String,
    #[serde(default)]
    api_key: KeyList,
    #[serde(default)]
    auth: AuthStyle,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    models: BTreeMap<String, String>,
    #[serde(default, with = "crate::config::secs_opt")]
    timeout: Option<Duration>,
}

/// `api_key` in a file: one key, or a list of keys (a pool).
enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = KeyList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<KeyList, E> {
                Ok(KeyList::One(v.to_string()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    keys.push(k);
                }
                Ok(KeyList::Many(keys))
            }
        }
        d.deserialize_any(Keys)
    }
}

impl Default for KeyList {
    fn default() -> Self {
        Self::One(String::new())
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let f = EnvironmentFile::deserialize(d)?;
        let keys = match f.api_key {
            KeyList::One(key) => vec![key],
            KeyList::Many(keys) => keys,
        };
        let mut keys = keys.into_iter();
        let mut env = Environment::new(f.base_url, ApiKey::new(keys.next().unwrap_or_default()));
        env.more_keys = keys.map(ApiKey::new).collect();
        env.auth = f.auth;
        env.query.extend(f.query);
        env.models = f.models;
        env.label = f.label;
        env.headers = f.headers.into_iter().collect();
        env.timeout = f.timeout;
        Ok(env)
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("base_url", &crate::secret::masked_url(&self.base_url))
            .field("api_key", &self.api_key)
            .field("more_keys", &self.more_keys)
            .field("auth", &self.auth)
            .field("label", &self.label)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("query", &self.query.keys().collect::<Vec<_>>())
            .field("models", &self.models)
            .field("timeout", &self.timeout)
            .finish()
    }
}
