//! The admin key of the real binary and the README's flow: the first start creates a key,
//! saves it with mode 0600 and prints the AWS CLI profile commands; the AWS SDK, configured
//! with those values, creates and describes a thing; `ferrocore keys` creates, lists and
//! revokes keys (optionally limited by an IoT policy); a root key from the environment
//! replaces the generated one.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{serve, stop};

fn client(endpoint: &str, id: &str, secret: &str, region: &str) -> aws_sdk_iot::Client {
    let credentials = aws_credential_types::Credentials::new(id, secret, None, None, "test");
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(aws_sdk_iot::config::BehaviorVersion::latest())
        .region(aws_sdk_iot::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iot::Client::from_conf(config)
}

/// The value of `aws configure set NAME VALUE --profile ferrocore` in the printed lines.
fn configured(lines: &[String], name: &str) -> String {
    let prefix = format!("aws configure set {name} ");
    let line = lines.iter().find_map(|l| l.trim().strip_prefix(&prefix)).unwrap();
    line.strip_suffix(" --profile ferrocore").unwrap().to_owned()
}

fn keys(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn first_start_creates_an_admin_key_that_the_sdk_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let (child, endpoint, lines) = serve(dir.path(), &[], "warn", Stdio::inherit());
    assert!(lines[0].starts_with("ferrocore: MQTT listening on "), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("ferrocore: API listening on "), "{lines:?}");
    let id = configured(&lines, "aws_access_key_id");
    let secret = configured(&lines, "aws_secret_access_key");
    let region = configured(&lines, "region");
    assert!(lines.iter().any(|l| l.contains(&format!("--endpoint-url {endpoint}"))), "{lines:?}");

    // The key file: the same key, readable by the owner only.
    let file = dir.path().join("admin-key.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["accessKeyId"], id.as_str());
    assert_eq!(saved["secretAccessKey"], secret.as_str());

    // The README's flow: create a thing with the profile's values.
    let iot = client(&endpoint, &id, &secret, &region);
    let created = iot.create_thing().thing_name("my-first-thing").send().await.unwrap();
    assert_eq!(created.thing_name(), Some("my-first-thing"));
    let listed = iot.list_things().send().await.unwrap();
    assert_eq!(listed.things().len(), 1);
    stop(child);

    // A restart keeps the key and prints no new one.
    let (child, endpoint, lines) = serve(dir.path(), &[], "warn", Stdio::inherit());
    assert!(!lines.iter().any(|l| l.contains("aws configure")), "{lines:?}");
    let iot = client(&endpoint, &id, &secret, &region);
    iot.describe_thing().thing_name("my-first-thing").send().await.unwrap();

    // `ferrocore keys` while the server runs: create, list, revoke.
    let created = keys(dir.path(), &["create"]);
    let new_id =
        created.lines().find_map(|l| l.strip_prefix("AccessKeyId")).unwrap().trim().to_owned();
    let new_secret =
        created.lines().find_map(|l| l.strip_prefix("SecretAccessKey")).unwrap().trim().to_owned();
    let other = client(&endpoint, &new_id, &new_secret, &region);
    other.list_things().send().await.unwrap();
    let listing = keys(dir.path(), &["list"]);
    assert!(listing.contains(&id) && listing.contains(&new_id), "{listing}");
    assert!(
        !listing.contains(&secret) && !listing.contains(&new_secret),
        "secrets listed: {listing}"
    );
    keys(dir.path(), &["revoke", &new_id]);
    let listing = keys(dir.path(), &["list"]);
    let line = listing.lines().find(|l| l.starts_with(&new_id)).unwrap();
    assert!(line.contains("Inactive"), "{line}");
    let error = other.list_things().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iot::error::ProvideErrorMetadata::code(&error),
        Some("UnrecognizedClientException")
    );
    stop(child);
}

#[tokio::test]
async fn a_root_key_from_the_environment_is_the_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let id = "AKIAROOTFROMENV00001";
    let secret = "root/secret+from-the-environment";
    let (child, endpoint, lines) = serve(
        dir.path(),
        &[("FERROCORE_ROOT_ACCESS_KEY_ID", id), ("FERROCORE_ROOT_SECRET_ACCESS_KEY", secret)],
        "warn",
        Stdio::inherit(),
    );
    assert!(!lines.iter().any(|l| l.contains("aws configure")), "{lines:?}");
    assert!(!dir.path().join("admin-key.json").exists());
    let iot = client(&endpoint, id, secret, "us-east-1");
    iot.create_thing().thing_name("t").send().await.unwrap();
    stop(child);
}

#[tokio::test]
async fn keys_create_with_a_policy_names_an_existing_policy() {
    let dir = tempfile::tempdir().unwrap();
    let id = "AKIAROOTFROMENV00002";
    let secret = "root/secret+from-the-environment";
    let (child, endpoint, _) = serve(
        dir.path(),
        &[("FERROCORE_ROOT_ACCESS_KEY_ID", id), ("FERROCORE_ROOT_SECRET_ACCESS_KEY", secret)],
        "warn",
        Stdio::inherit(),
    );
    let iot = client(&endpoint, id, secret, "us-east-1");
    let document = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}]}"#;
    iot.create_policy().policy_name("app").policy_document(document).send().await.unwrap();
    let created = keys(dir.path(), &["create", "--policy", "app"]);
    assert!(created.lines().any(|l| l.starts_with("Policy") && l.ends_with("app")), "{created}");
    assert!(created.lines().any(|l| l.starts_with("Admin") && l.ends_with("false")), "{created}");
    let new_id = created.lines().find_map(|l| l.strip_prefix("AccessKeyId")).unwrap().trim();
    let listing = keys(dir.path(), &["list"]);
    let line = listing.lines().find(|l| l.starts_with(new_id)).unwrap();
    assert!(line.contains(" app "), "{line}");
    // An unknown policy is refused, and no key is made.
    let output = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
        .args(["keys", "create", "--policy", "missing", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing"));
    assert_eq!(keys(dir.path(), &["list"]).lines().count(), listing.lines().count());
    stop(child);
}

#[test]
fn keys_needs_an_existing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
        .args(["keys", "list", "--data-dir"])
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no Ferrocore database"));
}
