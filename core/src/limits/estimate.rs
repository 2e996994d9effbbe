//! Estimating a request's tokens before it is sent: about four characters of JSON per token,
//! plus the completion it may ask for.

use serde_json::Value;

/// `ceil(chars / 4)` of the body's JSON, plus `max_tokens` (or `max_completion_tokens`,
/// `max_output_tokens`) when the body sets it. Corrected by the answer's `usage` afterwards.
pub(crate) fn estimate_tokens(body: Option<&Value>) -> u64 {
    let Some(body) = body else { return 0 };
    let mut chars = CharCount(0);
    // Writing to a counter cannot fail; an unencodable body estimates as empty.
    let _ = serde_json::to_writer(&mut chars, body);
    let completion = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(0);
    chars.0.div_ceil(4) + completion
}

/// Counts UTF-8 characters written to it, without keeping them.
struct CharCount(u64);

impl std::io::Write for CharCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Every byte that is not a continuation byte starts a character.
        self.0 += buf.iter().filter(|b| (**b & 0xC0) != 0x80).count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chars_over_four_plus_max_tokens() {
        let body = json!({"model": "m", "messages": []});
        let n = serde_json::to_string(&body).unwrap().chars().count() as u64;
        assert_eq!(estimate_tokens(Some(&body)), n.div_ceil(4));
        let body = json!({"model": "m", "max_tokens": 100});
        let n = serde_json::to_string(&body).unwrap().chars().count() as u64;
        assert_eq!(estimate_tokens(Some(&body)), n.div_ceil(4) + 100);
        assert_eq!(estimate_tokens(None), 0);
    }

    #[test]
    fn counts_characters_not_bytes() {
        let body = json!("éééé");
        assert_eq!(estimate_tokens(Some(&body)), 2);
    }
}
