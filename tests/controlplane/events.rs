//! Registry events: DescribeEventConfigurations / UpdateEventConfigurations through the SDK,
//! and the `$aws/events/...` messages an MQTT subscriber sees when the registry changes.

use aws_sdk_iot::types::{AttributePayload, Configuration, EventType};
use ferrocore_testkit::TestServer;
use rumqttc::QoS;
use serde_json::Value;

use crate::error_of;

fn enabled(on: bool) -> Configuration {
    Configuration::builder().enabled(on).build()
}

async fn enable(iot: &aws_sdk_iot::Client, types: &[EventType]) {
    let mut request = iot.update_event_configurations();
    for t in types {
        request = request.event_configurations(t.clone(), enabled(true));
    }
    request.send().await.unwrap();
}

/// A subscriber to every registry event topic (not to `$aws/events/#`, which also carries
/// lifecycle events).
async fn registry_watcher(server: &TestServer, client_id: &str) -> ferrocore_testkit::V4 {
    let mut watcher = server.v4(client_id).await;
    for kind in [
        "thing",
        "thingType",
        "thingGroup",
        "thingGroupMembership",
        "thingGroupHierarchy",
        "thingTypeAssociation",
    ] {
        watcher.subscribe(&format!("$aws/events/{kind}/#"), QoS::AtLeastOnce).await;
    }
    watcher
}

fn json(publish: &rumqttc::Publish) -> Value {
    serde_json::from_slice(&publish.payload).unwrap()
}

#[tokio::test]
async fn event_configurations_default_to_disabled_and_update() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let described = iot.describe_event_configurations().send().await.unwrap();
    let map = described.event_configurations().unwrap();
    assert_eq!(map.len(), 11, "{map:?}");
    assert!(map.values().all(|c| !c.enabled()), "{map:?}");

    iot.update_event_configurations()
        .event_configurations(EventType::Thing, enabled(true))
        .event_configurations(EventType::ThingGroupMembership, enabled(true))
        .send()
        .await
        .unwrap();
    iot.update_event_configurations()
        .event_configurations(EventType::ThingGroupMembership, enabled(false))
        .event_configurations(EventType::Policy, enabled(true))
        .send()
        .await
        .unwrap();
    let described = iot.describe_event_configurations().send().await.unwrap();
    let map = described.event_configurations().unwrap();
    let on = |t: EventType| map.get(&t).map(Configuration::enabled);
    assert_eq!(on(EventType::Thing), Some(true));
    assert_eq!(on(EventType::Policy), Some(true));
    assert_eq!(on(EventType::ThingGroupMembership), Some(false));
    assert_eq!(on(EventType::ThingGroup), Some(false));
    assert!(described.creation_date().is_some());
    assert!(described.last_modified_date().is_some());
}

#[tokio::test]
async fn unknown_event_type_is_invalid_request() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let (code, status, _) = error_of(
        iot.update_event_configurations()
            .event_configurations(EventType::from("NOT_A_TYPE"), enabled(true))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    // Nothing changed.
    let described = iot.describe_event_configurations().send().await.unwrap();
    assert!(described.event_configurations().unwrap().values().all(|c| !c.enabled()));
}

#[tokio::test]
async fn thing_events_are_published_when_enabled() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    enable(&iot, &[EventType::Thing]).await;
    let mut watcher = server.v4("thing-watcher").await;
    watcher.subscribe("$aws/events/thing/+/+", QoS::AtLeastOnce).await;

    let created = iot
        .create_thing()
        .thing_name("lamp")
        .attribute_payload(AttributePayload::builder().attributes("color", "red").build())
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thing/lamp/created");
    let body = json(&event);
    assert_eq!(body["eventType"], "THING_EVENT");
    assert_eq!(body["operation"], "CREATED");
    assert_eq!(body["thingName"], "lamp");
    assert_eq!(body["thingId"], created.thing_id().unwrap());
    assert_eq!(body["versionNumber"], 1);
    assert_eq!(body["thingTypeName"], Value::Null);
    assert_eq!(body["attributes"]["color"], "red");
    assert_eq!(body["accountId"].as_str().unwrap().len(), 12);
    assert!(body["eventId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body["timestamp"].as_i64().unwrap() > 1_600_000_000_000, "timestamp in ms");

    iot.update_thing()
        .thing_name("lamp")
        .attribute_payload(AttributePayload::builder().attributes("color", "blue").build())
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thing/lamp/updated");
    let body = json(&event);
    assert_eq!(body["operation"], "UPDATED");
    assert_eq!(body["versionNumber"], 2);
    assert_eq!(body["attributes"]["color"], "blue");

    iot.delete_thing().thing_name("lamp").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thing/lamp/deleted");
    let body = json(&event);
    assert_eq!(body["operation"], "DELETED");
    assert_eq!(body["thingId"], created.thing_id().unwrap());

    // Deleting a missing thing changes nothing and publishes nothing.
    iot.delete_thing().thing_name("lamp").send().await.unwrap();
    watcher.no_publish().await;
}

#[tokio::test]
async fn disabled_types_publish_nothing() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    // Only groups are enabled: things and memberships stay quiet.
    enable(&iot, &[EventType::ThingGroup]).await;
    let mut watcher = registry_watcher(&server, "quiet-watcher").await;
    iot.create_thing().thing_name("quiet").send().await.unwrap();
    iot.update_thing()
        .thing_name("quiet")
        .attribute_payload(AttributePayload::builder().attributes("a", "b").build())
        .send()
        .await
        .unwrap();
    watcher.no_publish().await;

    iot.create_thing_group().thing_group_name("loud").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingGroup/loud/created");
    assert_eq!(json(&event)["eventType"], "THING_GROUP_EVENT");
    iot.add_thing_to_thing_group()
        .thing_group_name("loud")
        .thing_name("quiet")
        .send()
        .await
        .unwrap();
    watcher.no_publish().await;

    // Disabled again: nothing more.
    iot.update_event_configurations()
        .event_configurations(EventType::ThingGroup, enabled(false))
        .send()
        .await
        .unwrap();
    iot.create_thing_group().thing_group_name("hushed").send().await.unwrap();
    watcher.no_publish().await;
}

