//! AWS IoT SQL for Ferrocore's rules engine: lex, parse and evaluate
//! `SELECT ... FROM 'topic/filter' [WHERE ...]` over one message.
//!
//! ```text
//! SQL text --Statement::parse(sql, version)--> Statement (or ParseError = SqlParseException)
//! Statement::from_filter() --> the topic filter the rules engine subscribes the rule to
//! Statement::evaluate(&Input, &dyn Env) --> Some(Output) (actions run) | None (WHERE not true)
//! ```
//!
//! The crate owns the language: tokens, grammar, AWS's types and their conversions, operators,
//! the Undefined rules and the function library. It does no I/O, reads no clock, draws no
//! random numbers, spawns nothing and uses nothing async: the message's arrival time is an
//! [`Input`] field, and whatever AWS computes from the outside world (`rand()`, `newuuid()`,
//! `traceid()`, `get_thing_shadow`) comes from the caller's [`Env`]. It does not know which
//! rules exist, when they run, or what their actions do (substitution templates evaluate with
//! [`Statement::evaluate_expression`]).
//!
//! Semantics, each cited at the code that implements it:
//! - Types and conversions: `value.rs` ("Data types"). Undefined is its own value, not Null; an
//!   Undefined result drops its key from the output object.
//! - Operators, comparison with Undefined is Undefined, `+` concatenates strings: `eval.rs`.
//! - Functions: `functions.rs`, time patterns `timefmt.rs`.
//! - SQL versions: [`SqlVersion`].

// Tests may unwrap: a panic there is a test failure with a backtrace, which is what we want.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod timefmt;
pub mod value;

use std::collections::BTreeMap;

pub use error::{EvalError, ParseError};
pub use value::Value;

use crate::parser::{Ast, Item};

/// The `awsIotSqlVersion` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlVersion {
    /// `2015-10-08`, the legacy version: no `[v2]` functions, no object or array literals, whole
    /// decimals stay Decimal.
    V2015_10_08,
    /// `2016-03-23` (and `beta`): the recommended version, Ferrocore's default.
    #[default]
    V2016_03_23,
}

impl SqlVersion {
    /// The version named by `awsIotSqlVersion`; `beta` is read as 2016-03-23.
    pub fn parse(name: &str) -> Option<SqlVersion> {
        match name {
            "2015-10-08" => Some(SqlVersion::V2015_10_08),
            "2016-03-23" | "beta" => Some(SqlVersion::V2016_03_23),
            _ => None,
        }
    }

    /// The version's name, as `sql_version()` returns it.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
        }
    }
}

/// MQTT 5 properties of the message, for `get_mqtt_property` and `get_user_properties`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MqttProperties<'a> {
    /// Payload format indicator (0 bytes, 1 UTF-8).
    pub payload_format_indicator: Option<u8>,
    /// Content type.
    pub content_type: Option<&'a str>,
    /// Response topic.
    pub response_topic: Option<&'a str>,
    /// Correlation data (returned base64-encoded).
    pub correlation_data: Option<&'a [u8]>,
    /// User properties, in order, repeats allowed.
    pub user_properties: &'a [(String, String)],
}

/// One message as the rule sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Input<'a> {
    /// The payload: JSON, or any bytes.
    pub payload: &'a [u8],
    /// The topic it was published to (a Basic Ingest prefix is removed by `topic()`).
    pub topic: &'a str,
    /// The publisher's client id; `clientid()` is `n/a` without one.
    pub client_id: Option<&'a str>,
    /// The publisher's principal (certificate id, IAM user id, `roleId:session`).
    pub principal: Option<&'a str>,
    /// When the rules engine received the message, epoch milliseconds (`timestamp()`).
    pub timestamp_ms: i64,
    /// The account id (`accountid()`).
    pub account_id: Option<&'a str>,
    /// The publisher's address (`sourceip()`).
    pub source_ip: Option<&'a str>,
    /// MQTT 5 properties.
    pub mqtt: MqttProperties<'a>,
}

/// The impure things a statement may ask for, supplied by the caller.
pub trait Env {
    /// A random number in `[0, 1)` for `rand()`.
    fn rand(&self) -> f64;
    /// A fresh random UUID for `newuuid()`.
    fn new_uuid(&self) -> String;
    /// The MQTT message's trace id for `traceid()`.
    fn trace_id(&self) -> String;
    /// `get_thing_shadow(thing[, shadow], roleArn)`: the shadow document (the same JSON as
    /// GetThingShadow returns), `Ok(None)` when there is none, `Err` when the lookup failed.
    fn thing_shadow(
        &self,
        thing: &str,
        shadow: Option<&str>,
        role_arn: &str,
    ) -> Result<Option<serde_json::Value>, String>;
}

/// An [`Env`] of constants, for tests and for callers without a shadow service.
#[derive(Debug, Clone, Default)]
pub struct FixedEnv {
    /// What `rand()` returns.
    pub rand: f64,
    /// What `newuuid()` returns.
    pub uuid: String,
    /// What `traceid()` returns.
    pub trace_id: String,
    /// Shadow documents by `(thing, shadow name)`; the classic shadow has no name.
    pub shadows: BTreeMap<(String, Option<String>), serde_json::Value>,
}

