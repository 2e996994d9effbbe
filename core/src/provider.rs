//! What differs between providers of one OpenAI-compatible API, per environment: how the key
//! is sent, query parameters every request carries (Azure's `api-version`), and the names the
//! side knows the models by.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an environment's key is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthStyle {
    /// `Authorization: Bearer KEY` (OpenAI and most compatible APIs) \[default\].
    #[default]
    #[serde(rename = "bearer")]
    Bearer,
    /// `api-key: KEY` (Azure OpenAI).
    #[serde(rename = "api-key")]
    ApiKey,
    /// `x-api-key: KEY` (Anthropic).
    #[serde(rename = "x-api-key")]
    XApiKey,
}

impl AuthStyle {
    /// The config-file spelling: `"bearer"`, `"api-key"` or `"x-api-key"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::ApiKey => "api-key",
            Self::XApiKey => "x-api-key",
        }
    }
}

/// A base URL split into the URL proper and the query it carried
/// (`https://x.openai.azure.com/openai/v1?api-version=preview` → the URL, `{api-version: preview}`),
/// so that request paths are appended before the query, not after it.
pub(crate) fn split_query(base_url: &str) -> (String, BTreeMap<String, String>) {
    let Some((url, _)) = base_url.split_once('?') else {
        return (base_url.to_string(), BTreeMap::new());
    };
    let pairs = reqwest::Url::parse(base_url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    (url.to_string(), pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_of_a_base_url_is_taken_apart() {
        let (url, query) =
            split_query("https://x.openai.azure.com/openai/v1?api-version=2024-10-21&a=b%20c");
        assert_eq!(url, "https://x.openai.azure.com/openai/v1");
        assert_eq!(query["api-version"], "2024-10-21");
        assert_eq!(query["a"], "b c");
        let (url, query) = split_query("https://api.openai.com/v1");
        assert_eq!(url, "https://api.openai.com/v1");
        assert!(query.is_empty());
    }

    #[test]
    fn auth_styles_read_as_written() {
        for style in [AuthStyle::Bearer, AuthStyle::ApiKey, AuthStyle::XApiKey] {
            let text = serde_json::to_string(&style).unwrap();
            assert_eq!(text, format!("\"{}\"", style.as_str()));
            assert_eq!(serde_json::from_str::<AuthStyle>(&text).unwrap(), style);
        }
    }
}
