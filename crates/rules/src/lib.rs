//! The rules engine of Ferrocore: AWS IoT topic rules and topic rule destinations, and the
//! runtime that evaluates each rule's AWS IoT SQL (crate `ferrocore-sql`) on the messages of
//! its topic filter and runs its actions.
//!
//! - Pure, unit-tested: [`model`] (rule names, `TopicRulePayload` validation, the supported
//!   actions `republish`, `http`, `s3`; any other action is refused by name), [`template`]
//!   (`${expression}` substitution templates) and [`error_payload`] (the error action's
//!   message).
//! - Persistence: [`persist`] owns the SQL of the `topic_rules` and
//!   `topic_rule_destinations` tables (the store's migration 7).
//! - Runtime: [`RulesEngine`] (see [`engine`]) attaches to the broker as internal clients,
//!   one per enabled rule (its FROM filter and its Basic Ingest topic `$aws/rules/{rule}/#`),
//!   and serves the API's calls (create, replace, enable, disable, delete; destinations).
//!
//! It must not know HTTP routes, JSON shapes of the API or AWS error names: the `api` crate
//! maps [`RulesError`] to those.

// Tests may unwrap: a panic there is a test failure with a backtrace.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod engine;
pub mod error;
pub mod error_payload;
pub mod model;
pub mod persist;
pub mod template;

pub use engine::{Page, RulesConfig, RulesEngine, RulesStats};
pub use error::RulesError;
pub use persist::{Destination, DestinationStatus, StoredRule};
