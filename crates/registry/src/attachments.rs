//! Policy attachments: AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy,
//! and what the gateway and GetEffectivePolicies need: every policy that applies to a
//! principal (attached to it, and to every thing group, with its ancestors, of every thing it
//! is attached to), parsed.
//!
//! Targets are certificate ARNs and thing group ARNs; they must exist when a policy is attached.

use std::collections::BTreeSet;
use std::sync::Arc;

use ferrocore_policy::PolicyDocument;
use ferrocore_store::rusqlite::{Transaction, params};

use crate::arn::ResourceKind;
use crate::error::RegistryError;
use crate::policies::{PolicyRef, not_found_policy};
use crate::policy_rules::{self, Target};
use crate::{Page, Registry};

/// A policy that applies to a principal: its default version, parsed.
#[derive(Debug, Clone)]
pub struct EffectivePolicy {
    /// The policy's name.
    pub name: String,
    /// The policy's ARN.
    pub arn: String,
    /// The default version, parsed.
    pub document: Arc<PolicyDocument>,
    /// The default version's text.
    pub text: String,
}

/// Whether certificate `id` is registered. Before the certificates table exists no
/// certificate is.
pub(crate) fn certificate_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, RegistryError> {
    let table: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'certificates')",
        )?
        .query_row([], |row| row.get(0))?;
    if !table {
        return Ok(false);
    }
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM certificates WHERE id = ?1)")?
        .query_row([id], |row| row.get(0))?)
}

pub(crate) fn group_exists(tx: &Transaction<'_>, name: &str) -> Result<bool, RegistryError> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM thing_groups WHERE name = ?1)")?
        .query_row([name], |row| row.get(0))?)
}

pub(crate) fn thing_exists(tx: &Transaction<'_>, name: &str) -> Result<bool, RegistryError> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE name = ?1)")?
        .query_row([name], |row| row.get(0))?)
}

/// Checks that `target` exists.
pub(crate) fn check_target_exists(
    tx: &Transaction<'_>,
    target: &Target,
    arn: &str,
) -> Result<(), RegistryError> {
    let exists = match target {
        Target::Certificate(id) => certificate_exists(tx, id)?,
        Target::ThingGroup(name) => group_exists(tx, name)?,
    };
    if exists {
        Ok(())
    } else {
        Err(RegistryError::NotFound(format!("The target {arn} does not exist")))
    }
}

/// The names of the policies that apply to `principal` (a certificate ARN; `None` for none)
/// and to the groups (with their ancestors) of `things`, deduplicated, in name order. With
/// `things` `None`, the things are those attached to the principal.
fn applicable_names(
    tx: &Transaction<'_>,
    group_prefix: &str,
    principal: Option<&str>,
    things: Option<&[String]>,
) -> Result<Vec<String>, RegistryError> {
    let things: Vec<String> = match things {
        Some(things) => things.to_vec(),
        None => match principal {
            Some(principal) => things_of(tx, principal)?,
            None => Vec::new(),
        },
    };
    let mut names = BTreeSet::new();
    if let Some(principal) = principal {
        names.extend(policies_on(tx, principal)?);
    }
    for group in groups_of_things(tx, &things)? {
        names.extend(policies_on(tx, &format!("{group_prefix}{group}"))?);
    }
    Ok(names.into_iter().collect())
}

