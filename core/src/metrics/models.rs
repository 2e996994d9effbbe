//! The `model` label: names interned once, bounded, each with its own series.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::handles::ModelSeries;

/// Distinct model label values kept; further models are counted as `"(other)"`, so that
/// arbitrary model names cannot grow the exposition without bound.
const MAX_MODELS: usize = 100;
const OTHER: &str = "(other)";

/// Hashed with foldhash (the map is bounded; see `cost::PriceMemo`).
type Seen = foldhash::HashMap<Box<str>, Arc<ModelSeries>>;

/// The model names seen so far, bounded, with their series. Read on every request without a
/// lock: an immutable map, swapped whole when a name is added (at most `MAX_MODELS` times).
#[derive(Debug)]
pub(crate) struct Models {
    seen: ArcSwap<Seen>,
    /// Serialises additions, so that none is lost between a load and a swap.
    adding: Mutex<()>,
    /// Requests that named no model: label `""`.
    unnamed: ModelSeries,
    /// Models beyond the bound.
    other: Arc<ModelSeries>,
}

impl Default for Models {
    fn default() -> Self {
        Self {
            seen: ArcSwap::default(),
            adding: Mutex::new(()),
            unnamed: ModelSeries::new(""),
            other: Arc::new(ModelSeries::new(OTHER)),
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
        let seen = self.seen.load();
        if let Some(series) = seen.get(model) {
            return f(series);
        }
        // Names are never removed: a full map stays full.
        if seen.len() >= MAX_MODELS {
            return f(&self.other);
        }
        drop(seen);
        f(&self.add(model))
    }

    fn add(&self, model: &str) -> Arc<ModelSeries> {
        let _adding = self.adding.lock();
        let seen = self.seen.load();
        if let Some(series) = seen.get(model) {
            return Arc::clone(series);
        }
        if seen.len() >= MAX_MODELS {
            return Arc::clone(&self.other);
        }
        let series = Arc::new(ModelSeries::new(model));
        let mut next = Seen::clone(&seen);
        next.insert(model.into(), Arc::clone(&series));
        self.seen.store(Arc::new(next));
        series
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
        assert_eq!(models.seen.load().len(), 1);
    }

    #[test]
    fn the_bound_holds_under_concurrent_additions() {
        let models = Models::default();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let models = &models;
                scope.spawn(move || {
                    for i in 0..MAX_MODELS {
                        let _ = label(models, Some(&format!("t{t}-{i}")));
                    }
                });
            }
        });
        assert_eq!(models.seen.load().len(), MAX_MODELS);
    }
}
