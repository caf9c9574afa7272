//! The rules of AWS IoT policies and their attachments, pure: policy names, documents (checked
//! by `ferrocore-policy`), version ids and the version limit, attachment targets and thing
//! principals (certificate and thing group ARNs), and the per-target limit.

use ferrocore_policy::PolicyDocument;

use crate::arn::Arns;
use crate::error::{RegistryError, invalid};

/// The most versions a policy keeps ("A managed policy can have up to five versions": AWS IoT
/// Developer Guide, "Updating customer managed policies").
pub const MAX_POLICY_VERSIONS: usize = 5;

/// The most policies attached to one target (AWS IoT Core quotas: "Maximum number of policies
/// that can be attached to a certificate or Amazon Cognito identity": 10).
pub const MAX_POLICIES_PER_TARGET: usize = 10;

/// The longest policy name.
pub const MAX_POLICY_NAME: usize = 128;

/// `PolicyName`: 1 to 128 of `[\w+=,.@-]` (`\w` being Java's `[a-zA-Z0-9_]`).
pub fn check_policy_name(member: &str, value: &str) -> Result<(), RegistryError> {
    if value.is_empty() || value.chars().count() > MAX_POLICY_NAME {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length between 1 and {MAX_POLICY_NAME}"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b)) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

/// A policy document as CreatePolicy and CreatePolicyVersion accept it; the error is
/// `MalformedPolicy` with the fault the policy crate names.
pub fn check_document(text: &str) -> Result<PolicyDocument, RegistryError> {
    PolicyDocument::parse(text).map_err(|e| RegistryError::MalformedPolicy(e.to_string()))
}

/// `PolicyVersionId`: `[0-9]+`, as the number it stands for.
pub fn parse_version_id(value: &str) -> Result<i64, RegistryError> {
    let error = || {
        invalid(format!(
            "1 validation error detected: Value '{value}' at 'policyVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+"
        ))
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    value.parse::<i64>().map_err(|_| error())
}

/// Whether a policy holding `count` versions may gain one more.
pub fn check_version_room(policy: &str, count: usize) -> Result<(), RegistryError> {
    if count >= MAX_POLICY_VERSIONS {
        return Err(RegistryError::VersionsLimitExceeded(format!(
            "The policy {policy} already has the maximum number of versions ({MAX_POLICY_VERSIONS})"
        )));
    }
    Ok(())
}

/// Whether a policy may be deleted: not while attached, not while it has versions other than
/// the default one (AWS's DeletePolicy: "you must first delete all non-default versions").
pub fn check_policy_deletable(
    policy: &str,
    attachments: usize,
    versions: usize,
) -> Result<(), RegistryError> {
    if attachments > 0 {
        return Err(RegistryError::DeleteConflict(format!(
            "The policy cannot be deleted as the policy is attached to one or more principals (name={policy})"
        )));
    }
    if versions > 1 {
        return Err(RegistryError::DeleteConflict(format!(
            "The policy cannot be deleted as versions other than the default version exist (name={policy})"
        )));
    }
    Ok(())
}

/// Whether a version may be deleted: never the default one.
pub fn check_version_deletable(
    policy: &str,
    version: &str,
    default_version: &str,
) -> Result<(), RegistryError> {
    if version == default_version {
        return Err(RegistryError::DeleteConflict(format!(
            "Cannot delete the default version {version} of policy {policy}; set another version as the default first"
        )));
    }
    Ok(())
}

/// Whether a target holding `count` policies may gain one more.
pub fn check_target_room(target: &str, count: usize) -> Result<(), RegistryError> {
    if count >= MAX_POLICIES_PER_TARGET {
        return Err(RegistryError::LimitExceeded(format!(
            "The target {target} already has the maximum number of policies attached ({MAX_POLICIES_PER_TARGET})"
        )));
    }
    Ok(())
}

/// What a policy may be attached to, and what may be attached to a thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `arn:aws:iot:{region}:{account}:cert/{id}`: a device certificate, by id.
    Certificate(String),
    /// `arn:aws:iot:{region}:{account}:thinggroup/{name}`: a thing group, by name.
    ThingGroup(String),
}

/// Parses a policy target (`certificates_only`: a thing principal, which cannot be a group).
pub fn parse_target(
    arns: &Arns,
    member: &str,
    value: &str,
    certificates_only: bool,
) -> Result<Target, RegistryError> {
    let expected = if certificates_only {
        "a certificate ARN (arn:aws:iot:{region}:{account}:cert/{certificateId})"
    } else {
        "a certificate ARN (arn:aws:iot:{region}:{account}:cert/{certificateId}) or a thing group ARN (arn:aws:iot:{region}:{account}:thinggroup/{name})"
    };
    let refuse = || invalid(format!("{member} '{value}' is not valid: expected {expected}"));
    let prefix = format!("arn:aws:iot:{}:{}:", arns.region, arns.account);
    let rest = value.strip_prefix(&prefix).ok_or_else(refuse)?;
    let (kind, id) = rest.split_once('/').ok_or_else(refuse)?;
    match kind {
        "cert" if is_certificate_id(id) => Ok(Target::Certificate(id.to_owned())),
        "thinggroup" if !certificates_only => {
            crate::rules::check_name("thingGroupName", id)?;
            Ok(Target::ThingGroup(id.to_owned()))
        }
        _ => Err(refuse()),
    }
}

/// A certificate id: 64 lowercase hex characters (the SHA-256 of the certificate's DER).
pub fn is_certificate_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How a principal is attached to a thing (`ThingPrincipalType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThingPrincipalType {
    /// `EXCLUSIVE_THING`: the thing is the principal's only thing.
    Exclusive,
    /// `NON_EXCLUSIVE_THING` (the default): the principal may have other things.
    #[default]
    NonExclusive,
}

impl ThingPrincipalType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThingPrincipalType::Exclusive => "EXCLUSIVE_THING",
            ThingPrincipalType::NonExclusive => "NON_EXCLUSIVE_THING",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Result<ThingPrincipalType, RegistryError> {
        match value {
            "EXCLUSIVE_THING" => Ok(ThingPrincipalType::Exclusive),
            "NON_EXCLUSIVE_THING" => Ok(ThingPrincipalType::NonExclusive),
            other => Err(invalid(format!(
                "1 validation error detected: Value '{other}' at 'thingPrincipalType' failed to satisfy constraint: Member must satisfy enum value set: [EXCLUSIVE_THING, NON_EXCLUSIVE_THING]"
            ))),
        }
    }
}

/// Whether `principal` may be attached to `thing` as `kind`, given the things it is attached
/// to now (`current`, with their types). Re-attaching to the same thing is allowed (and may
/// change the type); an exclusive attachment allows no other thing, either way round.
pub fn check_thing_attachment(
    principal: &str,
    thing: &str,
    kind: ThingPrincipalType,
    current: &[(String, ThingPrincipalType)],
) -> Result<(), RegistryError> {
    let others: Vec<_> = current.iter().filter(|(name, _)| name != thing).collect();
    if let Some((other, _)) = others.iter().find(|(_, t)| *t == ThingPrincipalType::Exclusive) {
        return Err(invalid(format!(
            "Principal {principal} is exclusively attached to thing {other}"
        )));
    }
    match others.first() {
        Some((other, _)) if kind == ThingPrincipalType::Exclusive => Err(invalid(format!(
            "Principal {principal} cannot be exclusively attached to thing {thing}: it is attached to thing {other}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;

    fn arns() -> Arns {
        Arns { region: "us-east-1".into(), account: "123456789012".into() }
    }

    #[test]
    fn policy_names_follow_the_model() {
        for ok in ["p", "a_b+c=d,e.f@g-h", "P0", &"x".repeat(128)] {
            check_policy_name("policyName", ok).unwrap();
        }
        for bad in ["", "a b", "a/b", "a:b", "é", &"x".repeat(129)] {
            let error = check_policy_name("policyName", bad).unwrap_err();
            assert!(matches!(error, RegistryError::InvalidRequest(_)), "{bad}: {error:?}");
        }
    }

    #[test]
    fn documents_are_checked_by_the_policy_crate_and_faults_named() {
        check_document(DOC).unwrap();
        let error = check_document(r#"{"Version":"2012-10-17"}"#).unwrap_err();
        assert_eq!(
            error,
            RegistryError::MalformedPolicy("policy document has no Statement".into())
        );
        let long = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:1:client/{}"}}]}}"#,
            "c".repeat(2048)
        );
        assert!(
            matches!(check_document(&long), Err(RegistryError::MalformedPolicy(m)) if m.contains("2048"))
        );
        // Whitespace does not count against the limit.
        let spaced = DOC.replace(',', &format!(",{}", " ".repeat(3000)));
        check_document(&spaced).unwrap();
    }

    #[test]
    fn version_ids_are_digits() {
        assert_eq!(parse_version_id("12").unwrap(), 12);
        for bad in ["", "a", "-1", "1.0", "99999999999999999999999"] {
            assert!(parse_version_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn at_most_five_versions() {
        check_version_room("p", 4).unwrap();
        assert!(matches!(check_version_room("p", 5), Err(RegistryError::VersionsLimitExceeded(_))));
    }

    #[test]
    fn deletes_refused_while_in_use() {
        check_policy_deletable("p", 0, 1).unwrap();
        assert!(matches!(check_policy_deletable("p", 1, 1), Err(RegistryError::DeleteConflict(_))));
        assert!(matches!(check_policy_deletable("p", 0, 2), Err(RegistryError::DeleteConflict(_))));
        check_version_deletable("p", "1", "2").unwrap();
        assert!(matches!(
            check_version_deletable("p", "2", "2"),
            Err(RegistryError::DeleteConflict(_))
        ));
    }

    #[test]
    fn at_most_ten_policies_per_target() {
        check_target_room("t", 9).unwrap();
        assert!(matches!(check_target_room("t", 10), Err(RegistryError::LimitExceeded(_))));
    }

    #[test]
    fn targets_are_certificate_or_group_arns_of_this_account() {
        let id = "a".repeat(64);
        let cert = format!("arn:aws:iot:us-east-1:123456789012:cert/{id}");
        assert_eq!(parse_target(&arns(), "target", &cert, false).unwrap(), Target::Certificate(id));
        let group = "arn:aws:iot:us-east-1:123456789012:thinggroup/g1";
        assert_eq!(
            parse_target(&arns(), "target", group, false).unwrap(),
            Target::ThingGroup("g1".into())
        );
        assert!(parse_target(&arns(), "principal", group, true).is_err());
        for bad in [
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/g1",
            "arn:aws:iot:us-east-1:123456789012:thing/t",
            "arn:aws:iot:us-east-1:123456789012:cert/xyz",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/a b",
            "us-east-1:0000-1111",
            "",
        ] {
            assert!(parse_target(&arns(), "target", bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn exclusive_attachments_allow_no_other_thing() {
        use ThingPrincipalType::{Exclusive, NonExclusive};
        let none: Vec<(String, ThingPrincipalType)> = Vec::new();
        check_thing_attachment("p", "a", Exclusive, &none).unwrap();
        let on_a = vec![("a".to_owned(), NonExclusive)];
        check_thing_attachment("p", "b", NonExclusive, &on_a).unwrap();
        check_thing_attachment("p", "a", Exclusive, &on_a).unwrap();
        assert!(check_thing_attachment("p", "b", Exclusive, &on_a).is_err());
        let exclusive_a = vec![("a".to_owned(), Exclusive)];
        assert!(check_thing_attachment("p", "b", NonExclusive, &exclusive_a).is_err());
        check_thing_attachment("p", "a", NonExclusive, &exclusive_a).unwrap();
        assert_eq!(ThingPrincipalType::parse("EXCLUSIVE_THING").unwrap(), Exclusive);
        assert!(ThingPrincipalType::parse("exclusive").is_err());
    }
}
