//! Reading token usage out of an answer, whichever API shape it has.

use serde::Deserialize;

/// The tokens an answer reports, as charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
}

/// The field of an answer that says what it cost: `usage` (chat, embeddings, and the
/// Responses API's `input_tokens` / `output_tokens`).
#[derive(Debug, Default, Deserialize)]
struct Billing {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Debug, Default, Deserialize)]
struct RawUsage {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: u64,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: u64,
}

impl From<RawUsage> for Tokens {
    fn from(u: RawUsage) -> Self {
        Tokens {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
        }
    }
}

/// The usage of a JSON answer, if it reports one (`null` and absent are `None`).
pub(crate) fn usage_of(body: &[u8]) -> Option<Tokens> {
    serde_json::from_slice::<Billing>(body)
        .ok()?
        .usage
        .map(Tokens::from)
}

/// The usage in one streamed event, if this is the event that carries it (the final chunk
/// when `stream_options.include_usage` is set; the others have `"usage": null`).
pub(crate) fn usage_of_event(data: &str) -> Option<Tokens> {
    if !(data.contains("\"prompt_tokens\"") || data.contains("\"input_tokens\"")) {
        return None;
    }
    usage_of(data.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_embeddings_and_responses_shapes() {
        let chat =
            br#"{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#;
        assert_eq!(
            usage_of(chat).map(|u| (u.prompt, u.completion)),
            Some((3, 5))
        );
        let emb = br#"{"data":[],"usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        assert_eq!(
            usage_of(emb).map(|u| (u.prompt, u.completion)),
            Some((7, 0))
        );
        let resp = br#"{"usage":{"input_tokens":4,"output_tokens":6,"total_tokens":10}}"#;
        assert_eq!(usage_of(resp).map(|u| u.prompt + u.completion), Some(10));
        assert_eq!(usage_of(br#"{"usage":null}"#), None);
        assert_eq!(usage_of(b"not json"), None);
    }

    #[test]
    fn only_the_usage_event_is_parsed() {
        assert_eq!(
            usage_of_event(r#"{"choices":[{"delta":{}}],"usage":null}"#),
            None
        );
        let last =
            r#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":9,"total_tokens":11}}"#;
        assert_eq!(usage_of_event(last).map(|u| u.completion), Some(9));
    }
}
