//! The registry's rules, pure: name patterns and lengths from botocore's `iot` model,
//! attribute maps (merge and replace, limits), versions, tags.
//!
//! Messages say which member is wrong and why, like AWS's validation messages.

use std::collections::BTreeMap;

use crate::error::{RegistryError, invalid};

/// The most attributes of a thing without a thing type.
pub const MAX_ATTRIBUTES_UNTYPED: usize = 3;
/// The most attributes of a thing with a thing type, or of a thing group.
pub const MAX_ATTRIBUTES: usize = 50;
/// The most searchable attributes of a thing type.
pub const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;
/// The most thing groups a thing belongs to.
pub const MAX_GROUPS_PER_THING: usize = 10;
/// The deepest a thing group hierarchy goes (a root group is at depth 1).
pub const MAX_GROUP_DEPTH: usize = 7;
/// The most direct children of a thing group.
pub const MAX_CHILD_GROUPS: usize = 100;
/// The most tags on a resource.
pub const MAX_TAGS: usize = 50;
/// The longest description of a thing type or thing group.
pub const MAX_DESCRIPTION: usize = 2028;

/// Attribute maps: names to string values.
pub type Attributes = BTreeMap<String, String>;

/// A resource name of the model (`ThingName`, `ThingTypeName`, `ThingGroupName`,
/// `BillingGroupName`): 1 to 128 of `[a-zA-Z0-9:_-]`. `member` names it in the message.
pub fn check_name(member: &str, value: &str) -> Result<(), RegistryError> {
    if value.is_empty() || value.chars().count() > 128 {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length between 1 and 128"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-')) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
        )));
    }
    Ok(())
}

/// An attribute name: 1 to 128 of `[a-zA-Z0-9_.,@/:#-]`.
pub fn check_attribute_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.,@/:#-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Attribute name '{name}' must have length between 1 and 128 and satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+"
        )))
    }
}

/// An attribute value: up to 800 of `[a-zA-Z0-9_.,@/:#=\[\]-]`.
pub fn check_attribute_value(name: &str, value: &str) -> Result<(), RegistryError> {
    let ok = value.chars().count() <= 800
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.,@/:#=[]-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Value '{value}' of attribute '{name}' must have length at most 800 and satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*"
        )))
    }
}

/// Checks every name and value of `attributes`.
pub fn check_attributes(attributes: &Attributes) -> Result<(), RegistryError> {
    for (name, value) in attributes {
        check_attribute_name(name)?;
        check_attribute_value(name, value)?;
    }
    Ok(())
}

/// The attributes after an update: `merge` adds and replaces (an empty value removes the
/// attribute), otherwise `payload` replaces everything (empty values are dropped too).
pub fn apply_attributes(current: &Attributes, payload: &Attributes, merge: bool) -> Attributes {
    let mut result = if merge { current.clone() } else { Attributes::new() };
    for (name, value) in payload {
        if value.is_empty() {
            result.remove(name);
        } else {
            result.insert(name.clone(), value.clone());
        }
    }
    result
}

/// A thing may have 3 attributes without a thing type, 50 with one.
pub fn check_thing_attribute_count(
    attributes: &Attributes,
    typed: bool,
) -> Result<(), RegistryError> {
    let limit = if typed { MAX_ATTRIBUTES } else { MAX_ATTRIBUTES_UNTYPED };
    if attributes.len() > limit {
        let why = if typed { "with a thing type" } else { "without a thing type" };
        return Err(invalid(format!(
            "A thing {why} can have at most {limit} attributes, got {}",
            attributes.len()
        )));
    }
    Ok(())
}

/// `expectedVersion`, when given, must be the current version.
pub fn check_version(
    what: &str,
    name: &str,
    expected: Option<i64>,
    current: i64,
) -> Result<(), RegistryError> {
    match expected {
        Some(expected) if expected != current => Err(RegistryError::VersionConflict(format!(
            "The version for {what} {name} does not match the expected version."
        ))),
        _ => Ok(()),
    }
}

