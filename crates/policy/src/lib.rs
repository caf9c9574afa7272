//! AWS IoT Core policies for Ferrocore: parse a policy document, fill its policy variables from
//! a request's context, match actions and resource ARNs with AWS's wildcards, test its
//! conditions, and decide a request against every policy of a principal.
//!
//! ```text
//! policy JSON --PolicyDocument::parse--> PolicyDocument (or PolicyError = MalformedPolicyException)
//! (action, resource ARN) = Request ─┐
//! variables and condition keys = Context ─┼─ evaluate(&[&PolicyDocument]) --> Decision
//! ```
//!
//! The crate owns the policy language and nothing else. It does no I/O, reads no clock (the
//! request time is a [`Context`] field), spawns nothing and uses nothing async. It does not know
//! where policies come from (the registry attaches them to certificates and thing groups), nor
//! when to ask (the broker checks `iot:Connect`, `iot:Publish`, `iot:Subscribe` and `iot:Receive`;
//! a retained publish needs both `iot:Publish` and `iot:RetainPublish`, which the caller asks
//! for separately), nor how to cache decisions.
//!
//! Matching rules, each with its AWS source at the code that implements it:
//! - Actions match case-insensitively, resources case-sensitively; in both `*` matches any
//!   characters (including `/`) and `?` one; MQTT `+` and `#` are literal (`glob.rs`).
//! - `${...}` variables are replaced before matching; a replaced value, `${*}`, `${?}` and
//!   `${$}` are literal characters (`variables.rs`).
//! - A variable without a value makes an Allow grant nothing through that element; a Deny keeps
//!   the `${...}` text literally, as AWS does ([`Statement::applies`]).
//! - Conditions use IAM's operators and absent-key rules (`condition.rs`).
//! - Explicit deny wins, default deny ([`evaluate()`]).

// Tests may unwrap: a panic there is a test failure with a backtrace, which is what we want.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod arn;
mod condition;
pub mod context;
mod date;
pub mod document;
pub mod error;
pub mod evaluate;
mod glob;
mod variables;

pub use action::{Action, UnknownAction};
pub use arn::Arns;
pub use context::{
    AltNameKind, AltNames, CertificateContext, Context, DistinguishedName, DnAttribute,
};
pub use document::{Effect, MAX_POLICY_CHARS, POLICY_VERSION, PolicyDocument, Statement};
pub use error::PolicyError;
pub use evaluate::{AuthDecision, Decision, Request, evaluate};
