//! The values of AWS IoT SQL and the conversions between them.
//!
//! Types and conversion tables: "Data types" of the AWS IoT SQL reference
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html>): Int,
//! Decimal, Boolean, String, Array, Object, Null and Undefined. Undefined is a value inside the
//! language (a missing key, a function given bad arguments) and is dropped when serialized.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::SqlVersion;

/// One AWS IoT SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Not a value: a missing key or a failed function. Distinct from [`Value::Null`].
    Undefined,
    /// JSON `null`, or the `NULL` keyword.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number. AWS allows 34 digits; Ferrocore keeps 64 bits and moves to Decimal beyond.
    Int(i64),
    /// A number with a fraction. AWS keeps 34 significant digits; Ferrocore keeps a double.
    Decimal(f64),
    /// UTF-8 text.
    String(String),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object (keys in sorted order).
    Object(BTreeMap<String, Value>),
    /// The raw bytes of a payload that is not JSON (only `*` yields it).
    Binary(Vec<u8>),
}

/// `^-?\d+(\.\d+)?((?i)E-?\d+)?$`: the strings that convert to Decimal (Data types, "To
/// Decimal"). Written by hand rather than with `regex`, as it runs on every operand.
pub(crate) fn parse_decimal_string(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse().ok()
}

impl Value {
    /// Converts a JSON value (a payload, a shadow document) into a SQL value. In SQL version
    /// 2016-03-23 whole decimals such as `10.0` become Int (Data types, "Decimal").
    pub fn from_json(json: &serde_json::Value, version: SqlVersion) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::decimal(n.as_f64().unwrap_or(f64::NAN), version)
                }
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(|v| Value::from_json(v, version)).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| (k.clone(), Value::from_json(v, version))).collect(),
            ),
        }
    }

    /// A Decimal, or an Int when version 2016-03-23 sees a whole number that fits.
    pub(crate) fn decimal(d: f64, version: SqlVersion) -> Value {
        if version == SqlVersion::V2016_03_23
            && d.is_finite()
            && d.fract() == 0.0
            && d.abs() < 9.007_199_254_740_992e15
        {
            Value::Int(d as i64)
        } else {
            Value::Decimal(d)
        }
    }

    /// The JSON form of the value; `None` for Undefined (and for what JSON cannot hold: NaN,
    /// infinities, bytes). Undefined members of objects are dropped, Undefined array elements
    /// become `null` (unverified: AWS does not document it).
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined | Value::Binary(_) => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Decimal(d) => serde_json::Value::Number(serde_json::Number::from_f64(*d)?),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(
                items.iter().map(|v| v.to_json().unwrap_or(serde_json::Value::Null)).collect(),
            ),
            Value::Object(map) => serde_json::Value::Object(
                map.iter().filter_map(|(k, v)| Some((k.clone(), v.to_json()?))).collect(),
            ),
        })
    }

    /// Whether this is Undefined.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// "To Decimal": Int and Decimal as numbers, a String matching the decimal pattern, anything
    /// else (Boolean included) is Undefined, here `None`.
    pub(crate) fn to_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Decimal(d) => Some(*d),
            Value::String(s) => parse_decimal_string(s),
            _ => None,
        }
    }

    /// "To Int": Decimal rounds to the nearest Int, a decimal String is truncated
    /// (reference 9.2), anything else is Undefined.
    pub(crate) fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Decimal(d) if d.is_finite() => Some(d.round() as i64),
            Value::String(s) => {
                let d = parse_decimal_string(s)?;
                d.is_finite().then(|| d.trunc() as i64)
            }
            _ => None,
        }
    }

    /// Numeric view that keeps Int as Int: strings become Decimal, as the operator tables say.
    pub(crate) fn to_number(&self) -> Option<Num> {
        match self {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Decimal(d) => Some(Num::Dec(*d)),
            Value::String(s) => parse_decimal_string(s).map(Num::Dec),
            _ => None,
        }
    }

    /// "To Boolean": Boolean itself, the strings "true"/"false" in any case; else Undefined.
    pub(crate) fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// "To String": numbers and Booleans as text, Array and Object as JSON, Null and Undefined
    /// are Undefined.
    pub(crate) fn to_text(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Decimal(d) => Some(format_decimal(*d)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(_) | Value::Object(_) => self.to_json().map(|j| j.to_string()),
            Value::Null | Value::Undefined | Value::Binary(_) => None,
        }
    }

    /// The type name, as AWS's tables spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "Undefined",
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Int",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
            Value::Binary(_) => "Binary",
        }
    }
}

/// A number operand: Int arithmetic stays Int, anything with a Decimal is Decimal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Dec(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d,
        }
    }
}

/// A Decimal as text the way JSON writes a double (`1.5`, `10.0`, `1.0E-7` style is not kept).
pub(crate) fn format_decimal(d: f64) -> String {
    let mut out = String::new();
    if d.fract() == 0.0 && d.is_finite() && d.abs() < 1e16 {
        let _ = write!(out, "{d:.1}");
    } else {
        let _ = write!(out, "{d}");
    }
    out
}
