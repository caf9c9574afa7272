//! `Condition` blocks: operators, their values, and how they test a request.
//!
//! The operators are IAM's (AWS IoT policies "follow the same conventions as IAM policies":
//! AWS IoT Developer Guide, "AWS IoT Core policies"): String*, Numeric*, Date*, Bool,
//! BinaryEquals, IpAddress/NotIpAddress, Arn*, Null, each (but Null) with an `...IfExists` form
//! and a `ForAnyValue:`/`ForAllValues:` qualifier. Semantics, from the IAM User Guide
//! (reference_policies_elements_condition_operators.html, reference_policies_multi-value-conditions.html):
//!
//! - several operators, or several keys under one operator: all must hold (AND);
//! - several values for one key: any may match (OR); negated operators hold when none matches;
//! - a key absent from the request: "the values do not match and the condition is false. If the
//!   policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike,
//!   and the right key is not present, the condition is true"; `...IfExists` holds;
//!   `ForAllValues:` holds (no value fails it); `ForAnyValue:` does not; `Null` tests presence;
//! - policy variables are substituted only in String and Arn operators' values ("You can't use a
//!   policy variable with other operators": reference_policies_variables.html).

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use crate::context::Context;
use crate::date;
use crate::error::PolicyError;
use crate::glob::{self, Token};
use crate::variables::{Key, Template, Unresolved, text_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const BASES: [(&str, Base); 27] = [
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("NumericEquals", Base::NumericEquals),
    ("NumericNotEquals", Base::NumericNotEquals),
    ("NumericLessThan", Base::NumericLessThan),
    ("NumericLessThanEquals", Base::NumericLessThanEquals),
    ("NumericGreaterThan", Base::NumericGreaterThan),
    ("NumericGreaterThanEquals", Base::NumericGreaterThanEquals),
    ("DateEquals", Base::DateEquals),
    ("DateNotEquals", Base::DateNotEquals),
    ("DateLessThan", Base::DateLessThan),
    ("DateLessThanEquals", Base::DateLessThanEquals),
    ("DateGreaterThan", Base::DateGreaterThan),
    ("DateGreaterThanEquals", Base::DateGreaterThanEquals),
    ("Bool", Base::Bool),
    ("BinaryEquals", Base::BinaryEquals),
    ("IpAddress", Base::IpAddress),
    ("NotIpAddress", Base::NotIpAddress),
    ("ArnEquals", Base::ArnEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnNotLike", Base::ArnNotLike),
    ("Null", Base::Null),
];

impl Base {
    fn negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::NumericNotEquals
                | Base::DateNotEquals
                | Base::NotIpAddress
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// String and Arn operators: templates, variables allowed.
    Templates(Vec<Template>),
    Numbers(Vec<f64>),
    /// Epoch milliseconds.
    Dates(Vec<i64>),
    Bools(Vec<bool>),
    Binary(Vec<String>),
    Cidrs(Vec<Cidr>),
}

/// One operator applied to one key with its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    base: Base,
    set: SetQualifier,
    if_exists: bool,
    key: Key,
    values: Values,
}

/// Parses a statement's `Condition` element.
pub(crate) fn parse_block(statement: usize, value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(PolicyError::InvalidCondition { statement, operator: None });
    };
    let mut out = Vec::new();
    for (operator, block) in operators {
        let (base, set, if_exists) = parse_operator(operator).ok_or_else(|| {
            PolicyError::UnsupportedOperator { statement, operator: operator.clone() }
        })?;
        let Value::Object(keys) = block else {
            return Err(PolicyError::InvalidCondition {
                statement,
                operator: Some(operator.clone()),
            });
        };
        for (key, raw) in keys {
            let bad = |reason: String| PolicyError::InvalidConditionValue {
                statement,
                operator: operator.clone(),
                key: key.clone(),
                reason,
            };
            let strings = value_strings(raw).ok_or_else(|| {
                bad("values must be strings, numbers or booleans, or an array of them".to_owned())
            })?;
            let values = parse_values(base, &strings).map_err(|e| match e {
                ValueError::Bad(reason) => bad(reason),
                ValueError::Variable(variable) => {
                    PolicyError::UnknownVariable { statement, variable }
                }
            })?;
            out.push(Condition { base, set, if_exists, key: Key::condition_key(key), values });
        }
    }
    Ok(out)
}

