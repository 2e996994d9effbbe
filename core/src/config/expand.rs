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

/// A string of the config that held `${VAR}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expanded {
    /// Where the string sits.
    pub path: KeyPath,
    /// The variables it referred to, in order.
    pub vars: Vec<String>,
    /// It was exactly one reference (`"${PORT}"`): it may be read as a number or a boolean
    /// where the config expects one.
    pub whole: bool,
}

impl Expanded {
    /// `${A}`, or `${A}, ${B}`: where a value came from, for error messages.
    pub(crate) fn source(&self) -> String {
        self.vars
            .iter()
            .map(|v| format!("${{{v}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Expands every string of `value` from the process environment, returning the strings that
/// held references.
pub(crate) fn expand_env(value: &mut Value) -> Result<Vec<Expanded>> {
    expand(value, &|name| std::env::var(name))
}

/// Expands every string of `value` with `lookup`; see [`expand_env`].
pub(crate) fn expand(value: &mut Value, lookup: Lookup<'_>) -> Result<Vec<Expanded>> {
    let mut found = Vec::new();
    walk(value, &mut KeyPath::root(), lookup, &mut found)?;
    Ok(found)
}

fn walk(
    value: &mut Value,
    path: &mut KeyPath,
    lookup: Lookup<'_>,
    found: &mut Vec<Expanded>,
) -> Result<()> {
    match value {
        Value::String(s) if s.contains('$') => {
            let (expanded, vars, whole) = expand_str(s, path, lookup)?;
            if !vars.is_empty() {
                found.push(Expanded {
                    path: path.clone(),
                    vars,
                    whole,
                });
            }
            *s = expanded;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, lookup, found)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                path.push(Seg::Key(key.clone()));
                walk(item, path, lookup, found)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands one string: the result, the variables referred to, and whether it was exactly one
/// `${...}` reference.
fn expand_str(s: &str, path: &KeyPath, lookup: Lookup<'_>) -> Result<(String, Vec<String>, bool)> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut is_whole = false;
    let mut vars = Vec::new();
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
            let (name, value) = resolve(&after[..end], path, lookup)?;
            out.push_str(&value);
            vars.push(name.to_string());
            rest = &after[end + 1..];
            is_whole = tail.len() == s.len() && rest.is_empty();
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, vars, is_whole))
}

/// The variable name and value of the reference `inner` (what sits between `${` and `}`).
fn resolve<'a>(inner: &'a str, path: &KeyPath, lookup: Lookup<'_>) -> Result<(&'a str, String)> {
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
    let value = match (lookup(name), default) {
        (Ok(v), Some(default)) if v.is_empty() => Ok(default.to_string()),
        (Ok(v), _) => Ok(v),
        (Err(VarError::NotPresent), Some(default)) => Ok(default.to_string()),
        (Err(VarError::NotPresent), None) => Err(Error::Config(
            path.prefix(&format!("environment variable {name} is not set")),
        )),
        (Err(VarError::NotUnicode(_)), _) => Err(Error::Config(
            path.prefix(&format!("environment variable {name} is not valid UTF-8")),
        )),
    }?;
    Ok((name, value))
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
        run_all(value).map(|(v, found)| {
            let whole = found.iter().filter(|e| e.whole).map(|e| e.path.to_string());
            (v, whole.collect())
        })
    }

    fn run_all(value: Value) -> Result<(Value, Vec<Expanded>)> {
        let vars: HashMap<&str, &str> = [("HOST", "a.example"), ("KEY", "sk-1"), ("EMPTY", "")]
            .into_iter()
            .collect();
        let lookup = move |name: &str| {
            vars.get(name)
                .map(|v| v.to_string())
                .ok_or(VarError::NotPresent)
        };
        let mut value = value;
        let found = expand(&mut value, &lookup)?;
        Ok((value, found))
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
    fn every_expanded_string_names_its_variables() {
        let (_, found) =
            run_all(json!({"url": "https://${HOST}/${NOPE:-v1}", "n": "${KEY}", "x": "$5"}))
                .unwrap();
        let seen: Vec<_> = found
            .iter()
            .map(|e| (e.path.to_string(), e.source(), e.whole))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("url".to_string(), "${HOST}, ${NOPE}".to_string(), false),
                ("n".to_string(), "${KEY}".to_string(), true),
            ]
        );
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
