//! Registry events: what AWS IoT Core publishes on `$aws/events/...` when registry resources
//! change, if the event type is enabled (UpdateEventConfigurations).
//!
//! - [`RegistryEvent`] is a committed change, broadcast by the registry after the commit
//!   (see [`Registry::subscribe_events`]). It is emitted whether or not its type is enabled.
//! - [`render`] is pure: an event's AWS topic and JSON payload.
//! - The enabled set ([`EventConfigurations`]) lives in the `settings` table, under
//!   [`SETTINGS_KEY`]; every type is disabled until enabled, as on AWS.
//! - [`spawn_publisher`] forwards the events of enabled types to a publish function (the
//!   server passes one that publishes through the broker).

use std::collections::BTreeMap;
use std::future::Future;

use ferrocore_store::rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::{RegistryError, invalid};
use crate::rules::Attributes;
use crate::{Registry, now_ms};

/// The `settings` key of the event configurations (a JSON [`Stored`] document).
pub const SETTINGS_KEY: &str = "event_configurations";

/// botocore's `EventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// `THING`.
    Thing,
    /// `THING_GROUP`.
    ThingGroup,
    /// `THING_TYPE`.
    ThingType,
    /// `THING_GROUP_MEMBERSHIP`.
    ThingGroupMembership,
    /// `THING_GROUP_HIERARCHY`.
    ThingGroupHierarchy,
    /// `THING_TYPE_ASSOCIATION`.
    ThingTypeAssociation,
    /// `JOB`.
    Job,
    /// `JOB_EXECUTION`.
    JobExecution,
    /// `POLICY`.
    Policy,
    /// `CERTIFICATE`.
    Certificate,
    /// `CA_CERTIFICATE`.
    CaCertificate,
}

impl EventType {
    /// Every event type, in the model's order.
    pub const ALL: [EventType; 11] = [
        EventType::Thing,
        EventType::ThingGroup,
        EventType::ThingType,
        EventType::ThingGroupMembership,
        EventType::ThingGroupHierarchy,
        EventType::ThingTypeAssociation,
        EventType::Job,
        EventType::JobExecution,
        EventType::Policy,
        EventType::Certificate,
        EventType::CaCertificate,
    ];

    /// The model's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Thing => "THING",
            EventType::ThingGroup => "THING_GROUP",
            EventType::ThingType => "THING_TYPE",
            EventType::ThingGroupMembership => "THING_GROUP_MEMBERSHIP",
            EventType::ThingGroupHierarchy => "THING_GROUP_HIERARCHY",
            EventType::ThingTypeAssociation => "THING_TYPE_ASSOCIATION",
            EventType::Job => "JOB",
            EventType::JobExecution => "JOB_EXECUTION",
            EventType::Policy => "POLICY",
            EventType::Certificate => "CERTIFICATE",
            EventType::CaCertificate => "CA_CERTIFICATE",
        }
    }

    /// The type named `name` (the model's name), if any.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The event configurations: which types are enabled, and when they were set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConfigurations {
    /// Every event type, enabled or not.
    pub enabled: BTreeMap<EventType, bool>,
    /// When the configuration was first set, ms; `None` before any update.
    pub creation_ms: Option<i64>,
    /// When it was last set, ms.
    pub last_modified_ms: Option<i64>,
}

impl EventConfigurations {
    /// Whether events of `event_type` are published.
    pub fn is_enabled(&self, event_type: EventType) -> bool {
        self.enabled.get(&event_type).copied().unwrap_or(false)
    }
}

/// The stored form of [`EventConfigurations`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    enabled: Vec<String>,
    creation_ms: i64,
    last_modified_ms: i64,
}

/// CREATED, UPDATED or DELETED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// The resource was created.
    Created,
    /// The resource was updated.
    Updated,
    /// The resource was deleted.
    Deleted,
}

impl Operation {
    fn upper(self) -> &'static str {
        match self {
            Operation::Created => "CREATED",
            Operation::Updated => "UPDATED",
            Operation::Deleted => "DELETED",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Operation::Created => "created",
            Operation::Updated => "updated",
            Operation::Deleted => "deleted",
        }
    }
}

/// ADDED or REMOVED (memberships, hierarchy, type associations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The link was made.
    Added,
    /// The link was removed.
    Removed,
}

