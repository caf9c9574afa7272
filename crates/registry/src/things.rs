//! Things: create (idempotent for an identical thing), describe, update (attributes merged or
//! replaced, thing type set or removed, `expectedVersion`), delete (a missing thing is not an
//! error, as on AWS), and list with filters.

use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};

use crate::arn::ResourceKind;
use crate::error::{RegistryError, invalid};
use crate::rules::{self, Attributes};
use crate::{Page, Registry, now_ms};

/// A thing as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thing {
    /// Its name, the key.
    pub name: String,
    /// A UUID given at creation.
    pub id: String,
    /// `arn:aws:iot:{region}:{account}:thing/{name}`.
    pub arn: String,
    /// Its thing type, if any.
    pub type_name: Option<String>,
    /// Its attributes.
    pub attributes: Attributes,
    /// 1 at creation, one more at every update.
    pub version: i64,
    /// Its billing group (stored and returned only).
    pub billing_group: Option<String>,
}

/// What CreateThing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThing {
    /// The name.
    pub name: String,
    /// A thing type, which must exist and not be deprecated.
    pub type_name: Option<String>,
    /// Attributes.
    pub attributes: Attributes,
    /// A billing group name.
    pub billing_group: Option<String>,
}

/// What UpdateThing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingUpdate {
    /// The thing.
    pub name: String,
    /// A new thing type.
    pub type_name: Option<String>,
    /// Remove the thing type.
    pub remove_type: bool,
    /// New attributes and whether to merge them.
    pub attributes: Option<(Attributes, bool)>,
    /// The version the caller expects.
    pub expected_version: Option<i64>,
}

/// ListThings' filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingFilter {
    /// Things that have this attribute.
    pub attribute_name: Option<String>,
    /// ... with this value (or value prefix).
    pub attribute_value: Option<String>,
    /// Compare `attribute_value` as a prefix.
    pub prefix: bool,
    /// Things of this type.
    pub type_name: Option<String>,
}

const COLUMNS: &str = "name, id, type_name, attributes, version, billing_group";

impl Registry {
    fn thing_from_row(&self, row: &Row<'_>) -> rusqlite::Result<(Thing, String)> {
        let name: String = row.get(0)?;
        let thing = Thing {
            arn: self.arns.arn(ResourceKind::Thing, &name),
            name,
            id: row.get(1)?,
            type_name: row.get(2)?,
            attributes: Attributes::new(),
            version: row.get(4)?,
            billing_group: row.get(5)?,
        };
        Ok((thing, row.get(3)?))
    }

    fn thing_in(&self, tx: &Transaction<'_>, name: &str) -> Result<Option<Thing>, RegistryError> {
        let row = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM things WHERE name = ?1"))?
            .query_row([name], |row| self.thing_from_row(row))
            .optional()?;
        row.map(|(mut thing, attributes)| {
            thing.attributes = serde_json::from_str(&attributes)?;
            Ok(thing)
        })
        .transpose()
    }

