//! Label sets. Only environment, label, model, outcome, kind and task (a fixed name) are ever
//! labels: never a key, a prompt, a routing key or metadata.

use std::collections::HashSet;

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;

/// Distinct model label values kept; further models are counted as `"(other)"`, so that
/// arbitrary model names cannot grow the exposition without bound.
const MAX_MODELS: usize = 100;
const OTHER: &str = "(other)";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub environment: &'static str,
    pub label: String,
    pub model: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct SideLabels {
    pub environment: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ModelLabels {
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct KindLabels {
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TaskLabels {
    pub task: &'static str,
}

/// The model names seen so far, bounded.
#[derive(Debug, Default)]
pub(crate) struct ModelNames {
    seen: RwLock<HashSet<String>>,
}

impl ModelNames {
    /// The label value for `model` (`""` when none was named).
    pub fn label(&self, model: Option<&str>) -> String {
        let Some(model) = model else {
            return String::new();
        };
        if self.seen.read().contains(model) {
            return model.to_string();
        }
        let mut seen = self.seen.write();
        if seen.len() < MAX_MODELS {
            seen.insert(model.to_string());
            model.to_string()
        } else if seen.contains(model) {
            model.to_string()
        } else {
            OTHER.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_bounded() {
        let names = ModelNames::default();
        for i in 0..MAX_MODELS {
            assert_eq!(names.label(Some(&format!("m{i}"))), format!("m{i}"));
        }
        assert_eq!(names.label(Some("one-too-many")), OTHER);
        assert_eq!(names.label(Some("m0")), "m0");
        assert_eq!(names.label(None), "");
    }
}
