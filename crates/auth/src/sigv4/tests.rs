//! SigV4 verification against AWS's published test suite (the vectors in `testdata/sigv4`,
//! both forms), against requests signed by the AWS SDK's own signer (`aws-sigv4`), and every
//! refusal.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z, the test suite's time.
const SUITE_TIME: u64 = 1_440_938_160;

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn lookup(id: &str) -> Option<String> {
    (id == AKID).then(|| SECRET.to_owned())
}

/// A request parsed from a test-suite file: request line, headers (continuation lines joined),
/// blank line, body.
struct Raw {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn parse(text: &str) -> Raw {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let method = request_line.split(' ').next().unwrap().to_owned();
        let target = request_line[method.len() + 1..].trim_end_matches(" HTTP/1.1");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        Raw {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn verify(&self, rules: &Rules, now: SystemTime) -> Result<Signed<String>, SigV4Error> {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        };
        verify(&request, rules, now, lookup)
    }
}

fn suite_rules() -> Rules {
    Rules::new("us-east-1", &["service"])
}

#[test]
fn aws_test_suite_header_and_presigned_forms_verify() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4");
    let mut cases = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        for (file, form) in [
            ("header-signed-request.txt", Form::Header),
            ("query-signed-request.txt", Form::Presigned),
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let raw = Raw::parse(&text);
            let signed = raw
                .verify(&suite_rules(), at(SUITE_TIME))
                .unwrap_or_else(|e| panic!("{} {file}: {e}", dir.display()));
            assert_eq!(signed.form, form);
            assert_eq!(signed.access_key_id, AKID);
            cases += 1;

            // Any change to what was signed breaks the signature.
            let mut tampered = Raw::parse(&text);
            tampered.method = if tampered.method == "GET" { "POST".into() } else { "GET".into() };
            assert!(
                matches!(
                    tampered.verify(&suite_rules(), at(SUITE_TIME)),
                    Err(SigV4Error::Mismatch)
                ),
                "{} {file} tampered",
                dir.display()
            );
        }
    }
    assert!(cases >= 50, "only {cases} vectors found");
}

fn vanilla() -> Raw {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4/get-vanilla");
    Raw::parse(&std::fs::read_to_string(root.join("header-signed-request.txt")).unwrap())
}

fn presigned_vanilla() -> Raw {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4/get-vanilla");
    Raw::parse(&std::fs::read_to_string(root.join("query-signed-request.txt")).unwrap())
}

#[test]
fn clock_skew_of_fifteen_minutes_is_accepted_and_no_more() {
    let raw = vanilla();
    for offset in [0, 60, 899, 900] {
        raw.verify(&suite_rules(), at(SUITE_TIME + offset)).unwrap();
        raw.verify(&suite_rules(), at(SUITE_TIME - offset)).unwrap();
    }
    let late = raw.verify(&suite_rules(), at(SUITE_TIME + 901)).unwrap_err();
    assert!(matches!(late, SigV4Error::Expired { .. }), "{late:?}");
    assert_eq!(
        late.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
         (20150830T125101Z - 15 min.)"
    );
    assert_eq!(late.failure(), Failure::InvalidSignature);
    let early = raw.verify(&suite_rules(), at(SUITE_TIME - 901)).unwrap_err();
    assert!(matches!(early, SigV4Error::NotYetCurrent { .. }), "{early:?}");
}

#[test]
fn presigned_urls_are_valid_until_they_expire() {
    let raw = presigned_vanilla();
    // X-Amz-Expires is 3600 in the vector.
    raw.verify(&suite_rules(), at(SUITE_TIME + 3600)).unwrap();
    let expired = raw.verify(&suite_rules(), at(SUITE_TIME + 3601)).unwrap_err();
    assert!(matches!(expired, SigV4Error::Expired { .. }), "{expired:?}");
    let early = raw.verify(&suite_rules(), at(SUITE_TIME - 901)).unwrap_err();
    assert!(matches!(early, SigV4Error::NotYetCurrent { .. }), "{early:?}");
}

