//! Static thing groups and membership through the SDK.

use aws_sdk_iot::types::{AttributePayload, ThingGroupProperties};
use ferrocore_testkit::TestServer;

use crate::error_of;

fn group_properties(description: &str, attributes: &[(&str, &str)]) -> ThingGroupProperties {
    let mut payload = AttributePayload::builder();
    for (k, v) in attributes {
        payload = payload.attributes(*k, *v);
    }
    ThingGroupProperties::builder()
        .thing_group_description(description)
        .attribute_payload(payload.build())
        .build()
}

#[tokio::test]
async fn hierarchy_describe_update_delete() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let root = iot
        .create_thing_group()
        .thing_group_name("building")
        .thing_group_properties(group_properties("HQ", &[("city", "paris")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        root.thing_group_arn(),
        Some("arn:aws:iot:us-east-1:000000000000:thinggroup/building")
    );
    iot.create_thing_group()
        .thing_group_name("floor-1")
        .parent_group_name("building")
        .send()
        .await
        .unwrap();
    iot.create_thing_group()
        .thing_group_name("room-101")
        .parent_group_name("floor-1")
        .send()
        .await
        .unwrap();

    let room = iot.describe_thing_group().thing_group_name("room-101").send().await.unwrap();
    assert_eq!(room.version(), 1);
    let metadata = room.thing_group_metadata().unwrap();
    assert_eq!(metadata.parent_group_name(), Some("floor-1"));
    let chain: Vec<_> =
        metadata.root_to_parent_thing_groups().iter().map(|g| g.group_name().unwrap()).collect();
    assert_eq!(chain, ["building", "floor-1"]);
    assert_eq!(
        metadata.root_to_parent_thing_groups()[0].group_arn(),
        Some("arn:aws:iot:us-east-1:000000000000:thinggroup/building")
    );
    assert!(metadata.creation_date().is_some());

    let building = iot.describe_thing_group().thing_group_name("building").send().await.unwrap();
    let props = building.thing_group_properties().unwrap();
    assert_eq!(props.thing_group_description(), Some("HQ"));
    assert_eq!(props.attribute_payload().unwrap().attributes().unwrap()["city"], "paris");

    // Identical re-create returns the group; a different one exists already.
    let again = iot
        .create_thing_group()
        .thing_group_name("building")
        .thing_group_properties(group_properties("HQ", &[("city", "paris")]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.thing_group_id(), root.thing_group_id());
    let (code, status, _) =
        error_of(iot.create_thing_group().thing_group_name("building").send().await);
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));
    let (code, _, _) = error_of(
        iot.create_thing_group().thing_group_name("orphan").parent_group_name("ghost").send().await,
    );
    assert_eq!(code, "InvalidRequestException");

    // Update with expectedVersion.
    let updated = iot
        .update_thing_group()
        .thing_group_name("building")
        .thing_group_properties(group_properties("Head office", &[("zip", "75001")]))
        .expected_version(1)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.version(), 2);
    let (code, status, _) = error_of(
        iot.update_thing_group()
            .thing_group_name("building")
            .thing_group_properties(group_properties("x", &[]))
            .expected_version(1)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("VersionConflictException", 409));
    let building = iot.describe_thing_group().thing_group_name("building").send().await.unwrap();
    assert_eq!(building.version(), 2);
    let attrs = building
        .thing_group_properties()
        .unwrap()
        .attribute_payload()
        .unwrap()
        .attributes()
        .unwrap();
    assert_eq!(attrs.len(), 1, "replaced: {attrs:?}");
    let (code, _, _) = error_of(
        iot.update_thing_group()
            .thing_group_name("ghost")
            .thing_group_properties(group_properties("x", &[]))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");

    // Delete: refused while child groups remain; a stale version conflicts.
    let (code, _, message) =
        error_of(iot.delete_thing_group().thing_group_name("floor-1").send().await);
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("child groups"), "{message}");
    let (code, _, _) = error_of(
        iot.delete_thing_group().thing_group_name("room-101").expected_version(5).send().await,
    );
    assert_eq!(code, "VersionConflictException");
    iot.delete_thing_group().thing_group_name("room-101").expected_version(1).send().await.unwrap();
    iot.delete_thing_group().thing_group_name("floor-1").send().await.unwrap();
    let (code, _, _) =
        error_of(iot.describe_thing_group().thing_group_name("floor-1").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    // A missing group deletes fine.
    iot.delete_thing_group().thing_group_name("floor-1").send().await.unwrap();
}

#[tokio::test]
async fn depth_is_limited_to_seven() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    iot.create_thing_group().thing_group_name("g1").send().await.unwrap();
    for level in 2..=7 {
        iot.create_thing_group()
            .thing_group_name(format!("g{level}"))
            .parent_group_name(format!("g{}", level - 1))
            .send()
            .await
            .unwrap();
    }
    let (code, _, message) = error_of(
        iot.create_thing_group().thing_group_name("g8").parent_group_name("g7").send().await,
    );
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("7"), "{message}");
    let deepest = iot.describe_thing_group().thing_group_name("g7").send().await.unwrap();
    assert_eq!(deepest.thing_group_metadata().unwrap().root_to_parent_thing_groups().len(), 6);
}