impl Link {
    fn upper(self) -> &'static str {
        match self {
            Link::Added => "ADDED",
            Link::Removed => "REMOVED",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Link::Added => "added",
            Link::Removed => "removed",
        }
    }
}

/// A group's ARN and id, as in `rootToParentThingGroups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupArnAndId {
    /// The group's ARN.
    pub arn: String,
    /// The group's id.
    pub id: String,
}

/// What changed, with the fields AWS's payload carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// A thing was created, updated or deleted.
    Thing {
        /// What happened.
        operation: Operation,
        /// The thing's id.
        id: String,
        /// The thing's name.
        name: String,
        /// Its version after the change (the last version when deleted).
        version: i64,
        /// Its thing type.
        type_name: Option<String>,
        /// Its attributes.
        attributes: Attributes,
    },
    /// A thing type was created, updated (deprecation included) or deleted.
    ThingType {
        /// What happened.
        operation: Operation,
        /// The type's id.
        id: String,
        /// The type's name.
        name: String,
        /// Whether it is deprecated.
        deprecated: bool,
        /// When it was deprecated, ms.
        deprecation_ms: Option<i64>,
        /// Its searchable attributes.
        searchable_attributes: Vec<String>,
        /// Its description.
        description: Option<String>,
    },
    /// A thing group was created, updated or deleted.
    ThingGroup {
        /// What happened.
        operation: Operation,
        /// The group's id.
        id: String,
        /// The group's name.
        name: String,
        /// Its version after the change.
        version: i64,
        /// The parent's name and id.
        parent: Option<(String, String)>,
        /// Its description.
        description: Option<String>,
        /// Its ancestors, root first.
        root_to_parent: Vec<GroupArnAndId>,
        /// Its attributes.
        attributes: Attributes,
    },
    /// A thing joined or left a thing group.
    Membership {
        /// Added or removed.
        operation: Link,
        /// The group's name.
        group_name: String,
        /// The group's ARN.
        group_arn: String,
        /// The group's id.
        group_id: String,
        /// The thing's name.
        thing_name: String,
        /// The thing's ARN.
        thing_arn: String,
        /// The thing's id.
        thing_id: String,
    },
    /// A child group was created under, or deleted from, a parent group.
    Hierarchy {
        /// Added or removed.
        operation: Link,
        /// The parent's name.
        parent_name: String,
        /// The parent's id.
        parent_id: String,
        /// The child's name.
        child_name: String,
        /// The child's id.
        child_id: String,
    },
    /// A thing got or lost a thing type.
    TypeAssociation {
        /// Added or removed.
        operation: Link,
        /// The thing's id.
        thing_id: String,
        /// The thing's name.
        thing_name: String,
        /// The thing type.
        type_name: String,
    },
}

impl EventBody {
    /// The configuration key that enables this event.
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::Thing { .. } => EventType::Thing,
            EventBody::ThingType { .. } => EventType::ThingType,
            EventBody::ThingGroup { .. } => EventType::ThingGroup,
            EventBody::Membership { .. } => EventType::ThingGroupMembership,
            EventBody::Hierarchy { .. } => EventType::ThingGroupHierarchy,
            EventBody::TypeAssociation { .. } => EventType::ThingTypeAssociation,
        }
    }
}

/// A committed registry change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEvent {
    /// A UUID, `eventId`.
    pub id: String,
    /// When it happened, ms since the epoch.
    pub timestamp_ms: i64,
    /// What happened.
    pub body: EventBody,
}

/// AWS's `membershipId`: the same for a thing and a group each time, so that the removal's
/// id matches the addition's. Derived from both ids (a UUID when both are UUIDs).
fn membership_id(group_id: &str, thing_id: &str) -> String {
    match (uuid::Uuid::parse_str(group_id), uuid::Uuid::parse_str(thing_id)) {
        (Ok(g), Ok(t)) => {
            uuid::Uuid::from_u128(g.as_u128() ^ t.as_u128().rotate_left(64)).to_string()
        }
        _ => format!("{group_id}-{thing_id}"),
    }
}

