//! Thing types: create (with searchable attributes, a description, MQTT 5 propagating
//! attributes and tags), describe, update, deprecate and undo, delete (only deprecated and
//! unused ones), list.

use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::arn::ResourceKind;
use crate::error::{RegistryError, invalid};
use crate::events::{EventBody, Operation};
use crate::rules;
use crate::tags::{Tag, check_tags, put_tags};
use crate::{Page, Registry, now_ms};

/// One MQTT 5 user property a thing type propagates (`PropagatingAttribute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropagatingAttribute {
    /// The user property's key.
    pub user_property_key: Option<String>,
    /// The thing attribute whose value it carries.
    pub thing_attribute: Option<String>,
    /// The connection attribute whose value it carries.
    pub connection_attribute: Option<String>,
}

/// `ThingTypeProperties`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingTypeProperties {
    /// The description.
    pub description: Option<String>,
    /// Searchable attribute names (at most 3).
    pub searchable_attributes: Vec<String>,
    /// MQTT 5 propagating attributes, when configured.
    pub propagating_attributes: Option<Vec<PropagatingAttribute>>,
}

/// A thing type as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingType {
    /// Its name.
    pub name: String,
    /// A UUID given at creation.
    pub id: String,
    /// `arn:aws:iot:{region}:{account}:thingtype/{name}`.
    pub arn: String,
    /// Its properties.
    pub properties: ThingTypeProperties,
    /// Whether it is deprecated.
    pub deprecated: bool,
    /// When it was deprecated, in milliseconds since the epoch.
    pub deprecation_ms: Option<i64>,
    /// When it was created, in milliseconds since the epoch.
    pub creation_ms: i64,
}

/// What CreateThingType asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThingType {
    /// The name.
    pub name: String,
    /// The properties.
    pub properties: ThingTypeProperties,
    /// Tags for the new type.
    pub tags: Vec<Tag>,
}

const COLUMNS: &str =
    "name, id, description, searchable, mqtt5, deprecated, deprecated_ms, created_ms";

fn check_properties(properties: &ThingTypeProperties) -> Result<(), RegistryError> {
    if let Some(description) = &properties.description {
        rules::check_description("thingTypeProperties.thingTypeDescription", description)?;
    }
    if properties.searchable_attributes.len() > rules::MAX_SEARCHABLE_ATTRIBUTES {
        return Err(invalid(format!(
            "A thing type can have at most {} searchable attributes",
            rules::MAX_SEARCHABLE_ATTRIBUTES
        )));
    }
    for name in &properties.searchable_attributes {
        rules::check_attribute_name(name)?;
    }
    for attribute in properties.propagating_attributes.iter().flatten() {
        if let Some(name) = &attribute.thing_attribute {
            rules::check_attribute_name(name)?;
        }
        if attribute.thing_attribute.is_some() == attribute.connection_attribute.is_some() {
            return Err(invalid(
                "A propagating attribute needs exactly one of thingAttribute and connectionAttribute",
            ));
        }
    }
    Ok(())
}

impl Registry {
    fn thing_type_from_row(
        &self,
        row: &Row<'_>,
    ) -> rusqlite::Result<(ThingType, String, Option<String>)> {
        let name: String = row.get(0)?;
        let thing_type = ThingType {
            arn: self.arns.arn(ResourceKind::ThingType, &name),
            name,
            id: row.get(1)?,
            properties: ThingTypeProperties {
                description: row.get(2)?,
                searchable_attributes: Vec::new(),
                propagating_attributes: None,
            },
            deprecated: row.get(5)?,
            deprecation_ms: row.get(6)?,
            creation_ms: row.get(7)?,
        };
        Ok((thing_type, row.get(3)?, row.get(4)?))
    }

    fn finish_thing_type(
        (mut thing_type, searchable, mqtt5): (ThingType, String, Option<String>),
    ) -> Result<ThingType, RegistryError> {
        thing_type.properties.searchable_attributes = serde_json::from_str(&searchable)?;
        thing_type.properties.propagating_attributes =
            mqtt5.map(|text| serde_json::from_str(&text)).transpose()?;
        Ok(thing_type)
    }

    pub(crate) fn thing_type_in(
        &self,
        tx: &Transaction<'_>,
        name: &str,
    ) -> Result<Option<ThingType>, RegistryError> {
        let row = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM thing_types WHERE name = ?1"))?
            .query_row([name], |row| self.thing_type_from_row(row))
            .optional()?;
        row.map(Registry::finish_thing_type).transpose()
    }

    fn not_found_type(name: &str) -> RegistryError {
        RegistryError::NotFound(format!("Thing Type {name} does not exist"))
    }

    /// CreateThingType. An identical re-create returns the existing type.
    pub async fn create_thing_type(&self, new: NewThingType) -> Result<ThingType, RegistryError> {
        rules::check_name("thingTypeName", &new.name)?;
        check_properties(&new.properties)?;
        check_tags(&new.tags)?;
        let registry = self.clone();
        let (thing_type, created) = self
            .store
            .execute(move |tx| {
                if let Some(existing) = registry.thing_type_in(tx, &new.name)? {
                    if existing.properties == new.properties {
                        return Ok((existing, false));
                    }
                    return Err(RegistryError::AlreadyExists {
                        message: format!("Thing Type {} already exists", new.name),
                        resource_id: existing.id,
                        resource_arn: existing.arn,
                    });
                }
                let id = uuid::Uuid::new_v4().to_string();
                let created = now_ms();
                let mqtt5 = new
                    .properties
                    .propagating_attributes
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?;
                tx.prepare_cached(&format!(
                    "INSERT INTO thing_types ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, ?6)"
                ))?
                .execute(params![
                    new.name,
                    id,
                    new.properties.description,
                    serde_json::to_string(&new.properties.searchable_attributes)?,
                    mqtt5,
                    created
                ])?;
                let arn = registry.arns.arn(ResourceKind::ThingType, &new.name);
                put_tags(tx, &arn, &new.tags)?;
                let thing_type = ThingType {
                    name: new.name,
                    id,
                    arn,
                    properties: new.properties,
                    deprecated: false,
                    deprecation_ms: None,
                    creation_ms: created,
                };
                Ok::<_, RegistryError>((thing_type, true))
            })
            .await?;
        if created {
            self.emit(type_event(Operation::Created, &thing_type));
        }
        Ok(thing_type)
    }