#[tokio::test]
async fn group_membership_and_hierarchy_events() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    enable(&iot, &[EventType::ThingGroupMembership, EventType::ThingGroupHierarchy]).await;
    let mut watcher = registry_watcher(&server, "group-watcher").await;

    let parent = iot.create_thing_group().thing_group_name("site").send().await.unwrap();
    let child = iot
        .create_thing_group()
        .thing_group_name("floor")
        .parent_group_name("site")
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(
        event.topic,
        "$aws/events/thingGroupHierarchy/thingGroup/site/childThingGroup/floor/added"
    );
    let body = json(&event);
    assert_eq!(body["eventType"], "THING_GROUP_HIERARCHY_EVENT");
    assert_eq!(body["operation"], "ADDED");
    assert_eq!(body["thingGroupId"], parent.thing_group_id().unwrap());
    assert_eq!(body["childGroupId"], child.thing_group_id().unwrap());
    assert_eq!(body["childGroupName"], "floor");

    let thing = iot.create_thing().thing_name("sensor").send().await.unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_name("floor")
        .thing_name("sensor")
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingGroupMembership/thingGroup/floor/thing/sensor/added");
    let added = json(&event);
    assert_eq!(added["eventType"], "THING_GROUP_MEMBERSHIP_EVENT");
    assert_eq!(added["operation"], "ADDED");
    assert_eq!(added["groupArn"], child.thing_group_arn().unwrap());
    assert_eq!(added["groupId"], child.thing_group_id().unwrap());
    assert_eq!(added["thingArn"], thing.thing_arn().unwrap());
    assert_eq!(added["thingId"], thing.thing_id().unwrap());
    assert!(added["membershipId"].as_str().is_some());

    // Adding again is not a change.
    iot.add_thing_to_thing_group()
        .thing_group_name("floor")
        .thing_name("sensor")
        .send()
        .await
        .unwrap();
    watcher.no_publish().await;

    iot.remove_thing_from_thing_group()
        .thing_group_name("floor")
        .thing_name("sensor")
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(
        event.topic,
        "$aws/events/thingGroupMembership/thingGroup/floor/thing/sensor/removed"
    );
    let removed = json(&event);
    assert_eq!(removed["operation"], "REMOVED");
    assert_eq!(removed["membershipId"], added["membershipId"]);

    // UpdateThingGroupsForThing adds; deleting the group removes its members and its link.
    iot.update_thing_groups_for_thing()
        .thing_name("sensor")
        .thing_groups_to_add("floor")
        .send()
        .await
        .unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingGroupMembership/thingGroup/floor/thing/sensor/added");
    iot.delete_thing_group().thing_group_name("floor").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(
        event.topic,
        "$aws/events/thingGroupMembership/thingGroup/floor/thing/sensor/removed"
    );
    let event = watcher.publish().await;
    assert_eq!(
        event.topic,
        "$aws/events/thingGroupHierarchy/thingGroup/site/childThingGroup/floor/removed"
    );
    assert_eq!(json(&event)["operation"], "REMOVED");
}

#[tokio::test]
async fn thing_type_and_type_association_events() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    enable(&iot, &[EventType::ThingType, EventType::ThingTypeAssociation]).await;
    let mut watcher = registry_watcher(&server, "type-watcher").await;

    let created = iot.create_thing_type().thing_type_name("Lamp").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingType/Lamp/created");
    let body = json(&event);
    assert_eq!(body["eventType"], "THING_TYPE_EVENT");
    assert_eq!(body["operation"], "CREATED");
    assert_eq!(body["thingTypeId"], created.thing_type_id().unwrap());
    assert_eq!(body["isDeprecated"], false);

    let thing = iot.create_thing().thing_name("bulb").thing_type_name("Lamp").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingTypeAssociation/thing/bulb/thingType/Lamp/added");
    let body = json(&event);
    assert_eq!(body["eventType"], "THING_TYPE_ASSOCIATION_EVENT");
    assert_eq!(body["operation"], "ADDED");
    assert_eq!(body["thingId"], thing.thing_id().unwrap());

    iot.update_thing().thing_name("bulb").remove_thing_type(true).send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingTypeAssociation/thing/bulb/thingType/Lamp/removed");

    iot.deprecate_thing_type().thing_type_name("Lamp").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingType/Lamp/updated");
    assert_eq!(json(&event)["isDeprecated"], true);
    iot.delete_thing_type().thing_type_name("Lamp").send().await.unwrap();
    let event = watcher.publish().await;
    assert_eq!(event.topic, "$aws/events/thingType/Lamp/deleted");
    assert_eq!(json(&event)["operation"], "DELETED");
}
