//! Data-plane tests: the `iot-data` API of a real server on 127.0.0.1 port 0, driven by the
//! official AWS SDK for Rust (`aws-sdk-iotdataplane`) on the same listener as the control
//! plane, with MQTT clients (rumqttc) on the other side. One module per area.

#![allow(clippy::unwrap_used, missing_docs)]

mod auth;
mod bench;
mod connections;
mod publish;
mod retained;
mod shadow;
mod x509;

pub(crate) use ferrocore_testkit::error_of;
