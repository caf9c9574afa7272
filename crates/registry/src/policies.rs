//! AWS IoT policies and their versions: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy,
//! CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, SetDefaultPolicyVersion,
//! DeletePolicyVersion. Documents are validated by `ferrocore-policy` before they are stored;
//! version ids count up from 1 per policy and are never reused.

use ferrocore_store::rusqlite::{OptionalExtension, Transaction, params};

use crate::error::RegistryError;
use crate::policy_rules::{self, MAX_POLICY_VERSIONS};
use crate::tags::{Tag, check_tags, put_tags};
use crate::{Page, Registry, now_ms};

/// A policy, with the text of its default version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The name, the key.
    pub name: String,
    /// `arn:aws:iot:{region}:{account}:policy/{name}`.
    pub arn: String,
    /// The default version's document.
    pub document: String,
    /// The default version's id.
    pub default_version: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Time of the last change (a new version, a new default), ms since the epoch.
    pub updated_ms: i64,
    /// A UUID that changes with every change of the policy (AWS's `generationId`).
    pub generation: String,
}

/// A policy's name and ARN, as listings return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    /// The name.
    pub name: String,
    /// The ARN.
    pub arn: String,
}

/// One version of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The policy's name.
    pub policy_name: String,
    /// The policy's ARN.
    pub policy_arn: String,
    /// The version id (digits).
    pub version_id: String,
    /// The document.
    pub document: String,
    /// Whether it is the policy's default version.
    pub is_default: bool,
    /// Creation time of this version, ms since the epoch.
    pub created_ms: i64,
    /// The policy's last change, ms since the epoch.
    pub updated_ms: i64,
    /// The policy's generation id.
    pub generation: String,
}

/// The `policies` row.
struct Row {
    arn: String,
    default_version: String,
    next_version: i64,
    generation: String,
    created_ms: i64,
    updated_ms: i64,
}

pub(crate) fn not_found_policy(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Policy not found (name={name})"))
}

fn policy_row(tx: &Transaction<'_>, name: &str) -> Result<Option<Row>, RegistryError> {
    Ok(tx
        .prepare_cached(
            "SELECT arn, default_version, next_version, generation, created_ms, updated_ms
             FROM policies WHERE name = ?1",
        )?
        .query_row([name], |row| {
            Ok(Row {
                arn: row.get(0)?,
                default_version: row.get(1)?,
                next_version: row.get(2)?,
                generation: row.get(3)?,
                created_ms: row.get(4)?,
                updated_ms: row.get(5)?,
            })
        })
        .optional()?)
}

fn existing_row(tx: &Transaction<'_>, name: &str) -> Result<Row, RegistryError> {
    policy_row(tx, name)?.ok_or_else(|| not_found_policy(name))
}

