//! Data-plane tests: the `iot-data` API of a real server on 127.0.0.1 port 0, driven by the
//! official AWS SDK for Rust (`aws-sdk-iotdataplane`) on the same listener as the control
//! plane, with MQTT clients (rumqttc) on the other side. One module per area.

#![allow(clippy::unwrap_used, missing_docs)]

mod auth;
mod publish;
mod retained;
mod shadow;

use std::time::SystemTime;

use aws_sdk_iotdataplane::error::{ProvideErrorMetadata, SdkError};
use ferrocore_testkit::TestServer;

/// The AWS error name, HTTP status and message of a failed SDK call; panics if it succeeded.
pub(crate) fn error_of<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_iotdataplane::config::http::HttpResponse>>,
) -> (String, u16, String) {
    let error = result.expect_err("the call should have failed");
    let status = error.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = error.code().unwrap_or_else(|| panic!("no error code in {error:?}")).to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    (code, status, message)
}

/// Sends a request signed with the admin key for signing name `service`, for what the SDK
/// will not send (other methods, raw bodies).
pub(crate) async fn raw_signed(
    server: &TestServer,
    service: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> ferrocore_testkit::http::Response {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(
        ferrocore_testkit::ADMIN_KEY_ID,
        ferrocore_testkit::ADMIN_SECRET,
        None,
        None,
        "t",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(ferrocore_testkit::REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("{}{target}", server.endpoint_url());
    let host = server.api_addr.to_string();
    let signable = SignableRequest::new(
        method,
        &url,
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method(method).uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "host")
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    ferrocore_testkit::http::request(server.api_addr, method, target, &headers, body).await
}
