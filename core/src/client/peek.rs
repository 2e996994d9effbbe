//! The fields routing reads from a request body given as JSON text — `model`, `user`, and
//! whether it names an object that lives on one side — found in one pass that builds nothing
//! else, so that the text can be sent as it came.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::routing::affinity::is_object_field;

/// What routing needs of a JSON object body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Peeked {
    /// The top-level `model`, when it is a string.
    pub model: Option<String>,
    /// The top-level `user`, when it is a string.
    pub user: Option<String>,
    /// A top-level field that names objects (`previous_response_id`, `file_id`, …) is there.
    pub names_objects: bool,
}

impl Peeked {
    /// Reads `body`; `None` when it is not exactly one JSON object (the caller then decodes it
    /// as a whole, which says what is wrong with it).
    pub fn of(body: &[u8]) -> Option<Self> {
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return None;
        }
        serde_json::from_slice(body).ok()
    }
}

/// A top-level key, by what routing does with it.
enum Key {
    Model,
    User,
    Object,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "model" => Key::Model,
                    "user" => Key::User,
                    k if is_object_field(k) => Key::Object,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Peeked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PeekVisitor;
        impl<'de> Visitor<'de> for PeekVisitor {
            type Value = Peeked;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peeked, A::Error> {
                let mut peeked = Peeked::default();
                // A repeated key: the last one counts, as when the body is decoded whole.
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Model => peeked.model = string(map.next_value()?),
                        Key::User => peeked.user = string(map.next_value()?),
                        Key::Object => {
                            map.next_value::<IgnoredAny>()?;
                            peeked.names_objects = true;
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(peeked)
            }
        }
        deserializer.deserialize_map(PeekVisitor)
    }
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_and_user_and_skips_the_rest() {
        let body = br#" {"messages":[{"role":"user","content":"{\"model\":\"x\"}"}],
            "model":"gpt-4o","temperature":0.5,"user":"u-1","tools":[{"type":"function"}]}"#;
        assert_eq!(
            Peeked::of(body),
            Some(Peeked {
                model: Some("gpt-4o".into()),
                user: Some("u-1".into()),
                names_objects: false,
            })
        );
    }

    #[test]
    fn agrees_with_the_decoded_value() {
        for body in [
            r#"{"model":"a","model":"b"}"#,
            r#"{"model":5,"user":null}"#,
            r#"{"mod\u0065l":"escaped","user":"caf\u00e9"}"#,
            r#"{}"#,
            r#"{"nested":{"model":"inner","user":"inner"}}"#,
        ] {
            let value: Value = serde_json::from_str(body).unwrap();
            let peeked = Peeked::of(body.as_bytes()).unwrap();
            let field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
            assert_eq!(peeked.model, field("model"), "{body}");
            assert_eq!(peeked.user, field("user"), "{body}");
            assert!(!peeked.names_objects, "{body}");
        }
    }

    #[test]
    fn notices_fields_that_name_objects() {
        let peeked = Peeked::of(br#"{"model":"m","previous_response_id":"resp_1"}"#).unwrap();
        assert!(peeked.names_objects);
        let nested = Peeked::of(br#"{"input":[{"previous_response_id":"resp_1"}]}"#).unwrap();
        assert!(!nested.names_objects, "only top-level fields name objects");
    }

    #[test]
    fn anything_but_one_object_is_left_to_the_full_decoder() {
        for body in [
            &b"[\"gpt-4o\",\"u\"]"[..],
            b"\"text\"",
            b"{\"model\":\"m\"} trailing",
            b"{\"model\":",
            b"",
            b"  ",
        ] {
            assert_eq!(Peeked::of(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