/// The document of version `version` of `policy`, with its creation time.
fn version_row(
    tx: &Transaction<'_>,
    policy: &str,
    version: &str,
) -> Result<Option<(String, i64)>, RegistryError> {
    Ok(tx
        .prepare_cached(
            "SELECT document, created_ms FROM policy_versions WHERE policy_name = ?1 AND version_id = ?2",
        )?
        .query_row([policy, version], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

fn version_count(tx: &Transaction<'_>, policy: &str) -> Result<usize, RegistryError> {
    let count: i64 = tx
        .prepare_cached("SELECT count(*) FROM policy_versions WHERE policy_name = ?1")?
        .query_row([policy], |row| row.get(0))?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

fn not_found_version(policy: &str, version: &str) -> RegistryError {
    RegistryError::NotFound(format!(
        "Policy version not found (name={policy}, versionId={version})"
    ))
}

fn policy_from(tx: &Transaction<'_>, name: &str, row: Row) -> Result<Policy, RegistryError> {
    let (document, _) = version_row(tx, name, &row.default_version)?.ok_or_else(|| {
        RegistryError::Store(format!(
            "policy {name} has no default version {}",
            row.default_version
        ))
    })?;
    Ok(Policy {
        name: name.to_owned(),
        arn: row.arn,
        document,
        default_version: row.default_version,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
        generation: row.generation,
    })
}

fn new_generation() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Registry {
    /// The ARN of policy `name`.
    pub fn policy_arn(&self, name: &str) -> String {
        self.arns.arn(crate::ResourceKind::Policy, name)
    }

    /// CreatePolicy: version "1", the default. A policy of that name existing is
    /// `AlreadyExists`.
    pub async fn create_policy(
        &self,
        name: &str,
        document: &str,
        tags: Vec<Tag>,
    ) -> Result<Policy, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::check_document(document)?;
        check_tags(&tags)?;
        let (name, document) = (name.to_owned(), document.to_owned());
        let arn = self.policy_arn(&name);
        self.write_authorization(move |tx| {
            if policy_row(tx, &name)?.is_some() {
                return Err(RegistryError::AlreadyExists {
                    message: format!("Policy cannot be created - name already exists (name={name})"),
                    resource_id: name,
                    resource_arn: arn,
                });
            }
            let now = now_ms();
            let generation = new_generation();
            tx.prepare_cached(
                "INSERT INTO policies (name, arn, default_version, next_version, generation, created_ms, updated_ms)
                 VALUES (?1, ?2, '1', 2, ?3, ?4, ?4)",
            )?
            .execute(params![name, arn, generation, now])?;
            tx.prepare_cached(
                "INSERT INTO policy_versions (policy_name, version_id, document, created_ms)
                 VALUES (?1, '1', ?2, ?3)",
            )?
            .execute(params![name, document, now])?;
            put_tags(tx, &arn, &tags)?;
            Ok(Policy {
                name,
                arn,
                document,
                default_version: "1".into(),
                created_ms: now,
                updated_ms: now,
                generation,
            })
        })
        .await
    }

    /// GetPolicy: the policy with its default version's document.
    pub fn get_policy(&self, name: &str) -> Result<Policy, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        self.store.read(|tx| {
            let row = existing_row(tx, name)?;
            policy_from(tx, name, row)
        })
    }

    /// Whether policy `name` exists.
    pub fn policy_exists(&self, name: &str) -> Result<bool, RegistryError> {
        self.store.read(|tx| Ok(policy_row(tx, name)?.is_some()))
    }

    /// ListPolicies: names after `after` (before it when `descending`), at most `limit`.
    pub fn list_policies(
        &self,
        after: Option<&str>,
        limit: usize,
        descending: bool,
    ) -> Result<Page<PolicyRef>, RegistryError> {
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.store.read(|tx| {
            let sql = if descending {
                "SELECT name, arn FROM policies WHERE (?1 IS NULL OR name < ?1) ORDER BY name DESC LIMIT ?2"
            } else {
                "SELECT name, arn FROM policies WHERE (?1 IS NULL OR name > ?1) ORDER BY name LIMIT ?2"
            };
            let rows = tx
                .prepare_cached(sql)?
                .query_map(params![after, limit_plus_one], |row| {
                    Ok(PolicyRef { name: row.get(0)?, arn: row.get(1)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        Ok(Page::from_rows(rows, limit, |p| p.name.clone()))
    }

    /// DeletePolicy: refused while the policy is attached or has versions besides the
    /// default one. Its tags go with it.
    pub async fn delete_policy(&self, name: &str) -> Result<(), RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        let name = name.to_owned();
        self.write_authorization(move |tx| {
            let row = existing_row(tx, &name)?;
            let attachments: i64 = tx
                .prepare_cached("SELECT count(*) FROM policy_attachments WHERE policy_name = ?1")?
                .query_row([&name], |r| r.get(0))?;
            policy_rules::check_policy_deletable(
                &name,
                usize::try_from(attachments).unwrap_or(usize::MAX),
                version_count(tx, &name)?,
            )?;
            tx.prepare_cached("DELETE FROM policy_versions WHERE policy_name = ?1")?
                .execute([&name])?;
            tx.prepare_cached("DELETE FROM policies WHERE name = ?1")?.execute([&name])?;
            tx.prepare_cached("DELETE FROM tags WHERE resource_arn = ?1")?.execute([&row.arn])?;
            Ok::<_, RegistryError>(())
        })
        .await
    }

    /// CreatePolicyVersion: the next version id; the default one when `set_as_default`.
    /// A policy holding [`MAX_POLICY_VERSIONS`] versions is `VersionsLimitExceeded`.
    pub async fn create_policy_version(
        &self,
        name: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::check_document(document)?;
        let (name, document) = (name.to_owned(), document.to_owned());
        self.write_authorization(move |tx| {
            let row = existing_row(tx, &name)?;
            policy_rules::check_version_room(&name, version_count(tx, &name)?)?;
            let version_id = row.next_version.to_string();
            let now = now_ms();
            let generation = new_generation();
            tx.prepare_cached(
                "INSERT INTO policy_versions (policy_name, version_id, document, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![name, version_id, document, now])?;
            let default_version =
                if set_as_default { version_id.clone() } else { row.default_version };
            tx.prepare_cached(
                "UPDATE policies SET next_version = ?2, default_version = ?3, generation = ?4,
                     updated_ms = ?5 WHERE name = ?1",
            )?
            .execute(params![
                name,
                row.next_version + 1,
                default_version,
                generation,
                now
            ])?;
            Ok::<_, RegistryError>(PolicyVersion {
                policy_name: name,
                policy_arn: row.arn,
                is_default: set_as_default,
                version_id,
                document,
                created_ms: now,
                updated_ms: now,
                generation,
            })
        })
        .await
    }

    /// GetPolicyVersion.
    pub fn get_policy_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<PolicyVersion, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::parse_version_id(version)?;
        self.store.read(|tx| {
            let row = existing_row(tx, name)?;
            let (document, created_ms) =
                version_row(tx, name, version)?.ok_or_else(|| not_found_version(name, version))?;
            Ok(PolicyVersion {
                policy_name: name.to_owned(),
                policy_arn: row.arn,
                version_id: version.to_owned(),
                document,
                is_default: row.default_version == version,
                created_ms,
                updated_ms: row.updated_ms,
                generation: row.generation,
            })
        })
    }

    /// ListPolicyVersions: every version, newest first (as AWS lists them).
    pub fn list_policy_versions(&self, name: &str) -> Result<Vec<PolicyVersion>, RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        let mut versions = self.store.read(|tx| {
            let row = existing_row(tx, name)?;
            let versions = tx
                .prepare_cached(
                    "SELECT version_id, document, created_ms FROM policy_versions WHERE policy_name = ?1",
                )?
                .query_map([name], |r| {
                    let version_id: String = r.get(0)?;
                    Ok(PolicyVersion {
                        policy_name: name.to_owned(),
                        policy_arn: row.arn.clone(),
                        is_default: version_id == row.default_version,
                        version_id,
                        document: r.get(1)?,
                        created_ms: r.get(2)?,
                        updated_ms: row.updated_ms,
                        generation: row.generation.clone(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(versions)
        })?;
        // Ids are digits (checked on the way in); compare them as numbers.
        versions.sort_by_key(|v| std::cmp::Reverse(v.version_id.parse::<i64>().unwrap_or(0)));
        debug_assert!(versions.len() <= MAX_POLICY_VERSIONS);
        Ok(versions)
    }

    /// SetDefaultPolicyVersion.
    pub async fn set_default_policy_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(), RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::parse_version_id(version)?;
        let (name, version) = (name.to_owned(), version.to_owned());
        self.write_authorization(move |tx| {
            existing_row(tx, &name)?;
            if version_row(tx, &name, &version)?.is_none() {
                return Err(not_found_version(&name, &version));
            }
            tx.prepare_cached(
                "UPDATE policies SET default_version = ?2, generation = ?3, updated_ms = ?4
                     WHERE name = ?1",
            )?
            .execute(params![name, version, new_generation(), now_ms()])?;
            Ok(())
        })
        .await
    }

    /// DeletePolicyVersion: never the default version.
    pub async fn delete_policy_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(), RegistryError> {
        policy_rules::check_policy_name("policyName", name)?;
        policy_rules::parse_version_id(version)?;
        let (name, version) = (name.to_owned(), version.to_owned());
        self.write_authorization(move |tx| {
            let row = existing_row(tx, &name)?;
            if version_row(tx, &name, &version)?.is_none() {
                return Err(not_found_version(&name, &version));
            }
            policy_rules::check_version_deletable(&name, &version, &row.default_version)?;
            tx.prepare_cached(
                "DELETE FROM policy_versions WHERE policy_name = ?1 AND version_id = ?2",
            )?
            .execute([&name, &version])?;
            tx.prepare_cached("UPDATE policies SET generation = ?2 WHERE name = ?1")?
                .execute([&name, &new_generation()])?;
            Ok(())
        })
        .await
    }
}
