//! Control-plane tests: the `iot` API of a real server on 127.0.0.1 port 0, driven by the
//! official AWS SDK for Rust (`aws-sdk-iot`) with the admin key, and by raw HTTP for what the
//! SDK cannot send. One module per area; every operation and its error paths.

#![allow(clippy::unwrap_used, missing_docs)]

mod bench;
mod ca_certificates;
mod certificates;
mod errors;
mod events;
mod policies;
mod principals;
mod sigv4;
mod tags;
mod thing_groups;
mod thing_types;
mod things;

pub(crate) use ferrocore_testkit::error_of;
