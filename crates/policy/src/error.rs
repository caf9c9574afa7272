//! Why a policy document was refused: one typed variant per fault, each message naming it.
//!
//! Every variant becomes AWS's `MalformedPolicyException` (HTTP 400) in the control plane; the
//! message is what the caller reads, so it says which statement and which element is at fault.

use thiserror::Error;

/// A policy document that CreatePolicy / CreatePolicyVersion must refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is empty, or only whitespace.
    #[error("policy document is empty")]
    Empty,
    /// Longer than AWS's limit, counted without whitespace.
    #[error("policy document is {length} characters without whitespace; the limit is {max}")]
    TooLong {
        /// Characters that are not whitespace.
        length: usize,
        /// The limit ([`crate::MAX_POLICY_CHARS`]).
        max: usize,
    },
    /// Not valid JSON.
    #[error("policy document is not valid JSON: {reason}")]
    InvalidJson {
        /// serde_json's description, with line and column.
        reason: String,
    },
    /// Valid JSON, but not an object.
    #[error("policy document must be a JSON object")]
    NotAnObject,
    /// A top-level element other than `Version`, `Id` and `Statement`.
    #[error("unknown policy element \"{0}\"")]
    UnknownTopElement(String),
    /// No `Version`.
    #[error("policy document has no Version")]
    MissingVersion,
    /// `Version` is not the one AWS IoT accepts.
    #[error("policy Version {0} is not supported; AWS IoT policies use \"2012-10-17\"")]
    UnsupportedVersion(String),
    /// `Id` is not a string.
    #[error("policy Id must be a string")]
    InvalidId,
    /// No `Statement`.
    #[error("policy document has no Statement")]
    MissingStatement,
    /// `Statement` is neither an object nor an array of objects, or is an empty array.
    #[error("Statement must be an object or a non-empty array of objects")]
    InvalidStatement,
    /// One statement is not an object.
    #[error("statement {statement} is not a JSON object")]
    StatementNotObject {
        /// 0-based index of the statement.
        statement: usize,
    },
    /// A statement element this language does not have (e.g. `Principal`).
    #[error("statement {statement} has an unsupported element \"{element}\"")]
    UnknownElement {
        /// 0-based index of the statement.
        statement: usize,
        /// The element's name as written.
        element: String,
    },
    /// `Sid` is not a string.
    #[error("statement {statement}: Sid must be a string")]
    InvalidSid {
        /// 0-based index of the statement.
        statement: usize,
    },
    /// No `Effect`.
    #[error("statement {statement} has no Effect")]
    MissingEffect {
        /// 0-based index of the statement.
        statement: usize,
    },
    /// `Effect` is not `"Allow"` or `"Deny"`.
    #[error("statement {statement}: unknown Effect {value}; expected \"Allow\" or \"Deny\"")]
    UnknownEffect {
        /// 0-based index of the statement.
        statement: usize,
        /// The value as JSON.
        value: String,
    },
    /// Neither `Action` nor `NotAction`.
    #[error("statement {statement} has no Action or NotAction")]
    MissingAction {
        /// 0-based index of the statement.
        statement: usize,
    },
    /// Neither `Resource` nor `NotResource`.
    #[error("statement {statement} has no Resource or NotResource")]
    MissingResource {
        /// 0-based index of the statement.
        statement: usize,
    },
    /// Both `X` and `NotX`.
    #[error("statement {statement} has both {element} and Not{element}")]
    Conflicting {
        /// 0-based index of the statement.
        statement: usize,
        /// `Action` or `Resource`.
        element: &'static str,
    },
    /// `Action`/`NotAction` is not a string or an array of strings, or holds an empty string.
    #[error("statement {statement}: {element} must be a non-empty string or an array of them")]
    InvalidAction {
        /// 0-based index of the statement.
        statement: usize,
        /// `Action` or `NotAction`.
        element: &'static str,
    },
    /// `Resource`/`NotResource` is not a string or an array of strings.
    #[error("statement {statement}: {element} must be a string or an array of strings")]
    ResourceNotString {
        /// 0-based index of the statement.
        statement: usize,
        /// `Resource` or `NotResource`.
        element: &'static str,
    },
    /// A resource that is neither `*` nor an ARN.
    #[error(
        "statement {statement}: {element} \"{value}\" must be \"*\" or an ARN (arn:partition:service:region:account:resource)"
    )]
    InvalidResource {
        /// 0-based index of the statement.
        statement: usize,
        /// `Resource` or `NotResource`.
        element: &'static str,
        /// The resource as written.
        value: String,
    },
    /// `${name}` where `name` is no policy variable AWS IoT defines.
    #[error("statement {statement}: unknown policy variable ${{{variable}}}")]
    UnknownVariable {
        /// 0-based index of the statement.
        statement: usize,
        /// The name between the braces.
        variable: String,
    },
    /// `Condition` is not an object of operator -> object of key -> value(s).
    #[error("statement {statement}: Condition must be an object of operator to object of key to value(s){}", at(.operator))]
    InvalidCondition {
        /// 0-based index of the statement.
        statement: usize,
        /// The operator whose block is malformed, if any.
        operator: Option<String>,
    },
    /// A condition operator AWS does not support.
    #[error("statement {statement}: unsupported condition operator \"{operator}\"")]
    UnsupportedOperator {
        /// 0-based index of the statement.
        statement: usize,
        /// The operator as written.
        operator: String,
    },
    /// A condition value the operator cannot use (not a number, not a date, not a CIDR, ...).
    #[error("statement {statement}: condition {operator} on \"{key}\": {reason}")]
    InvalidConditionValue {
        /// 0-based index of the statement.
        statement: usize,
        /// The operator as written.
        operator: String,
        /// The condition key as written.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

fn at(operator: &Option<String>) -> String {
    match operator {
        Some(op) => format!(" (operator \"{op}\")"),
        None => String::new(),
    }
}

impl PolicyError {
    /// The AWS error name every policy fault maps to in the `iot` control plane.
    pub fn aws_error_code(&self) -> &'static str {
        "MalformedPolicyException"
    }
}
