//! Rule matching: the first rule whose every metadata key and value the request carries.

use std::collections::BTreeMap;

use crate::config::Rule;

/// The first rule (and its index) that `meta` satisfies: every key of the rule present in
/// `meta` with the same value. Extra keys in `meta` do not matter.
pub(crate) fn first_match<'r>(
    rules: &'r [Rule],
    meta: &BTreeMap<String, String>,
) -> Option<(usize, &'r Rule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, rule)| satisfies(meta, &rule.matches))
}

/// Whether `meta` holds every entry of `want`. This runs on every request that carries
/// metadata, so the common shapes skip the tree search: a rule naming more keys than the
/// request carries fails on the counts alone, and one condition against one entry is two
/// equality checks, lengths compared before any byte.
fn satisfies(meta: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    if want.len() > meta.len() {
        return false;
    }
    if want.len() == 1
        && let Some((key, value)) = want.first_key_value()
    {
        if meta.len() == 1
            && let Some((have_key, have_value)) = meta.first_key_value()
        {
            return key.len() == have_key.len()
                && value.len() == have_value.len()
                && key == have_key
                && value == have_value;
        }
        return meta.get(key) == Some(value);
    }
    want.iter().all(|(k, v)| meta.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Side;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The definition, with no shortcut.
    fn reference(rules: &[Rule], meta: &BTreeMap<String, String>) -> Option<usize> {
        rules
            .iter()
            .position(|r| r.matches.iter().all(|(k, v)| meta.get(k) == Some(v)))
    }

    #[test]
    fn one_condition_against_one_entry() {
        let rules = [Rule::new([("tier", "premium")], Side::Green)];
        let hit = |pairs: &[(&str, &str)]| first_match(&rules, &map(pairs)).map(|(i, _)| i);
        assert_eq!(hit(&[("tier", "premium")]), Some(0));
        assert_eq!(hit(&[("tier", "free")]), None);
        assert_eq!(
            hit(&[("tier", "premiux")]),
            None,
            "same length, other bytes"
        );
        assert_eq!(hit(&[("tiex", "premium")]), None, "same length, other key");
        assert_eq!(hit(&[("tier", "premium"), ("region", "eu")]), Some(0));
        assert_eq!(hit(&[]), None);
    }

    #[test]
    fn a_rule_needs_all_its_keys() {
        let rules = [
            Rule::new([("tier", "premium"), ("region", "eu")], Side::Blue),
            Rule::new([("tier", "premium")], Side::Green),
        ];
        let hit = |pairs: &[(&str, &str)]| first_match(&rules, &map(pairs)).map(|(i, _)| i);
        assert_eq!(hit(&[("tier", "premium")]), Some(1));
        assert_eq!(hit(&[("region", "eu"), ("tier", "premium")]), Some(0));
        assert_eq!(hit(&[("region", "us"), ("tier", "premium")]), Some(1));
    }

    #[test]
    fn agrees_with_the_definition_on_every_small_case() {
        // Every rule set of up to two rules and every request over a small alphabet of keys
        // and values (values of equal and unequal lengths), against the plain definition.
        let entries = [("a", "x"), ("a", "yy"), ("b", "x"), ("bb", "x"), ("b", "z")];
        let subsets: Vec<BTreeMap<String, String>> = (0u32..1 << entries.len())
            .map(|mask| {
                let pairs: Vec<_> = (0..entries.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| entries[i])
                    .collect();
                map(&pairs)
            })
            .collect();
        let rule = |m: &BTreeMap<String, String>, side| Rule {
            matches: m.clone(),
            environment: side,
        };
        let mut checked = 0;
        for r1 in &subsets {
            for r2 in subsets.iter().step_by(3) {
                let rules = [rule(r1, Side::Blue), rule(r2, Side::Green)];
                for meta in &subsets {
                    let got = first_match(&rules, meta).map(|(i, _)| i);
                    assert_eq!(
                        got,
                        reference(&rules, meta),
                        "rules {rules:?}, meta {meta:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 32 * 11 * 32);
    }
}
