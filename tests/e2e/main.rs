//! End-to-end tests: one binary, one module per area. Each test starts its own server on
//! 127.0.0.1 port 0 and drives it with rumqttc (MQTT 3.1.1 and 5) or the raw packet client.

#![allow(clippy::unwrap_used, missing_docs)]

mod backpressure;
mod lifecycle;
mod limits;
mod malformed;
mod mqtt5;
mod pubsub;
mod retained;
mod security;
mod services;
mod sessions;
mod shadow;
mod websocket;
mod will;
