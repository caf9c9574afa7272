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
