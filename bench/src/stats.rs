//! Results: percentiles over sorted samples, and the report printed as a table on stderr and
//! as one JSON line on stdout.

use std::fmt::Write as _;

/// The nearest-rank `p`-th percentile (0 < p <= 100) of ascending `sorted`; 0 when empty.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // The epsilon keeps 99.9% of 1000 at rank 999 despite binary floating point.
    let rank = (p / 100.0 * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One reported value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string.
    Str(String),
    /// A count.
    Int(u64),
    /// A measurement.
    Float(f64),
    /// Not measured (printed as `null`).
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n)
    }
}
impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(n as u64)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        if x.is_finite() { Value::Float(x) } else { Value::Null }
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// An ordered list of named results.
#[derive(Debug, Default, Clone)]
pub(crate) struct Report {
    fields: Vec<(&'static str, Value)>,
    /// Why the run failed, if it did (lost acknowledged messages, broker errors).
    pub(crate) failure: Option<String>,
}

impl Report {
    /// Sets `name` (replacing an earlier value).
    pub(crate) fn set(&mut self, name: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    /// The value of `name`.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Marks the run failed (the first reason is kept).
    pub(crate) fn fail(&mut self, why: impl Into<String>) {
        self.failure.get_or_insert(why.into());
    }

    /// The report as one line of JSON.
    pub(crate) fn json(&self) -> String {
        let mut out = String::from("{");
        let failure = Value::from(self.failure.clone());
        let ok = Value::Str(if self.failure.is_none() { "ok" } else { "failed" }.to_owned());
        let extra = [("status", &ok), ("failure", &failure)];
        let all = self.fields.iter().map(|(n, v)| (*n, v)).chain(extra);
        for (i, (name, value)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{name}\":");
            match value {
                Value::Str(s) => push_json_string(&mut out, s),
                Value::Int(n) => {
                    let _ = write!(out, "{n}");
                }
                Value::Float(x) => {
                    let _ = write!(out, "{}", round(*x));
                }
                Value::Null => out.push_str("null"),
            }
        }
        out.push('}');
        out
    }

    /// The report as an aligned, human-readable table.
    pub(crate) fn table(&self) -> String {
        let width = self.fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, value) in &self.fields {
            let shown = match value {
                Value::Str(s) => s.clone(),
                Value::Int(n) => group_thousands(*n),
                Value::Float(x) => format!("{}", round(*x)),
                Value::Null => "-".to_owned(),
            };
            let _ = writeln!(out, "  {name:<width$}  {shown}");
        }
        match &self.failure {
            None => out.push_str("  result: ok\n"),
            Some(why) => {
                let _ = writeln!(out, "  result: FAILED: {why}");
            }
        }
        out
    }
}

/// Rounds to a sensible number of significant digits for printing.
fn round(x: f64) -> f64 {
    let digits = if x.abs() >= 1000.0 { 1 } else { 4 };
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&v, 90.0), 900);
        assert_eq!(percentile(&v, 99.0), 990);
        assert_eq!(percentile(&v, 99.9), 999);
        assert_eq!(percentile(&v, 100.0), 1000);
        assert_eq!(percentile(&[7], 99.9), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[1, 2], 0.0), 1);
    }

    #[test]
    fn report_is_one_json_line_with_nulls_and_escapes() {
        let mut r = Report::default();
        r.set("scenario", "p2p");
        r.set("deliveries", 12u64);
        r.set("msgs_per_sec", 1234.5678);
        r.set("p99_us", None::<u64>);
        r.set("note", "a \"b\"\n");
        r.set("deliveries", 13u64);
        assert_eq!(r.get("deliveries"), Some(&Value::Int(13)));
        assert_eq!(
            r.json(),
            "{\"scenario\":\"p2p\",\"deliveries\":13,\"msgs_per_sec\":1234.6,\"p99_us\":null,\
             \"note\":\"a \\\"b\\\"\\u000a\",\"status\":\"ok\",\"failure\":null}"
        );
        r.fail("lost 3");
        r.fail("later");
        assert!(r.json().ends_with("\"status\":\"failed\",\"failure\":\"lost 3\"}"));
        assert!(r.table().contains("FAILED: lost 3"));
        assert_eq!(Value::from(f64::NAN), Value::Null);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(1234567), "1_234_567");
        assert_eq!(group_thousands(123), "123");
    }
}
