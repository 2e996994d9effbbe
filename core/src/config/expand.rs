//! `${VAR}` expansion of every string value of a config tree, from the process environment.
//!
//! - `${VAR}` is replaced by the variable's value; an unset variable is an error naming it and
//!   the config path where it appeared.
//! - `${VAR:-default}` uses `default` when `VAR` is unset or empty; the default is literal text
//!   and ends at the first `}`.
//! - `$${` is a literal `${`; any other `$` is kept as it is.
//! - Only values are expanded, never keys.

use std::env::VarError;

use serde_json::Value;

use super::keypath::{KeyPath, Seg};
use crate::error::{Error, Result};

/// Reads a variable: `std::env::var`, or a table in tests.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> std::result::Result<String, VarError>;

/// Expands every string of `value` from the process environment.
///
/// Returns the paths of the strings that were exactly one reference (`"${PORT}"`): those may be
/// read as a number or a boolean where the config expects one.
pub(crate) fn expand_env(value: &mut Value) -> Result<Vec<KeyPath>> {
    expand(value, &|name| std::env::var(name))
}

/// Expands every string of `value` with `lookup`; see [`expand_env`].
pub(crate) fn expand(value: &mut Value, lookup: Lookup<'_>) -> Result<Vec<KeyPath>> {
    let mut whole = Vec::new();
    walk(value, &mut KeyPath::root(), lookup, &mut whole)?;
    Ok(whole)
}

fn walk(
    value: &mut Value,
    path: &mut KeyPath,
    lookup: Lookup<'_>,
    whole: &mut Vec<KeyPath>,
) -> Result<()> {
    match value {
        Value::String(s) if s.contains('$') => {
            let (expanded, is_whole) = expand_str(s, path, lookup)?;
            if is_whole {
                whole.push(path.clone());
            }
            *s = expanded;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, lookup, whole)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                path.push(Seg::Key(key.clone()));
                walk(item, path, lookup, whole)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands one string; the flag tells whether it was exactly one `${...}` reference.
fn expand_str(s: &str, path: &KeyPath, lookup: Lookup<'_>) -> Result<(String, bool)> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut is_whole = false;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| {
                Error::Config(path.prefix(
                    "unterminated \"${\" (close it with \"}\", or write \"$${\" for a literal \"${\")",
                ))
            })?;
            out.push_str(&resolve(&after[..end], path, lookup)?);
            rest = &after[end + 1..];
            is_whole = tail.len() == s.len() && rest.is_empty();
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, is_whole))
}

/// The value of the reference `inner` (what sits between `${` and `}`).
fn resolve(inner: &str, path: &KeyPath, lookup: Lookup<'_>) -> Result<String> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_var_name(name) {
        return Err(Error::Config(path.prefix(&format!(
            "\"${{{name}}}\" is not a valid variable reference: a name is letters, digits and _, \
             not starting with a digit (write \"$${{\" for a literal \"${{\")"
        ))));
    }
    match (lookup(name), default) {
        (Ok(v), Some(default)) if v.is_empty() => Ok(default.to_string()),
        (Ok(v), _) => Ok(v),
        (Err(VarError::NotPresent), Some(default)) => Ok(default.to_string()),
        (Err(VarError::NotPresent), None) => Err(Error::Config(
            path.prefix(&format!("environment variable {name} is not set")),
        )),
        (Err(VarError::NotUnicode(_)), _) => Err(Error::Config(
            path.prefix(&format!("environment variable {name} is not valid UTF-8")),
        )),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    fn run(value: Value) -> Result<(Value, Vec<String>)> {
        let vars: HashMap<&str, &str> = [("HOST", "a.example"), ("KEY", "sk-1"), ("EMPTY", "")]
            .into_iter()
            .collect();
        let lookup = move |name: &str| {
            vars.get(name)
                .map(|v| v.to_string())
                .ok_or(VarError::NotPresent)
        };
        let mut value = value;
        let whole = expand(&mut value, &lookup)?;
        Ok((value, whole.iter().map(|p| p.to_string()).collect()))
    }

    fn message(err: Error) -> String {
        match err {
            Error::Config(m) => m,
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn expands_inside_longer_strings_and_lists() {
        let (v, whole) = run(json!({
            "a": {"url": "https://${HOST}/v1", "key": "${KEY}"},
            "l": ["x${HOST}y", 3, true, null],
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({
                "a": {"url": "https://a.example/v1", "key": "sk-1"},
                "l": ["xa.exampley", 3, true, null],
            })
        );
        assert_eq!(whole, vec!["a.key"]);
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let (v, whole) = run(json!({
            "a": "${NOPE:-8080}",
            "b": "${EMPTY:-x}",
            "c": "${HOST:-x}",
            "d": "${NOPE:-}",
            "e": "${EMPTY}",
        }))
        .unwrap();
        assert_eq!(
            v,
            json!({"a": "8080", "b": "x", "c": "a.example", "d": "", "e": ""})
        );
        assert_eq!(whole, vec!["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn dollar_dollar_brace_is_a_literal() {
        let (v, whole) = run(json!({"a": "$${HOST}", "b": "cost $5 $$ ${HOST}$"})).unwrap();
        assert_eq!(v, json!({"a": "${HOST}", "b": "cost $5 $$ a.example$"}));
        assert!(whole.is_empty());
    }

    #[test]
    fn missing_variable_names_it_and_the_path() {
        let err = run(json!({"environments": {"green": {"api_key": "${GREEN_KEY}"}}}));
        assert_eq!(
            message(err.unwrap_err()),
            "environments.green.api_key: environment variable GREEN_KEY is not set"
        );
        let err = run(json!({"rules": [{"match": {"tier": "${TIER}"}}]}));
        assert_eq!(
            message(err.unwrap_err()),
            "rules[0].match.tier: environment variable TIER is not set"
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        let err = message(run(json!({"a": "${HOST"})).unwrap_err());
        assert!(err.starts_with("a: unterminated \"${\""), "{err}");
        let err = message(run(json!({"a": "${1A}"})).unwrap_err());
        assert!(
            err.starts_with("a: \"${1A}\" is not a valid variable reference"),
            "{err}"
        );
        let err = message(run(json!({"a": "${}"})).unwrap_err());
        assert!(err.contains("\"${}\" is not a valid"), "{err}");
    }
}
