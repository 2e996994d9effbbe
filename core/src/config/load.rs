//! Loading a [`Config`] from YAML, TOML or JSON files, texts and in-memory values.
//!
//! Every source goes through the same steps: parse to a JSON value, expand `${VAR}` references,
//! deserialize (unknown keys are errors with a hint), then [`Config::validate`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::Value;

use super::expand::Expanded;
use super::keypath::KeyPath;
use super::{Config, diagnose, expand};
use crate::error::{Error, Result};

const EXTENSIONS: &str = ".yaml, .yml, .toml or .json";

/// The syntax of a config text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`); anchors and `<<` merge keys are supported.
    Yaml,
    /// TOML (`.toml`).
    Toml,
    /// JSON (`.json`).
    Json,
}

impl Format {
    /// The format of a file, from its extension (`.yaml`/`.yml`, `.toml`, `.json`, any case).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let Some(ext) = path.extension() else {
            return Err(Error::Config(format!(
                "{}: a config file needs an extension: {EXTENSIONS}",
                path.display()
            )));
        };
        ext.to_str().and_then(|e| e.parse().ok()).ok_or_else(|| {
            Error::Config(format!(
                "{}: unsupported config file extension \".{}\"; use {EXTENSIONS}",
                path.display(),
                ext.to_string_lossy()
            ))
        })
    }

    /// `"YAML"`, `"TOML"` or `"JSON"`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }

    /// Parses `text` to a JSON value, without expanding or checking anything (the CLI's
    /// `--gates FILE`).
    pub fn parse(self, text: &str) -> Result<Value> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match self {
            Format::Yaml => parse_yaml(text),
            Format::Toml => parse_toml(text),
            Format::Json => serde_json::from_str(text)
                .map_err(|e| Error::Config(format!("cannot parse JSON: {e}"))),
        }
    }
}

/// YAML to a JSON value, `<<` merge keys applied.
#[cfg(feature = "yaml")]
fn parse_yaml(text: &str) -> Result<Value> {
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| Error::Config(format!("cannot parse YAML: {e}")))?;
    yaml.apply_merge()
        .map_err(|e| Error::Config(format!("cannot parse YAML: {e}")))?;
    serde_json::to_value(yaml)
        .map_err(|e| Error::Config(format!("cannot read YAML as a config: {e}")))
}

/// TOML to a JSON value; an error says where, not the line (it may hold a key).
#[cfg(feature = "toml")]
fn parse_toml(text: &str) -> Result<Value> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(" at line {line} column {column}")
            })
            .unwrap_or_default();
        Error::Config(format!("cannot parse TOML{at}: {}", e.message().trim_end()))
    })
}

#[cfg(not(feature = "yaml"))]
fn parse_yaml(_: &str) -> Result<Value> {
    Err(without("YAML", "yaml"))
}

#[cfg(not(feature = "toml"))]
fn parse_toml(_: &str) -> Result<Value> {
    Err(without("TOML", "toml"))
}

/// The error of a format this build was compiled without.
#[cfg(not(all(feature = "yaml", feature = "toml")))]
fn without(format: &str, feature: &str) -> Error {
    Error::Config(format!(
        "this build of turnout reads {format} configs only with its `{feature}` feature (on by default); use JSON, or enable it"
    ))
}

impl FromStr for Format {
    type Err = Error;