#[tokio::test]
async fn list_by_parent_prefix_and_recursively() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    for (name, parent) in
        [("a", None), ("a-1", Some("a")), ("a-2", Some("a")), ("a-1-x", Some("a-1")), ("b", None)]
    {
        let mut create = iot.create_thing_group().thing_group_name(name);
        if let Some(parent) = parent {
            create = create.parent_group_name(parent);
        }
        create.send().await.unwrap();
    }
    let names = |out: &aws_sdk_iot::operation::list_thing_groups::ListThingGroupsOutput| {
        out.thing_groups().iter().map(|g| g.group_name().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let all = iot.list_thing_groups().send().await.unwrap();
    assert_eq!(names(&all), ["a", "a-1", "a-1-x", "a-2", "b"]);
    let roots = iot.list_thing_groups().recursive(false).send().await.unwrap();
    assert_eq!(names(&roots), ["a", "b"]);
    let children = iot.list_thing_groups().parent_group("a").send().await.unwrap();
    assert_eq!(names(&children), ["a-1", "a-2"]);
    let descendants =
        iot.list_thing_groups().parent_group("a").recursive(true).send().await.unwrap();
    assert_eq!(names(&descendants), ["a-1", "a-1-x", "a-2"]);
    let prefixed = iot.list_thing_groups().name_prefix_filter("a-1").send().await.unwrap();
    assert_eq!(names(&prefixed), ["a-1", "a-1-x"]);
    let page = iot.list_thing_groups().max_results(2).send().await.unwrap();
    assert_eq!(names(&page), ["a", "a-1"]);
    let rest = iot
        .list_thing_groups()
        .max_results(10)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(names(&rest), ["a-1-x", "a-2", "b"]);
    let (code, _, _) = error_of(iot.list_thing_groups().parent_group("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn membership_by_name_and_arn() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    iot.create_thing_group().thing_group_name("site").send().await.unwrap();
    iot.create_thing_group()
        .thing_group_name("zone")
        .parent_group_name("site")
        .send()
        .await
        .unwrap();
    iot.create_thing_group().thing_group_name("other").send().await.unwrap();
    for name in ["t1", "t2", "t3"] {
        iot.create_thing().thing_name(name).send().await.unwrap();
    }
    iot.add_thing_to_thing_group().thing_group_name("site").thing_name("t1").send().await.unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_arn("arn:aws:iot:us-east-1:000000000000:thinggroup/zone")
        .thing_arn("arn:aws:iot:us-east-1:000000000000:thing/t2")
        .send()
        .await
        .unwrap();
    // Adding twice is fine.
    iot.add_thing_to_thing_group().thing_group_name("site").thing_name("t1").send().await.unwrap();

    let direct = iot.list_things_in_thing_group().thing_group_name("site").send().await.unwrap();
    assert_eq!(direct.things(), ["t1"]);
    let recursive = iot
        .list_things_in_thing_group()
        .thing_group_name("site")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert_eq!(recursive.things(), ["t1", "t2"]);

    // A thing is in at most one group of a hierarchy.
    let (code, _, message) = error_of(
        iot.add_thing_to_thing_group().thing_group_name("zone").thing_name("t1").send().await,
    );
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("hierarchy"), "{message}");

    iot.add_thing_to_thing_group().thing_group_name("other").thing_name("t1").send().await.unwrap();
    let groups = iot.list_thing_groups_for_thing().thing_name("t1").send().await.unwrap();
    let names: Vec<_> = groups.thing_groups().iter().map(|g| g.group_name().unwrap()).collect();
    assert_eq!(names, ["other", "site"]);

    // Missing things and groups.
    let (code, _, _) = error_of(
        iot.add_thing_to_thing_group().thing_group_name("ghost").thing_name("t1").send().await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(
        iot.add_thing_to_thing_group().thing_group_name("site").thing_name("ghost").send().await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.add_thing_to_thing_group().thing_group_name("site").send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(iot.list_thing_groups_for_thing().thing_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.list_things_in_thing_group().thing_group_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    iot.remove_thing_from_thing_group()
        .thing_group_name("site")
        .thing_name("t1")
        .send()
        .await
        .unwrap();
    let direct = iot.list_things_in_thing_group().thing_group_name("site").send().await.unwrap();
    assert!(direct.things().is_empty());

    // UpdateThingGroupsForThing: all or nothing.
    iot.update_thing_groups_for_thing()
        .thing_name("t3")
        .thing_groups_to_add("site")
        .thing_groups_to_add("other")
        .send()
        .await
        .unwrap();
    let (code, _, _) = error_of(
        iot.update_thing_groups_for_thing()
            .thing_name("t3")
            .thing_groups_to_remove("site")
            .thing_groups_to_add("ghost")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let groups = iot.list_thing_groups_for_thing().thing_name("t3").send().await.unwrap();
    assert_eq!(groups.thing_groups().len(), 2, "the failed update changed nothing");
    iot.update_thing_groups_for_thing()
        .thing_name("t3")
        .thing_groups_to_remove("site")
        .thing_groups_to_add("zone")
        .send()
        .await
        .unwrap();
    let groups = iot.list_thing_groups_for_thing().thing_name("t3").send().await.unwrap();
    let names: Vec<_> = groups.thing_groups().iter().map(|g| g.group_name().unwrap()).collect();
    assert_eq!(names, ["other", "zone"]);

    // Deleting a thing removes its memberships.
    iot.delete_thing().thing_name("t2").send().await.unwrap();
    let recursive = iot
        .list_things_in_thing_group()
        .thing_group_name("site")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert_eq!(recursive.things(), ["t3"]);
}

#[tokio::test]
async fn a_thing_is_in_at_most_ten_groups() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    iot.create_thing().thing_name("busy").send().await.unwrap();
    for i in 0..11 {
        iot.create_thing_group().thing_group_name(format!("g{i:02}")).send().await.unwrap();
    }
    for i in 0..10 {
        iot.add_thing_to_thing_group()
            .thing_group_name(format!("g{i:02}"))
            .thing_name("busy")
            .send()
            .await
            .unwrap();
    }
    let (code, _, message) = error_of(
        iot.add_thing_to_thing_group().thing_group_name("g10").thing_name("busy").send().await,
    );
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("10"), "{message}");
}
