//! Reading token usage out of an answer, whichever API shape it has.

use serde::Deserialize;

/// The tokens an answer reports, as charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
    /// Prompt tokens served from the provider's prompt cache
    /// (`prompt_tokens_details.cached_tokens`, or `input_tokens_details.cached_tokens`).
    pub cached: u64,
}

/// The field of an answer that says what it cost: `usage` (chat, embeddings, and the
/// Responses API's `input_tokens` / `output_tokens`).
/// ([`usage_of`] finds that field without decoding the rest; the tests decode this.)
#[cfg(test)]
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
    #[serde(default, alias = "input_tokens_details")]
    prompt_tokens_details: Option<PromptDetails>,
}

/// The part of `usage` that says how much of the prompt the provider's cache served.
#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: u64,
}

impl From<RawUsage> for Tokens {
    fn from(u: RawUsage) -> Self {
        Tokens {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            cached: u.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
        }
    }
}

/// An answer that can tell its usage once decoded, so that its bytes need no scan.
pub(crate) trait KnownUsage {
    /// `Some(usage)` when the decoded answer says for sure what [`usage_of`] would find in
    /// its bytes (`Some(None)`: no usage); `None` when only its bytes can tell.
    fn known_usage(&self) -> Option<Option<Tokens>> {
        None
    }
}

impl KnownUsage for serde_json::Value {
    fn known_usage(&self) -> Option<Option<Tokens>> {
        // The same decoding as `usage_of`'s, of the value instead of its text.
        Some(
            self.get("usage")
                .and_then(|u| Option::<RawUsage>::deserialize(u).ok().flatten())
                .map(Tokens::from),
        )
    }
}

impl KnownUsage for Box<serde_json::value::RawValue> {}

impl KnownUsage for crate::protocol::ModelList {}

impl KnownUsage for crate::protocol::ChatCompletion {
    fn known_usage(&self) -> Option<Option<Tokens>> {
        typed(self.usage.as_ref())
    }
}

impl KnownUsage for crate::protocol::EmbeddingResponse {
    fn known_usage(&self) -> Option<Option<Tokens>> {
        typed(self.usage.as_ref())
    }
}

/// The tokens of a typed `usage`; `None` (scan the bytes) for shapes whose reading by
/// [`usage_of`] the typed fields do not show: the Responses API's names, or a
/// `prompt_tokens_details.cached_tokens` that is not a count.
fn typed(usage: Option<&crate::protocol::Usage>) -> Option<Option<Tokens>> {
    let Some(u) = usage else {
        return Some(None);
    };
    let aliased = ["input_tokens", "output_tokens", "input_tokens_details"];
    if aliased.iter().any(|k| u.extra.contains_key(*k)) {
        return None;
    }
    let cached = match u.extra.get("prompt_tokens_details") {
        None | Some(serde_json::Value::Null) => 0,
        Some(details) => match details.get("cached_tokens") {
            None => 0,
            Some(n) => n.as_u64()?,
        },
    };
    Some(Some(Tokens {
        prompt: u.prompt_tokens,
        completion: u.completion_tokens,
        cached,
    }))
}

/// The usage of a JSON answer, if it reports one (`null` and absent are `None`).
///
/// Called on every answer, which has already been decoded once: rather than decoding the
/// whole body again, the top-level `"usage"` key is found by a scan that only tracks strings
/// and nesting, and only its value is decoded.
pub(crate) fn usage_of(body: &[u8]) -> Option<Tokens> {
    let start = top_level_value(body, b"usage")?;
    let mut de = serde_json::Deserializer::from_slice(&body[start..]);
    Option::<RawUsage>::deserialize(&mut de)
        .ok()?
        .map(Tokens::from)
}

