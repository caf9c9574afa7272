//! Helpers: rule payloads built with the SDK's types, and a local HTTP server that records
//! what it receives.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_iot::types::{
    Action, HttpAction, HttpActionHeader, HttpUrlDestinationConfiguration, RepublishAction,
    S3Action, TopicRuleDestinationConfiguration, TopicRuleDestinationStatus, TopicRulePayload,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use ferrocore_testkit::{TestServer, WAIT};
use tokio::sync::mpsc;

/// A republish action to `topic`.
pub(crate) fn republish(topic: &str) -> Action {
    Action::builder()
        .republish(
            RepublishAction::builder()
                .role_arn("arn:aws:iam::000000000000:role/rules")
                .topic(topic)
                .qos(1)
                .build()
                .unwrap(),
        )
        .build()
}

/// An HTTP action to `url` with one templated header.
pub(crate) fn http(url: &str) -> Action {
    Action::builder()
        .http(
            HttpAction::builder()
                .url(url)
                .headers(
                    HttpActionHeader::builder().key("x-topic").value("${topic()}").build().unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
}

/// An S3 action.
pub(crate) fn s3(bucket: &str, key: &str) -> Action {
    Action::builder()
        .s3(S3Action::builder()
            .role_arn("arn:aws:iam::000000000000:role/rules")
            .bucket_name(bucket)
            .key(key)
            .canned_acl(aws_sdk_iot::types::CannedAccessControlList::Private)
            .build()
            .unwrap())
        .build()
}

/// A payload with `sql` (version 2016-03-23) and `actions`.
pub(crate) fn payload(sql: &str, actions: Vec<Action>) -> TopicRulePayload {
    TopicRulePayload::builder()
        .sql(sql)
        .aws_iot_sql_version("2016-03-23")
        .set_actions(Some(actions))
        .build()
        .unwrap()
}

/// Creates rule `name`.
pub(crate) async fn create(server: &TestServer, name: &str, payload: TopicRulePayload) {
    server
        .iot_client()
        .create_topic_rule()
        .rule_name(name)
        .topic_rule_payload(payload)
        .send()
        .await
        .unwrap();
}

/// One request the local HTTP server received.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A local HTTP server on 127.0.0.1:0 that answers 200 and records every request.
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    pub(crate) received: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    State((tx, delay)): State<(mpsc::UnboundedSender<Received>, Duration)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _ = tx.send(Received { path: uri.path().to_owned(), headers, body });
    tokio::time::sleep(delay).await;
    StatusCode::OK
}

impl Endpoint {
    pub(crate) async fn start() -> Endpoint {
        Endpoint::start_with_delay(Duration::ZERO).await
    }

    /// A server that records each request at once but answers only after `delay`.
    pub(crate) async fn start_with_delay(delay: Duration) -> Endpoint {
        let (tx, received) = mpsc::unbounded_channel();
        let app = Router::new().fallback(record).with_state((tx, delay));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Endpoint { addr, received, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request; panics after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("timed out waiting for an HTTP request")
            .unwrap()
    }

    /// Stops serving: later connections are refused.
    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Creates a destination for `url`, reads the confirmation the server POSTs there, and
/// returns the destination's ARN and the confirmation message.
pub(crate) async fn create_destination(
    server: &TestServer,
    endpoint: &mut Endpoint,
    url: &str,
) -> (String, serde_json::Value) {
    let created = server
        .iot_client()
        .create_topic_rule_destination()
        .destination_configuration(
            TopicRuleDestinationConfiguration::builder()
                .http_url_configuration(
                    HttpUrlDestinationConfiguration::builder()
                        .confirmation_url(url)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let destination = created.topic_rule_destination().unwrap();
    assert_eq!(destination.status(), Some(&TopicRuleDestinationStatus::InProgress));
    let arn = destination.arn().unwrap().to_owned();
    let confirmation = endpoint.next().await;
    let message: serde_json::Value = serde_json::from_slice(&confirmation.body).unwrap();
    (arn, message)
}

/// Creates and confirms a destination for `url`; returns its ARN.
pub(crate) async fn confirmed_destination(
    server: &TestServer,
    endpoint: &mut Endpoint,
    url: &str,
) -> String {
    let (arn, message) = create_destination(server, endpoint, url).await;
    server
        .iot_client()
        .confirm_topic_rule_destination()
        .confirmation_token(message["confirmationToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    arn
}
