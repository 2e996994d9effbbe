//! Turns serde's errors into messages a user can act on: the config path, a "did you mean" hint
//! for misspelt keys and values, and no secrets.

use std::cell::Cell;
use std::sync::OnceLock;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;
use serde_path_to_error::Segment;

use super::keypath::{KeyPath, Seg};
use super::{
    Bounds, CacheConfig, CircuitBreaker, Config, HealthCheck, MetricsConfig, RateLimit,
    RetryPolicy, RollbackPolicy, StateConfig,
};
use crate::environment::Environment;

/// The config path of a deserialization error.
pub(crate) fn key_path(path: &serde_path_to_error::Path) -> KeyPath {
    KeyPath::from_segs(
        path.iter()
            .map(|seg| match seg {
                Segment::Map { key } => Seg::Key(key.clone()),
                Segment::Seq { index } => Seg::Index(*index),
                Segment::Enum { variant } => Seg::Key(variant.clone()),
                Segment::Unknown => Seg::Key("?".to_string()),
            })
            .collect(),
    )
}

/// The message of a deserialization error at `path`.
pub(crate) fn describe(path: &KeyPath, inner: &str) -> String {
    let quoted = backticked(inner);
    if inner.starts_with("unknown field `") && !quoted.is_empty() {
        let key = quoted[0];
        let mut parent = path.clone();
        if parent.last() == Some(&Seg::Key(key.to_string())) {
            parent.pop();
        }
        let hint = match (suggest(key, &quoted[1..]), elsewhere(key, &parent)) {
            (Some(s), _) => format!("; did you mean \"{s}\"?"),
            (None, Some(section)) => format!("; did you mean \"{key}\" {section}?"),
            (None, None) if quoted.len() > 1 => {
                format!("; expected one of: {}", quoted[1..].join(", "))
            }
            (None, None) => String::new(),
        };
        return format!("unknown key \"{key}\" {}{hint}", parent.location());
    }
    if inner.starts_with("unknown variant `") && !quoted.is_empty() {
        let value = quoted[0];
        let hint = match suggest(value, &quoted[1..]) {
            Some(s) => format!("; did you mean \"{s}\"?"),
            None => format!(
                "; expected one of: {}",
                quoted[1..]
                    .iter()
                    .map(|q| format!("\"{q}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return path.prefix(&format!("unknown value \"{value}\"{hint}"));
    }
    if inner.starts_with("missing field `") && !quoted.is_empty() {
        return format!("missing required key \"{}\" {}", quoted[0], path.location());
    }
    if is_secret_path(path) && inner.starts_with("invalid ") {
        // serde quotes the offending value (`invalid type: integer `1234`, ...`): it may be a key.
        return match path.last() {
            Some(Seg::Key(k)) if k == "headers" => {
                path.prefix("must be a mapping of header names to strings")
            }
            _ => path.prefix("must be a string"),
        };
    }
    path.prefix(&plain_expectation(inner))
}

/// serde names Rust types in what it expected (`f64`, `struct RetryPolicy`); a config file
/// has numbers, mappings and strings: `expected a number, got the string "abc"`.
fn plain_expectation(inner: &str) -> String {
    let parsed = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| inner.strip_prefix(prefix))
        .and_then(|rest| rest.rsplit_once(", expected "));
    match parsed {
        Some((got, expected)) => {
            format!(
                "expected {}, got {}",
                expected_in_words(expected),
                got_in_words(got)
            )
        }
        None => inner.to_string(),
    }
}

/// What serde expected, in a config file's words.
fn expected_in_words(expected: &str) -> &str {
    match expected {
        "f32" | "f64" => "a number",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "string or map" | "a string" => "a string",
        "a sequence" => "a list",
        "a map" => "a mapping",
        "a boolean" => "true or false",
        e if e.starts_with("struct ") => "a mapping",
        e => e,
    }
}

/// What serde found (`string "x"`, ``integer `1` ``, `map`), in a config file's words.
fn got_in_words(got: &str) -> String {
    if let Some(text) = got.strip_prefix("string ") {
        return format!("the string {text}");
    }
    let quoted = backticked(got);
    match (got, quoted.first()) {
        ("map", _) => "a mapping".to_string(),
        ("sequence", _) => "a list".to_string(),
        ("unit", _) | ("null", _) => "null".to_string(),
        (_, Some(value)) => (*value).to_string(),
        _ => got.to_string(),
    }
}

/// Where else `key` is a known key (`"in retry"`, `"at top level"`), for a key put in the
/// wrong section.
fn elsewhere(key: &str, parent: &KeyPath) -> Option<String> {
    let here = parent.to_string();
    sections()
        .iter()
        .find(|(section, fields)| *section != here && fields.contains(&key))
        .map(|(section, _)| match *section {
            "" => "at top level".to_string(),
            "environments" => "in environments.blue or environments.green".to_string(),
            section => format!("in {section}"),
        })
}

/// The keys of each section of the file, read from the model itself so they cannot drift.
fn sections() -> &'static [(&'static str, &'static [&'static str])] {
    static SECTIONS: OnceLock<Vec<(&'static str, &'static [&'static str])>> = OnceLock::new();
    SECTIONS.get_or_init(|| {
        vec![
            ("", fields_of::<Config>()),
            ("retry", fields_of::<RetryPolicy>()),
            ("health_check", fields_of::<HealthCheck>()),
            ("circuit_breaker", fields_of::<CircuitBreaker>()),
            ("rollback", fields_of::<RollbackPolicy>()),
            ("rate_limit", fields_of::<RateLimit>()),
            ("metrics", fields_of::<MetricsConfig>()),
            ("cache", fields_of::<CacheConfig>()),
            ("state", fields_of::<StateConfig>()),
            ("bounds", fields_of::<Bounds>()),
            ("environments", fields_of::<Environment>()),
        ]
    })
}

/// The field names serde knows for the struct `T`, or none.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    /// A deserializer that only records the fields a struct asks for, then gives up.
    struct Probe<'a>(&'a Cell<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(fields);
            Err(de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let fields = Cell::new(&[][..]);
    let _ = T::deserialize(Probe(&fields));
    fields.get()
}

/// The pieces of `s` between backticks, in order.
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// The candidate `unknown` most likely meant, if one is close enough: the same name in another
/// case convention (`canaryWeight`), or one a typo or two away (`canary_weigth`). Config files,
/// and the bindings for keyword arguments, use this one rule.
pub fn suggest<'a>(unknown: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // `canaryWeight`, `Canary-Weight`: the same key in another case convention.
    let squash = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let wanted = squash(unknown);
    if let Some(c) = candidates.iter().find(|c| squash(c) == wanted) {
        return Some(c);
    }
    let limit = (unknown.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(unknown, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Whether values at `path` may be secrets: an `api_key`, or anything under `headers`.
fn is_secret_path(path: &KeyPath) -> bool {
    path.segs()
        .iter()
        .any(|s| matches!(s, Seg::Key(k) if k == "api_key" || k == "headers"))
}

/// Every string of `value` that may be a secret (see [`is_secret_path`]), for [`redact`].
pub(crate) fn secrets(value: &Value) -> Vec<String> {
    fn walk(value: &Value, secret: bool, out: &mut Vec<String>) {
        match value {
            Value::String(s) if secret => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, secret, out)),
            Value::Object(map) => {
                for (k, v) in map {
                    walk(v, secret || k == "api_key" || k == "headers", out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, false, &mut out);
    out
}

/// `message` with every secret long enough to be one replaced by `[redacted]`.
pub(crate) fn redact(message: String, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.chars().count() >= 6)
        .fold(message, |m, s| m.replace(s.as_str(), "[redacted]"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(keys: &[&str]) -> KeyPath {
        KeyPath::from_segs(keys.iter().map(|k| Seg::Key(k.to_string())).collect())
    }

    #[test]
    fn unknown_key_gets_a_hint() {
        assert_eq!(
            describe(
                &path(&["canary_weigth"]),
                "unknown field `canary_weigth`, expected one of `environments`, `canary_weight`"
            ),
            "unknown key \"canary_weigth\" at top level; did you mean \"canary_weight\"?"
        );
        assert_eq!(
            describe(
                &path(&["environments", "blue", "base_ur"]),
                "unknown field `base_ur`, expected `base_url` or `api_key`"
            ),
            "unknown key \"base_ur\" in environments.blue; did you mean \"base_url\"?"
        );
        assert_eq!(
            describe(
                &path(&["retry", "zzz"]),
                "unknown field `zzz`, expected `max_attempts` or `jitter`"
            ),
            "unknown key \"zzz\" in retry; expected one of: max_attempts, jitter"
        );
    }

    #[test]
    fn keys_in_the_wrong_section_are_placed() {
        assert_eq!(
            describe(
                &path(&["max_attempts"]),
                "unknown field `max_attempts`, expected `environments` or `active`"
            ),
            "unknown key \"max_attempts\" at top level; did you mean \"max_attempts\" in retry?"
        );
        assert_eq!(
            describe(
                &path(&["environments", "blue", "canary_weight"]),
                "unknown field `canary_weight`, expected `base_url` or `api_key`"
            ),
            "unknown key \"canary_weight\" in environments.blue; \
             did you mean \"canary_weight\" at top level?"
        );
        assert_eq!(
            describe(
                &path(&["label"]),
                "unknown field `label`, expected `environments` or `active`"
            ),
            "unknown key \"label\" at top level; \
             did you mean \"label\" in environments.blue or environments.green?"
        );
        assert!(fields_of::<Config>().contains(&"canary_weight"));
        assert!(fields_of::<Environment>().contains(&"base_url"));
    }

    #[test]
    fn rust_type_names_are_not_shown() {
        assert_eq!(
            describe(
                &path(&["retry"]),
                "invalid type: null, expected struct RetryPolicy"
            ),
            "retry: expected a mapping, got null"
        );
        assert_eq!(
            describe(
                &path(&["active"]),
                "invalid type: integer `3`, expected string or map"
            ),
            "active: expected a string, got 3"
        );
    }

    #[test]
    fn type_errors_speak_of_numbers_not_rust_types() {
        assert_eq!(
            describe(
                &path(&["canary_weight"]),
                "invalid type: string \"abc\", expected f64"
            ),
            "canary_weight: expected a number, got the string \"abc\""
        );
        assert_eq!(
            describe(
                &path(&["retry", "max_attempts"]),
                "invalid value: integer `-1`, expected u32"
            ),
            "retry.max_attempts: expected a whole number (0 or more), got -1"
        );
        assert_eq!(
            describe(
                &path(&["sticky"]),
                "invalid type: sequence, expected a boolean"
            ),
            "sticky: expected true or false, got a list"
        );
    }

    #[test]
    fn suggestions() {
        let keys = ["canary_weight", "sticky", "salt", "state", "timeout"];
        assert_eq!(suggest("canaryWeight", &keys), Some("canary_weight"));
        assert_eq!(suggest("stiky", &keys), Some("sticky"));
        assert_eq!(suggest("timeot", &keys), Some("timeout"));
        assert_eq!(suggest("weight", &keys), None);
        assert_eq!(suggest("x", &keys), None);
    }

    #[test]
    fn unknown_value_and_missing_key() {
        assert_eq!(
            describe(
                &path(&["active"]),
                "unknown variant `gren`, expected `blue` or `green`"
            ),
            "active: unknown value \"gren\"; did you mean \"green\"?"
        );
        assert_eq!(
            describe(
                &path(&["active"]),
                "unknown variant `purple`, expected `blue` or `green`"
            ),
            "active: unknown value \"purple\"; expected one of: \"blue\", \"green\""
        );
        assert_eq!(
            describe(&path(&["environments"]), "missing field `green`"),
            "missing required key \"green\" in environments"
        );
        assert_eq!(
            describe(&KeyPath::root(), "missing field `environments`"),
            "missing required key \"environments\" at top level"
        );
    }

    #[test]
    fn secret_values_are_not_quoted() {
        assert_eq!(
            describe(
                &path(&["environments", "blue", "api_key"]),
                "invalid type: integer `1234567`, expected a string"
            ),
            "environments.blue.api_key: must be a string"
        );
        let secrets = secrets(&json!({
            "environments": {"blue": {"api_key": "sk-abcdef", "headers": {"X-Token": "tok-123456"}}},
            "other": "sk-not-secret",
        }));
        assert_eq!(secrets, vec!["sk-abcdef", "tok-123456"]);
        assert_eq!(
            redact("a sk-abcdef b tok-123456".to_string(), &secrets),
            "a [redacted] b [redacted]"
        );
    }
}