/// The offset of the value of `key` in the top-level JSON object `body` (just after its
/// `:`), or `None` when there is no such key. Nothing is validated: the caller decodes the
/// value, and the body has been decoded as a whole before.
fn top_level_value(body: &[u8], key: &[u8]) -> Option<usize> {
    let mut depth = 0u32;
    let mut i = 0;
    loop {
        // Only quotes and brackets matter between strings.
        i += body
            .get(i..)?
            .iter()
            .position(|&b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'))?;
        match body[i] {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                loop {
                    let k = memchr::memchr2(b'"', b'\\', body.get(end..)?)?;
                    if body[end + k] == b'"' {
                        end += k;
                        break;
                    }
                    end += k + 2;
                }
                i = end + 1;
                // A string at depth 1 followed by `:` is a key of the top-level object.
                if depth == 1 && &body[start..end] == key {
                    let colon = i + body
                        .get(i..)?
                        .iter()
                        .position(|b| !b.is_ascii_whitespace())?;
                    if body[colon] == b':' {
                        return Some(colon + 1);
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            _ => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
        }
    }
}

/// The usage in one streamed event, if this is the event that carries it: the final chunk of
/// a chat stream when `stream_options.include_usage` is set (the others have
/// `"usage": null`), or the Responses API's `response.completed`, whose `response` holds it.
pub(crate) fn usage_of_event(data: &str) -> Option<Tokens> {
    if !(data.contains("\"prompt_tokens\"") || data.contains("\"input_tokens\"")) {
        return None;
    }
    let body = data.as_bytes();
    usage_of(body).or_else(|| usage_of(&body[top_level_value(body, b"response")?..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers whose usage every reader must agree on.
    const CASES: [&str; 10] = [
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[]}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":null}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":6}}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"prompt_tokens_details":null}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"prompt_tokens_details":{"audio_tokens":2}}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":1.5}}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"input_tokens":4,"output_tokens":2}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":4,"input_tokens":2}}"#,
        r#"{"id":"a","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"\"usage\":{\"prompt_tokens\":99}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#,
    ];

    #[test]
    fn decoded_answers_agree_with_the_scan() {
        for case in CASES {
            let scanned = usage_of(case.as_bytes());
            let value: serde_json::Value = serde_json::from_str(case).unwrap();
            assert_eq!(value.known_usage(), Some(scanned), "value: {case}");
            let typed: crate::protocol::ChatCompletion = serde_json::from_str(case).unwrap();
            // The typed reading may defer to the scan, never disagree with it.
            if let Some(known) = typed.known_usage() {
                assert_eq!(known, scanned, "typed: {case}");
            }
        }
        let deferred = |case: &str| {
            serde_json::from_str::<crate::protocol::ChatCompletion>(case)
                .unwrap()
                .known_usage()
                .is_none()
        };
        assert!(deferred(CASES[6]), "a cached count that is not a count");
        assert!(
            deferred(CASES[7]) && deferred(CASES[8]),
            "the Responses API's names"
        );
        assert!(!deferred(CASES[3]) && !deferred(CASES[0]));
    }

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
        let completed = r#"{"type":"response.completed","response":{"id":"resp_1","usage":{"input_tokens":2,"output_tokens":9}},"sequence_number":7}"#;
        assert_eq!(
            usage_of_event(completed).map(|u| (u.prompt, u.completion)),
            Some((2, 9))
        );
        let delta = r#"{"type":"response.output_text.delta","delta":"input_tokens"}"#;
        assert_eq!(usage_of_event(delta), None);
        assert_eq!(usage_of(b"not json"), None);
    }

    /// The reference: decoding the whole body.
    fn decoded(body: &[u8]) -> Option<Tokens> {
        serde_json::from_slice::<Billing>(body)
            .ok()?
            .usage
            .map(Tokens::from)
    }

    #[test]
    fn the_scan_finds_what_decoding_finds() {
        let bodies: &[&str] = &[
            r#"{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
            r#"{"usage":{"prompt_tokens":1,"completion_tokens":2},"id":"after"}"#,
            r#" { "usage" : { "prompt_tokens" : 4 , "completion_tokens" : 6 } } "#,
            r#"{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":99}"}}],"usage":{"prompt_tokens":7,"completion_tokens":1}}"#,
            r#"{"choices":[{"usage":{"prompt_tokens":99,"completion_tokens":99}}],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#,
            r#"{"choices":[{"usage":{"prompt_tokens":99,"completion_tokens":99}}]}"#,
            r#"{"data":[["usage"],{"x":"usage"}],"note":"usage","usage":{"input_tokens":5,"output_tokens":8}}"#,
            r#"{"a":"back\\slash\\","usage":{"prompt_tokens":11,"completion_tokens":12}}"#,
            r#"{"usage":null}"#,
            r#"{"usage":{}}"#,
            r#"{"usage":{"prompt_tokens":3,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":1}}}"#,
            r#"{"id":"x"}"#,
            r#"[]"#,
            r#"{"#,
            r#"{"usage""#,
            r#"{"usage":"#,
            r#"{"usage"}"#,
            "",
        ];
        for body in bodies {
            assert_eq!(
                usage_of(body.as_bytes()),
                decoded(body.as_bytes()),
                "{body}"
            );
        }
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

    #[test]
    fn cached_prompt_tokens_are_read_in_both_shapes() {
        let chat = br#"{"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":64}}}"#;
        assert_eq!(usage_of(chat).map(|u| u.cached), Some(64));
        let resp = br#"{"usage":{"input_tokens":90,"output_tokens":6,"input_tokens_details":{"cached_tokens":32}}}"#;
        assert_eq!(usage_of(resp).map(|u| u.cached), Some(32));
        let none = br#"{"usage":{"prompt_tokens":100,"completion_tokens":5}}"#;
        assert_eq!(usage_of(none).map(|u| u.cached), Some(0));
        let null = br#"{"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":null}}"#;
        assert_eq!(usage_of(null).map(|u| u.cached), Some(0));
    }
}