#[test]
fn scope_must_name_the_region_and_an_accepted_service() {
    let raw = vanilla();
    let error = raw.verify(&Rules::new("eu-west-1", &["service"]), at(SUITE_TIME)).unwrap_err();
    assert!(matches!(error, SigV4Error::WrongRegion { .. }), "{error:?}");
    let error = raw.verify(&Rules::new("us-east-1", &["iot"]), at(SUITE_TIME)).unwrap_err();
    assert!(matches!(error, SigV4Error::WrongService { .. }), "{error:?}");
    assert_eq!(error.failure(), Failure::InvalidSignature);
    // A verifier may accept several signing names (the data planes will).
    raw.verify(&Rules::new("us-east-1", &["iotdata", "service"]), at(SUITE_TIME)).unwrap();
}

#[test]
fn unknown_key_missing_parts_and_wrong_secret_are_told_apart() {
    let mut raw = vanilla();
    let headers: Vec<(&str, &str)> = Vec::new();
    let bare = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
    let error = verify(&bare, &suite_rules(), at(SUITE_TIME), lookup).unwrap_err();
    assert_eq!(error.failure(), Failure::MissingAuthenticationToken);

    let error = {
        let headers: Vec<(&str, &str)> =
            raw.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        verify(&request, &suite_rules(), at(SUITE_TIME), |_| None::<String>).unwrap_err()
    };
    assert_eq!(error, SigV4Error::UnknownKey(AKID.into()));
    assert_eq!(error.failure(), Failure::UnrecognizedClient);

    let wrong_secret = {
        let headers: Vec<(&str, &str)> =
            raw.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        verify(&request, &suite_rules(), at(SUITE_TIME), |_| Some("not the secret".to_owned()))
            .unwrap_err()
    };
    assert_eq!(wrong_secret, SigV4Error::Mismatch);

    // Without X-Amz-Date.
    raw.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"));
    let error = raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap_err();
    assert_eq!(error, SigV4Error::MissingDate);
    assert_eq!(error.failure(), Failure::IncompleteSignature);

    // Without the Signature parameter.
    let mut raw = vanilla();
    for (name, value) in &mut raw.headers {
        if name.eq_ignore_ascii_case("authorization") {
            *value = value.split(", Signature=").next().unwrap().to_owned();
        }
    }
    assert_eq!(
        raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap_err(),
        SigV4Error::MissingParameter("Signature")
    );
}

#[test]
fn a_signed_header_must_be_present_and_host_must_be_signed() {
    let mut raw = vanilla();
    raw.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
    assert_eq!(
        raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap_err(),
        SigV4Error::SignedHeaderMissing("host".into())
    );
    let mut raw = vanilla();
    for (name, value) in &mut raw.headers {
        if name.eq_ignore_ascii_case("authorization") {
            *value = value.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
        }
    }
    assert_eq!(raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap_err(), SigV4Error::HostNotSigned);
}

#[test]
fn content_hash_header_must_match_the_body() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4/post-x-www-form-urlencoded");
    let text = std::fs::read_to_string(root.join("header-signed-request.txt")).unwrap();
    let mut raw = Raw::parse(&text);
    raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap();
    raw.body = b"Param1=value2".to_vec();
    assert_eq!(
        raw.verify(&suite_rules(), at(SUITE_TIME)).unwrap_err(),
        SigV4Error::ContentHashMismatch
    );
}

