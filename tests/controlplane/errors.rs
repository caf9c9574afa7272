//! Requests that do not fit the model: invalid names, malformed JSON, members of the wrong type,
//! bad query parameters, unknown routes. Each is an AWS error with a message, never a 500.

use aws_sdk_iot::types::AttributePayload;
use ferrocore_testkit::TestServer;

use crate::error_of;

#[tokio::test]
async fn names_that_break_the_model_pattern_or_length() {
    let server = TestServer::start().await;
    let iot = server.iot_client();
    for bad in ["has space", "slash/inside", "dot.", &"x".repeat(129)] {
        let (code, status, message) = error_of(iot.create_thing().thing_name(bad).send().await);
        assert_eq!((code.as_str(), status), ("InvalidRequestException", 400), "{bad}");
        assert!(message.contains("thingName"), "{bad}: {message}");
        let (code, _, _) = error_of(iot.describe_thing().thing_name(bad).send().await);
        assert_eq!(code, "InvalidRequestException", "{bad}");
    }
    let (code, _, message) = error_of(
        iot.create_thing()
            .thing_name("ok")
            .attribute_payload(AttributePayload::builder().attributes("bad name", "v").build())
            .send()
            .await,
    );
    assert_eq!(code, "InvalidRequestException");
    assert!(message.contains("bad name"), "{message}");
    let (code, _, _) = error_of(iot.create_thing_type().thing_type_name("bad type!").send().await);
    assert_eq!(code, "InvalidRequestException");
    let (code, _, _) =
        error_of(iot.create_thing_group().thing_group_name("bad group!").send().await);
    assert_eq!(code, "InvalidRequestException");
}

#[tokio::test]
async fn malformed_json_and_wrong_member_types_are_invalid_requests() {
    let server = TestServer::start().await;
    for body in [
        &b"{not json"[..],
        br#"{"thingTypeName": 42}"#,
        br#"{"attributePayload": {"attributes": ["a"]}}"#,
        br#"[1, 2]"#,
    ] {
        let response = server.raw_signed("iot", "POST", "/things/t1", body).await;
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(response.header("x-amzn-errortype"), Some("InvalidRequestException"));
        let message = response.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("json"), "{message}");
    }
    // Unknown members are ignored, as AWS does for members of newer models.
    let response =
        server.raw_signed("iot", "POST", "/things/t2", br#"{"someFutureMember": true}"#).await;
    assert_eq!(response.status, 200);
    // Query parameters of the wrong type.
    let response = server.raw_signed("iot", "GET", "/things?maxResults=many", b"").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.header("x-amzn-errortype"), Some("InvalidRequestException"));
    let response = server.raw_signed("iot", "DELETE", "/things/t2?expectedVersion=x", b"").await;
    assert_eq!(response.status, 400);
}

#[tokio::test]
async fn unknown_routes_are_unknown_operations() {
    let server = TestServer::start().await;
    for (method, target) in
        [("GET", "/no-such-thing"), ("PUT", "/things/t"), ("GET", "/things/t/nothing")]
    {
        let response = server.raw_signed("iot", method, target, b"").await;
        assert_eq!(response.status, 404, "{method} {target}");
        assert_eq!(response.header("x-amzn-errortype"), Some("UnknownOperationException"));
        assert!(response.json()["message"].as_str().unwrap().contains(target));
    }
}

#[tokio::test]
async fn describe_endpoint_returns_the_server_host_names() {
    let server = TestServer::start_with(|c| c.hostname = "iot.example.test".into()).await;
    let iot = server.iot_client();
    for endpoint_type in ["iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"] {
        let out = iot.describe_endpoint().endpoint_type(endpoint_type).send().await.unwrap();
        assert_eq!(out.endpoint_address(), Some("iot.example.test"), "{endpoint_type}");
    }
    let out = iot.describe_endpoint().send().await.unwrap();
    assert_eq!(out.endpoint_address(), Some("iot.example.test"));
    let (code, _, _) = error_of(iot.describe_endpoint().endpoint_type("iot:Nope").send().await);
    assert_eq!(code, "InvalidRequestException");
}
