//! Evaluates expressions over a message: operators with AWS's type tables, member access,
//! CASE, and the SELECT list into an output object.
//!
//! Operator semantics are those of "Operators" in the AWS IoT SQL reference
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html>), cited at each
//! operator below.

use std::cmp::Ordering;

use crate::error::EvalError;
use crate::parser::{BinOp, Expr};
use crate::value::{Num, Value};
use crate::{Env, Input, SqlVersion};

/// Everything an expression can see while one message is evaluated.
pub(crate) struct Ctx<'a> {
    pub(crate) input: &'a Input<'a>,
    pub(crate) env: &'a dyn Env,
    pub(crate) version: SqlVersion,
    /// The payload as a value: the JSON document, or [`Value::Binary`] when it is not JSON.
    pub(crate) payload: Value,
}

impl Ctx<'_> {
    pub(crate) fn eval(&self, e: &Expr) -> Result<Value, EvalError> {
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::Star => self.payload.clone(),
            Expr::Name(n) => match &self.payload {
                Value::Object(map) => map.get(n).cloned().unwrap_or(Value::Undefined),
                _ => Value::Undefined,
            },
            Expr::Member(base, n) => match self.eval(base)? {
                Value::Object(mut map) => map.remove(n).unwrap_or(Value::Undefined),
                _ => Value::Undefined,
            },
            Expr::Index(base, index) => {
                let base = self.eval(base)?;
                let index = self.eval(index)?;
                get(base, &index)
            }
            Expr::Call(name, args) => crate::functions::call(self, name, args)?,
            Expr::Cast(e, ty) => crate::functions::cast(self.eval(e)?, ty, self.version),
            Expr::Neg(e) => match self.eval(e)?.to_number() {
                Some(Num::Int(i)) => i.checked_neg().map_or(Value::Undefined, Value::Int),
                Some(Num::Dec(d)) => Value::decimal(-d, self.version),
                None => Value::Undefined,
            },
            // NOT: a Boolean or a "true"/"false" string, anything else Undefined.
            Expr::Not(e) => self.eval(e)?.to_bool().map_or(Value::Undefined, |b| Value::Bool(!b)),
            Expr::Bin(op, l, r) => {
                let l = self.eval(l)?;
                let r = self.eval(r)?;
                binary(*op, &l, &r, self.version)
            }
            Expr::Case { operand, arms, otherwise } => {
                let subject = match operand {
                    Some(e) => Some(self.eval(e)?),
                    None => None,
                };
                // "Case statements": with an operand, Undefined is Undefined; the first WHEN
                // equal to it wins; no match and no ELSE is Undefined.
                if subject.as_ref().is_some_and(Value::is_undefined) {
                    return Ok(Value::Undefined);
                }
                for (when, then) in arms {
                    let w = self.eval(when)?;
                    let hit = match &subject {
                        Some(s) => equals(s, &w) == Some(true),
                        None => w.to_bool() == Some(true),
                    };
                    if hit {
                        return self.eval(then);
                    }
                }
                match otherwise {
                    Some(e) => self.eval(e)?,
                    None => Value::Undefined,
                }
            }
            Expr::Object(members) => {
                let mut map = std::collections::BTreeMap::new();
                for (k, e) in members {
                    let v = self.eval(e)?;
                    if !v.is_undefined() {
                        map.insert(k.clone(), v);
                    }
                }
                Value::Object(map)
            }
            Expr::Array(items) => {
                Value::Array(items.iter().map(|e| self.eval(e)).collect::<Result<_, _>>()?)
            }
        })
    }
}

