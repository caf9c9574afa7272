//! The canonical request of SigV4: URI path normalization and encoding, the canonical query
//! string, canonical headers, and the string to sign.
//!
//! Everything here works on the request as it arrived on the wire (the path and query still
//! percent-encoded), because that is what the client encoded before signing.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// Every byte is encoded except the unreserved characters of RFC 3986.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same, keeping `/` between path segments.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The algorithm name, first line of the string to sign.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The payload hash a client sends when it did not hash the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The canonical URI for services other than S3: the path as received, with empty and dot
/// segments removed (RFC 3986 section 5.2.4), then percent-encoded once more. A client encodes
/// a path twice ("double encoding"); it arrives encoded once, so encoding it again here
/// reproduces what the client signed.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut normalized = String::with_capacity(raw_path.len() + 1);
    for segment in &segments {
        normalized.push('/');
        normalized.push_str(segment);
    }
    let trailing = raw_path.ends_with('/') || raw_path.ends_with("/.") || raw_path.ends_with("/..");
    if normalized.is_empty() || (trailing && !normalized.ends_with('/')) {
        normalized.push('/');
    }
    utf8_percent_encode(&normalized, PATH).to_string()
}

/// Decodes one query-string component as form encoding does (`+` is a space), the way the AWS
/// SDKs read a query before they sign it.
pub(crate) fn decode_query_component(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order.
pub(crate) fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_component(name), decode_query_component(value))
        })
        .collect()
}

/// The canonical query string: every pair except those named in `skip` encoded with the strict
/// set, sorted by name then value, joined by `&`.
pub(crate) fn canonical_query(pairs: &[(String, String)], skip: &[&str]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                utf8_percent_encode(name, UNRESERVED).to_string(),
                utf8_percent_encode(value, UNRESERVED).to_string(),
            )
        })
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (index, (name, value)) in encoded.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// A header value as SigV4 canonicalizes it: trimmed, runs of spaces made one space.
pub(crate) fn trim_all(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The canonical request's parts, joined by [`CanonicalRequest::to_text`].
pub(crate) struct CanonicalRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) uri: String,
    pub(crate) query: String,
    /// `name:value\n` for every signed header, in signed-header order.
    pub(crate) headers: String,
    pub(crate) signed_headers: &'a str,
    pub(crate) payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// The text that is hashed into the string to sign.
    pub(crate) fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method, self.uri, self.query, self.headers, self.signed_headers, self.payload_hash
        )
    }
}

/// The string to sign, from the request timestamp (`YYYYMMDDTHHMMSSZ`), the credential scope
/// (`date/region/service/aws4_request`) and the canonical request text.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_normalized_then_encoded_again() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/example1/example2/../.."), "/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("/a/b/."), "/a/b/");
        assert_eq!(canonical_uri("/../x"), "/x");
        // A thing name with a colon arrives as %3A and is signed double-encoded.
        assert_eq!(canonical_uri("/things/a%3Ab"), "/things/a%253Ab");
        assert_eq!(canonical_uri("/example space/"), "/example%20space/");
    }

    #[test]
    fn query_is_decoded_sorted_and_strictly_encoded() {
        let pairs = query_pairs("b=2&a=x+y&a=1&%E1%88%B4=v&empty&c=%2f");
        assert_eq!(canonical_query(&pairs, &[]), "%E1%88%B4=v&a=1&a=x%20y&b=2&c=%2F&empty=");
        assert_eq!(canonical_query(&pairs, &["a"]), "%E1%88%B4=v&b=2&c=%2F&empty=");
    }

    #[test]
    fn header_values_are_trimmed() {
        assert_eq!(trim_all("  a   b \t c  "), "a b c");
        assert_eq!(trim_all(""), "");
    }
}