    /// `yaml`, `yml`, `toml` or `json`, any case.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Ok(Format::Yaml),
            "toml" => Ok(Format::Toml),
            "json" => Ok(Format::Json),
            _ => Err(Error::Config(format!(
                "unknown config format {s:?}; use yaml, toml or json"
            ))),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Config {
    /// Loads a config file; the format follows the extension (`.yaml`/`.yml`, `.toml`, `.json`).
    ///
    /// Errors are prefixed with the file's path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let format = Format::from_path(path)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_str(&text, format).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses a config text in `format`; `${VAR}` references expand as in [`Config::from_value`].
    pub fn from_str(text: &str, format: Format) -> Result<Self> {
        Self::from_value(format.parse(text)?)
    }

    /// Builds a config from an in-memory JSON value (a Python dict, a JS object): expands
    /// `${VAR}` in every string, deserializes, then validates.
    pub fn from_value(mut value: Value) -> Result<Self> {
        match &value {
            Value::Object(_) => {}
            Value::Null => return Err(Error::Config("the config is empty".to_string())),
            other => {
                return Err(Error::Config(format!(
                    "the config must be a mapping of keys to values, got {}",
                    kind(other)
                )));
            }
        }
        let expanded = expand::expand_env(&mut value)?;
        let secrets = diagnose::secrets(&value);
        let config = deserialize(&mut value, &expanded)
            .map_err(|m| Error::Config(diagnose::redact(m, &secrets)))?;
        config.validate().map_err(|e| match e {
            Error::Config(m) => Error::Config(diagnose::redact(m, &secrets)),
            other => other,
        })?;
        Ok(config)
    }
}

/// Deserializes `value`; a string that was exactly one `${VAR}` reference is read as a number
/// or a boolean where the config expects one. An error at an expanded string names the
/// variables it came from.
fn deserialize(value: &mut Value, expanded: &[Expanded]) -> std::result::Result<Config, String> {
    let mut retry: Vec<&KeyPath> = expanded
        .iter()
        .filter(|e| e.whole)
        .map(|e| &e.path)
        .collect();
    loop {
        let err = match serde_path_to_error::deserialize::<_, Config>(&*value) {
            Ok(config) => return Ok(config),
            Err(err) => err,
        };
        let path = diagnose::key_path(err.path());
        let inner = err.inner().to_string();
        if inner.starts_with("invalid type: string")
            && let Some(i) = retry.iter().position(|p| **p == path)
        {
            // Each path is retried at most once, so the loop ends.
            retry.swap_remove(i);
            if let Some(node) = path.get_mut(value)
                && let Some(typed) = scalar(node)
            {
                *node = typed;
                continue;
            }
        }
        let message = diagnose::describe(&path, &inner);
        return Err(match expanded.iter().find(|e| e.path == path) {
            Some(e) => format!("{message} (from {})", e.source()),
            None => message,
        });
    }
}

/// The number or boolean a string spells, if it spells one.
fn scalar(node: &Value) -> Option<Value> {
    let s = node.as_str()?.trim();
    match s {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n.into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(n.into());
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// "a list", "a string"…: what a value is, without showing it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_path_and_name() {
        assert_eq!(Format::from_path("a/b.yml").unwrap(), Format::Yaml);
        assert_eq!(Format::from_path("b.YAML").unwrap(), Format::Yaml);
        assert_eq!(Format::from_path("b.toml").unwrap(), Format::Toml);
        assert_eq!(Format::from_path("b.json").unwrap(), Format::Json);
        let err = Format::from_path("b.ini").unwrap_err().to_string();
        assert!(
            err.ends_with(
                "b.ini: unsupported config file extension \".ini\"; use .yaml, .yml, .toml or .json"
            ),
            "{err}"
        );
        let err = Format::from_path("turnout").unwrap_err().to_string();
        assert!(
            err.contains("turnout: a config file needs an extension"),
            "{err}"
        );
        assert_eq!("JSON".parse::<Format>().unwrap(), Format::Json);
        assert!("ini".parse::<Format>().is_err());
    }

    #[cfg(feature = "toml")]
    #[test]
    fn toml_errors_do_not_quote_the_line() {
        let err = Format::Toml
            .parse("[environments.blue]\napi_key = \"sk-secret-SHOULD-NOT-LEAK\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("SHOULD-NOT-LEAK"), "{err}");
        assert!(err.contains("cannot parse TOML at line 2 column"), "{err}");
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn yaml_merge_keys_and_duplicates() {
        let v = Format::Yaml
            .parse("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
            .unwrap();
        assert_eq!(v["other"], serde_json::json!({"x": 1, "y": 2}));
        let err = Format::Yaml.parse("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(err.contains("duplicate entry with key \"a\""), "{err}");
    }

    /// A build without a format says which feature reads it, rather than failing to parse.
    #[cfg(not(feature = "yaml"))]
    #[test]
    fn a_lean_build_names_the_feature_it_lacks() {
        let err = Format::Yaml.parse("a: 1").unwrap_err().to_string();
        assert!(err.contains("`yaml` feature"), "{err}");
        assert_eq!(
            Format::Json.parse("{\"a\": 1}").ok(),
            Some(serde_json::json!({"a": 1}))
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(scalar(&"10".into()), Some(10.into()));
        assert_eq!(scalar(&"0.2".into()), Some(0.2.into()));
        assert_eq!(scalar(&"true".into()), Some(true.into()));
        assert_eq!(scalar(&"three".into()), None);
    }
}
