//! The data plane over HTTPS authenticated by a device's X.509 certificate (AWS IoT Core's
//! port 8443): no SigV4, the device's IoT policies decide.

use ferrocore_testkit::http::{Response, request_tls};
use ferrocore_testkit::{Device, TestServer, tls};
use rumqttc::QoS;

const ARN: &str = "arn:aws:iot:us-east-1:000000000000";

fn device_policy() -> serde_json::Value {
    serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "iot:Publish", "Resource": format!("{ARN}:topic/telemetry/*") },
        { "Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow"], "Resource": format!("{ARN}:thing/lamp") }
    ]})
}

async fn https(
    server: &TestServer,
    device: &Device,
    method: &str,
    target: &str,
    body: &[u8],
) -> Response {
    let config =
        tls::client_config(&server.ca_pem(), Some((&device.cert, &device.key)), &[b"http/1.1"]);
    request_tls(server.https_addr, config, "localhost", method, target, &[], body).await
}

#[tokio::test]
async fn a_device_publishes_over_https_with_its_certificate() {
    let server = TestServer::start().await;
    let device = server.device("telemetry", &device_policy()).await;
    let mut sub = server.v4("sub").await;
    sub.subscribe("telemetry/#", QoS::AtLeastOnce).await;
    let ok = https(&server, &device, "POST", "/topics/telemetry/temp?qos=1", b"21.5").await;
    assert_eq!(ok.status, 200, "{:?}", String::from_utf8_lossy(&ok.body));
    let got = sub.publish().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("telemetry/temp", &b"21.5"[..]));
    // Outside its policy: refused with the model's UnauthorizedException, nothing delivered.
    let denied = https(&server, &device, "POST", "/topics/admin/reboot", b"x").await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.header("x-amzn-errortype"), Some("UnauthorizedException"));
    // Retained needs iot:RetainPublish too.
    let retained = https(&server, &device, "POST", "/topics/telemetry/r?retain=true", b"x").await;
    assert_eq!(retained.status, 401);
    sub.no_publish().await;
}

#[tokio::test]
async fn shadow_actions_follow_the_devices_policy() {
    let server = TestServer::start().await;
    let device = server.device("lamp", &device_policy()).await;
    let update = https(
        &server,
        &device,
        "POST",
        "/things/lamp/shadow",
        br#"{"state":{"reported":{"on":true}}}"#,
    )
    .await;
    assert_eq!(update.status, 200, "{:?}", String::from_utf8_lossy(&update.body));
    let get = https(&server, &device, "GET", "/things/lamp/shadow", b"").await;
    assert_eq!(get.status, 200);
    assert_eq!(get.json()["state"]["reported"]["on"], true);
    for (method, target) in [
        ("DELETE", "/things/lamp/shadow"),
        ("GET", "/things/other/shadow"),
        ("GET", "/things/lamp/shadow?name=secret"),
        ("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp"),
        ("GET", "/retainedMessage"),
    ] {
        let denied = https(&server, &device, method, target, b"").await;
        assert_eq!(denied.status, 401, "{method} {target}");
    }
    // The connection APIs are for access keys only.
    let forbidden = https(&server, &device, "GET", "/connections/anyone", b"").await;
    assert_eq!(forbidden.status, 403);
}

#[tokio::test]
async fn an_unusable_certificate_is_refused_naming_it() {
    let server = TestServer::start().await;
    let device = server.device("telemetry", &device_policy()).await;
    server
        .iot_client()
        .update_certificate()
        .certificate_id(&device.id)
        .new_status(aws_sdk_iot::types::CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let refused = https(&server, &device, "POST", "/topics/telemetry/temp", b"x").await;
    assert_eq!(refused.status, 403);
    assert!(String::from_utf8_lossy(&refused.body).contains(&device.id));
    // Without a certificate and without SigV4: the usual missing-token answer.
    let config = tls::client_config(&server.ca_pem(), None, &[b"http/1.1"]);
    let anonymous = request_tls(
        server.https_addr,
        config,
        "localhost",
        "POST",
        "/topics/telemetry/t",
        &[],
        b"x",
    )
    .await;
    assert_eq!(anonymous.status, 403);
    assert_eq!(anonymous.header("x-amzn-errortype"), Some("MissingAuthenticationTokenException"));
}
