//! The crate's errors: a statement that does not parse (AWS's `SqlParseException`) and an
//! evaluation that cannot complete (the rule's error action runs).

use thiserror::Error;

/// A statement that does not parse. The API answers `SqlParseException` (400) with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    /// What is wrong, for a human.
    pub message: String,
    /// 0-based character offset in the SQL text where the problem was found.
    pub position: usize,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        ParseError { message: message.into(), position }
    }
}

/// An evaluation that failed as a whole (as opposed to an expression that is Undefined).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A lookup the caller's [`crate::Env`] performs (`get_thing_shadow`) failed.
    #[error("{function} failed: {message}")]
    External {
        /// The SQL function that called out.
        function: &'static str,
        /// The caller's explanation.
        message: String,
    },
}