    /// CreateThing. Creating a thing that exists with the same type, attributes and billing
    /// group returns it; with anything different it is `AlreadyExists`.
    pub async fn create_thing(&self, new: NewThing) -> Result<Thing, RegistryError> {
        rules::check_name("thingName", &new.name)?;
        if let Some(type_name) = &new.type_name {
            rules::check_name("thingTypeName", type_name)?;
        }
        if let Some(group) = &new.billing_group {
            rules::check_name("billingGroupName", group)?;
        }
        rules::check_attributes(&new.attributes)?;
        rules::check_thing_attribute_count(&new.attributes, new.type_name.is_some())?;
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                if let Some(existing) = registry.thing_in(tx, &new.name)? {
                    let same = existing.type_name == new.type_name
                        && existing.attributes == new.attributes
                        && existing.billing_group == new.billing_group;
                    if same {
                        return Ok(existing);
                    }
                    return Err(RegistryError::AlreadyExists {
                        message: format!("Thing {} already exists", new.name),
                        resource_id: existing.id,
                        resource_arn: existing.arn,
                    });
                }
                if let Some(type_name) = &new.type_name {
                    registry.check_type_usable(tx, type_name)?;
                }
                let id = uuid::Uuid::new_v4().to_string();
                tx.prepare_cached(&format!(
                    "INSERT INTO things ({COLUMNS}, created_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)"
                ))?
                .execute(params![
                    new.name,
                    id,
                    new.type_name,
                    serde_json::to_string(&new.attributes)?,
                    new.billing_group,
                    now_ms()
                ])?;
                Ok(Thing {
                    arn: registry.arns.arn(ResourceKind::Thing, &new.name),
                    name: new.name,
                    id,
                    type_name: new.type_name,
                    attributes: new.attributes,
                    version: 1,
                    billing_group: new.billing_group,
                })
            })
            .await
    }

    /// A thing type that exists and is not deprecated, or why not.
    fn check_type_usable(
        &self,
        tx: &Transaction<'_>,
        type_name: &str,
    ) -> Result<(), RegistryError> {
        let deprecated: Option<bool> = tx
            .prepare_cached("SELECT deprecated FROM thing_types WHERE name = ?1")?
            .query_row([type_name], |row| row.get(0))
            .optional()?;
        match deprecated {
            None => Err(RegistryError::NotFound(format!("Thing Type {type_name} does not exist"))),
            Some(true) => Err(invalid(format!(
                "Can not create new thing with deprecated thing type: {type_name}"
            ))),
            Some(false) => Ok(()),
        }
    }

    /// DescribeThing.
    pub fn describe_thing(&self, name: &str) -> Result<Thing, RegistryError> {
        rules::check_name("thingName", name)?;
        self.store
            .read(|tx| self.thing_in(tx, name))?
            .ok_or_else(|| RegistryError::NotFound(format!("Thing {name} cannot be found.")))
    }

    /// UpdateThing; returns the new version.
    pub async fn update_thing(&self, update: ThingUpdate) -> Result<i64, RegistryError> {
        rules::check_name("thingName", &update.name)?;
        if let Some(type_name) = &update.type_name {
            rules::check_name("thingTypeName", type_name)?;
            if update.remove_type {
                return Err(invalid(
                    "Cannot set thingTypeName and removeThingType at the same time",
                ));
            }
        }
        if let Some((attributes, _)) = &update.attributes {
            rules::check_attributes(attributes)?;
        }
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                let thing = registry.thing_in(tx, &update.name)?.ok_or_else(|| {
                    RegistryError::NotFound(format!("Thing {} cannot be found.", update.name))
                })?;
                rules::check_version("thing", &update.name, update.expected_version, thing.version)?;
                let type_name = if update.remove_type {
                    None
                } else if let Some(new_type) = update.type_name {
                    if thing.type_name.as_deref() != Some(new_type.as_str()) {
                        registry.check_type_usable(tx, &new_type)?;
                    }
                    Some(new_type)
                } else {
                    thing.type_name
                };
                let attributes = match &update.attributes {
                    Some((payload, merge)) => rules::apply_attributes(&thing.attributes, payload, *merge),
                    None => thing.attributes,
                };
                rules::check_thing_attribute_count(&attributes, type_name.is_some())?;
                let version = thing.version + 1;
                tx.prepare_cached(
                    "UPDATE things SET type_name = ?2, attributes = ?3, version = ?4 WHERE name = ?1",
                )?
                .execute(params![update.name, type_name, serde_json::to_string(&attributes)?, version])?;
                Ok(version)
            })
            .await
    }

    /// DeleteThing. A missing thing is not an error (as on AWS); a wrong `expected_version` of
    /// an existing thing is. The thing leaves its groups.
    pub async fn delete_thing(
        &self,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingName", name)?;
        let name = name.to_owned();
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                let Some(thing) = registry.thing_in(tx, &name)? else { return Ok(()) };
                rules::check_version("thing", &name, expected_version, thing.version)?;
                tx.prepare_cached("DELETE FROM things WHERE name = ?1")?.execute([&name])?;
                tx.prepare_cached("DELETE FROM thing_group_members WHERE thing_name = ?1")?
                    .execute([&name])?;
                Ok(())
            })
            .await
    }

    /// ListThings: things after `after` (a name), in name order, at most `limit`.
    pub fn list_things(
        &self,
        filter: &ThingFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Thing>, RegistryError> {
        if let Some(name) = &filter.attribute_name {
            rules::check_attribute_name(name)?;
        }
        if let Some(value) = &filter.attribute_value {
            let Some(name) = &filter.attribute_name else {
                return Err(invalid("attributeValue needs attributeName"));
            };
            rules::check_attribute_value(name, value)?;
        }
        if let Some(type_name) = &filter.type_name {
            rules::check_name("thingTypeName", type_name)?;
        }
        // Attribute names cannot contain a double quote, so this JSON path is well formed.
        let path = filter.attribute_name.as_ref().map(|name| format!("$.\"{name}\""));
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.store.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM things
                 WHERE name > ?1
                   AND (?2 IS NULL OR type_name = ?2)
                   AND (?3 IS NULL OR (json_extract(attributes, ?3) IS NOT NULL AND (?4 IS NULL OR
                        (CASE WHEN ?5 THEN substr(json_extract(attributes, ?3), 1, length(?4)) = ?4
                              ELSE json_extract(attributes, ?3) = ?4 END))))
                 ORDER BY name LIMIT ?6"
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        after.unwrap_or(""),
                        filter.type_name,
                        path,
                        filter.attribute_value,
                        filter.prefix,
                        limit_plus_one
                    ],
                    |row| self.thing_from_row(row),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        let mut things = Vec::with_capacity(rows.len());
        for (mut thing, attributes) in rows {
            thing.attributes = serde_json::from_str(&attributes)?;
            things.push(thing);
        }
        Ok(Page::from_rows(things, limit, |t| t.name.clone()))
    }
}
