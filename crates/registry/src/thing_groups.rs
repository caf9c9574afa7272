//! Static thing groups: create (with a parent, up to 7 levels deep), describe (with the
//! chain of ancestors), update (`expectedVersion`), delete (refused while child groups
//! remain), list (by parent, name prefix, recursively), and membership: a thing is in at most
//! 10 groups and in at most one group of a hierarchy.

use ferrocore_store::rusqlite::{OptionalExtension, Transaction, params};

use crate::arn::ResourceKind;
use crate::error::{RegistryError, invalid};
use crate::events::{EventBody, GroupArnAndId, Link, Operation};
use crate::rules::{self, Attributes};
use crate::tags::{Tag, check_tags, put_tags};
use crate::{Page, Registry, now_ms};

/// A group's name and ARN (`GroupNameAndArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The name.
    pub name: String,
    /// The ARN.
    pub arn: String,
}

/// A thing group as DescribeThingGroup shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingGroup {
    /// The name.
    pub name: String,
    /// A UUID given at creation.
    pub id: String,
    /// `arn:aws:iot:{region}:{account}:thinggroup/{name}`.
    pub arn: String,
    /// The parent group, set at creation only.
    pub parent: Option<String>,
    /// The ancestors, root first, ending with the parent.
    pub root_to_parent: Vec<GroupRef>,
    /// The description.
    pub description: Option<String>,
    /// The attributes.
    pub attributes: Attributes,
    /// 1 at creation, one more per update.
    pub version: i64,
    /// When it was created, in milliseconds since the epoch.
    pub creation_ms: i64,
}

/// What CreateThingGroup asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewThingGroup {
    /// The name.
    pub name: String,
    /// The parent, which must exist.
    pub parent: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The attributes.
    pub attributes: Attributes,
    /// Tags for the new group.
    pub tags: Vec<Tag>,
}

/// What UpdateThingGroup asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingGroupUpdate {
    /// The group.
    pub name: String,
    /// A new description.
    pub description: Option<String>,
    /// New attributes and whether to merge them.
    pub attributes: Option<(Attributes, bool)>,
    /// The version the caller expects.
    pub expected_version: Option<i64>,
}

/// ListThingGroups' filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupListFilter {
    /// Children of this group.
    pub parent: Option<String>,
    /// Names starting with this.
    pub name_prefix: Option<String>,
    /// With a parent: all descendants instead of the children. Without: `Some(false)` lists
    /// only root groups.
    pub recursive: Option<bool>,
}

/// A stored group row.
struct Row {
    name: String,
    id: String,
    parent: Option<String>,
    description: Option<String>,
    attributes: Attributes,
    version: i64,
    creation_ms: i64,
}

