//! Merging an update's `desired` or `reported` section into the stored one.
//!
//! AWS's rules ("Device Shadow service documents", sections "Empty shadow document
//! properties" and "Array values in shadow documents",
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html>):
//! objects merge key by key, scalars and arrays replace whole, a `null` value deletes its
//! key, and a section set to `null` is removed. Objects left empty are pruned, so the stored
//! state never holds `{}` (AWS shows emptied objects disappearing; we prune them everywhere).

use serde_json::{Map, Value};

/// What an update says about one section (`desired` or `reported`).
#[derive(Debug, Clone, PartialEq)]
pub enum SectionPatch {
    /// The section is not in the request: unchanged.
    Absent,
    /// `"section": null`: remove the whole section.
    Remove,
    /// `"section": {...}`: merge these keys.
    Merge(Map<String, Value>),
}

/// Applies `patch` to a stored section (`None` when the section is absent) and returns the
/// new section, `None` when it ends up absent or empty.
pub fn merge_section(
    stored: Option<&Map<String, Value>>,
    patch: &SectionPatch,
) -> Option<Map<String, Value>> {
    match patch {
        SectionPatch::Absent => stored.cloned(),
        SectionPatch::Remove => None,
        SectionPatch::Merge(patch) => {
            let mut section = stored.cloned().unwrap_or_default();
            merge_map(&mut section, patch);
            (!section.is_empty()).then_some(section)
        }
    }
}

/// Merges `patch` into `target`: `null` deletes, objects recurse, everything else replaces.
/// Objects that end up empty are removed.
pub fn merge_map(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(child) => {
                let mut merged = match target.remove(key) {
                    Some(Value::Object(existing)) => existing,
                    _ => Map::new(),
                };
                merge_map(&mut merged, child);
                if !merged.is_empty() {
                    target.insert(key.clone(), Value::Object(merged));
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}
