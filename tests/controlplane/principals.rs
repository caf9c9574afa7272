//! Thing principals through the SDK: attach (exclusive or not), detach, list both ways (v1
//! and v2), and DeleteThing refused while principals are attached.

use aws_sdk_iot::types::ThingPrincipalType;
use ferrocore_testkit::TestServer;

use crate::error_of;
use crate::policies::certificate;

const ARN: &str = "arn:aws:iot:us-east-1:000000000000";

#[tokio::test]
async fn principals_attach_detach_and_list_both_ways() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    for thing in ["a", "b"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
        iot.attach_thing_principal().thing_name(thing).principal(&cert).send().await.unwrap();
    }
    // Attaching again is fine.
    iot.attach_thing_principal().thing_name("a").principal(&cert).send().await.unwrap();

    let principals = iot.list_thing_principals().thing_name("a").send().await.unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&cert));
    let things = iot.list_principal_things().principal(&cert).send().await.unwrap();
    assert_eq!(things.things(), ["a", "b"]);
    let first = iot.list_principal_things().principal(&cert).max_results(1).send().await.unwrap();
    assert_eq!(first.things(), ["a"]);
    let next = iot
        .list_principal_things()
        .principal(&cert)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.things(), ["b"]);
    assert_eq!(next.next_token(), None);

    let v2 = iot.list_thing_principals_v2().thing_name("b").send().await.unwrap();
    let object = &v2.thing_principal_objects()[0];
    assert_eq!(object.principal(), cert);
    assert_eq!(object.thing_principal_type(), Some(&ThingPrincipalType::NonExclusiveThing));
    let v2 = iot.list_principal_things_v2().principal(&cert).send().await.unwrap();
    let names: Vec<_> = v2.principal_thing_objects().iter().map(|o| o.thing_name()).collect();
    assert_eq!(names, ["a", "b"]);

    // DeleteThing is refused while a principal is attached, as on AWS.
    let (code, status, message) = error_of(iot.delete_thing().thing_name("a").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRequestException", 400));
    assert!(message.contains("principals"), "{message}");

    iot.detach_thing_principal().thing_name("a").principal(&cert).send().await.unwrap();
    // Detaching what is not attached is fine.
    iot.detach_thing_principal().thing_name("a").principal(&cert).send().await.unwrap();
    assert!(
        iot.list_thing_principals().thing_name("a").send().await.unwrap().principals().is_empty()
    );
    let things = iot.list_principal_things().principal(&cert).send().await.unwrap();
    assert_eq!(things.things(), ["b"]);
    iot.delete_thing().thing_name("a").send().await.unwrap();
}

#[tokio::test]
async fn exclusive_attachments_allow_one_thing() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    for thing in ["only", "other"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
    }
    iot.attach_thing_principal()
        .thing_name("only")
        .principal(&cert)
        .thing_principal_type(ThingPrincipalType::ExclusiveThing)
        .send()
        .await
        .unwrap();
    let (code, _, _) =
        error_of(iot.attach_thing_principal().thing_name("other").principal(&cert).send().await);
    assert_eq!(code, "InvalidRequestException");
    let v2 = iot
        .list_thing_principals_v2()
        .thing_name("only")
        .thing_principal_type(ThingPrincipalType::ExclusiveThing)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.thing_principal_objects().len(), 1);
    let none = iot
        .list_thing_principals_v2()
        .thing_name("only")
        .thing_principal_type(ThingPrincipalType::NonExclusiveThing)
        .send()
        .await
        .unwrap();
    assert!(none.thing_principal_objects().is_empty());
}

#[tokio::test]
async fn principal_errors() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    let cert = certificate(&iot).await;
    iot.create_thing().thing_name("t").send().await.unwrap();
    let unknown_cert = format!("{ARN}:cert/{}", "3".repeat(64));
    let cases = [
        ("ghost", cert.as_str(), "ResourceNotFoundException", 404),
        ("t", unknown_cert.as_str(), "ResourceNotFoundException", 404),
        ("t", "not-an-arn", "InvalidRequestException", 400),
        ("t", "arn:aws:iot:eu-west-1:000000000000:cert/abc", "InvalidRequestException", 400),
        ("bad name", cert.as_str(), "InvalidRequestException", 400),
    ];
    for (thing, principal, expected, status) in cases {
        let result =
            iot.attach_thing_principal().thing_name(thing).principal(principal).send().await;
        let (code, got, _) = error_of(result);
        assert_eq!((code.as_str(), got), (expected, status), "{thing} {principal}");
    }
    let (code, _, _) =
        error_of(iot.detach_thing_principal().thing_name("ghost").principal(&cert).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.list_thing_principals().thing_name("ghost").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) = error_of(iot.list_principal_things().principal(&unknown_cert).send().await);
    assert_eq!(code, "ResourceNotFoundException");
    let (code, _, _) =
        error_of(iot.list_thing_principals().thing_name("t").max_results(0).send().await);
    assert_eq!(code, "InvalidRequestException");
}