/// Signs with the AWS SDK's signer, as the SDK for Rust does for `iot` requests.
fn sdk_sign(
    method: &str,
    uri: &str,
    body: &[u8],
    location: aws_sigv4::http_request::SignatureLocation,
    unsigned_payload: bool,
    time: SystemTime,
) -> Raw {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(300));
    if unsigned_payload {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iot")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", "127.0.0.1:9080"), ("content-type", "application/json")];
    let signable_body =
        if unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
    let signable =
        SignableRequest::new(method, uri, headers.iter().copied(), signable_body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    Raw {
        method: method.to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or("").to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

#[test]
fn requests_signed_by_the_aws_sdk_signer_verify() {
    use aws_sigv4::http_request::SignatureLocation::{Headers, QueryParams};
    let rules = Rules::new("us-east-1", &["iot"]);
    let now = SystemTime::now();
    let body = br#"{"attributePayload":{"attributes":{"a":"b"}}}"#;
    for (method, uri) in [
        ("POST", "/things/thing%3Awith%3Acolons"),
        (
            "GET",
            "/things?maxResults=2&attributeName=a&attributeValue=x%20y&usePrefixAttributeValue=true",
        ),
        ("GET", "/tags?resourceArn=arn%3Aaws%3Aiot%3Aus-east-1%3A000000000000%3Athing%2Fa"),
        ("DELETE", "/things/t-1?expectedVersion=3"),
    ] {
        for location in [Headers, QueryParams] {
            for unsigned in [false, true] {
                let raw = sdk_sign(method, uri, body, location, unsigned, now);
                let signed = raw.verify(&rules, now).unwrap_or_else(|e| {
                    panic!("{method} {uri} {location:?} unsigned={unsigned}: {e}")
                });
                assert_eq!(signed.service, "iot");
                // The body is covered unless the payload is unsigned.
                let mut changed = sdk_sign(method, uri, body, location, unsigned, now);
                changed.body = b"{}".to_vec();
                let outcome = changed.verify(&rules, now);
                if unsigned {
                    outcome.unwrap();
                } else {
                    assert!(outcome.is_err(), "{method} {uri} {location:?}: body change unnoticed");
                }
            }
        }
    }
}

/// Presigns `GET /mqtt` for service `iotdevicegateway` as the Device SDKs do for MQTT over
/// WebSocket, with a session token either signed (`Include`) or appended after the signature
/// (`Exclude`).
fn sdk_presign_mqtt(
    token: &str,
    mode: aws_sigv4::http_request::SessionTokenMode,
    time: SystemTime,
) -> Raw {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let identity =
        aws_credential_types::Credentials::new(AKID, SECRET, Some(token.to_owned()), None, "test")
            .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(86_400));
    settings.session_token_mode = mode;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iotdevicegateway")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = "https://127.0.0.1:8443/mqtt";
    let headers = [("host", "127.0.0.1:8443")];
    let signable =
        SignableRequest::new("GET", uri, headers.iter().copied(), SignableBody::Bytes(b""))
            .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("GET").uri(uri).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    Raw {
        method: "GET".to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or("").to_owned(),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        body: Vec::new(),
    }
}

#[test]
fn a_session_token_appended_after_the_signature_is_not_signed() {
    use aws_sigv4::http_request::SessionTokenMode::{Exclude, Include};
    let rules = Rules::new("us-east-1", &["iotdevicegateway"]);
    let now = SystemTime::now();
    let raw = sdk_presign_mqtt("token/with+chars", Exclude, now);
    let signature_at = raw.query.find("X-Amz-Signature=").unwrap();
    let token_at = raw.query.find("X-Amz-Security-Token=").unwrap();
    assert!(token_at > signature_at, "the token comes after the signature: {}", raw.query);
    raw.verify(&rules, now).unwrap();
    // Not signed: another token still verifies.
    let mut other = sdk_presign_mqtt("token/with+chars", Exclude, now);
    other.query = other.query.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x");
    other.verify(&rules, now).unwrap();
    // Signed (the AWS SDKs' presigned URLs): it verifies, and a changed token does not.
    let signed = sdk_presign_mqtt("token", Include, now);
    signed.verify(&rules, now).unwrap();
    let mut changed = sdk_presign_mqtt("token", Include, now);
    changed.query = changed.query.replace("X-Amz-Security-Token=token", "X-Amz-Security-Token=t");
    assert!(matches!(changed.verify(&rules, now), Err(SigV4Error::Mismatch)));
    // The rest of the URL is still covered.
    let mut moved = sdk_presign_mqtt("token", Exclude, now);
    moved.path = "/other".to_owned();
    assert!(matches!(moved.verify(&rules, now), Err(SigV4Error::Mismatch)));
}
