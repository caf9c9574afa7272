//! Things: create (idempotent for an identical thing), describe, update (attributes merged or
//! replaced, thing type set or removed, `expectedVersion`), delete (a missing thing is not an
//! error, as on AWS), and list with filters.

use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};

use crate::arn::ResourceKind;
use crate::error::{RegistryError, invalid};
use crate::events::{EventBody, Link, Operation};
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
        let (thing, created) = self
            .store
            .execute(move |tx| {
                if let Some(existing) = registry.thing_in(tx, &new.name)? {
                    let same = existing.type_name == new.type_name
                        && existing.attributes == new.attributes
                        && existing.billing_group == new.billing_group;
                    if same {
                        return Ok((existing, false));
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
                let thing = Thing {
                    arn: registry.arns.arn(ResourceKind::Thing, &new.name),
                    name: new.name,
                    id,
                    type_name: new.type_name,
                    attributes: new.attributes,
                    version: 1,
                    billing_group: new.billing_group,
                };
                Ok::<_, RegistryError>((thing, true))
            })
            .await?;
        if created {
            self.emit(thing_event(Operation::Created, &thing));
            if let Some(type_name) = &thing.type_name {
                self.emit(type_association(Link::Added, &thing, type_name));
            }
        }
        Ok(thing)
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
        let (version, events) = self
            .store
            .execute(move |tx| {
                let thing = registry.thing_in(tx, &update.name)?.ok_or_else(|| {
                    RegistryError::NotFound(format!("Thing {} cannot be found.", update.name))
                })?;
                rules::check_version("thing", &update.name, update.expected_version, thing.version)?;
                let old_type = thing.type_name.clone();
                let type_name = if update.remove_type {
                    None
                } else if let Some(new_type) = update.type_name {
                    if thing.type_name.as_deref() != Some(new_type.as_str()) {
                        registry.check_type_usable(tx, &new_type)?;
                    }
                    Some(new_type)
                } else {
                    thing.type_name.clone()
                };
                let attributes = match &update.attributes {
                    Some((payload, merge)) => rules::apply_attributes(&thing.attributes, payload, *merge),
                    None => thing.attributes.clone(),
                };
                rules::check_thing_attribute_count(&attributes, type_name.is_some())?;
                let version = thing.version + 1;
                tx.prepare_cached(
                    "UPDATE things SET type_name = ?2, attributes = ?3, version = ?4 WHERE name = ?1",
                )?
                .execute(params![update.name, type_name, serde_json::to_string(&attributes)?, version])?;
                let updated = Thing { type_name, attributes, version, ..thing };
                let mut events = vec![thing_event(Operation::Updated, &updated)];
                if old_type != updated.type_name {
                    if let Some(old) = &old_type {
                        events.push(type_association(Link::Removed, &updated, old));
                    }
                    if let Some(new) = &updated.type_name {
                        events.push(type_association(Link::Added, &updated, new));
                    }
                }
                Ok::<_, RegistryError>((version, events))
            })
            .await?;
        self.emit_all(events);
        // Thing type and attributes fill policy variables.
        self.notify(crate::Change::Authorization);
        Ok(version)
    }

    /// DeleteThing. A missing thing is not an error (as on AWS); a wrong `expected_version` of
    /// an existing thing is, and so is a thing with principals attached ("Cannot delete. Thing
    /// {name} is still attached to one or more principals", as AWS answers). The thing leaves
    /// its groups.
    pub async fn delete_thing(
        &self,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingName", name)?;
        let name = name.to_owned();
        let registry = self.clone();
        let events = self
            .store
            .execute(move |tx| {
                let Some(thing) = registry.thing_in(tx, &name)? else { return Ok(Vec::new()) };
                rules::check_version("thing", &name, expected_version, thing.version)?;
                let attached: bool = tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM thing_principals WHERE thing_name = ?1)",
                    )?
                    .query_row([&name], |row| row.get(0))?;
                if attached {
                    return Err(invalid(format!(
                        "Cannot delete. Thing {name} is still attached to one or more principals"
                    )));
                }
                let mut events = registry.memberships_removed_with_thing(tx, &thing)?;
                tx.prepare_cached("DELETE FROM things WHERE name = ?1")?.execute([&name])?;
                tx.prepare_cached("DELETE FROM thing_group_members WHERE thing_name = ?1")?
                    .execute([&name])?;
                if let Some(type_name) = &thing.type_name {
                    events.push(type_association(Link::Removed, &thing, type_name));
                }
                events.push(thing_event(Operation::Deleted, &thing));
                Ok::<_, RegistryError>(events)
            })
            .await?;
        self.emit_all(events);
        self.notify(crate::Change::Authorization);
        Ok(())
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

/// A THING event for `thing` as it is after the change.
fn thing_event(operation: Operation, thing: &Thing) -> EventBody {
    EventBody::Thing {
        operation,
        id: thing.id.clone(),
        name: thing.name.clone(),
        version: thing.version,
        type_name: thing.type_name.clone(),
        attributes: thing.attributes.clone(),
    }
}

/// A THING_TYPE_ASSOCIATION event.
fn type_association(operation: Link, thing: &Thing, type_name: &str) -> EventBody {
    EventBody::TypeAssociation {
        operation,
        thing_id: thing.id.clone(),
        thing_name: thing.name.clone(),
        type_name: type_name.to_owned(),
    }
}
