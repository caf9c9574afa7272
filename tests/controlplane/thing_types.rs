//! CreateThingType, DescribeThingType, UpdateThingType, DeprecateThingType, DeleteThingType and
//! ListThingTypes through the SDK.

use aws_sdk_iot::types::{Mqtt5Configuration, PropagatingAttribute, Tag, ThingTypeProperties};
use ferrocore_testkit::TestServer;

use crate::error_of;

fn properties(description: &str, searchable: &[&str]) -> ThingTypeProperties {
    let mut p = ThingTypeProperties::builder().thing_type_description(description);
    for name in searchable {
        p = p.searchable_attributes(*name);
    }
    p.build()
}

#[tokio::test]
async fn create_describe_update_and_list() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let created = iot
        .create_thing_type()
        .thing_type_name("sensor")
        .thing_type_properties(properties("Temperature sensors", &["serial", "model"]))
        .tags(Tag::builder().key("team").value("blue").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.thing_type_arn(),
        Some("arn:aws:iot:us-east-1:000000000000:thingtype/sensor")
    );
    let id = created.thing_type_id().unwrap().to_owned();

    let described = iot.describe_thing_type().thing_type_name("sensor").send().await.unwrap();
    assert_eq!(described.thing_type_id(), Some(id.as_str()));
    let props = described.thing_type_properties().unwrap();
    assert_eq!(props.thing_type_description(), Some("Temperature sensors"));
    assert_eq!(props.searchable_attributes(), ["serial", "model"]);
    let metadata = described.thing_type_metadata().unwrap();
    assert!(!metadata.deprecated());
    assert!(metadata.deprecation_date().is_none());
    let created_at = metadata.creation_date().unwrap().secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now as i64 - created_at).abs() < 60, "creationDate {created_at} vs now {now}");

    // Identical re-create is fine; a different one already exists.
    let again = iot
        .create_thing_type()
        .thing_type_name("sensor")
        .thing_type_properties(properties("Temperature sensors", &["serial", "model"]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.thing_type_id(), Some(id.as_str()));
    let (code, status, _) = error_of(
        iot.create_thing_type()
            .thing_type_name("sensor")
            .thing_type_properties(properties("Other", &[]))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));
    let (code, _, _) = error_of(
        iot.create_thing_type()
            .thing_type_name("many")
            .thing_type_properties(properties("x", &["a", "b", "c", "d"]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRequestException");

    // UpdateThingType: MQTT 5 propagating attributes.
    let mqtt5 = Mqtt5Configuration::builder()
        .propagating_attributes(
            PropagatingAttribute::builder()
                .user_property_key("serial")
                .thing_attribute("serial")
                .build(),
        )
        .build();
    iot.update_thing_type()
        .thing_type_name("sensor")
        .thing_type_properties(ThingTypeProperties::builder().mqtt5_configuration(mqtt5).build())
        .send()
        .await
        .unwrap();
    let described = iot.describe_thing_type().thing_type_name("sensor").send().await.unwrap();
    let props = described.thing_type_properties().unwrap();
    let propagating = props.mqtt5_configuration().unwrap().propagating_attributes();
    assert_eq!(propagating[0].thing_attribute(), Some("serial"));
    assert_eq!(props.thing_type_description(), Some("Temperature sensors"), "untouched");
    let (code, _, _) = error_of(
        iot.update_thing_type()
            .thing_type_name("ghost")
            .thing_type_properties(properties("x", &[]))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");

    for name in ["alpha", "beta"] {
        iot.create_thing_type().thing_type_name(name).send().await.unwrap();
    }
    let page = iot.list_thing_types().max_results(2).send().await.unwrap();
    let names: Vec<_> = page.thing_types().iter().map(|t| t.thing_type_name().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let next = iot
        .list_thing_types()
        .max_results(2)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.thing_types()[0].thing_type_name(), Some("sensor"));
    assert!(next.next_token().is_none());
    let one = iot.list_thing_types().thing_type_name("beta").send().await.unwrap();
    assert_eq!(one.thing_types().len(), 1);
    assert!(one.thing_types()[0].thing_type_metadata().unwrap().creation_date().is_some());
}

#[tokio::test]
async fn deprecate_undo_and_delete_rules() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    iot.create_thing_type().thing_type_name("old").send().await.unwrap();
    iot.create_thing().thing_name("user").thing_type_name("old").send().await.unwrap();

    // Delete needs deprecation first.
    let (code, status, message) =
        error_of(iot.delete_thing_type().thing_type_name("old").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    assert!(message.contains("deprecated"), "{message}");

    iot.deprecate_thing_type().thing_type_name("old").send().await.unwrap();
    let metadata = iot
        .describe_thing_type()
        .thing_type_name("old")
        .send()
        .await
        .unwrap()
        .thing_type_metadata()
        .cloned()
        .unwrap();
    assert!(metadata.deprecated());
    assert!(metadata.deprecation_date().is_some());
    // A deprecated type takes no new things.
    let (code, _, _) =
        error_of(iot.create_thing().thing_name("new").thing_type_name("old").send().await);
    assert_eq!(code, "InvalidRequestException");
    // Still used by a thing.
    let (code, _, message) = error_of(iot.delete_thing_type().thing_type_name("old").send().await);
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("things"), "{message}");

    // Undo, then deprecate again and delete once unused.
    iot.deprecate_thing_type().thing_type_name("old").undo_deprecate(true).send().await.unwrap();
    let metadata = iot
        .describe_thing_type()
        .thing_type_name("old")
        .send()
        .await
        .unwrap()
        .thing_type_metadata()
        .cloned()
        .unwrap();
    assert!(!metadata.deprecated());
    iot.create_thing().thing_name("new").thing_type_name("old").send().await.unwrap();
    iot.deprecate_thing_type().thing_type_name("old").send().await.unwrap();
    iot.delete_thing().thing_name("user").send().await.unwrap();
    iot.delete_thing().thing_name("new").send().await.unwrap();
    iot.delete_thing_type().thing_type_name("old").send().await.unwrap();
    let (code, status, _) = error_of(iot.describe_thing_type().thing_type_name("old").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, _, _) = error_of(iot.delete_thing_type().thing_type_name("old").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.deprecate_thing_type().thing_type_name("old").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}
