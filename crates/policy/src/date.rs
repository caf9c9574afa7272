//! Dates for the `Date*` condition operators and `aws:CurrentTime`: ISO 8601 / RFC 3339 text or
//! epoch seconds, to milliseconds since the Unix epoch and back. No clock is read.
//!
//! IAM: "Date condition operators ... You must specify date/time values with one of the W3C
//! implementations of the ISO 8601 date formats or in epoch (UNIX) time"
//! (reference_policies_elements_condition_operators.html).

/// Milliseconds since the epoch, from `2019-08-16`, `2019-08-16T12:00Z`,
/// `2019-08-16T12:00:00.5+02:00`, or epoch seconds such as `1565956800` (fraction allowed).
pub(crate) fn parse_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(ms) = parse_epoch(text) {
        return Some(ms);
    }
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day).checked_mul(86_400_000)?;
    if bytes.len() == 10 {
        return Some(millis);
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    expect(bytes, 13, b':')?;
    let minute = digits(bytes, 14, 2)?;
    let mut at = 16;
    let mut second = 0;
    let mut fraction_ms = 0;
    if bytes.get(at) == Some(&b':') {
        second = digits(bytes, at + 1, 2)?;
        at += 3;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return None;
            }
            let frac = text.get(start..at.min(start + 3))?;
            fraction_ms = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') if at + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h = digits(bytes, at + 1, 2)?;
            expect(bytes, at + 3, b':')?;
            let m = digits(bytes, at + 4, 2)?;
            if at + 6 != bytes.len() || h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'+' { total } else { -total }
        }
        // No zone: read as UTC.
        None => 0,
        _ => return None,
    };
    millis += ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + fraction_ms;
    Some(millis)
}

/// `2019-08-16T12:00:00Z` for the given epoch milliseconds (floored to the second).
pub(crate) fn format_iso(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

fn parse_epoch(text: &str) -> Option<i64> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let unsigned = int.strip_prefix('-').unwrap_or(int);
    if unsigned.is_empty()
        || !unsigned.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || unsigned.len() > 15
    {
        return None;
    }
    let seconds: i64 = int.parse().ok()?;
    let frac3 = frac.get(..frac.len().min(3)).unwrap_or("");
    let ms: i64 = if frac3.is_empty() {
        0
    } else {
        frac3.parse::<i64>().ok()? * 10_i64.pow(3 - frac3.len() as u32)
    };
    let ms = if seconds < 0 || int.starts_with('-') { -ms } else { ms };
    seconds.checked_mul(1000)?.checked_add(ms)
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = bytes.get(at..at + n)?;
    if !slice.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(slice.iter().fold(0, |acc, b| acc * 10 + i64::from(b - b'0')))
}

fn expect(bytes: &[u8], at: usize, byte: u8) -> Option<()> {
    (bytes.get(at) == Some(&byte)).then_some(())
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms (public domain), proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forms() {
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("1565956800"), Some(1_565_956_800_000));
        assert_eq!(parse_millis("2019-08-16T12:00:00Z"), Some(1_565_956_800_000));
        assert_eq!(parse_millis("2019-08-16T14:00:00+02:00"), Some(1_565_956_800_000));
        assert_eq!(parse_millis("2019-08-16T12:00Z"), Some(1_565_956_800_000));
        assert_eq!(parse_millis("2019-08-16T12:00:00.250Z"), Some(1_565_956_800_250));
        assert_eq!(parse_millis("2019-08-16"), Some(1_565_913_600_000));
        assert_eq!(parse_millis("2019-02-30"), None);
        assert_eq!(parse_millis("yesterday"), None);
        assert_eq!(format_iso(1_565_956_800_000), "2019-08-16T12:00:00Z");
        assert_eq!(format_iso(-1000), "1969-12-31T23:59:59Z");
    }
}
