//! Tags on thing types, thing groups and policies (things are not taggable on AWS IoT, and are refused
//! here too): TagResource, UntagResource, ListTagsForResource.

use ferrocore_store::rusqlite::{Transaction, params};

use crate::arn::ResourceKind;
use crate::error::{RegistryError, invalid};
use crate::{Page, Registry, rules};

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value (the model allows none, stored as empty).
    pub value: String,
}

/// Checks every tag of a request.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), RegistryError> {
    if tags.len() > rules::MAX_TAGS {
        return Err(RegistryError::LimitExceeded(format!(
            "A resource can have at most {} tags",
            rules::MAX_TAGS
        )));
    }
    for tag in tags {
        rules::check_tag_key(&tag.key)?;
        rules::check_tag_value(&tag.key, &tag.value)?;
    }
    Ok(())
}

/// Sets `tags` on `arn` (replacing the values of existing keys), within `tx`.
pub(crate) fn put_tags(tx: &Transaction<'_>, arn: &str, tags: &[Tag]) -> Result<(), RegistryError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO tags (resource_arn, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
    )?;
    for tag in tags {
        stmt.execute(params![arn, tag.key, tag.value])?;
    }
    let count: i64 = tx
        .prepare_cached("SELECT count(*) FROM tags WHERE resource_arn = ?1")?
        .query_row([arn], |row| row.get(0))?;
    if usize::try_from(count).unwrap_or(usize::MAX) > rules::MAX_TAGS {
        return Err(RegistryError::LimitExceeded(format!(
            "A resource can have at most {} tags",
            rules::MAX_TAGS
        )));
    }
    Ok(())
}

impl Registry {
    /// Checks that `arn` names an existing taggable resource.
    fn check_taggable(&self, tx: &Transaction<'_>, arn: &str) -> Result<(), RegistryError> {
        let (kind, name) = self.arns.parse(arn)?;
        let table = match kind {
            ResourceKind::Thing => {
                return Err(invalid(format!(
                    "Resource {arn} cannot be tagged: things take attributes, not tags"
                )));
            }
            ResourceKind::ThingType => "thing_types",
            ResourceKind::ThingGroup => "thing_groups",
            ResourceKind::Policy => "policies",
        };
        let exists: bool = tx
            .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE name = ?1)"))?
            .query_row([&name], |row| row.get(0))?;
        if !exists {
            return Err(RegistryError::NotFound(format!("Resource {arn} does not exist")));
        }
        Ok(())
    }

    /// TagResource.
    pub async fn tag_resource(&self, arn: &str, tags: Vec<Tag>) -> Result<(), RegistryError> {
        check_tags(&tags)?;
        let arn = arn.to_owned();
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                registry.check_taggable(tx, &arn)?;
                put_tags(tx, &arn, &tags)
            })
            .await
    }

    /// UntagResource: removes the given keys; absent keys are ignored.
    pub async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), RegistryError> {
        for key in &keys {
            rules::check_tag_key(key)?;
        }
        let arn = arn.to_owned();
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                registry.check_taggable(tx, &arn)?;
                let mut stmt =
                    tx.prepare_cached("DELETE FROM tags WHERE resource_arn = ?1 AND key = ?2")?;
                for key in &keys {
                    stmt.execute(params![arn, key])?;
                }
                Ok(())
            })
            .await
    }

    /// ListTagsForResource: tags in key order after key `after`.
    pub fn list_tags(
        &self,
        arn: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Tag>, RegistryError> {
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let tags = self.store.read(|tx| {
            self.check_taggable(tx, arn)?;
            let mut stmt = tx.prepare_cached(
                "SELECT key, value FROM tags WHERE resource_arn = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
            )?;
            let tags = stmt
                .query_map(params![arn, after.unwrap_or(""), limit_plus_one], |row| {
                    Ok(Tag { key: row.get(0)?, value: row.get(1)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(tags)
        })?;
        Ok(Page::from_rows(tags, limit, |t| t.key.clone()))
    }
}
