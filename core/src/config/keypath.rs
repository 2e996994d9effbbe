//! Where in a config tree a value sits, written the way a user finds it in the file:
//! `environments.blue.base_url`, `rules[0].match`, `model_fallbacks["gpt-4.1"]`.

use std::fmt;

use serde_json::Value;

/// One step into a config tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A key of a mapping.
    Key(String),
    /// An index into a list.
    Index(usize),
}

/// A path from the top of a config tree to one value; empty for the top level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<Seg>);

impl KeyPath {
    /// The top level.
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    /// A path from its segments.
    pub(crate) fn from_segs(segs: Vec<Seg>) -> Self {
        Self(segs)
    }

    /// Whether this is the top level.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Steps into `seg`.
    pub(crate) fn push(&mut self, seg: Seg) {
        self.0.push(seg);
    }

    /// Steps back out.
    pub(crate) fn pop(&mut self) -> Option<Seg> {
        self.0.pop()
    }

    /// The last segment.
    pub(crate) fn last(&self) -> Option<&Seg> {
        self.0.last()
    }

    /// The segments.
    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }

    /// `"{self}: {message}"`, or the message alone at the top level.
    pub(crate) fn prefix(&self, message: &str) -> String {
        if self.is_root() {
            message.to_string()
        } else {
            format!("{self}: {message}")
        }
    }

    /// `"at top level"` or `"in {self}"`.
    pub(crate) fn location(&self) -> String {
        if self.is_root() {
            "at top level".to_string()
        } else {
            format!("in {self}")
        }
    }

    /// The value at this path, if there is one.
    pub(crate) fn get_mut<'v>(&self, mut value: &'v mut Value) -> Option<&'v mut Value> {
        for seg in &self.0 {
            value = match (seg, value) {
                (Seg::Key(k), Value::Object(map)) => map.get_mut(k)?,
                (Seg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// `parent.key`, written as [`KeyPath`] writes it; for validation messages.
pub(crate) fn child(parent: &str, key: &str) -> String {
    if is_plain(key) {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{key:?}]")
    }
}

/// Keys made of letters, digits, `_` and `-` are written bare; others are quoted.
fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if is_plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => write!(f, "[{k:?}]")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[Seg]) -> KeyPath {
        KeyPath::from_segs(segs.to_vec())
    }

    #[test]
    fn writes_keys_indexes_and_quoted_keys() {
        let p = path(&[
            Seg::Key("rules".into()),
            Seg::Index(2),
            Seg::Key("match".into()),
        ]);
        assert_eq!(p.to_string(), "rules[2].match");
        let p = path(&[
            Seg::Key("model_fallbacks".into()),
            Seg::Key("gpt-4.1".into()),
        ]);
        assert_eq!(p.to_string(), "model_fallbacks[\"gpt-4.1\"]");
        assert_eq!(child("pricing", "gpt-4o"), "pricing.gpt-4o");
        assert_eq!(child("pricing", "gpt-4.1"), "pricing[\"gpt-4.1\"]");
    }

    #[test]
    fn root_reads_as_top_level() {
        assert_eq!(KeyPath::root().location(), "at top level");
        assert_eq!(KeyPath::root().prefix("boom"), "boom");
        let p = path(&[Seg::Key("retry".into())]);
        assert_eq!(p.location(), "in retry");
        assert_eq!(p.prefix("boom"), "retry: boom");
    }

    #[test]
    fn finds_values() {
        let mut v = serde_json::json!({"a": [1, {"b": 2}]});
        let p = path(&[Seg::Key("a".into()), Seg::Index(1), Seg::Key("b".into())]);
        assert_eq!(p.get_mut(&mut v), Some(&mut serde_json::json!(2)));
        let p = path(&[Seg::Key("a".into()), Seg::Index(5)]);
        assert_eq!(p.get_mut(&mut v), None);
    }
}