/// A description (`ThingTypeDescription`, `ThingGroupDescription`): at most 2028 printable
/// characters or spaces.
pub fn check_description(member: &str, value: &str) -> Result<(), RegistryError> {
    if value.chars().count() > MAX_DESCRIPTION {
        return Err(invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {MAX_DESCRIPTION}"
        )));
    }
    if value.chars().any(|c| c.is_control() || (c.is_whitespace() && c != ' ')) {
        return Err(invalid(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{Graph}}\\x20]*"
        )));
    }
    Ok(())
}

/// A tag key: 1 to 128 letters, digits, spaces or `_.:/=+-@`, not starting with `aws:`.
pub fn check_tag_key(key: &str) -> Result<(), RegistryError> {
    let ok = !key.is_empty()
        && key.chars().count() <= 128
        && key.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
    if !ok {
        return Err(invalid(format!(
            "Tag key '{key}' must have length between 1 and 128 and satisfy regular expression pattern: ^([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*)$"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(invalid(format!("Tag key '{key}' uses the reserved prefix 'aws:'")));
    }
    Ok(())
}

/// A tag value: at most 256 characters.
pub fn check_tag_value(key: &str, value: &str) -> Result<(), RegistryError> {
    if value.chars().count() > 256 {
        return Err(invalid(format!("The value of tag '{key}' must have length at most 256")));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn names_follow_the_model_pattern_and_length() {
        check_name("thingName", "a").unwrap();
        check_name("thingName", "Thing:With_All-Chars9").unwrap();
        check_name("thingName", &"x".repeat(128)).unwrap();
        for bad in ["", "has space", "slash/", "dot.", "ü", &"x".repeat(129)] {
            let error = check_name("thingName", bad).unwrap_err();
            assert!(
                matches!(&error, RegistryError::InvalidRequest(m) if m.contains("thingName")),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn attribute_names_and_values() {
        check_attributes(&attrs(&[("a.b,c@d/e:f#g-h_i", "v=[1]"), ("x", "")])).unwrap();
        assert!(check_attributes(&attrs(&[("", "v")])).is_err());
        assert!(check_attributes(&attrs(&[("a b", "v")])).is_err());
        assert!(check_attributes(&attrs(&[("a", "has space")])).is_err());
        assert!(check_attributes(&attrs(&[("a", &"v".repeat(801))])).is_err());
        check_attributes(&attrs(&[("a", &"v".repeat(800))])).unwrap();
    }

    #[test]
    fn merge_adds_replaces_and_removes_with_empty_values() {
        let current = attrs(&[("a", "1"), ("b", "2")]);
        let merged = apply_attributes(&current, &attrs(&[("b", "3"), ("c", "4"), ("a", "")]), true);
        assert_eq!(merged, attrs(&[("b", "3"), ("c", "4")]));
        let replaced = apply_attributes(&current, &attrs(&[("z", "9"), ("y", "")]), false);
        assert_eq!(replaced, attrs(&[("z", "9")]));
    }

    #[test]
    fn attribute_count_depends_on_the_thing_type() {
        let four = attrs(&[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]);
        assert!(check_thing_attribute_count(&four, false).is_err());
        check_thing_attribute_count(&four, true).unwrap();
        let fifty_one: Attributes = (0..51).map(|i| (format!("a{i}"), "v".to_owned())).collect();
        assert!(check_thing_attribute_count(&fifty_one, true).is_err());
    }

    #[test]
    fn expected_version_must_match_when_given() {
        check_version("thing", "t", None, 3).unwrap();
        check_version("thing", "t", Some(3), 3).unwrap();
        assert!(matches!(
            check_version("thing", "t", Some(2), 3),
            Err(RegistryError::VersionConflict(_))
        ));
    }

    #[test]
    fn descriptions_and_tags() {
        check_description("thingTypeDescription", "A plain description.").unwrap();
        assert!(check_description("d", "line\nbreak").is_err());
        assert!(check_description("d", &"x".repeat(2029)).is_err());
        check_tag_key("env:stage_1/a=b+c-d@e f").unwrap();
        assert!(check_tag_key("").is_err());
        assert!(check_tag_key("aws:reserved").is_err());
        assert!(check_tag_key("bad!").is_err());
        check_tag_value("k", "").unwrap();
        assert!(check_tag_value("k", &"v".repeat(257)).is_err());
    }
}
