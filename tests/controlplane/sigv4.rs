//! Authentication: every refusal as the SDK sees it (wrong secret, unknown, revoked and
//! non-admin keys, expired and future signatures, another region), and the forms the SDK does
//! not send by itself (presigned URLs, UNSIGNED-PAYLOAD, no signature) over raw HTTP.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_smithy_async::time::StaticTimeSource;
use ferrocore_testkit::{ADMIN_KEY_ID, ADMIN_SECRET, TestServer, http};

use crate::error_of;

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature() {
    let server = TestServer::start().await;
    let iot = server.iot_client_with(ADMIN_KEY_ID, "not-the-secret-at-all");
    let (code, status, message) = error_of(iot.list_things().send().await);
    assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403));
    assert!(message.contains("signature we calculated does not match"), "{message}");
    assert!(!message.contains(ADMIN_SECRET));
}

#[tokio::test]
async fn unknown_and_revoked_keys_are_unrecognized() {
    let server = TestServer::start().await;
    let iot = server.iot_client_with("AKIANOSUCHKEY0000000", "whatever-secret");
    let (code, status, _) = error_of(iot.list_things().send().await);
    assert_eq!((code.as_str(), status), ("UnrecognizedClientException", 403));

    let key = server.keys().create(true).await.unwrap();
    let iot = server.iot_client_with(&key.id, &key.secret);
    iot.list_things().send().await.unwrap();
    server.keys().revoke(&key.id).await.unwrap();
    let (code, status, _) = error_of(iot.list_things().send().await);
    assert_eq!((code.as_str(), status), ("UnrecognizedClientException", 403));
}

#[tokio::test]
async fn data_plane_keys_may_not_use_the_control_plane() {
    let server = TestServer::start().await;
    let key = server.keys().create(false).await.unwrap();
    let iot = server.iot_client_with(&key.id, &key.secret);
    let (code, status, _) = error_of(iot.list_things().send().await);
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 403));
}

#[tokio::test]
async fn signatures_older_or_newer_than_fifteen_minutes_are_refused() {
    let server = TestServer::start().await;
    for (offset, expected) in
        [(-16 * 60_i64, "Signature expired"), (16 * 60, "Signature not yet current")]
    {
        let now = SystemTime::now();
        let at = if offset < 0 {
            now - Duration::from_secs(offset.unsigned_abs())
        } else {
            now + Duration::from_secs(offset.unsigned_abs())
        };
        let config = server
            .iot_config(ADMIN_KEY_ID, ADMIN_SECRET)
            .time_source(StaticTimeSource::new(at))
            .build();
        let iot = aws_sdk_iot::Client::from_conf(config);
        let (code, status, message) = error_of(iot.list_things().send().await);
        assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403), "{offset}");
        assert!(message.contains(expected), "{message}");
    }
    // Ten minutes off is within the allowed skew.
    let config = server
        .iot_config(ADMIN_KEY_ID, ADMIN_SECRET)
        .time_source(StaticTimeSource::new(SystemTime::now() - Duration::from_secs(600)))
        .build();
    aws_sdk_iot::Client::from_conf(config).list_things().send().await.unwrap();
}

#[tokio::test]
async fn the_credential_scope_must_name_the_server_region() {
    let server = TestServer::start().await;
    let config = server
        .iot_config(ADMIN_KEY_ID, ADMIN_SECRET)
        .region(aws_sdk_iot::config::Region::new("eu-west-1"))
        .build();
    let (code, status, message) =
        error_of(aws_sdk_iot::Client::from_conf(config).list_things().send().await);
    assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403));
    assert!(message.contains("region"), "{message}");
}

/// Signs a request the way the SDK's signer does, with the given settings.
fn signed(
    server: &TestServer,
    method: &str,
    target: &str,
    body: &[u8],
    service: &str,
    location: SignatureLocation,
    unsigned: bool,
) -> (String, Vec<(String, String)>) {
    let identity =
        aws_credential_types::Credentials::new(ADMIN_KEY_ID, ADMIN_SECRET, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(60));
    if unsigned {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = server.api_addr.to_string();
    let uri = format!("http://{host}{target}");
    let headers = [("host", host.as_str())];
    let signable_body =
        if unsigned { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
    let signable =
        SignableRequest::new(method, &uri, headers.iter().copied(), signable_body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = ::http::Request::builder().method(method).uri(&uri).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let target = request.uri().path_and_query().unwrap().to_string();
    let headers = request
        .headers()
        .iter()
        .filter(|(name, _)| *name != "host")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    (target, headers)
}

async fn send(
    server: &TestServer,
    method: &str,
    (target, headers): (String, Vec<(String, String)>),
    body: &[u8],
) -> http::Response {
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    http::request(server.api_addr, method, &target, &headers, body).await
}

#[tokio::test]
async fn presigned_urls_and_unsigned_payloads_are_accepted() {
    let server = TestServer::start().await;
    let body = br#"{"attributePayload":{"attributes":{"k":"v"}}}"#;
    for (name, location, unsigned) in [
        ("presigned", SignatureLocation::QueryParams, false),
        ("presigned-unsigned", SignatureLocation::QueryParams, true),
        ("header-unsigned", SignatureLocation::Headers, true),
    ] {
        let target = format!("/things/{name}");
        let request = signed(&server, "POST", &target, body, "iot", location, unsigned);
        let response = send(&server, "POST", request, body).await;
        assert_eq!(response.status, 200, "{name}: {:?}", String::from_utf8_lossy(&response.body));
        assert_eq!(response.json()["thingName"], name);
    }
    let listed = server.iot_client().list_things().send().await.unwrap();
    assert_eq!(listed.things().len(), 3);
}

#[tokio::test]
async fn a_changed_body_or_another_service_fails_verification() {
    let server = TestServer::start().await;
    let body = br#"{"attributePayload":{"attributes":{"k":"v"}}}"#;
    let request =
        signed(&server, "POST", "/things/t", body, "iot", SignatureLocation::Headers, false);
    let response = send(&server, "POST", request, br#"{"attributePayload":{}}"#).await;
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-amzn-errortype"), Some("InvalidSignatureException"));

    // (`iotdata` and `iotdevicegateway` are the data plane's: see tests/dataplane/auth.rs.)
    let request = signed(&server, "GET", "/things", b"", "s3", SignatureLocation::Headers, false);
    let response = send(&server, "GET", request, b"").await;
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-amzn-errortype"), Some("InvalidSignatureException"));
    assert!(response.json()["message"].as_str().unwrap().contains("service"));
}

#[tokio::test]
async fn requests_without_a_signature_are_refused() {
    let server = TestServer::start().await;
    let response = http::request(server.api_addr, "GET", "/things", &[], b"").await;
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-amzn-errortype"), Some("MissingAuthenticationTokenException"));
    assert_eq!(response.json()["message"], "Missing Authentication Token");

    let response = http::request(
        server.api_addr,
        "GET",
        "/things",
        &[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAX/20240101/us-east-1/iot/aws4_request",
        )],
        b"",
    )
    .await;
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-amzn-errortype"), Some("IncompleteSignatureException"));
}