fn group_row(tx: &Transaction<'_>, name: &str) -> Result<Option<Row>, RegistryError> {
    let row = tx
        .prepare_cached(
            "SELECT name, id, parent, description, attributes, version, created_ms
             FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name], |row| {
            Ok((
                Row {
                    name: row.get(0)?,
                    id: row.get(1)?,
                    parent: row.get(2)?,
                    description: row.get(3)?,
                    attributes: Attributes::new(),
                    version: row.get(5)?,
                    creation_ms: row.get(6)?,
                },
                row.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    row.map(|(mut row, attributes)| {
        row.attributes = serde_json::from_str(&attributes)?;
        Ok(row)
    })
    .transpose()
}

/// The ancestors of the group whose parent is `parent`, root first, ending with `parent`.
fn ancestors(tx: &Transaction<'_>, parent: Option<&str>) -> Result<Vec<String>, RegistryError> {
    let mut chain = Vec::new();
    let mut next = parent.map(str::to_owned);
    while let Some(name) = next {
        if chain.len() > rules::MAX_GROUP_DEPTH {
            return Err(RegistryError::Store(format!(
                "thing group hierarchy above {name} is too deep"
            )));
        }
        next = tx
            .prepare_cached("SELECT parent FROM thing_groups WHERE name = ?1")?
            .query_row([&name], |row| row.get::<_, Option<String>>(0))
            .optional()?
            .flatten();
        chain.push(name);
    }
    chain.reverse();
    Ok(chain)
}

/// The root group of group `name`.
fn root_of(tx: &Transaction<'_>, name: &str) -> Result<String, RegistryError> {
    Ok(ancestors(tx, Some(name))?.into_iter().next().unwrap_or_else(|| name.to_owned()))
}

fn not_found_group(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("ThingGroup {name} does not exist"))
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

impl Registry {
    fn group_ref(&self, name: String) -> GroupRef {
        GroupRef { arn: self.arns.arn(ResourceKind::ThingGroup, &name), name }
    }

    fn thing_group_from(
        &self,
        tx: &Transaction<'_>,
        row: Row,
    ) -> Result<ThingGroup, RegistryError> {
        let root_to_parent = ancestors(tx, row.parent.as_deref())?
            .into_iter()
            .map(|name| self.group_ref(name))
            .collect();
        Ok(ThingGroup {
            arn: self.arns.arn(ResourceKind::ThingGroup, &row.name),
            name: row.name,
            id: row.id,
            parent: row.parent,
            root_to_parent,
            description: row.description,
            attributes: row.attributes,
            version: row.version,
            creation_ms: row.creation_ms,
        })
    }

    /// CreateThingGroup. An identical re-create returns the existing group.
    pub async fn create_thing_group(
        &self,
        new: NewThingGroup,
    ) -> Result<ThingGroup, RegistryError> {
        rules::check_name("thingGroupName", &new.name)?;
        if let Some(parent) = &new.parent {
            rules::check_name("parentGroupName", parent)?;
        }
        if let Some(description) = &new.description {
            rules::check_description("thingGroupProperties.thingGroupDescription", description)?;
        }
        rules::check_attributes(&new.attributes)?;
        if new.attributes.len() > rules::MAX_ATTRIBUTES {
            return Err(invalid(format!(
                "A thing group can have at most {} attributes",
                rules::MAX_ATTRIBUTES
            )));
        }
        check_tags(&new.tags)?;
        let registry = self.clone();
        let (group, events) = self
            .store
            .execute(move |tx| {
                if let Some(existing) = group_row(tx, &new.name)? {
                    let same = existing.parent == new.parent
                        && existing.description == new.description
                        && existing.attributes == new.attributes;
                    if same {
                        return Ok((registry.thing_group_from(tx, existing)?, Vec::new()));
                    }
                    return Err(RegistryError::AlreadyExists {
                        message: format!("Thing Group {} already exists", new.name),
                        resource_arn: registry.arns.arn(ResourceKind::ThingGroup, &new.name),
                        resource_id: existing.id,
                    });
                }
                if let Some(parent) = &new.parent {
                    if group_row(tx, parent)?.is_none() {
                        return Err(invalid(format!("Parent thing group {parent} does not exist")));
                    }
                    // The parent's chain plus the parent plus the new group.
                    let depth = ancestors(tx, Some(parent))?.len() + 1;
                    if depth > rules::MAX_GROUP_DEPTH {
                        return Err(invalid(format!(
                            "Thing group hierarchy can be at most {} levels deep",
                            rules::MAX_GROUP_DEPTH
                        )));
                    }
                    let children: i64 = tx
                        .prepare_cached("SELECT count(*) FROM thing_groups WHERE parent = ?1")?
                        .query_row([parent], |row| row.get(0))?;
                    if usize::try_from(children).unwrap_or(usize::MAX) >= rules::MAX_CHILD_GROUPS {
                        return Err(invalid(format!(
                            "Thing group {parent} already has {} child groups",
                            rules::MAX_CHILD_GROUPS
                        )));
                    }
                }
                let row = Row {
                    name: new.name,
                    id: uuid::Uuid::new_v4().to_string(),
                    parent: new.parent,
                    description: new.description,
                    attributes: new.attributes,
                    version: 1,
                    creation_ms: now_ms(),
                };
                tx.prepare_cached(
                    "INSERT INTO thing_groups (name, id, parent, description, attributes, version, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
                )?
                .execute(params![
                    row.name,
                    row.id,
                    row.parent,
                    row.description,
                    serde_json::to_string(&row.attributes)?,
                    row.creation_ms
                ])?;
                put_tags(tx, &registry.arns.arn(ResourceKind::ThingGroup, &row.name), &new.tags)?;
                let mut events = vec![registry.group_event(tx, Operation::Created, &row)?];
                events.extend(registry.hierarchy_event(tx, Link::Added, &row)?);
                Ok::<_, RegistryError>((registry.thing_group_from(tx, row)?, events))
            })
            .await?;
        self.emit_all(events);
        Ok(group)
    }

    /// DescribeThingGroup.
    pub fn describe_thing_group(&self, name: &str) -> Result<ThingGroup, RegistryError> {
        rules::check_name("thingGroupName", name)?;
        self.store.read(|tx| match group_row(tx, name)? {
            Some(row) => self.thing_group_from(tx, row),
            None => Err(not_found_group(name)),
        })
    }

    /// UpdateThingGroup; returns the new version.
    pub async fn update_thing_group(&self, update: ThingGroupUpdate) -> Result<i64, RegistryError> {
        rules::check_name("thingGroupName", &update.name)?;
        if let Some(description) = &update.description {
            rules::check_description("thingGroupProperties.thingGroupDescription", description)?;
        }
        if let Some((attributes, _)) = &update.attributes {
            rules::check_attributes(attributes)?;
        }
        let registry = self.clone();
        let (version, event) = self
            .store
            .execute(move |tx| {
                let row = group_row(tx, &update.name)?.ok_or_else(|| not_found_group(&update.name))?;
                rules::check_version("thing group", &update.name, update.expected_version, row.version)?;
                let attributes = match &update.attributes {
                    Some((payload, merge)) => rules::apply_attributes(&row.attributes, payload, *merge),
                    None => row.attributes.clone(),
                };
                if attributes.len() > rules::MAX_ATTRIBUTES {
                    return Err(invalid(format!(
                        "A thing group can have at most {} attributes",
                        rules::MAX_ATTRIBUTES
                    )));
                }
                let description = update.description.or(row.description.clone());
                let version = row.version + 1;
                tx.prepare_cached(
                    "UPDATE thing_groups SET description = ?2, attributes = ?3, version = ?4 WHERE name = ?1",
                )?
                .execute(params![update.name, description, serde_json::to_string(&attributes)?, version])?;
                let row = Row { description, attributes, version, ..row };
                let event = registry.group_event(tx, Operation::Updated, &row)?;
                Ok((version, event))
            })
            .await?;
        self.emit(event);
        Ok(version)
    }

    /// DeleteThingGroup. A missing group is not an error; one with child groups is refused.
    /// Its things leave it; its tags go with it.
    pub async fn delete_thing_group(
        &self,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingGroupName", name)?;
        let name = name.to_owned();
        let registry = self.clone();
        let events = self
            .store
            .execute(move |tx| {
                let Some(row) = group_row(tx, &name)? else { return Ok(Vec::new()) };
                rules::check_version("thing group", &name, expected_version, row.version)?;
                let has_children: bool = tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM thing_groups WHERE parent = ?1)")?
                    .query_row([&name], |row| row.get(0))?;
                if has_children {
                    return Err(invalid(format!(
                        "Cannot delete thing group : {name} when there are still child groups attached to it"
                    )));
                }
                let mut events = Vec::new();
                let members: Vec<String> = tx
                    .prepare_cached("SELECT thing_name FROM thing_group_members WHERE group_name = ?1")?
                    .query_map([&name], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                for thing in &members {
                    events.extend(registry.membership_event(tx, Link::Removed, &name, thing)?);
                }
                events.extend(registry.hierarchy_event(tx, Link::Removed, &row)?);
                events.push(registry.group_event(tx, Operation::Deleted, &row)?);
                tx.prepare_cached("DELETE FROM thing_groups WHERE name = ?1")?.execute([&name])?;
                tx.prepare_cached("DELETE FROM thing_group_members WHERE group_name = ?1")?.execute([&name])?;
                let arn = registry.arns.arn(ResourceKind::ThingGroup, &name);
                tx.prepare_cached("DELETE FROM tags WHERE resource_arn = ?1")?.execute([&arn])?;
                // Its policies no longer apply to anyone.
                tx.prepare_cached("DELETE FROM policy_attachments WHERE target = ?1")?
                    .execute([&arn])?;
                Ok::<_, RegistryError>(events)
            })
            .await?;
        self.notify(crate::Change::Authorization);
        self.emit_all(events);
        Ok(())
    }

    /// ListThingGroups.
    pub fn list_thing_groups(
        &self,
        filter: &GroupListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<GroupRef>, RegistryError> {
        if let Some(parent) = &filter.parent {
            rules::check_name("parentGroup", parent)?;
        }
        if let Some(prefix) = &filter.name_prefix {
            rules::check_name("namePrefixFilter", prefix)?;
        }
        let names = self.store.read(|tx| {
            let sql = match (&filter.parent, filter.recursive) {
                (Some(_), Some(true)) => {
                    "WITH RECURSIVE sub(name) AS (
                         SELECT name FROM thing_groups WHERE parent = ?1
                         UNION SELECT g.name FROM thing_groups g JOIN sub ON g.parent = sub.name)
                     SELECT name FROM sub WHERE name > ?2
                       AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)
                     ORDER BY name LIMIT ?4"
                }
                (Some(_), _) => {
                    "SELECT name FROM thing_groups WHERE parent = ?1 AND name > ?2
                       AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)
                     ORDER BY name LIMIT ?4"
                }
                (None, Some(false)) => {
                    "SELECT name FROM thing_groups WHERE parent IS NULL AND ?1 IS NULL AND name > ?2
                       AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)
                     ORDER BY name LIMIT ?4"
                }
                (None, _) => {
                    "SELECT name FROM thing_groups WHERE ?1 IS NULL AND name > ?2
                       AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)
                     ORDER BY name LIMIT ?4"
                }
            };
            if let Some(parent) = &filter.parent {
                if group_row(tx, parent)?.is_none() {
                    return Err(not_found_group(parent));
                }
            }
            let mut stmt = tx.prepare_cached(sql)?;
            let names = stmt
                .query_map(
                    params![
                        filter.parent,
                        after.unwrap_or(""),
                        filter.name_prefix,
                        limit_param(limit)
                    ],
                    |row| row.get::<_, String>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(names)
        })?;
        let groups = names.into_iter().map(|name| self.group_ref(name)).collect();
        Ok(Page::from_rows(groups, limit, |g: &GroupRef| g.name.clone()))
    }

    /// Adds `thing` to `group` within `tx`; already a member is fine. True if it was added.
    fn add_member(tx: &Transaction<'_>, group: &str, thing: &str) -> Result<bool, RegistryError> {
        let current: Vec<String> = tx
            .prepare_cached("SELECT group_name FROM thing_group_members WHERE thing_name = ?1")?
            .query_map([thing], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if current.iter().any(|g| g == group) {
            return Ok(false);
        }
        if current.len() >= rules::MAX_GROUPS_PER_THING {
            return Err(invalid(format!(
                "Thing {thing} cannot be added to more than {} thing groups",
                rules::MAX_GROUPS_PER_THING
            )));
        }
        let root = root_of(tx, group)?;
        for other in &current {
            if root_of(tx, other)? == root {
                return Err(invalid(format!(
                    "Thing {thing} is already in thing group {other} of the same hierarchy as {group}"
                )));
            }
        }
        tx.prepare_cached(
            "INSERT INTO thing_group_members (group_name, thing_name) VALUES (?1, ?2)",
        )?
        .execute([group, thing])?;
        Ok(true)
    }

    fn check_group_and_thing(
        tx: &Transaction<'_>,
        group: &str,
        thing: &str,
    ) -> Result<(), RegistryError> {
        if group_row(tx, group)?.is_none() {
            return Err(not_found_group(group));
        }
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE name = ?1)")?
            .query_row([thing], |row| row.get(0))?;
        if !exists {
            return Err(RegistryError::NotFound(format!("Thing {thing} cannot be found.")));
        }
        Ok(())
    }

    /// AddThingToThingGroup (names already resolved from ARNs).
    pub async fn add_thing_to_group(&self, group: &str, thing: &str) -> Result<(), RegistryError> {
        rules::check_name("thingGroupName", group)?;
        rules::check_name("thingName", thing)?;
        let (group, thing) = (group.to_owned(), thing.to_owned());
        let registry = self.clone();
        let event = self
            .store
            .execute(move |tx| {
                Registry::check_group_and_thing(tx, &group, &thing)?;
                if Registry::add_member(tx, &group, &thing)? {
                    registry.membership_event(tx, Link::Added, &group, &thing)
                } else {
                    Ok(None)
                }
            })
            .await?;
        self.notify(crate::Change::Authorization);
        self.emit_all(event.into_iter().collect());
        Ok(())
    }

    /// RemoveThingFromThingGroup; a thing that is not a member is fine.
    pub async fn remove_thing_from_group(
        &self,
        group: &str,
        thing: &str,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingGroupName", group)?;
        rules::check_name("thingName", thing)?;
        let (group, thing) = (group.to_owned(), thing.to_owned());
        let registry = self.clone();
        let event = self
            .store
            .execute(move |tx| {
                Registry::check_group_and_thing(tx, &group, &thing)?;
                registry.remove_member(tx, &group, &thing)
            })
            .await?;
        self.notify(crate::Change::Authorization);
        self.emit_all(event.into_iter().collect());
        Ok(())
    }

    /// UpdateThingGroupsForThing: removals, then additions, all or nothing.
    pub async fn update_groups_for_thing(
        &self,
        thing: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingName", thing)?;
        for group in add.iter().chain(&remove) {
            rules::check_name("thingGroupName", group)?;
        }
        let thing = thing.to_owned();
        let registry = self.clone();
        let events = self
            .store
            .execute(move |tx| {
                let mut events = Vec::new();
                for group in &remove {
                    Registry::check_group_and_thing(tx, group, &thing)?;
                    events.extend(registry.remove_member(tx, group, &thing)?);
                }
                for group in &add {
                    Registry::check_group_and_thing(tx, group, &thing)?;
                    if Registry::add_member(tx, group, &thing)? {
                        events.extend(registry.membership_event(tx, Link::Added, group, &thing)?);
                    }
                }
                Ok::<_, RegistryError>(events)
            })
            .await?;
        self.notify(crate::Change::Authorization);
        self.emit_all(events);
        Ok(())
    }

    /// ListThingsInThingGroup: thing names in name order, with `recursive` those of every
    /// descendant group too.
    pub fn list_things_in_group(
        &self,
        group: &str,
        recursive: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, RegistryError> {
        rules::check_name("thingGroupName", group)?;
        let names = self.store.read(|tx| {
            if group_row(tx, group)?.is_none() {
                return Err(not_found_group(group));
            }
            let sql = if recursive {
                "WITH RECURSIVE sub(name) AS (
                     SELECT ?1 UNION SELECT g.name FROM thing_groups g JOIN sub ON g.parent = sub.name)
                 SELECT DISTINCT thing_name FROM thing_group_members
                 WHERE group_name IN (SELECT name FROM sub) AND thing_name > ?2
                 ORDER BY thing_name LIMIT ?3"
            } else {
                "SELECT thing_name FROM thing_group_members WHERE group_name = ?1 AND thing_name > ?2
                 ORDER BY thing_name LIMIT ?3"
            };
            let names = tx
                .prepare_cached(sql)?
                .query_map(params![group, after.unwrap_or(""), limit_param(limit)], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })?;
        Ok(Page::from_rows(names, limit, Clone::clone))
    }

    /// ListThingGroupsForThing: the groups the thing is directly in, in name order.
    pub fn list_groups_for_thing(
        &self,
        thing: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<GroupRef>, RegistryError> {
        rules::check_name("thingName", thing)?;
        let names = self.store.read(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE name = ?1)")?
                .query_row([thing], |row| row.get(0))?;
            if !exists {
                return Err(RegistryError::NotFound(format!("Thing {thing} cannot be found.")));
            }
            let names = tx
                .prepare_cached(
                    "SELECT group_name FROM thing_group_members WHERE thing_name = ?1 AND group_name > ?2
                     ORDER BY group_name LIMIT ?3",
                )?
                .query_map(params![thing, after.unwrap_or(""), limit_param(limit)], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })?;
        let groups = names.into_iter().map(|name| self.group_ref(name)).collect();
        Ok(Page::from_rows(groups, limit, |g: &GroupRef| g.name.clone()))
    }
}

/// Registry events of thing groups and memberships.
impl Registry {
    /// A THING_GROUP event for the group in `row`, as it is after the change.
    fn group_event(
        &self,
        tx: &Transaction<'_>,
        operation: Operation,
        row: &Row,
    ) -> Result<EventBody, RegistryError> {
        let mut root_to_parent = Vec::new();
        for name in ancestors(tx, row.parent.as_deref())? {
            let id = group_row(tx, &name)?.map(|r| r.id).unwrap_or_default();
            root_to_parent
                .push(GroupArnAndId { arn: self.arns.arn(ResourceKind::ThingGroup, &name), id });
        }
        let parent = row.parent.as_ref().map(|name| {
            (name.clone(), root_to_parent.last().map(|g| g.id.clone()).unwrap_or_default())
        });
        Ok(EventBody::ThingGroup {
            operation,
            id: row.id.clone(),
            name: row.name.clone(),
            version: row.version,
            parent,
            description: row.description.clone(),
            root_to_parent,
            attributes: row.attributes.clone(),
        })
    }

    /// A THING_GROUP_HIERARCHY event between the group in `row` and its parent, if any.
    fn hierarchy_event(
        &self,
        tx: &Transaction<'_>,
        operation: Link,
        row: &Row,
    ) -> Result<Option<EventBody>, RegistryError> {
        let Some(parent) = &row.parent else { return Ok(None) };
        let parent_id = group_row(tx, parent)?.map(|r| r.id).unwrap_or_default();
        Ok(Some(EventBody::Hierarchy {
            operation,
            parent_name: parent.clone(),
            parent_id,
            child_name: row.name.clone(),
            child_id: row.id.clone(),
        }))
    }

    /// A THING_GROUP_MEMBERSHIP event, if both the group and the thing exist.
    fn membership_event(
        &self,
        tx: &Transaction<'_>,
        operation: Link,
        group: &str,
        thing: &str,
    ) -> Result<Option<EventBody>, RegistryError> {
        let Some(group_row) = group_row(tx, group)? else { return Ok(None) };
        let thing_id: Option<String> = tx
            .prepare_cached("SELECT id FROM things WHERE name = ?1")?
            .query_row([thing], |row| row.get(0))
            .optional()?;
        let Some(thing_id) = thing_id else { return Ok(None) };
        Ok(Some(EventBody::Membership {
            operation,
            group_name: group.to_owned(),
            group_arn: self.arns.arn(ResourceKind::ThingGroup, group),
            group_id: group_row.id,
            thing_name: thing.to_owned(),
            thing_arn: self.arns.arn(ResourceKind::Thing, thing),
            thing_id,
        }))
    }

    /// Removes `thing` from `group` within `tx`; the removal's event if it was a member.
    fn remove_member(
        &self,
        tx: &Transaction<'_>,
        group: &str,
        thing: &str,
    ) -> Result<Option<EventBody>, RegistryError> {
        let event = self.membership_event(tx, Link::Removed, group, thing)?;
        let removed = tx
            .prepare_cached(
                "DELETE FROM thing_group_members WHERE group_name = ?1 AND thing_name = ?2",
            )?
            .execute([group, thing])?;
        Ok(if removed > 0 { event } else { None })
    }

    /// The membership removals that deleting `thing` implies (call before deleting it).
    pub(crate) fn memberships_removed_with_thing(
        &self,
        tx: &Transaction<'_>,
        thing: &crate::Thing,
    ) -> Result<Vec<EventBody>, RegistryError> {
        let groups: Vec<String> = tx
            .prepare_cached("SELECT group_name FROM thing_group_members WHERE thing_name = ?1")?
            .query_map([&thing.name], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut events = Vec::new();
        for group in &groups {
            events.extend(self.membership_event(tx, Link::Removed, group, &thing.name)?);
        }
        Ok(events)
    }
}
