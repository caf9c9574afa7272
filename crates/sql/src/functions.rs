//! The function library of AWS IoT SQL
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html>), except the
//! functions that call other AWS services (see the crate README). A function given arguments of
//! the wrong type or number returns Undefined ("Data types": "Functions called with invalid
//! arguments return Undefined"); arguments convert by the tables in [`crate::value`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::SqlVersion;
use crate::error::EvalError;
use crate::eval::{Ctx, get};
use crate::parser::Expr;
use crate::value::{Num, Value};

/// Every function name the parser accepts (lower case).
const KNOWN: &[&str] = &[
    "abs",
    "accountid",
    "acos",
    "asin",
    "atan",
    "atan2",
    "bitand",
    "bitnot",
    "bitor",
    "bitxor",
    "ceil",
    "chr",
    "clientid",
    "concat",
    "cos",
    "cosh",
    "decode",
    "encode",
    "endswith",
    "exp",
    "floor",
    "get",
    "get_mqtt_property",
    "get_or_default",
    "get_thing_shadow",
    "get_user_properties",
    "indexof",
    "isnull",
    "isundefined",
    "length",
    "ln",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "md5",
    "mod",
    "nanvl",
    "newuuid",
    "numbytes",
    "parse_time",
    "power",
    "principal",
    "rand",
    "regexp_matches",
    "regexp_replace",
    "regexp_substr",
    "remainder",
    "replace",
    "round",
    "rpad",
    "rtrim",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sign",
    "sin",
    "sinh",
    "sourceip",
    "sql_version",
    "sqrt",
    "startswith",
    "substring",
    "tan",
    "tanh",
    "time_to_epoch",
    "timestamp",
    "topic",
    "traceid",
    "transform",
    "trim",
    "trunc",
    "upper",
];

pub(crate) fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// `cast(v AS type)` ("cast" in the functions reference): to String the text form; to Int a
/// Decimal rounds, a String truncates, a Boolean is 1 or 0; to Decimal/Double a Boolean is
/// 1.0 or 0.0; to Boolean a number is false exactly when 0, a String only "true"/"false".
pub(crate) fn cast(v: Value, ty: &str, version: SqlVersion) -> Value {
    match ty {
        "string" | "nvarchar" | "text" | "ntext" | "varchar" => {
            v.to_text().map_or(Value::Undefined, Value::String)
        }
        "int" | "integer" => match v {
            Value::Bool(b) => Value::Int(i64::from(b)),
            v => v.to_i64().map_or(Value::Undefined, Value::Int),
        },
        "double" | "decimal" => match v {
            Value::Bool(b) => Value::decimal(if b { 1.0 } else { 0.0 }, version),
            Value::Int(i) if version == SqlVersion::V2016_03_23 => Value::Int(i),
            v => v.to_f64().map_or(Value::Undefined, |d| Value::decimal(d, version)),
        },
        "bool" | "boolean" => match v {
            Value::Int(i) => Value::Bool(i != 0),
            Value::Decimal(d) => Value::Bool(d != 0.0),
            v => v.to_bool().map_or(Value::Undefined, Value::Bool),
        },
        _ => Value::Undefined,
    }
}

fn dec(d: f64, version: SqlVersion) -> Value {
    if d.is_finite() { Value::decimal(d, version) } else { Value::Undefined }
}

/// A number that stays an Int when it is one.
fn unary_math(
    v: &Value,
    version: SqlVersion,
    int: fn(i64) -> Option<i64>,
    float: fn(f64) -> f64,
) -> Value {
    match v.to_number() {
        Some(Num::Int(i)) => int(i).map_or(Value::Undefined, Value::Int),
        Some(Num::Dec(d)) => dec(float(d), version),
        None => Value::Undefined,
    }
}

