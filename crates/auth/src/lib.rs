//! Who is calling: AWS Signature Version 4 on the HTTP APIs, and the access keys it checks.
//!
//! - [`sigv4`]: sans-I/O verification of both SigV4 forms, with the time passed in and the
//!   accepted services chosen by the caller (`iot` for the control plane; the data planes will
//!   add `iotdata`, `iotdevicegateway`, `iot-jobs-data`).
//! - [`keys`]: the access keys (id, secret, creation time, status, admin flag), kept in the
//!   store's `access_keys` table: create, import, list, revoke, look up.
//! - [`Verifier`]: the two together; it yields a [`Principal`].
//!
//! ```text
//! HTTP request --(api)--> Verifier::verify(request, now)
//!                           sigv4::verify(.., lookup = keys) --> Principal::AccessKey
//! ```
//!
//! It must not touch HTTP routing, AWS error names or status codes (the `api` crate maps
//! [`sigv4::Failure`] to those), nor any table but `access_keys`. X.509 client certificates and
//! custom authorizers come later, beside SigV4.

pub mod keys;
pub mod sigv4;

mod principal;
mod verifier;

pub use keys::{AccessKey, KeyError, KeyStatus, KeyStore};
pub use principal::Principal;
pub use verifier::{AuthError, Verifier};
