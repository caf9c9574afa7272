//! AWS IoT Device Shadow for Ferrocore: classic and named shadows, their documents, and the
//! service that answers on the reserved `$aws/things/{thing}/shadow/...` topics.
//!
//! - The pure core takes what is stored, the request bytes and `now` (epoch seconds) and
//!   returns the next stored value and the payloads to publish: [`document`] (the state
//!   machine: [`apply_update`], [`get`], [`delete`]), [`request`] (parsing and limits),
//!   [`merge`], [`delta`], [`metadata`], [`name`] (thing and shadow names, topics) and
//!   [`error`] (AWS's codes and messages, the `/rejected` payload). No I/O, no clock, no
//!   async: built with `default-features = false` the crate depends on serde_json and
//!   thiserror only (the fuzz target does so).
//! - `service` (feature `service`, on by default) is the I/O edge: a broker internal client subscribed to the request topics,
//!   one worker per busy shadow, persistence through [`ferrocore_store::Store::execute`],
//!   answers published through the broker. `ShadowService` is also the Rust API the REST
//!   data plane calls (get, update, delete, list named shadows), so MQTT and REST share one
//!   code path.
//!
//! ```text
//! request bytes + Stored + now --apply_update--> Stored' + accepted/delta/documents payloads
//! broker --delivery--> service worker --Store::execute(load, apply, save)--> publish answers
//! ```
//!
//! It owns the `shadows` table (migration 4 of the store) and must not touch other tables,
//! the broker's internals, sockets or HTTP: the `api` crate maps [`ShadowError`] to HTTP.

pub mod delta;
pub mod document;
pub mod error;
pub mod merge;
pub mod metadata;
pub mod name;
pub mod request;
#[cfg(feature = "service")]
pub mod service;

#[cfg(feature = "service")]
mod persist;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_model;

pub use document::{
    DELETED_VERSION_KEPT_SECS, Section, ShadowRecord, Stored, UpdateOutcome, apply_update, delete,
    get,
};
pub use error::ShadowError;
pub use name::{Operation, ShadowId};
#[cfg(feature = "service")]
pub use service::{NamedShadowPage, ShadowService};