/// `coll[i]` and `get(coll, key|index)`: a 0-based index into an Array, a key of an Object;
/// anything else is Undefined.
pub(crate) fn get(base: Value, index: &Value) -> Value {
    match (base, index) {
        (Value::Array(mut items), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .filter(|i| *i < items.len())
            .map_or(Value::Undefined, |i| items.swap_remove(i)),
        (Value::Object(mut map), Value::String(k)) => map.remove(k).unwrap_or(Value::Undefined),
        _ => Value::Undefined,
    }
}

/// `=`: Undefined on either side is Undefined; numbers compare by value (Int and Decimal
/// alike); Arrays need the same elements in the same order; Objects the same keys and values in
/// any order; values of different types are not equal ("= operator").
pub(crate) fn equals(l: &Value, r: &Value) -> Option<bool> {
    Some(match (l, r) {
        (Value::Undefined, _) | (_, Value::Undefined) => return None,
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            l.to_f64() == r.to_f64()
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equals(x, y) == Some(true))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| equals(x, y) == Some(true)))
        }
        _ => l == r,
    })
}

fn ordering(l: &Value, r: &Value) -> Option<Ordering> {
    // "> operator" and friends: Int/Decimal/numeric String on both sides compare as Decimal;
    // any other operand makes the result Undefined.
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        _ => l.to_f64()?.partial_cmp(&r.to_f64()?),
    }
}

fn arith(op: BinOp, a: Num, b: Num, version: SqlVersion) -> Value {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let v = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                // Int / Int is Int ("/ operator"); division by zero is Undefined.
                BinOp::Div => x.checked_div(y),
                BinOp::Mod => x.checked_rem(y),
                _ => None,
            };
            match v {
                Some(v) => Value::Int(v),
                // Overflow moves to Decimal; AWS's Int holds 34 digits.
                None if y != 0 => arith(op, Num::Dec(x as f64), Num::Dec(y as f64), version),
                None => Value::Undefined,
            }
        }
        _ => {
            let (x, y) = (a.as_f64(), b.as_f64());
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if y != 0.0 => x / y,
                BinOp::Mod if y != 0.0 => x % y,
                _ => return Value::Undefined,
            };
            if v.is_finite() { Value::decimal(v, version) } else { Value::Undefined }
        }
    }
}

pub(crate) fn binary(op: BinOp, l: &Value, r: &Value, version: SqlVersion) -> Value {
    match op {
        // "AND operator" / "OR operator": Booleans or "true"/"false" strings, else Undefined.
        BinOp::And | BinOp::Or => match (l.to_bool(), r.to_bool()) {
            (Some(a), Some(b)) => Value::Bool(if op == BinOp::And { a && b } else { a || b }),
            _ => Value::Undefined,
        },
        BinOp::Eq => equals(l, r).map_or(Value::Undefined, Value::Bool),
        BinOp::Ne => equals(l, r).map_or(Value::Undefined, |b| Value::Bool(!b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match ordering(l, r) {
            Some(o) => Value::Bool(match op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }),
            None => Value::Undefined,
        },
        // "IN operator": true when the right-hand Array holds an element equal to the left.
        BinOp::In => match (l, r) {
            (Value::Undefined, _) => Value::Undefined,
            (_, Value::Array(items)) => {
                Value::Bool(items.iter().any(|item| equals(l, item) == Some(true)))
            }
            _ => Value::Undefined,
        },
        // "+ operator": numbers add; if either side is a String the other is converted to a
        // String and the two are concatenated (reference 9.2).
        BinOp::Add => match (l, r) {
            (Value::String(_), _) | (_, Value::String(_)) => match (l.to_text(), r.to_text()) {
                (Some(a), Some(b)) => Value::String(a + &b),
                _ => Value::Undefined,
            },
            (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
                match (l.to_number(), r.to_number()) {
                    (Some(a), Some(b)) => arith(op, a, b, version),
                    _ => Value::Undefined,
                }
            }
            _ => Value::Undefined,
        },
        // "- * / % operators": Int/Decimal, and Strings that are valid Decimals; else Undefined.
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (l.to_number(), r.to_number()) {
            (Some(a), Some(b)) => arith(op, a, b, version),
            _ => Value::Undefined,
        },
    }
}