    /// DescribeThingType.
    pub fn describe_thing_type(&self, name: &str) -> Result<ThingType, RegistryError> {
        rules::check_name("thingTypeName", name)?;
        self.store
            .read(|tx| self.thing_type_in(tx, name))?
            .ok_or_else(|| Registry::not_found_type(name))
    }

    /// UpdateThingType: replaces the properties that are given.
    pub async fn update_thing_type(
        &self,
        name: &str,
        properties: ThingTypeProperties,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingTypeName", name)?;
        check_properties(&properties)?;
        let name = name.to_owned();
        let registry = self.clone();
        let event = self
            .store
            .execute(move |tx| {
                let existing =
                    registry.thing_type_in(tx, &name)?.ok_or_else(|| Registry::not_found_type(&name))?;
                let description = properties.description.or(existing.properties.description);
                let searchable = if properties.searchable_attributes.is_empty() {
                    existing.properties.searchable_attributes
                } else {
                    properties.searchable_attributes
                };
                let propagating =
                    properties.propagating_attributes.or(existing.properties.propagating_attributes);
                tx.prepare_cached(
                    "UPDATE thing_types SET description = ?2, searchable = ?3, mqtt5 = ?4 WHERE name = ?1",
                )?
                .execute(params![
                    name,
                    description,
                    serde_json::to_string(&searchable)?,
                    propagating.as_ref().map(serde_json::to_string).transpose()?
                ])?;
                let updated = registry.thing_type_in(tx, &name)?.ok_or_else(|| Registry::not_found_type(&name))?;
                Ok::<_, RegistryError>(type_event(Operation::Updated, &updated))
            })
            .await?;
        self.emit(event);
        Ok(())
    }

    /// DeprecateThingType (or, with `undo`, undoes it).
    pub async fn deprecate_thing_type(&self, name: &str, undo: bool) -> Result<(), RegistryError> {
        rules::check_name("thingTypeName", name)?;
        let name = name.to_owned();
        let registry = self.clone();
        let event = self
            .store
            .execute(move |tx| {
                let changed = if undo {
                    tx.prepare_cached(
                        "UPDATE thing_types SET deprecated = 0, deprecated_ms = NULL WHERE name = ?1",
                    )?
                    .execute([&name])?
                } else {
                    tx.prepare_cached(
                        "UPDATE thing_types SET deprecated = 1, deprecated_ms = ?2 WHERE name = ?1",
                    )?
                    .execute(params![name, now_ms()])?
                };
                if changed == 0 {
                    return Err(Registry::not_found_type(&name));
                }
                let updated = registry.thing_type_in(tx, &name)?.ok_or_else(|| Registry::not_found_type(&name))?;
                Ok::<_, RegistryError>(type_event(Operation::Updated, &updated))
            })
            .await?;
        self.emit(event);
        Ok(())
    }

    /// DeleteThingType: only a deprecated type that no thing uses. Its tags go with it.
    pub async fn delete_thing_type(&self, name: &str) -> Result<(), RegistryError> {
        rules::check_name("thingTypeName", name)?;
        let name = name.to_owned();
        let registry = self.clone();
        let event = self
            .store
            .execute(move |tx| {
                let existing = registry
                    .thing_type_in(tx, &name)?
                    .ok_or_else(|| Registry::not_found_type(&name))?;
                if !existing.deprecated {
                    return Err(invalid(format!(
                        "Thing type {name} must be deprecated before it can be deleted"
                    )));
                }
                let used: bool = tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE type_name = ?1)")?
                    .query_row([&name], |row| row.get(0))?;
                if used {
                    return Err(invalid(format!(
                        "Can not delete thing type {name} with things associated with it"
                    )));
                }
                tx.prepare_cached("DELETE FROM thing_types WHERE name = ?1")?.execute([&name])?;
                tx.prepare_cached("DELETE FROM tags WHERE resource_arn = ?1")?
                    .execute([&existing.arn])?;
                Ok::<_, RegistryError>(type_event(Operation::Deleted, &existing))
            })
            .await?;
        self.emit(event);
        Ok(())
    }

    /// ListThingTypes, optionally only the type named `name`.
    pub fn list_thing_types(
        &self,
        name: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ThingType>, RegistryError> {
        if let Some(name) = name {
            rules::check_name("thingTypeName", name)?;
        }
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.store.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM thing_types WHERE name > ?1 AND (?2 IS NULL OR name = ?2)
                 ORDER BY name LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![after.unwrap_or(""), name, limit_plus_one], |row| {
                    self.thing_type_from_row(row)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        let types =
            rows.into_iter().map(Registry::finish_thing_type).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(types, limit, |t| t.name.clone()))
    }
}

/// A THING_TYPE event for `thing_type` as it is after the change.
fn type_event(operation: Operation, thing_type: &ThingType) -> EventBody {
    EventBody::ThingType {
        operation,
        id: thing_type.id.clone(),
        name: thing_type.name.clone(),
        deprecated: thing_type.deprecated,
        deprecation_ms: thing_type.deprecation_ms,
        searchable_attributes: thing_type.properties.searchable_attributes.clone(),
        description: thing_type.properties.description.clone(),
    }
}
