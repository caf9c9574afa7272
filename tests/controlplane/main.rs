//! Control-plane tests: the `iot` API of a real server on 127.0.0.1 port 0, driven by the
//! official AWS SDK for Rust (`aws-sdk-iot`) with the admin key, and by raw HTTP for what the
//! SDK cannot send. One module per area; every operation and its error paths.

#![allow(clippy::unwrap_used, missing_docs)]

mod bench;
mod errors;
mod sigv4;
mod tags;
mod thing_groups;
mod thing_types;
mod things;

use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};

/// The AWS error name and HTTP status of a failed SDK call; panics if it succeeded.
pub(crate) fn error_of<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_iot::config::http::HttpResponse>>,
) -> (String, u16, String) {
    let error = result.expect_err("the call should have failed");
    let status = error.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = error.code().unwrap_or_else(|| panic!("no error code in {error:?}")).to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    (code, status, message)
}
