//! CreateThing, DescribeThing, UpdateThing, DeleteThing and ListThings through the SDK.

use aws_sdk_iot::types::AttributePayload;
use ferrocore_testkit::TestServer;

use crate::error_of;

fn attributes(pairs: &[(&str, &str)]) -> AttributePayload {
    let mut payload = AttributePayload::builder();
    for (k, v) in pairs {
        payload = payload.attributes(*k, *v);
    }
    payload.build()
}

#[tokio::test]
async fn create_describe_update_delete() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let created = iot
        .create_thing()
        .thing_name("lamp:1")
        .attribute_payload(attributes(&[("room", "kitchen"), ("floor", "1")]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.thing_name(), Some("lamp:1"));
    assert_eq!(created.thing_arn(), Some("arn:aws:iot:us-east-1:000000000000:thing/lamp:1"));
    let id = created.thing_id().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let thing = iot.describe_thing().thing_name("lamp:1").send().await.unwrap();
    assert_eq!(thing.thing_name(), Some("lamp:1"));
    assert_eq!(thing.default_client_id(), Some("lamp:1"));
    assert_eq!(thing.thing_id(), Some(id.as_str()));
    assert_eq!(thing.version(), 1);
    assert_eq!(thing.attributes().unwrap().get("room").map(String::as_str), Some("kitchen"));
    assert_eq!(thing.thing_type_name(), None);

    // Merge: change one, add one, remove one with an empty value.
    iot.update_thing()
        .thing_name("lamp:1")
        .attribute_payload(
            AttributePayload::builder()
                .attributes("room", "hall")
                .attributes("color", "red")
                .attributes("floor", "")
                .merge(true)
                .build(),
        )
        .expected_version(1)
        .send()
        .await
        .unwrap();
    let thing = iot.describe_thing().thing_name("lamp:1").send().await.unwrap();
    assert_eq!(thing.version(), 2);
    let attrs = thing.attributes().unwrap();
    assert_eq!(attrs.len(), 2, "{attrs:?}");
    assert_eq!(attrs["room"], "hall");
    assert_eq!(attrs["color"], "red");

    // Replace.
    iot.update_thing()
        .thing_name("lamp:1")
        .attribute_payload(attributes(&[("only", "this")]))
        .send()
        .await
        .unwrap();
    let thing = iot.describe_thing().thing_name("lamp:1").send().await.unwrap();
    assert_eq!(thing.version(), 3);
    assert_eq!(thing.attributes().unwrap().len(), 1);

    // A stale expected version conflicts and changes nothing.
    let (code, status, _) = error_of(
        iot.update_thing()
            .thing_name("lamp:1")
            .attribute_payload(attributes(&[("x", "y")]))
            .expected_version(1)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("VersionConflictException", 409));
    let (code, status, _) =
        error_of(iot.delete_thing().thing_name("lamp:1").expected_version(2).send().await);
    assert_eq!((code.as_str(), status), ("VersionConflictException", 409));
    assert_eq!(iot.describe_thing().thing_name("lamp:1").send().await.unwrap().version(), 3);

    iot.delete_thing().thing_name("lamp:1").expected_version(3).send().await.unwrap();
    let (code, status, _) = error_of(iot.describe_thing().thing_name("lamp:1").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    // Deleting a missing thing succeeds, as on AWS.
    iot.delete_thing().thing_name("lamp:1").send().await.unwrap();
    iot.delete_thing().thing_name("never-existed").send().await.unwrap();
}

#[tokio::test]
async fn create_is_idempotent_for_an_identical_thing_only() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let first = iot
        .create_thing()
        .thing_name("t")
        .attribute_payload(attributes(&[("a", "1")]))
        .send()
        .await
        .unwrap();
    let again = iot
        .create_thing()
        .thing_name("t")
        .attribute_payload(attributes(&[("a", "1")]))
        .send()
        .await
        .unwrap();
    assert_eq!(first.thing_id(), again.thing_id());
    let result = iot
        .create_thing()
        .thing_name("t")
        .attribute_payload(attributes(&[("a", "2")]))
        .send()
        .await;
    let error = result.unwrap_err().into_service_error();
    assert!(error.is_resource_already_exists_exception(), "{error:?}");
    let (code, status, message) = error_of(iot.create_thing().thing_name("t").send().await);
    assert_eq!((code.as_str(), status), ("ResourceAlreadyExistsException", 409));
    assert!(message.contains("already exists"), "{message}");
}