impl Env for FixedEnv {
    fn rand(&self) -> f64 {
        self.rand
    }

    fn new_uuid(&self) -> String {
        self.uuid.clone()
    }

    fn trace_id(&self) -> String {
        self.trace_id.clone()
    }

    fn thing_shadow(
        &self,
        thing: &str,
        shadow: Option<&str>,
        _role_arn: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        Ok(self.shadows.get(&(thing.to_owned(), shadow.map(str::to_owned))).cloned())
    }
}

/// What a statement produces for a message whose WHERE is true.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A JSON document (an object, or any value with `SELECT VALUE`).
    Json(serde_json::Value),
    /// Raw bytes: `SELECT *` over a payload that is not JSON, or an empty payload for a
    /// `SELECT VALUE` that is Undefined ("Undefined ... serialized by itself" is empty).
    Binary(Vec<u8>),
}

impl Output {
    /// The payload bytes an action sends.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Output::Json(j) => j.to_string().into_bytes(),
            Output::Binary(b) => b.clone(),
        }
    }

    /// The JSON document, if the output is one.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match self {
            Output::Json(j) => Some(j),
            Output::Binary(_) => None,
        }
    }
}

/// A parsed statement, ready to run on any number of messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    ast: Ast,
    version: SqlVersion,
}

impl Statement {
    /// Parses `sql` under `version`. Errors carry the character position of the problem.
    pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, ParseError> {
        Ok(Statement { ast: parser::parse(sql, version)?, version })
    }

    /// The topic filter of the FROM clause (absent for Basic-Ingest-only rules).
    pub fn from_filter(&self) -> Option<&str> {
        self.ast.from.as_deref()
    }

    /// The SQL version the statement was parsed under.
    pub fn version(&self) -> SqlVersion {
        self.version
    }

    fn context<'a>(&self, input: &'a Input<'a>, env: &'a dyn Env) -> eval::Ctx<'a> {
        // A payload that is not JSON is binary: `*` is its bytes and every key is Undefined.
        let payload = match serde_json::from_slice::<serde_json::Value>(input.payload) {
            Ok(json) => Value::from_json(&json, self.version),
            Err(_) => Value::Binary(input.payload.to_vec()),
        };
        eval::Ctx { input, env, version: self.version, payload }
    }

    /// Runs the statement on one message: `None` when WHERE is not true (false, Undefined or
    /// not a Boolean), otherwise the SELECT result.
    pub fn evaluate(&self, input: &Input<'_>, env: &dyn Env) -> Result<Option<Output>, EvalError> {
        let ctx = self.context(input, env);
        if let Some(cond) = &self.ast.where_ {
            if ctx.eval(cond)?.to_bool() != Some(true) {
                return Ok(None);
            }
        }
        if self.ast.value {
            if let Some(Item::Expr(e, _)) = self.ast.items.first() {
                let v = ctx.eval(e)?;
                return Ok(Some(match v {
                    Value::Binary(b) => Output::Binary(b),
                    v => v.to_json().map_or(Output::Binary(Vec::new()), Output::Json),
                }));
            }
        }
        let mut out = BTreeMap::new();
        for item in &self.ast.items {
            match item {
                Item::All => match &ctx.payload {
                    Value::Object(map) => {
                        out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    // `SELECT *` over bytes passes them through unchanged ("Binary payloads").
                    Value::Binary(b) if self.ast.items.len() == 1 => {
                        return Ok(Some(Output::Binary(b.clone())));
                    }
                    _ => {}
                },
                Item::Expr(e, path) => {
                    let v = ctx.eval(e)?;
                    if !v.is_undefined() {
                        insert(&mut out, path, v);
                    }
                }
            }
        }
        Ok(Some(Output::Json(Value::Object(out).to_json().unwrap_or(serde_json::Value::Null))))
    }

    /// Evaluates one expression (a substitution template's `${expr}`) against the original
    /// message, with this statement's version. `None` is Undefined.
    pub fn evaluate_expression(
        expr: &str,
        version: SqlVersion,
        input: &Input<'_>,
        env: &dyn Env,
    ) -> Result<Result<Option<serde_json::Value>, EvalError>, ParseError> {
        let statement = Statement::parse(&format!("SELECT VALUE {expr}"), version)
            .map_err(|e| ParseError { position: e.position.saturating_sub(13), ..e })?;
        Ok(statement.evaluate(input, env).map(|out| out.and_then(|o| o.json().cloned())))
    }
}

/// Puts `v` at the dotted alias `path` (`AS a.b` makes `{"a": {"b": v}}`).
fn insert(out: &mut BTreeMap<String, Value>, path: &[String], v: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut map = out;
    for p in parents {
        let slot = map.entry(p.clone()).or_insert_with(|| Value::Object(BTreeMap::new()));
        if !matches!(slot, Value::Object(_)) {
            *slot = Value::Object(BTreeMap::new());
        }
        let Value::Object(inner) = slot else { return };
        map = inner;
    }
    map.insert(last.clone(), v);
}
