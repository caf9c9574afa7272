//! TagResource, UntagResource and ListTagsForResource through the SDK.

use aws_sdk_iot::types::Tag;
use ferrocore_testkit::TestServer;

use crate::error_of;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn tag_untag_and_list_on_groups_and_types() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let group = iot
        .create_thing_group()
        .thing_group_name("floor-1")
        .tags(tag("site", "paris"))
        .send()
        .await
        .unwrap();
    let arn = group.thing_group_arn().unwrap().to_owned();
    iot.tag_resource()
        .resource_arn(&arn)
        .tags(tag("env", "prod"))
        .tags(tag("site", "lyon"))
        .send()
        .await
        .unwrap();
    let tags = iot.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let pairs: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value().unwrap())).collect();
    assert_eq!(pairs, [("env", "prod"), ("site", "lyon")]);

    iot.untag_resource()
        .resource_arn(&arn)
        .tag_keys("site")
        .tag_keys("absent")
        .send()
        .await
        .unwrap();
    let tags = iot.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);

    let thing_type =
        iot.create_thing_type().thing_type_name("bulb").tags(tag("k", "v")).send().await.unwrap();
    let type_arn = thing_type.thing_type_arn().unwrap();
    let tags = iot.list_tags_for_resource().resource_arn(type_arn).send().await.unwrap();
    assert_eq!(tags.tags()[0].key(), "k");

    // Tags go with their resource.
    iot.delete_thing_group().thing_group_name("floor-1").send().await.unwrap();
    iot.create_thing_group().thing_group_name("floor-1").send().await.unwrap();
    let tags = iot.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert!(tags.tags().is_empty());
}

#[tokio::test]
async fn tag_errors() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let missing = "arn:aws:iot:us-east-1:000000000000:thinggroup/ghost";
    let (code, status, _) =
        error_of(iot.tag_resource().resource_arn(missing).tags(tag("a", "b")).send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let (code, _, _) = error_of(iot.list_tags_for_resource().resource_arn(missing).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.untag_resource().resource_arn(missing).tag_keys("a").send().await);
    assert_eq!(code, "ResourceNotFoundException");

    // Things are not taggable on AWS IoT; foreign ARNs and reserved keys are invalid.
    iot.create_thing().thing_name("t").send().await.unwrap();
    for arn in [
        "arn:aws:iot:us-east-1:000000000000:thing/t",
        "arn:aws:iot:eu-west-1:000000000000:thinggroup/g",
        "not-an-arn",
    ] {
        let (code, status, _) =
            error_of(iot.tag_resource().resource_arn(arn).tags(tag("a", "b")).send().await);
        assert_eq!((code.as_str(), status), ("InvalidRequestException", 400), "{arn}");
    }
    iot.create_thing_group().thing_group_name("g").send().await.unwrap();
    let arn = "arn:aws:iot:us-east-1:000000000000:thinggroup/g";
    let (code, _, _) =
        error_of(iot.tag_resource().resource_arn(arn).tags(tag("aws:owner", "x")).send().await);
    assert_eq!(code, "InvalidRequestException");
    // At most 50 tags.
    let mut request = iot.tag_resource().resource_arn(arn);
    for i in 0..51 {
        request = request.tags(tag(&format!("k{i}"), "v"));
    }
    let (code, status, _) = error_of(request.send().await);
    assert_eq!((code.as_str(), status), ("LimitExceededException", 410));
}