/// The policies attached directly to `target`.
fn policies_on(tx: &Transaction<'_>, target: &str) -> Result<Vec<String>, RegistryError> {
    Ok(tx
        .prepare_cached("SELECT policy_name FROM policy_attachments WHERE target = ?1")?
        .query_map([target], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}

/// The things `principal` is attached to, in name order.
pub(crate) fn things_of(
    tx: &Transaction<'_>,
    principal: &str,
) -> Result<Vec<String>, RegistryError> {
    Ok(tx
        .prepare_cached(
            "SELECT thing_name FROM thing_principals WHERE principal = ?1 ORDER BY thing_name",
        )?
        .query_map([principal], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}

/// Every group of every thing of `things`, with each group's ancestors.
fn groups_of_things(
    tx: &Transaction<'_>,
    things: &[String],
) -> Result<BTreeSet<String>, RegistryError> {
    let mut groups = BTreeSet::new();
    let mut stmt = tx.prepare_cached(
        "WITH RECURSIVE up(name) AS (
             SELECT group_name FROM thing_group_members WHERE thing_name = ?1
             UNION
             SELECT g.parent FROM thing_groups g JOIN up ON g.name = up.name WHERE g.parent IS NOT NULL)
         SELECT name FROM up",
    )?;
    for thing in things {
        for group in stmt.query_map([thing], |row| row.get::<_, String>(0))? {
            groups.insert(group?);
        }
    }
    Ok(groups)
}

/// Group `name` and its ancestors.
fn group_and_ancestors(tx: &Transaction<'_>, name: &str) -> Result<Vec<String>, RegistryError> {
    Ok(tx
        .prepare_cached(
            "WITH RECURSIVE up(name) AS (
                 SELECT ?1
                 UNION
                 SELECT g.parent FROM thing_groups g JOIN up ON g.name = up.name WHERE g.parent IS NOT NULL)
             SELECT name FROM up",
        )?
        .query_map([name], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}

/// The default versions of `names`, parsed, in the order given; a missing policy is skipped
/// (`strict`: is `NotFound`).
fn load_policies(
    tx: &Transaction<'_>,
    names: &[String],
    strict: bool,
) -> Result<Vec<EffectivePolicy>, RegistryError> {
    let mut stmt = tx.prepare_cached(
        "SELECT p.arn, v.document FROM policies p
         JOIN policy_versions v ON v.policy_name = p.name AND v.version_id = p.default_version
         WHERE p.name = ?1",
    )?;
    let mut policies = Vec::with_capacity(names.len());
    for name in names {
        let mut rows = stmt.query([name])?;
        let Some(row) = rows.next()? else {
            if strict {
                return Err(not_found_policy(name));
            }
            continue;
        };
        let (arn, text): (String, String) = (row.get(0)?, row.get(1)?);
        // Stored documents were checked when they were written.
        let document = PolicyDocument::parse(&text).map_err(|e| {
            RegistryError::Store(format!("stored policy {name} no longer parses: {e}"))
        })?;
        policies.push(EffectivePolicy {
            name: name.clone(),
            arn,
            document: Arc::new(document),
            text,
        });
    }
    Ok(policies)
}

impl Registry {
    fn group_arn_prefix(&self) -> String {
        self.arns.arn(ResourceKind::ThingGroup, "")
    }

    /// AttachPolicy: attaching an attached policy again is fine. The policy and the target
    /// must exist; a target holds at most ten policies.
    pub async fn attach_policy(&self, name: &str, target: &str) -> Result<(), RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        let parsed = policy_rules::parse_target(&self.arns, "target", target, false)?;
        let (name, target) = (name.to_owned(), target.to_owned());
        self.write_authorization(move |tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM policies WHERE name = ?1)")?
                .query_row([&name], |row| row.get(0))?;
            if !exists {
                return Err(not_found_policy(&name));
            }
            check_target_exists(tx, &parsed, &target)?;
            let attached = policies_on(tx, &target)?;
            if attached.contains(&name) {
                return Ok(());
            }
            policy_rules::check_target_room(&target, attached.len())?;
            tx.prepare_cached(
                "INSERT INTO policy_attachments (policy_name, target) VALUES (?1, ?2)",
            )?
            .execute([&name, &target])?;
            Ok(())
        })
        .await
    }

    /// DetachPolicy: detaching a policy that is not attached is fine (the model lists no
    /// ResourceNotFoundException for it).
    pub async fn detach_policy(&self, name: &str, target: &str) -> Result<(), RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::parse_target(&self.arns, "target", target, false)?;
        let (name, target) = (name.to_owned(), target.to_owned());
        self.write_authorization(move |tx| {
            tx.prepare_cached(
                "DELETE FROM policy_attachments WHERE policy_name = ?1 AND target = ?2",
            )?
            .execute([&name, &target])?;
            Ok::<_, RegistryError>(())
        })
        .await
    }

    /// ListAttachedPolicies: the policies attached to `target`, in name order after `after`;
    /// with `recursive`, also those inherited: from a group's ancestors, or for a certificate
    /// from the groups (and their ancestors) of its things.
    pub fn list_attached_policies(
        &self,
        target: &str,
        recursive: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<PolicyRef>, RegistryError> {
        let parsed = policy_rules::parse_target(&self.arns, "target", target, false)?;
        let prefix = self.group_arn_prefix();
        let names = self.store.read(|tx| {
            check_target_exists(tx, &parsed, target)?;
            let mut names: BTreeSet<String> = BTreeSet::new();
            match (&parsed, recursive) {
                (_, false) => names.extend(policies_on(tx, target)?),
                (Target::ThingGroup(group), true) => {
                    for group in group_and_ancestors(tx, group)? {
                        names.extend(policies_on(tx, &format!("{prefix}{group}"))?);
                    }
                }
                (Target::Certificate(_), true) => {
                    names.extend(applicable_names(tx, &prefix, Some(target), None)?);
                }
            }
            Ok::<_, RegistryError>(names)
        })?;
        let rows: Vec<PolicyRef> = names
            .into_iter()
            .filter(|name| after.is_none_or(|after| name.as_str() > after))
            .take(limit.saturating_add(1))
            .map(|name| PolicyRef { arn: self.policy_arn(&name), name })
            .collect();
        Ok(Page::from_rows(rows, limit, |p| p.name.clone()))
    }

    /// ListTargetsForPolicy: the targets of policy `name`, in order after `after`.
    pub fn list_targets_for_policy(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let targets = self.store.read(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM policies WHERE name = ?1)")?
                .query_row([name], |row| row.get(0))?;
            if !exists {
                return Err(not_found_policy(name));
            }
            let targets = tx
                .prepare_cached(
                    "SELECT target FROM policy_attachments WHERE policy_name = ?1 AND target > ?2
                     ORDER BY target LIMIT ?3",
                )?
                .query_map(params![name, after.unwrap_or(""), limit_plus_one], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(targets)
        })?;
        Ok(Page::from_rows(targets, limit, Clone::clone))
    }

    /// Every policy that applies to a principal (a certificate ARN): attached to it directly,
    /// and attached to every thing group (and each ancestor group) of every thing attached to
    /// it. Default versions, parsed. Deduplicated by name, in name order.
    pub fn effective_policies(
        &self,
        principal: &str,
    ) -> Result<Vec<EffectivePolicy>, RegistryError> {
        let prefix = self.group_arn_prefix();
        self.store.read(|tx| {
            let names = applicable_names(tx, &prefix, Some(principal), None)?;
            load_policies(tx, &names, false)
        })
    }

    /// GetEffectivePolicies and TestAuthorization: the policies of `principal` (if any) and of
    /// the groups of `thing` (if given; else of the principal's things). A `thing` that does
    /// not exist is `NotFound`.
    pub fn effective_policies_for(
        &self,
        principal: Option<&str>,
        thing: Option<&str>,
    ) -> Result<Vec<EffectivePolicy>, RegistryError> {
        if let Some(thing) = thing {
            crate::rules::check_name("thingName", thing)?;
        }
        let prefix = self.group_arn_prefix();
        self.store.read(|tx| {
            let things = match thing {
                Some(thing) => {
                    if !thing_exists(tx, thing)? {
                        return Err(RegistryError::NotFound(format!(
                            "Thing {thing} cannot be found."
                        )));
                    }
                    Some(vec![thing.to_owned()])
                }
                None => None,
            };
            let names = applicable_names(tx, &prefix, principal, things.as_deref())?;
            load_policies(tx, &names, false)
        })
    }

    /// The default versions of the policies named, parsed, in the order given; a missing one
    /// is `NotFound`.
    pub fn policies_by_name(
        &self,
        names: &[String],
    ) -> Result<Vec<EffectivePolicy>, RegistryError> {
        for name in names {
            policy_rules::check_policy_name("policyName", name)?;
        }
        self.store.read(|tx| load_policies(tx, names, true))
    }

    /// Whether `principal` (a certificate ARN) names a registered certificate.
    pub fn principal_exists(&self, principal: &str) -> Result<bool, RegistryError> {
        match policy_rules::parse_target(&self.arns, "principal", principal, true)? {
            Target::Certificate(id) => self.store.read(|tx| certificate_exists(tx, &id)),
            Target::ThingGroup(_) => Ok(false),
        }
    }
}