fn parse_operator(operator: &str) -> Option<(Base, SetQualifier, bool)> {
    let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (SetQualifier::AnyValue, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (SetQualifier::AllValues, rest)
    } else {
        (SetQualifier::None, operator)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let base = BASES.iter().find(|(name, _)| *name == rest).map(|(_, base)| *base)?;
    // "You can't add IfExists to the Null condition operator" (IAM condition operators).
    if base == Base::Null && (if_exists || set != SetQualifier::None) {
        return None;
    }
    Some((base, set, if_exists))
}

fn value_strings(value: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

enum ValueError {
    Bad(String),
    Variable(String),
}

fn parse_values(base: Base, strings: &[String]) -> Result<Values, ValueError> {
    fn each<T>(
        strings: &[String],
        parse: impl Fn(&str) -> Option<T>,
        what: &str,
    ) -> Result<Vec<T>, ValueError> {
        strings
            .iter()
            .map(|s| parse(s).ok_or_else(|| ValueError::Bad(format!("\"{s}\" is not {what}"))))
            .collect()
    }
    Ok(match base {
        Base::StringEquals
        | Base::StringNotEquals
        | Base::StringEqualsIgnoreCase
        | Base::StringNotEqualsIgnoreCase
        | Base::StringLike
        | Base::StringNotLike
        | Base::ArnEquals
        | Base::ArnLike
        | Base::ArnNotEquals
        | Base::ArnNotLike => Values::Templates(
            strings
                .iter()
                .map(|s| Template::parse(s).map_err(|e| ValueError::Variable(e.0)))
                .collect::<Result<_, _>>()?,
        ),
        Base::NumericEquals
        | Base::NumericNotEquals
        | Base::NumericLessThan
        | Base::NumericLessThanEquals
        | Base::NumericGreaterThan
        | Base::NumericGreaterThanEquals => {
            Values::Numbers(each(strings, parse_number, "a number")?)
        }
        Base::DateEquals
        | Base::DateNotEquals
        | Base::DateLessThan
        | Base::DateLessThanEquals
        | Base::DateGreaterThan
        | Base::DateGreaterThanEquals => {
            Values::Dates(each(strings, date::parse_millis, "an ISO 8601 date or epoch time")?)
        }
        Base::Bool | Base::Null => Values::Bools(each(strings, parse_bool, "true or false")?),
        Base::BinaryEquals => Values::Binary(strings.to_vec()),
        Base::IpAddress | Base::NotIpAddress => {
            Values::Cidrs(each(strings, Cidr::parse, "an IP address or CIDR block")?)
        }
    })
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl Condition {
    /// Whether this condition holds for `ctx`. `mode` says what an unfilled variable in a
    /// value does (see [`Unresolved`]).
    pub(crate) fn holds(&self, ctx: &Context, mode: Unresolved) -> bool {
        let request = self.key.values(ctx);
        if self.base == Base::Null {
            let absent = request.is_none();
            return matches!(&self.values, Values::Bools(v) if v.contains(&absent));
        }
        let Some(request) = request else {
            return match self.set {
                SetQualifier::AllValues => true,
                SetQualifier::AnyValue => false,
                SetQualifier::None => self.if_exists || self.base.negated(),
            };
        };
        // Variables are filled once per evaluation; in an Allow an unfilled one fails the
        // whole condition (it grants nothing), in a Deny its text stays literal.
        let patterns = match &self.values {
            Values::Templates(templates) => {
                match templates.iter().map(|t| t.pattern(ctx, mode)).collect::<Option<Vec<_>>>() {
                    Some(patterns) => patterns,
                    None => return false,
                }
            }
            _ => Vec::new(),
        };
        let test = |value: &String| self.matches_one(value, &patterns) != self.base.negated();
        match self.set {
            SetQualifier::None | SetQualifier::AnyValue => request.iter().any(test),
            SetQualifier::AllValues => request.iter().all(test),
        }
    }

    /// Whether `value` matches any policy value, for the operator's positive form.
    fn matches_one(&self, value: &str, patterns: &[Cow<'_, [Token]>]) -> bool {
        match (&self.values, self.base) {
            (Values::Templates(_), Base::StringEquals | Base::StringNotEquals) => {
                patterns.iter().any(|p| text_of(p) == value)
            }
            (
                Values::Templates(_),
                Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase,
            ) => patterns.iter().any(|p| text_of(p).to_lowercase() == value.to_lowercase()),
            (Values::Templates(_), Base::StringLike | Base::StringNotLike) => {
                patterns.iter().any(|p| glob::matches(p, value, false))
            }
            (Values::Templates(_), _) => patterns.iter().any(|p| arn_matches(p, value)),
            (Values::Numbers(numbers), base) => parse_number(value)
                .is_some_and(|v| numbers.iter().any(|n| compare(base, v.partial_cmp(n)))),
            (Values::Dates(dates), base) => date::parse_millis(value)
                .is_some_and(|v| dates.iter().any(|d| compare(base, Some(v.cmp(d))))),
            (Values::Bools(bools), _) => parse_bool(value).is_some_and(|v| bools.contains(&v)),
            (Values::Binary(binary), _) => binary.iter().any(|b| b == value),
            (Values::Cidrs(cidrs), _) => {
                value.trim().parse::<IpAddr>().is_ok_and(|ip| cidrs.iter().any(|c| c.contains(ip)))
            }
        }
    }
}

fn compare(base: Base, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(ordering) = ordering else { return false };
    match base {
        Base::NumericEquals | Base::NumericNotEquals | Base::DateEquals | Base::DateNotEquals => {
            ordering == Equal
        }
        Base::NumericLessThan | Base::DateLessThan => ordering == Less,
        Base::NumericLessThanEquals | Base::DateLessThanEquals => ordering != Greater,
        Base::NumericGreaterThan | Base::DateGreaterThan => ordering == Greater,
        Base::NumericGreaterThanEquals | Base::DateGreaterThanEquals => ordering != Less,
        _ => false,
    }
}

/// ArnEquals/ArnLike: "Each of the six colon-delimited components of the ARN is checked
/// separately and each can include multi-character match wildcards (*) or single-character
/// match wildcards (?)" (IAM condition operators). Case-sensitive.
fn arn_matches(pattern: &[Token], value: &str) -> bool {
    let mut pattern_parts: Vec<&[Token]> = Vec::with_capacity(6);
    let mut rest = pattern;
    while pattern_parts.len() < 5 {
        match rest.iter().position(|t| *t == Token::Lit(':')) {
            Some(at) => {
                pattern_parts.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => break,
        }
    }
    pattern_parts.push(rest);
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    pattern_parts.len() == 6
        && value_parts.len() == 6
        && pattern_parts.iter().zip(&value_parts).all(|(p, v)| glob::matches(p, v, false))
}

/// An IPv4 or IPv6 block (`203.0.113.0/24`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr.parse::<IpAddr>().ok()?, Some(len)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => {
                len.parse::<u8>().ok().filter(|l| *l <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Cidr { addr, len })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr() {
        let c = |s: &str| Cidr::parse(s);
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let net = c("203.0.113.0/24");
        assert!(net.is_some_and(|n| ip("203.0.113.9").is_some_and(|i| n.contains(i))));
        assert!(net.is_some_and(|n| ip("203.0.114.9").is_some_and(|i| !n.contains(i))));
        assert!(c("0.0.0.0/0").is_some_and(|n| ip("8.8.8.8").is_some_and(|i| n.contains(i))));
        assert!(
            c("2001:db8::/32").is_some_and(|n| ip("2001:db8::1").is_some_and(|i| n.contains(i)))
        );
        assert!(
            c("10.0.0.1").is_some_and(|n| ip("::ffff:10.0.0.1").is_some_and(|i| n.contains(i)))
        );
        assert_eq!(c("10.0.0.0/33"), None);
        assert_eq!(c("10.0.0.0/"), None);
        assert_eq!(c("nope"), None);
    }
}