/// Rounding functions return Int: `ceil(1.2)` is `2`.
fn to_int(v: &Value, f: fn(f64) -> f64) -> Value {
    match v.to_number() {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => {
            let r = f(d);
            if r.is_finite() && r.abs() < 9.2e18 {
                Value::Int(r as i64)
            } else {
                dec(r, SqlVersion::V2015_10_08)
            }
        }
        None => Value::Undefined,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Array(_) | Value::Object(_) => None,
        v => v.to_text(),
    }
}

fn regex(pattern: &str) -> Option<regex::Regex> {
    // Java's regular expressions are AWS's; `regex` covers their common syntax (no
    // backreferences or lookaround), runs in linear time whatever the pattern, and the size
    // limit bounds what a hostile rule can make us compile.
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().ok()
}

fn string_of(s: Option<String>) -> Value {
    s.map_or(Value::Undefined, Value::String)
}

fn hash<D: Digest>(v: &Value) -> Value {
    let bytes = match v {
        Value::Binary(b) => b.clone(),
        v => match text(v) {
            Some(s) => s.into_bytes(),
            None => return Value::Undefined,
        },
    };
    Value::String(hex::encode(D::digest(&bytes)))
}

pub(crate) fn call(ctx: &Ctx<'_>, name: &str, exprs: &[Expr]) -> Result<Value, EvalError> {
    let input = ctx.input;
    let version = ctx.version;
    let mut args = Vec::with_capacity(exprs.len());
    for e in exprs {
        // `*` as an argument is the raw payload: `encode(*, 'base64')` ("Binary payloads").
        args.push(match e {
            Expr::Star => Value::Binary(input.payload.to_vec()),
            e => ctx.eval(e)?,
        });
    }
    let a = |i: usize| args.get(i).unwrap_or(&Value::Undefined);
    let n = args.len();
    let f = |i: usize| a(i).to_f64();
    let float1 = |op: fn(f64) -> f64| {
        if n == 1 {
            f(0).map_or(Value::Undefined, |x| dec(op(x), version))
        } else {
            Value::Undefined
        }
    };
    let int_arg = |i: usize| a(i).to_i64();
    Ok(match (name, n) {
        // Math.
        ("abs", 1) => unary_math(a(0), version, i64::checked_abs, f64::abs),
        ("sign", 1) => unary_math(
            a(0),
            version,
            |i| Some(i.signum()),
            |d| if d == 0.0 { 0.0 } else { d.signum() },
        ),
        ("ceil", 1) => to_int(a(0), f64::ceil),
        ("floor", 1) => to_int(a(0), f64::floor),
        // round: half away from zero (`round(-1.5)` is `-2`).
        ("round", 1) => to_int(a(0), f64::round),
        ("acos", _) => float1(f64::acos),
        ("asin", _) => float1(f64::asin),
        ("atan", _) => float1(f64::atan),
        ("cos", _) => float1(f64::cos),
        ("cosh", _) => float1(f64::cosh),
        ("sin", _) => float1(f64::sin),
        ("sinh", _) => float1(f64::sinh),
        ("tan", _) => float1(f64::tan),
        ("tanh", _) => float1(f64::tanh),
        ("exp", _) => float1(f64::exp),
        ("ln", _) => float1(f64::ln),
        ("log", _) => float1(f64::log10),
        ("sqrt", _) => float1(f64::sqrt),
        ("atan2", 2) => match (f(0), f(1)) {
            (Some(y), Some(x)) => dec(y.atan2(x), version),
            _ => Value::Undefined,
        },
        ("power", 2) => match (f(0), f(1)) {
            (Some(x), Some(y)) => dec(x.powf(y), version),
            _ => Value::Undefined,
        },
        ("mod" | "remainder", 2) => {
            crate::eval::binary(crate::parser::BinOp::Mod, a(0), a(1), version)
        }
        // trunc(x, n): n decimal places kept, n clamped to 0..34.
        ("trunc", 2) => match (f(0), int_arg(1)) {
            (Some(x), Some(places)) => {
                let scale = 10f64.powi(places.clamp(0, 34) as i32);
                let t = (x * scale).trunc() / scale;
                if t.is_finite() { dec(t, version) } else { dec(x, version) }
            }
            _ => Value::Undefined,
        },
        // nanvl(a, b): a when it is a valid number, else b.
        ("nanvl", 2) => match a(0) {
            Value::Int(_) => a(0).clone(),
            Value::Decimal(d) if !d.is_nan() => a(0).clone(),
            Value::String(s) if crate::value::parse_decimal_string(s).is_some() => a(0).clone(),
            _ => a(1).clone(),
        },
        ("bitand" | "bitor" | "bitxor", 2) => match (int_arg(0), int_arg(1)) {
            (Some(x), Some(y)) => Value::Int(match name {
                "bitand" => x & y,
                "bitor" => x | y,
                _ => x ^ y,
            }),
            _ => Value::Undefined,
        },
        ("bitnot", 1) => int_arg(0).map_or(Value::Undefined, |x| Value::Int(!x)),
        ("rand", 0) => Value::Decimal(ctx.env.rand()),
        ("chr", 1) => int_arg(0)
            .and_then(|c| u32::try_from(c).ok())
            .and_then(char::from_u32)
            .map_or(Value::Undefined, |c| Value::String(c.to_string())),

        // Strings.
        ("concat", 1..) => {
            if args.iter().any(|v| matches!(v, Value::Array(_))) {
                // With an Array argument the result is an Array of all the elements.
                let mut out = Vec::new();
                for v in &args {
                    match v {
                        Value::Array(items) => out.extend(items.iter().cloned()),
                        Value::Undefined => {}
                        v => out.push(v.clone()),
                    }
                }
                Value::Array(out)
            } else {
                let mut out = String::new();
                for v in &args {
                    match v.to_text() {
                        Some(s) => out.push_str(&s),
                        None => return Ok(Value::Undefined),
                    }
                }
                Value::String(out)
            }
        }
        ("length", 1) => match a(0) {
            Value::Array(items) => Value::Int(items.len() as i64),
            v => text(v).map_or(Value::Undefined, |s| Value::Int(s.chars().count() as i64)),
        },
        ("numbytes", 1) => text(a(0)).map_or(Value::Undefined, |s| Value::Int(s.len() as i64)),
        ("lower", 1) => string_of(text(a(0)).map(|s| s.to_lowercase())),
        ("upper", 1) => string_of(text(a(0)).map(|s| s.to_uppercase())),
        ("trim", 1) => string_of(text(a(0)).map(|s| s.trim().to_owned())),
        ("ltrim", 1) => string_of(text(a(0)).map(|s| s.trim_start().to_owned())),
        ("rtrim", 1) => string_of(text(a(0)).map(|s| s.trim_end().to_owned())),
        // lpad/rpad(s, n): n spaces (clamped to 0..1000) added on the left/right.
        ("lpad" | "rpad", 2) => match (text(a(0)), int_arg(1)) {
            (Some(s), Some(k)) => {
                let spaces = " ".repeat(k.clamp(0, 1000) as usize);
                Value::String(if name == "lpad" { spaces + &s } else { s + &spaces })
            }
            _ => Value::Undefined,
        },
        ("replace", 3) => match (text(a(0)), text(a(1)), text(a(2))) {
            (Some(s), Some(from), Some(to)) => Value::String(s.replace(&from, &to)),
            _ => Value::Undefined,
        },
        ("startswith" | "endswith", 2) => match (text(a(0)), text(a(1))) {
            (Some(s), Some(t)) => {
                Value::Bool(if name == "startswith" { s.starts_with(&t) } else { s.ends_with(&t) })
            }
            _ => Value::Undefined,
        },
        ("indexof", 2) => match (text(a(0)), text(a(1))) {
            (Some(s), Some(t)) => {
                Value::Int(s.find(&t).map_or(-1, |byte| s[..byte].chars().count() as i64))
            }
            _ => Value::Undefined,
        },
        // substring(s, from[, to]): 0-based character indexes, clamped to the string.
        ("substring", 2 | 3) => {
            let Some(s) = text(a(0)) else { return Ok(Value::Undefined) };
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let index = |v: &Value| match v {
                Value::Decimal(d) => Some(d.trunc() as i64),
                v => v.to_i64(),
            };
            let Some(from) = index(a(1)) else { return Ok(Value::Undefined) };
            let to = if n == 3 {
                match index(a(2)) {
                    Some(t) => t,
                    None => return Ok(Value::Undefined),
                }
            } else {
                len
            };
            let (from, to) = (from.clamp(0, len) as usize, to.clamp(0, len) as usize);
            Value::String(if from < to { chars[from..to].iter().collect() } else { String::new() })
        }
        ("regexp_matches", 2) => match (text(a(0)), text(a(1)).and_then(|p| regex(&p))) {
            (Some(s), Some(re)) => Value::Bool(re.is_match(&s)),
            _ => Value::Undefined,
        },
        ("regexp_substr", 2) => match (text(a(0)), text(a(1)).and_then(|p| regex(&p))) {
            (Some(s), Some(re)) => {
                Value::String(re.find(&s).map_or(String::new(), |m| m.as_str().to_owned()))
            }
            _ => Value::Undefined,
        },
        // regexp_replace(s, pattern, replacement): every match; `$n` names a group.
        ("regexp_replace", 3) => {
            match (text(a(0)), text(a(1)).and_then(|p| regex(&p)), text(a(2))) {
                (Some(s), Some(re), Some(with)) => {
                    Value::String(re.replace_all(&s, with.as_str()).into_owned())
                }
                _ => Value::Undefined,
            }
        }

        // Values and collections.
        ("isnull", 1) => Value::Bool(matches!(a(0), Value::Null)),
        ("isundefined", 1) => Value::Bool(a(0).is_undefined()),
        ("get_or_default", 2) => {
            if a(0).is_undefined() {
                a(1).clone()
            } else {
                a(0).clone()
            }
        }
        ("get", 2) => get(a(0).clone(), a(1)),
        // transform('enrichArray', object, array): each object element of the array with the
        // object's members added.
        ("transform", 3) => match (a(0), a(1), a(2)) {
            (Value::String(mode), Value::Object(extra), Value::Array(items))
                if mode == "enrichArray" =>
            {
                Value::Array(
                    items
                        .iter()
                        .filter_map(|item| match item {
                            Value::Object(map) => {
                                let mut map = map.clone();
                                map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                                Some(Value::Object(map))
                            }
                            _ => None,
                        })
                        .collect(),
                )
            }
            _ => Value::Undefined,
        },

        // Encodings and hashes.
        ("encode", 2) => match (a(0), text(a(1)).as_deref()) {
            (Value::Binary(bytes), Some("base64")) => Value::String(BASE64.encode(bytes)),
            (Value::Undefined, _) => Value::Undefined,
            (v, Some("base64")) => match v {
                Value::Array(_) | Value::Object(_) => {
                    v.to_text().map_or(Value::Undefined, |s| Value::String(BASE64.encode(s)))
                }
                v => text(v).map_or(Value::Undefined, |s| Value::String(BASE64.encode(s))),
            },
            _ => Value::Undefined,
        },
        // decode(v, 'base64'): JSON content becomes its value, other UTF-8 a String.
        ("decode", 2) => match (text(a(0)), text(a(1)).as_deref()) {
            (Some(s), Some("base64")) => match BASE64.decode(s.as_bytes()) {
                Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                    Ok(json) => Value::from_json(&json, version),
                    Err(_) => String::from_utf8(bytes).map_or(Value::Undefined, Value::String),
                },
                Err(_) => Value::Undefined,
            },
            _ => Value::Undefined,
        },
        ("md5", 1) => hash::<Md5>(a(0)),
        ("sha1", 1) => hash::<Sha1>(a(0)),
        ("sha224", 1) => hash::<Sha224>(a(0)),
        ("sha256", 1) => hash::<Sha256>(a(0)),
        ("sha384", 1) => hash::<Sha384>(a(0)),
        ("sha512", 1) => hash::<Sha512>(a(0)),

        // The message and its context.
        ("topic", 0 | 1) => {
            // Basic Ingest: `$aws/rules/{rule}/` is not part of the topic the rule sees.
            let topic = match input.topic.strip_prefix("$aws/rules/") {
                Some(rest) => rest.split_once('/').map_or("", |(_, t)| t),
                None => input.topic,
            };
            if n == 0 {
                Value::String(topic.to_owned())
            } else {
                match int_arg(0).and_then(|i| usize::try_from(i).ok()).filter(|i| *i >= 1) {
                    Some(i) => topic
                        .split('/')
                        .nth(i - 1)
                        .map_or(Value::Undefined, |s| Value::String(s.to_owned())),
                    None => Value::Undefined,
                }
            }
        }
        ("clientid", 0) => Value::String(input.client_id.unwrap_or("n/a").to_owned()),
        ("principal", 0) => string_of(input.principal.map(str::to_owned)),
        ("accountid", 0) => string_of(input.account_id.map(str::to_owned)),
        ("sourceip", 0) => string_of(input.source_ip.map(str::to_owned)),
        ("timestamp", 0) => Value::Int(input.timestamp_ms),
        ("newuuid", 0) => Value::String(ctx.env.new_uuid()),
        ("traceid", 0) => Value::String(ctx.env.trace_id()),
        ("sql_version", 0) => Value::String(version.as_str().to_owned()),
        ("get_mqtt_property", 1) => {
            let p = &input.mqtt;
            match text(a(0)).as_deref() {
                Some("format_indicator") => match p.payload_format_indicator {
                    Some(1) => Value::String("UTF8_DATA".into()),
                    Some(_) => Value::String("UNSPECIFIED_BYTES".into()),
                    None => Value::Undefined,
                },
                Some("content_type") => string_of(p.content_type.map(str::to_owned)),
                Some("response_topic") => string_of(p.response_topic.map(str::to_owned)),
                Some("correlation_data") => string_of(p.correlation_data.map(|d| BASE64.encode(d))),
                _ => Value::Undefined,
            }
        }
        ("get_user_properties", 1) => match text(a(0)) {
            Some(key) => {
                let values: Vec<Value> = input
                    .mqtt
                    .user_properties
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| Value::String(v.clone()))
                    .collect();
                if values.is_empty() { Value::Undefined } else { Value::Array(values) }
            }
            None => Value::Undefined,
        },
        ("get_thing_shadow", 2 | 3) => {
            let thing = text(a(0));
            let (shadow, role) = if n == 3 { (text(a(1)), text(a(2))) } else { (None, text(a(1))) };
            match (thing, role) {
                (Some(thing), Some(role)) => {
                    match ctx.env.thing_shadow(&thing, shadow.as_deref(), &role) {
                        Ok(Some(doc)) => Value::from_json(&doc, version),
                        Ok(None) => Value::Undefined,
                        Err(message) => {
                            return Err(EvalError::External {
                                function: "get_thing_shadow",
                                message,
                            });
                        }
                    }
                }
                _ => Value::Undefined,
            }
        }
        // parse_time(pattern, epochMs[, zone]) and time_to_epoch(text, pattern).
        ("parse_time", 2 | 3) => {
            let offset = if n == 3 {
                text(a(2)).and_then(|z| crate::timefmt::zone(&z))
            } else {
                Some(time::UtcOffset::UTC)
            };
            match (text(a(0)), a(1).to_i64(), offset) {
                (Some(p), Some(ms), Some(o)) => string_of(crate::timefmt::format(&p, ms, o)),
                _ => Value::Undefined,
            }
        }
        ("time_to_epoch", 2) => match (text(a(0)), text(a(1))) {
            (Some(s), Some(p)) => {
                crate::timefmt::parse(&s, &p).map_or(Value::Undefined, Value::Int)
            }
            _ => Value::Undefined,
        },
        _ => Value::Undefined,
    })
}
