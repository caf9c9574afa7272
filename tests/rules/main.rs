//! Rules engine tests: topic rules and destinations created through the official AWS SDK
//! (`aws-sdk-iot`), messages published with rumqttc, and the actions observed where they
//! land: an MQTT subscriber (republish, error action), a local HTTP server on 127.0.0.1
//! (HTTP action, destination confirmation) and a temporary directory (S3 action).

#![allow(clippy::unwrap_used, missing_docs)]

mod actions;
mod api;
mod lifecycle;
mod support;

pub(crate) use ferrocore_testkit::error_of;
