//! `parse_time` and `time_to_epoch`: the common subset of Joda-Time's `DateTimeFormat` patterns
//! that AWS documents for these functions
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-sql-function-parse-time>).
//!
//! Supported letters: `y` (yyyy, yy), `M` (M, MM, MMM, MMMM), `d`, `D` (day of year, format
//! only), `H`, `h`, `m`, `s`, `S` (fraction), `a`, `E` (EEE, EEEE; format only), `Z` (`+0000`),
//! `ZZ` (`+00:00`), `ZZZ` and `z` (zone id; format only), `'quoted text'` and `''`. Zones are
//! UTC or fixed offsets (`+05:30`); named zones (`America/Los_Angeles`) need a time-zone
//! database and are Undefined. Other letters (`G C Y x w e K k`) make the pattern Undefined.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

enum Field {
    Letter(char, usize),
    Literal(String),
}

fn tokens(pattern: &str) -> Option<Vec<Field>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push(Field::Literal("'".into()));
                i += 2;
                continue;
            }
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        text.push(c);
                        i += 1;
                    }
                }
            }
            out.push(Field::Literal(text));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            if !"yMdDHhmsSaEZz".contains(c) {
                return None;
            }
            out.push(Field::Letter(c, n));
            i += n;
        } else {
            out.push(Field::Literal(c.to_string()));
            i += 1;
        }
    }
    Some(out)
}

/// A zone argument: UTC names or a fixed offset such as `+05:30`, `-0800`.
pub(crate) fn zone(name: &str) -> Option<UtcOffset> {
    if ["utc", "z", "gmt", "etc/utc", "etc/gmt", "zulu"]
        .contains(&name.to_ascii_lowercase().as_str())
    {
        return Some(UtcOffset::UTC);
    }
    parse_offset(name).filter(|(_, used)| *used == name.len()).map(|(o, _)| o)
}

