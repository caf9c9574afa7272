//! Who may call the data plane, and dispatch on the credential scope's service: `iotdata` and
//! `iotdevicegateway` reach `iot-data`, `iot` the control plane, on one listener.

use ferrocore_testkit::TestServer;

use crate::error_of;

#[tokio::test]
async fn data_plane_keys_use_the_data_plane_and_not_the_control_plane() {
    let server = TestServer::start().await;
    let key = server.keys().create(false).await.unwrap();
    let data = server.iot_data_client_with(&key.id, &key.secret);
    data.publish().topic("k/t").payload("hi".as_bytes().into()).send().await.unwrap();
    let (code, status, _) = error_of(data.get_thing_shadow().thing_name("none").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    let iot = server.iot_client_with(&key.id, &key.secret);
    let error = iot.list_things().send().await.expect_err("refused");
    assert_eq!(
        aws_sdk_iotdataplane::error::ProvideErrorMetadata::code(&error),
        Some("AccessDeniedException")
    );

    // The admin key may do both.
    server.iot_client().list_things().send().await.unwrap();
    server.iot_data_client().publish().topic("k/t").send().await.unwrap();

    // Unknown and revoked keys are refused by the data plane too.
    let stranger = server.iot_data_client_with("AKIANOBODY0000000000", "secret");
    let (code, status, _) = error_of(stranger.publish().topic("k/t").send().await);
    assert_eq!((code.as_str(), status), ("UnrecognizedClientException", 403));
    server.keys().revoke(&key.id).await.unwrap();
    let (code, _, _) = error_of(data.publish().topic("k/t").send().await);
    assert_eq!(code, "UnrecognizedClientException");
}

#[tokio::test]
async fn the_scope_service_not_the_path_picks_the_api() {
    let server = TestServer::start().await;
    // The Shadow REST documentation's signing name reaches the data plane.
    let response = server.raw_signed("iotdevicegateway", "GET", "/things/x/shadow", b"").await;
    assert_eq!(
        (response.status, response.header("x-amzn-errortype")),
        (404, Some("ResourceNotFoundException"))
    );
    // The same path signed for `iot` is no control-plane operation.
    let response = server.raw_signed("iot", "GET", "/things/x/shadow", b"").await;
    assert_eq!(response.header("x-amzn-errortype"), Some("UnknownOperationException"));
    // And a control-plane path signed for `iotdata` is no data-plane operation.
    let response = server.raw_signed("iotdata", "GET", "/things", b"").await;
    assert_eq!(response.header("x-amzn-errortype"), Some("UnknownOperationException"));
    let response = server.raw_signed("iot", "GET", "/things", b"").await;
    assert_eq!(response.status, 200);
    // Other services' scopes are refused.
    let response = server.raw_signed("s3", "GET", "/things/x/shadow", b"").await;
    assert_eq!(
        (response.status, response.header("x-amzn-errortype")),
        (403, Some("InvalidSignatureException"))
    );
    // Unsigned requests are refused before any route.
    let response =
        ferrocore_testkit::http::request(server.api_addr, "GET", "/things/x/shadow", &[], b"")
            .await;
    assert_eq!(response.header("x-amzn-errortype"), Some("MissingAuthenticationTokenException"));
}

#[tokio::test]
async fn a_key_given_a_policy_is_held_to_it() {
    let server = TestServer::start().await;
    let policy = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:000000000000:topic/allowed/*" },
        { "Effect": "Allow", "Action": "iot:GetThingShadow", "Resource": "arn:aws:iot:us-east-1:000000000000:thing/mine" }
    ]});
    server
        .iot_client()
        .create_policy()
        .policy_name("publisher")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = server.keys().create_with_policy("publisher").await.unwrap();
    assert_eq!(server.keys().get(&key.id).unwrap().unwrap().policy.as_deref(), Some("publisher"));
    let data = server.iot_data_client_with(&key.id, &key.secret);
    data.publish().topic("allowed/t").payload("hi".as_bytes().into()).send().await.unwrap();
    let (code, status, message) =
        error_of(data.publish().topic("other/t").payload("hi".as_bytes().into()).send().await);
    assert_eq!((code.as_str(), status), ("UnauthorizedException", 401));
    assert!(message.contains(&key.id), "{message}");
    let (code, status, _) = error_of(data.get_thing_shadow().thing_name("mine").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404), "allowed, and absent");
    let (code, status, _) = error_of(data.get_thing_shadow().thing_name("theirs").send().await);
    assert_eq!((code.as_str(), status), ("UnauthorizedException", 401));
    // Deleting the policy leaves the key with nothing.
    server.iot_client().delete_policy().policy_name("publisher").send().await.unwrap();
    let (code, _, _) =
        error_of(data.publish().topic("allowed/t").payload("hi".as_bytes().into()).send().await);
    assert_eq!(code, "UnauthorizedException");
}
