//! The `model` label: names interned once, bounded, each with its own series.

use std::sync::Arc;

use super::handles::ModelSeries;
use crate::name_map::NameMap;

/// Distinct model label values kept; further models are counted as `"(other)"`, so that
/// arbitrary model names cannot grow the exposition without bound.
const MAX_MODELS: usize = 100;
const OTHER: &str = "(other)";

/// The model names seen so far, bounded, with their series, read on every request without a
/// lock.
#[derive(Debug)]
pub(crate) struct Models {
    seen: NameMap<Arc<ModelSeries>>,
    /// Requests that named no model: label `""`.
    unnamed: ModelSeries,
    /// Models beyond the bound.
    other: ModelSeries,
}

impl Default for Models {
    fn default() -> Self {
        Self {
            seen: NameMap::new(MAX_MODELS),
            unnamed: ModelSeries::new(""),
            other: ModelSeries::new(OTHER),
        }
    }
}

impl Models {
    /// `f` applied to the series of `model`'s label: the model itself while fewer than
    /// `MAX_MODELS` names were seen or once it was, `"(other)"` past that, `""` when none was
    /// named.
    pub fn with<R>(&self, model: Option<&str>, f: impl FnOnce(&ModelSeries) -> R) -> R {
        let Some(model) = model else {
            return f(&self.unnamed);
        };
        self.seen.with(
            model,
            || Arc::new(ModelSeries::new(model)),
            |series| f(series.map_or(&self.other, |s| s)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(models: &Models, model: Option<&str>) -> String {
        models.with(model, |s| s.label().to_string())
    }

    #[test]
    fn model_names_are_bounded() {
        let models = Models::default();
        for i in 0..MAX_MODELS {
            assert_eq!(label(&models, Some(&format!("m{i}"))), format!("m{i}"));
        }
        assert_eq!(label(&models, Some("one-too-many")), OTHER);
        assert_eq!(label(&models, Some("m0")), "m0");
        let last = format!("m{}", MAX_MODELS - 1);
        assert_eq!(label(&models, Some(&last)), last);
        assert_eq!(label(&models, None), "");
    }

    #[test]
    fn a_name_is_interned_once() {
        let models = Models::default();
        let first = models.with(Some("gpt"), std::ptr::from_ref);
        let again = models.with(Some("gpt"), std::ptr::from_ref);
        assert_eq!(first, again);
        assert_eq!(models.seen.len(), 1);
    }
}