fn parse_offset(text: &str) -> Option<(UtcOffset, usize)> {
    if text.starts_with('Z') {
        return Some((UtcOffset::UTC, 1));
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &text[1..];
    fn digits(s: Option<&str>) -> Option<&str> {
        s.filter(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
    }
    // `get` rather than indexing: the text after the sign may hold multi-byte characters.
    let (h, m, used) = if let (Some(h), Some(":"), Some(m)) =
        (digits(rest.get(..2)), rest.get(2..3), digits(rest.get(3..5)))
    {
        (h, m, 6)
    } else if let (Some(h), Some(m)) = (digits(rest.get(..2)), digits(rest.get(2..4))) {
        (h, m, 5)
    } else {
        return None;
    };
    let h: i8 = h.parse().ok()?;
    let m: i8 = m.parse().ok()?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok().map(|o| (o, used))
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let digits = v.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// `parse_time(pattern, epochMs, zone)`: formats the instant in the zone.
pub(crate) fn format(pattern: &str, epoch_ms: i64, offset: UtcOffset) -> Option<String> {
    let fields = tokens(pattern)?;
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .ok()?
        .to_offset(offset);
    let mut out = String::new();
    for f in fields {
        match f {
            Field::Literal(s) => out.push_str(&s),
            Field::Letter(c, n) => match c {
                'y' if n == 2 => pad(&mut out, i64::from(t.year()).rem_euclid(100), 2),
                'y' => pad(&mut out, i64::from(t.year()), n),
                'M' if n >= 4 => out.push_str(MONTHS[usize::from(u8::from(t.month())) - 1]),
                'M' if n == 3 => out.push_str(&MONTHS[usize::from(u8::from(t.month())) - 1][..3]),
                'M' => pad(&mut out, i64::from(u8::from(t.month())), n),
                'd' => pad(&mut out, i64::from(t.day()), n),
                'D' => pad(&mut out, i64::from(t.ordinal()), n),
                'H' => pad(&mut out, i64::from(t.hour()), n),
                'h' => pad(&mut out, i64::from((t.hour() + 11) % 12 + 1), n),
                'm' => pad(&mut out, i64::from(t.minute()), n),
                's' => pad(&mut out, i64::from(t.second()), n),
                'S' => {
                    let ms = format!("{:03}", t.millisecond());
                    let mut frac: String = ms.chars().take(n).collect();
                    while frac.len() < n {
                        frac.push('0');
                    }
                    out.push_str(&frac);
                }
                'a' => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
                'E' => {
                    let day = DAYS[usize::from(t.weekday().number_days_from_monday())];
                    out.push_str(if n >= 4 { day } else { &day[..3] });
                }
                'Z' | 'z' if (n >= 3 || c == 'z') && offset.is_utc() => out.push_str("UTC"),
                'Z' | 'z' if n >= 3 || c == 'z' => return None,
                'Z' => {
                    let (h, m, _) = offset.as_hms();
                    out.push(if offset.is_negative() { '-' } else { '+' });
                    pad(&mut out, i64::from(h.unsigned_abs()), 2);
                    if n == 2 {
                        out.push(':');
                    }
                    pad(&mut out, i64::from(m.unsigned_abs()), 2);
                }
                _ => return None,
            },
        }
    }
    Some(out)
}

fn number(text: &str, at: &mut usize, max: usize) -> Option<i64> {
    let bytes = text.as_bytes();
    let start = *at;
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    while i < bytes.len() && bytes[i].is_ascii_digit() && i - start < max {
        i += 1;
    }
    let v = text.get(start..i)?.parse().ok()?;
    *at = i;
    Some(v)
}

/// `time_to_epoch(text, pattern)`: the epoch milliseconds `text` names; UTC unless the text
/// carries an offset (`Z`).
pub(crate) fn parse(text: &str, pattern: &str) -> Option<i64> {
    let fields = tokens(pattern)?;
    let (mut year, mut month, mut day) = (1970_i64, 1_i64, 1_i64);
    let (mut hour, mut minute, mut second, mut milli) = (0_i64, 0_i64, 0_i64, 0_i64);
    let mut pm = None;
    let mut offset = UtcOffset::UTC;
    let mut at = 0;
    let adjacent: Vec<bool> =
        (0..fields.len()).map(|i| matches!(fields.get(i + 1), Some(Field::Letter(..)))).collect();
    for (index, f) in fields.into_iter().enumerate() {
        // A numeric field followed directly by another field reads at most `n` digits.
        let max = |n: usize, default: usize| if adjacent[index] { n.max(1) } else { default };
        match f {
            Field::Literal(s) => {
                if !text.get(at..)?.starts_with(&s) {
                    return None;
                }
                at += s.len();
            }
            Field::Letter(c, n) => match c {
                'y' => {
                    let v = number(text, &mut at, if n == 2 { 2 } else { max(n, 9) })?;
                    year = if n == 2 { 2000 + v } else { v };
                }
                'M' if n >= 3 => {
                    let rest = text.get(at..)?.to_ascii_lowercase();
                    let (i, len) = MONTHS.iter().enumerate().find_map(|(i, m)| {
                        let m = m.to_ascii_lowercase();
                        if n >= 4 && rest.starts_with(&m) {
                            Some((i, m.len()))
                        } else if rest.starts_with(&m[..3]) {
                            Some((i, 3))
                        } else {
                            None
                        }
                    })?;
                    month = i as i64 + 1;
                    at += len;
                }
                'M' => month = number(text, &mut at, max(n, 2))?,
                'd' => day = number(text, &mut at, max(n, 2))?,
                'H' | 'h' => hour = number(text, &mut at, max(n, 2))?,
                'm' => minute = number(text, &mut at, max(n, 2))?,
                's' => second = number(text, &mut at, max(n, 2))?,
                'S' => {
                    let start = at;
                    let v = number(text, &mut at, n.max(1))?;
                    let digits = (at - start) as u32;
                    milli = if digits >= 3 {
                        v / 10_i64.pow(digits - 3)
                    } else {
                        v * 10_i64.pow(3 - digits)
                    };
                }
                'a' => {
                    let rest = text.get(at..)?;
                    pm = Some(if rest.get(..2)?.eq_ignore_ascii_case("pm") {
                        true
                    } else if rest.get(..2)?.eq_ignore_ascii_case("am") {
                        false
                    } else {
                        return None;
                    });
                    at += 2;
                }
                'Z' => {
                    let (o, used) = parse_offset(text.get(at..)?)?;
                    offset = o;
                    at += used;
                }
                _ => return None,
            },
        }
    }
    if at != text.len() {
        return None;
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_milli(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        u16::try_from(milli).ok()?,
    )
    .ok()?;
    let nanos = PrimitiveDateTime::new(date, time).assume_offset(offset).unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).ok()
}