fn attributes_json(attributes: &Attributes) -> Value {
    Value::Object(attributes.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// The topic and JSON payload AWS IoT Core publishes for `event` in account `account_id`.
pub fn render(event: &RegistryEvent, account_id: &str) -> (String, Value) {
    let (topic, event_type, mut fields) = match &event.body {
        EventBody::Thing { operation, id, name, version, type_name, attributes } => (
            format!("$aws/events/thing/{name}/{}", operation.lower()),
            "THING_EVENT",
            json!({
                "operation": operation.upper(),
                "accountId": account_id,
                "thingId": id,
                "thingName": name,
                "versionNumber": version,
                "thingTypeName": type_name,
                "attributes": attributes_json(attributes),
            }),
        ),
        EventBody::ThingType {
            operation,
            id,
            name,
            deprecated,
            deprecation_ms,
            searchable_attributes,
            description,
        } => (
            format!("$aws/events/thingType/{name}/{}", operation.lower()),
            "THING_TYPE_EVENT",
            json!({
                "operation": operation.upper(),
                "accountId": account_id,
                "thingTypeId": id,
                "thingTypeName": name,
                "isDeprecated": deprecated,
                "deprecationDate": deprecation_ms,
                "searchableAttributes": searchable_attributes,
                "description": description,
            }),
        ),
        EventBody::ThingGroup {
            operation,
            id,
            name,
            version,
            parent,
            description,
            root_to_parent,
            attributes,
        } => (
            format!("$aws/events/thingGroup/{name}/{}", operation.lower()),
            "THING_GROUP_EVENT",
            json!({
                "operation": operation.upper(),
                "accountId": account_id,
                "thingGroupId": id,
                "thingGroupName": name,
                "versionNumber": version,
                "parentGroupName": parent.as_ref().map(|(n, _)| n),
                "parentGroupId": parent.as_ref().map(|(_, i)| i),
                "description": description,
                "rootToParentThingGroups": root_to_parent
                    .iter()
                    .map(|g| json!({"groupArn": g.arn, "groupId": g.id}))
                    .collect::<Vec<_>>(),
                "attributes": attributes_json(attributes),
                "dynamicGroupMappingId": null,
            }),
        ),
        EventBody::Membership {
            operation,
            group_name,
            group_arn,
            group_id,
            thing_name,
            thing_arn,
            thing_id,
        } => (
            format!(
                "$aws/events/thingGroupMembership/thingGroup/{group_name}/thing/{thing_name}/{}",
                operation.lower()
            ),
            "THING_GROUP_MEMBERSHIP_EVENT",
            json!({
                "operation": operation.upper(),
                "accountId": account_id,
                "groupArn": group_arn,
                "groupId": group_id,
                "thingArn": thing_arn,
                "thingId": thing_id,
                "membershipId": membership_id(group_id, thing_id),
            }),
        ),
        EventBody::Hierarchy { operation, parent_name, parent_id, child_name, child_id } => (
            format!(
                "$aws/events/thingGroupHierarchy/thingGroup/{parent_name}/childThingGroup/{child_name}/{}",
                operation.lower()
            ),
            "THING_GROUP_HIERARCHY_EVENT",
            json!({
                "operation": operation.upper(),
                "accountId": account_id,
                "thingGroupId": parent_id,
                "thingGroupName": parent_name,
                "childGroupId": child_id,
                "childGroupName": child_name,
            }),
        ),
        EventBody::TypeAssociation { operation, thing_id, thing_name, type_name } => (
            format!(
                "$aws/events/thingTypeAssociation/thing/{thing_name}/thingType/{type_name}/{}",
                operation.lower()
            ),
            "THING_TYPE_ASSOCIATION_EVENT",
            json!({
                "operation": operation.upper(),
                "thingId": thing_id,
                "thingName": thing_name,
                "thingTypeName": type_name,
            }),
        ),
    };
    if let Value::Object(map) = &mut fields {
        map.insert("eventType".into(), json!(event_type));
        map.insert("eventId".into(), json!(event.id));
        map.insert("timestamp".into(), json!(event.timestamp_ms));
    }
    (topic, fields)
}

/// The broadcast of [`RegistryEvent`]s.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    sender: broadcast::Sender<RegistryEvent>,
}

impl Events {
    pub(crate) fn new() -> Events {
        let (sender, _) = broadcast::channel(1024);
        Events { sender }
    }
}

fn stored_in(tx: &Transaction<'_>) -> Result<Option<Stored>, RegistryError> {
    let text: Option<String> = tx
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([SETTINGS_KEY], |row| row.get(0))
        .optional()?;
    Ok(text.map(|text| serde_json::from_str(&text)).transpose()?)
}

impl Registry {
    /// Registry events as they are committed, of every type (enabled or not).
    pub fn subscribe_events(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.sender.subscribe()
    }

    /// Broadcasts `body` as a new event: call it after the change has committed.
    pub(crate) fn emit(&self, body: EventBody) {
        // Nobody listening is fine.
        let _ = self.events.sender.send(RegistryEvent {
            id: uuid::Uuid::new_v4().to_string(),
            timestamp_ms: now_ms(),
            body,
        });
    }

    /// Broadcasts each of `bodies`.
    pub(crate) fn emit_all(&self, bodies: Vec<EventBody>) {
        for body in bodies {
            self.emit(body);
        }
    }

    /// DescribeEventConfigurations: every type, all disabled until set.
    pub fn event_configurations(&self) -> Result<EventConfigurations, RegistryError> {
        let stored = self.store.read(stored_in)?;
        let mut enabled: BTreeMap<EventType, bool> =
            EventType::ALL.into_iter().map(|t| (t, false)).collect();
        let (mut creation_ms, mut last_modified_ms) = (None, None);
        if let Some(stored) = stored {
            for name in &stored.enabled {
                if let Some(t) = EventType::parse(name) {
                    enabled.insert(t, true);
                }
            }
            creation_ms = Some(stored.creation_ms);
            last_modified_ms = Some(stored.last_modified_ms);
        }
        Ok(EventConfigurations { enabled, creation_ms, last_modified_ms })
    }

    /// UpdateEventConfigurations: sets the given types; others keep their setting. Names are
    /// the model's `EventType` values; an unknown one is `InvalidRequest`.
    pub async fn update_event_configurations(
        &self,
        changes: Vec<(String, bool)>,
    ) -> Result<(), RegistryError> {
        let mut parsed = Vec::with_capacity(changes.len());
        for (name, enabled) in changes {
            let t = EventType::parse(&name)
                .ok_or_else(|| invalid(format!("Event type {name} is not valid")))?;
            parsed.push((t, enabled));
        }
        self.store
            .execute(move |tx| {
                let now = now_ms();
                let stored = stored_in(tx)?;
                let creation_ms = stored.as_ref().map_or(now, |s| s.creation_ms);
                let mut enabled: Vec<EventType> = stored
                    .map(|s| s.enabled.iter().filter_map(|n| EventType::parse(n)).collect())
                    .unwrap_or_default();
                for (t, on) in parsed {
                    enabled.retain(|e| *e != t);
                    if on {
                        enabled.push(t);
                    }
                }
                enabled.sort();
                let stored = Stored {
                    enabled: enabled.iter().map(|t| t.as_str().to_owned()).collect(),
                    creation_ms,
                    last_modified_ms: now,
                };
                tx.prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![SETTINGS_KEY, serde_json::to_string(&stored)?])?;
                Ok::<_, RegistryError>(())
            })
            .await
    }
}