#[tokio::test]
async fn attribute_limits_and_thing_types() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    // Without a thing type a thing has at most 3 attributes.
    let four = attributes(&[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]);
    let (code, status, message) =
        error_of(iot.create_thing().thing_name("t").attribute_payload(four.clone()).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    assert!(message.contains("at most 3"), "{message}");
    // A missing thing type.
    let (code, _, _) =
        error_of(iot.create_thing().thing_name("t").thing_type_name("nope").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    iot.create_thing_type().thing_type_name("sensor").send().await.unwrap();
    iot.create_thing()
        .thing_name("t")
        .thing_type_name("sensor")
        .attribute_payload(four)
        .send()
        .await
        .unwrap();
    let thing = iot.describe_thing().thing_name("t").send().await.unwrap();
    assert_eq!(thing.thing_type_name(), Some("sensor"));
    // Removing the type of a thing with 4 attributes is refused.
    let (code, _, _) =
        error_of(iot.update_thing().thing_name("t").remove_thing_type(true).send().await);
    assert_eq!(code, "InvalidRequestException");
    iot.update_thing()
        .thing_name("t")
        .attribute_payload(attributes(&[("a", "1")]))
        .remove_thing_type(true)
        .send()
        .await
        .unwrap();
    let thing = iot.describe_thing().thing_name("t").send().await.unwrap();
    assert_eq!(thing.thing_type_name(), None);
    iot.update_thing().thing_name("t").thing_type_name("sensor").send().await.unwrap();
    assert_eq!(
        iot.describe_thing().thing_name("t").send().await.unwrap().thing_type_name(),
        Some("sensor")
    );
    // Both at once is invalid; updating a missing thing is not found.
    let (code, _, _) = error_of(
        iot.update_thing()
            .thing_name("t")
            .thing_type_name("sensor")
            .remove_thing_type(true)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) = error_of(iot.update_thing().thing_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn list_filters_and_pagination() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    iot.create_thing_type().thing_type_name("bulb").send().await.unwrap();
    for i in 0..7 {
        let mut create =
            iot.create_thing().thing_name(format!("thing-{i}")).attribute_payload(attributes(&[
                ("serial", &format!("SN-{}", i % 3)),
                ("i", &i.to_string()),
            ]));
        if i % 2 == 0 {
            create = create.thing_type_name("bulb");
        }
        create.send().await.unwrap();
    }

    // Pagination: 3 + 3 + 1, in name order, tokens opaque.
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page =
            iot.list_things().max_results(3).set_next_token(token.clone()).send().await.unwrap();
        pages += 1;
        names.extend(page.things().iter().map(|t| t.thing_name().unwrap().to_owned()));
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("thing-{i}")).collect::<Vec<_>>());

    // The SDK's paginator walks the same pages.
    let all: Vec<_> =
        iot.list_things().max_results(2).into_paginator().items().send().collect().await;
    assert_eq!(all.len(), 7);

    let by_type = iot.list_things().thing_type_name("bulb").send().await.unwrap();
    assert_eq!(by_type.things().len(), 4);
    assert!(by_type.things().iter().all(|t| t.thing_type_name() == Some("bulb")));

    let exact =
        iot.list_things().attribute_name("serial").attribute_value("SN-1").send().await.unwrap();
    let exact: Vec<_> = exact.things().iter().map(|t| t.thing_name().unwrap()).collect();
    assert_eq!(exact, ["thing-1", "thing-4"]);

    let prefix = iot
        .list_things()
        .attribute_name("serial")
        .attribute_value("SN")
        .use_prefix_attribute_value(true)
        .send()
        .await
        .unwrap();
    assert_eq!(prefix.things().len(), 7);
    let no_prefix =
        iot.list_things().attribute_name("serial").attribute_value("SN").send().await.unwrap();
    assert!(no_prefix.things().is_empty());

    let listed = &iot.list_things().max_results(1).send().await.unwrap().things()[0].clone();
    assert_eq!(listed.thing_arn(), Some("arn:aws:iot:us-east-1:000000000000:thing/thing-0"));
    assert_eq!(listed.version(), 1);
    assert_eq!(listed.attributes().unwrap()["i"], "0");

    // Bad page sizes and tokens.
    let (code, status, _) = error_of(iot.list_things().max_results(251).send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    let (code, _, _) = error_of(iot.list_things().next_token("garbage!").send().await);
    assert_eq!(code, "InvalidRequestException");
}

#[tokio::test]
async fn things_survive_a_restart() {
    let server = TestServer::start().await;
    server
        .iot_client()
        .create_thing()
        .thing_name("durable")
        .attribute_payload(attributes(&[("k", "v")]))
        .send()
        .await
        .unwrap();
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let thing = server.iot_client().describe_thing().thing_name("durable").send().await.unwrap();
    assert_eq!(thing.attributes().unwrap()["k"], "v");
}
