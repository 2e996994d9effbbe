//! The two sides, blue and green, and what it takes to reach each one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
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

/// How to reach one environment: base URL, its own key, a label, extra headers, a timeout.
///
/// ```
/// use turnout::{ApiKey, Environment};
/// let env = Environment::new("https://api.openai.com/v1/", ApiKey::new("sk-test"))
///     .label("v2")
///     .header("OpenAI-Organization", "org-1");
/// assert_eq!(env.base_url(), "https://api.openai.com/v1");
/// ```
#[derive(Clone)]
pub struct Environment {
    base_url: String,
    api_key: ApiKey,
    label: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl Environment {
    /// An environment at `base_url` (trailing `/` removed) using `api_key`.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<ApiKey>) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Self {
            base_url,
            api_key: api_key.into(),
            label: None,
            headers: Vec::new(),
            timeout: None,
        }
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

    /// The key of this environment.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
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
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            Error::Config(format!(
                "environments.{side}.base_url must be an absolute URL, got {:?}: {e}",
                self.base_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "environments.{side}.base_url must use http or https, got {:?}",
                self.base_url
            )));
        }
        Ok(())
    }
}

/// The file form of an environment: `{base_url, api_key, label, headers, timeout}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentFile {
    base_url: String,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default, with = "crate::config::secs_opt")]
    timeout: Option<Duration>,
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let f = EnvironmentFile::deserialize(d)?;
        let mut env = Environment::new(f.base_url, ApiKey::new(f.api_key));
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
            .field("label", &self.label)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}