/// Forwards the registry's events of enabled types to `publish(topic, payload)` until
/// `shutdown` completes. Must be called within a Tokio runtime.
pub fn spawn_publisher<P, S>(
    registry: Registry,
    publish: P,
    shutdown: S,
) -> tokio::task::JoinHandle<()>
where
    P: Fn(String, Vec<u8>) + Send + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    let mut events = registry.subscribe_events();
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                () = &mut shutdown => break,
                event = events.recv() => event,
            };
            let event = match event {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "registry event publisher fell behind");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            match registry.event_configurations() {
                Ok(config) if config.is_enabled(event.body.event_type()) => {}
                Ok(_) => continue,
                Err(error) => {
                    tracing::error!(%error, "cannot read the event configurations");
                    continue;
                }
            }
            let (topic, payload) = render(&event, &registry.arns().account);
            match serde_json::to_vec(&payload) {
                Ok(bytes) => publish(topic, bytes),
                Err(error) => tracing::error!(%error, "cannot encode a registry event"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(body: EventBody) -> RegistryEvent {
        RegistryEvent { id: "e-1".into(), timestamp_ms: 1_234_567_890_123, body }
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn registry(dir: &tempfile::TempDir) -> Registry {
        let config = ferrocore_store::StoreConfig {
            synchronous: ferrocore_store::Durability::Normal,
            ..ferrocore_store::StoreConfig::new(dir.path().join("r.db"))
        };
        let arns = crate::Arns { region: "us-east-1".into(), account: "123456789012".into() };
        Registry::new(ferrocore_store::Store::open(config).unwrap(), arns)
    }

    #[tokio::test]
    async fn configurations_default_to_disabled_and_updates_merge() {
        let dir = tempfile::tempdir().unwrap();
        let registry = registry(&dir);
        let config = registry.event_configurations().unwrap();
        assert_eq!(config.enabled.len(), 11);
        assert!(config.enabled.values().all(|on| !on));
        assert_eq!(config.creation_ms, None);
        registry
            .update_event_configurations(vec![("THING".into(), true), ("POLICY".into(), true)])
            .await
            .unwrap();
        registry.update_event_configurations(vec![("POLICY".into(), false)]).await.unwrap();
        let config = registry.event_configurations().unwrap();
        assert!(config.is_enabled(EventType::Thing));
        assert!(!config.is_enabled(EventType::Policy));
        assert!(config.creation_ms.is_some());
        let error = registry.update_event_configurations(vec![("NOPE".into(), true)]).await;
        assert!(matches!(error, Err(RegistryError::InvalidRequest(_))), "{error:?}");
    }

    #[tokio::test]
    async fn committed_changes_emit_events_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let registry = registry(&dir);
        let mut events = registry.subscribe_events();
        let thing = crate::NewThing { name: "t".into(), ..crate::NewThing::default() };
        registry.create_thing(thing.clone()).await.unwrap();
        // An identical re-create changes nothing and emits nothing.
        registry.create_thing(thing).await.unwrap();
        let group = crate::NewThingGroup { name: "g".into(), ..crate::NewThingGroup::default() };
        registry.create_thing_group(group).await.unwrap();
        registry.add_thing_to_group("g", "t").await.unwrap();
        registry.add_thing_to_group("g", "t").await.unwrap();
        registry.delete_thing("t", None).await.unwrap();
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            let (topic, _) = render(&event, "123456789012");
            seen.push(topic);
        }
        assert_eq!(
            seen,
            [
                "$aws/events/thing/t/created",
                "$aws/events/thingGroup/g/created",
                "$aws/events/thingGroupMembership/thingGroup/g/thing/t/added",
                "$aws/events/thingGroupMembership/thingGroup/g/thing/t/removed",
                "$aws/events/thing/t/deleted",
            ]
        );
    }

    #[test]
    fn event_type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("THINGS"), None);
    }

    #[test]
    fn thing_event_renders_aws_topic_and_fields() {
        let mut attributes = Attributes::new();
        attributes.insert("a".into(), "1".into());
        let (topic, payload) = render(
            &event(EventBody::Thing {
                operation: Operation::Created,
                id: "t-id".into(),
                name: "MyThing".into(),
                version: 1,
                type_name: None,
                attributes,
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thing/MyThing/created");
        assert_eq!(
            keys(&payload),
            [
                "accountId",
                "attributes",
                "eventId",
                "eventType",
                "operation",
                "thingId",
                "thingName",
                "thingTypeName",
                "timestamp",
                "versionNumber"
            ]
        );
        assert_eq!(payload["eventType"], "THING_EVENT");
        assert_eq!(payload["operation"], "CREATED");
        assert_eq!(payload["accountId"], "123456789012");
        assert_eq!(payload["thingTypeName"], Value::Null);
        assert_eq!(payload["versionNumber"], 1);
        assert_eq!(payload["timestamp"], 1_234_567_890_123_i64);
        assert_eq!(payload["eventId"], "e-1");
        assert_eq!(payload["attributes"], json!({"a": "1"}));

        let (topic, payload) = render(
            &event(EventBody::Thing {
                operation: Operation::Deleted,
                id: "t-id".into(),
                name: "MyThing".into(),
                version: 3,
                type_name: Some("Lamp".into()),
                attributes: Attributes::new(),
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thing/MyThing/deleted");
        assert_eq!(payload["operation"], "DELETED");
        assert_eq!(payload["thingTypeName"], "Lamp");
    }

    #[test]
    fn thing_type_event_renders_aws_fields() {
        let (topic, payload) = render(
            &event(EventBody::ThingType {
                operation: Operation::Updated,
                id: "tt".into(),
                name: "Lamp".into(),
                deprecated: true,
                deprecation_ms: Some(5),
                searchable_attributes: vec!["color".into()],
                description: None,
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thingType/Lamp/updated");
        assert_eq!(
            keys(&payload),
            [
                "accountId",
                "deprecationDate",
                "description",
                "eventId",
                "eventType",
                "isDeprecated",
                "operation",
                "searchableAttributes",
                "thingTypeId",
                "thingTypeName",
                "timestamp"
            ]
        );
        assert_eq!(payload["eventType"], "THING_TYPE_EVENT");
        assert_eq!(payload["isDeprecated"], true);
        assert_eq!(payload["searchableAttributes"], json!(["color"]));
    }

    #[test]
    fn thing_group_event_renders_aws_fields() {
        let (topic, payload) = render(
            &event(EventBody::ThingGroup {
                operation: Operation::Created,
                id: "g".into(),
                name: "Child".into(),
                version: 1,
                parent: Some(("Parent".into(), "p".into())),
                description: Some("d".into()),
                root_to_parent: vec![GroupArnAndId { arn: "arn:p".into(), id: "p".into() }],
                attributes: Attributes::new(),
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thingGroup/Child/created");
        assert_eq!(
            keys(&payload),
            [
                "accountId",
                "attributes",
                "description",
                "dynamicGroupMappingId",
                "eventId",
                "eventType",
                "operation",
                "parentGroupId",
                "parentGroupName",
                "rootToParentThingGroups",
                "thingGroupId",
                "thingGroupName",
                "timestamp",
                "versionNumber"
            ]
        );
        assert_eq!(payload["eventType"], "THING_GROUP_EVENT");
        assert_eq!(payload["parentGroupName"], "Parent");
        assert_eq!(
            payload["rootToParentThingGroups"],
            json!([{"groupArn": "arn:p", "groupId": "p"}])
        );
    }

    #[test]
    fn membership_event_renders_aws_topic_and_stable_id() {
        let g = uuid::Uuid::new_v4().to_string();
        let t = uuid::Uuid::new_v4().to_string();
        let body = |operation| EventBody::Membership {
            operation,
            group_name: "G".into(),
            group_arn: "arn:g".into(),
            group_id: g.clone(),
            thing_name: "T".into(),
            thing_arn: "arn:t".into(),
            thing_id: t.clone(),
        };
        let (topic, added) = render(&event(body(Link::Added)), "123456789012");
        assert_eq!(topic, "$aws/events/thingGroupMembership/thingGroup/G/thing/T/added");
        assert_eq!(
            keys(&added),
            [
                "accountId",
                "eventId",
                "eventType",
                "groupArn",
                "groupId",
                "membershipId",
                "operation",
                "thingArn",
                "thingId",
                "timestamp"
            ]
        );
        assert_eq!(added["eventType"], "THING_GROUP_MEMBERSHIP_EVENT");
        assert_eq!(added["operation"], "ADDED");
        let (topic, removed) = render(&event(body(Link::Removed)), "123456789012");
        assert_eq!(topic, "$aws/events/thingGroupMembership/thingGroup/G/thing/T/removed");
        assert_eq!(removed["operation"], "REMOVED");
        assert_eq!(added["membershipId"], removed["membershipId"]);
    }

    #[test]
    fn hierarchy_and_type_association_render_aws_topics() {
        let (topic, payload) = render(
            &event(EventBody::Hierarchy {
                operation: Link::Added,
                parent_name: "P".into(),
                parent_id: "p".into(),
                child_name: "C".into(),
                child_id: "c".into(),
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thingGroupHierarchy/thingGroup/P/childThingGroup/C/added");
        assert_eq!(payload["eventType"], "THING_GROUP_HIERARCHY_EVENT");
        assert_eq!(payload["thingGroupName"], "P");
        assert_eq!(payload["childGroupId"], "c");
        let (topic, payload) = render(
            &event(EventBody::TypeAssociation {
                operation: Link::Removed,
                thing_id: "t".into(),
                thing_name: "T".into(),
                type_name: "Lamp".into(),
            }),
            "123456789012",
        );
        assert_eq!(topic, "$aws/events/thingTypeAssociation/thing/T/thingType/Lamp/removed");
        assert_eq!(payload["eventType"], "THING_TYPE_ASSOCIATION_EVENT");
        assert_eq!(payload["operation"], "REMOVED");
    }
}
