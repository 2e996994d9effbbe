//! The cache key: sha256 of the canonical JSON of `[side, method, path, body]`, so that two
//! bodies that differ only in the order of their keys (or their whitespace) share an entry,
//! and an answer of one side is never served for a request routed to the other.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::environment::Side;

/// A request's cache key.
pub(crate) type CacheKey = [u8; 32];

/// The key of a request routed to `side`.
pub(crate) fn cache_key(side: Side, method: &str, path: &str, body: Option<&Value>) -> CacheKey {
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    string(side.as_str(), &mut out);
    out.push(b',');
    canonical(&Value::String(method.to_string()), &mut out);
    out.push(b',');
    canonical(&Value::String(path.to_string()), &mut out);
    out.push(b',');
    canonical(body.unwrap_or(&Value::Null), &mut out);
    out.push(b']');
    Sha256::digest(&out).into()
}

/// Writes `v` as JSON with object keys sorted and no whitespace.
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => string(s, out),
        // Null, booleans and numbers have one spelling in serde_json's output.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a string to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_but_content_does() {
        let a: Value = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"t":0.5}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{ "t": 0.5, "messages": [{"content": "hi", "role": "user"}], "model": "m" }"#,
        )
        .unwrap();
        assert_eq!(
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&a)),
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&b))
        );
        let c = json!({"model": "m", "messages": [{"role": "user", "content": "hi!"}], "t": 0.5});
        assert_ne!(
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&a)),
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&c))
        );
        assert_ne!(
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&a)),
            cache_key(Side::Blue, "POST", "/embeddings", Some(&a))
        );
        assert_ne!(
            cache_key(Side::Blue, "GET", "/models", None),
            cache_key(Side::Blue, "POST", "/models", None)
        );
        assert_ne!(
            cache_key(Side::Blue, "POST", "/chat/completions", Some(&a)),
            cache_key(Side::Green, "POST", "/chat/completions", Some(&a)),
            "an answer of blue is never served for a request routed to green"
        );
    }

    #[test]
    fn canonical_form() {
        let mut out = Vec::new();
        canonical(
            &json!({"b": [1, "x\"y", null], "a": {"d": true, "c": 1.5}}),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"c":1.5,"d":true},"b":[1,"x\"y",null]}"#
        );
    }
}
