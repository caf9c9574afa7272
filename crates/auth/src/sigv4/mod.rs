//! AWS Signature Version 4 verification, sans-I/O: the caller passes the request as it arrived
//! ([`Request`]), the rules of the endpoint ([`Rules`]), the current time and a function that
//! finds an access key by id; [`verify`] says who signed it or why it is refused.
//!
//! Both forms are accepted: the `Authorization` header (with `X-Amz-Date` and, optionally,
//! `x-amz-content-sha256`, whose value may be `UNSIGNED-PAYLOAD`) and presigned query
//! parameters (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//! `X-Amz-SignedHeaders`, `X-Amz-Signature`). The credential scope's region must be the
//! server's, its service one of the endpoint's, and the request time within 15 minutes of now
//! (a presigned URL: from 15 minutes before its date until it expires; one without
//! `X-Amz-Expires`, as the AWS IoT Device SDKs presign MQTT over WebSocket, within 15 minutes
//! of its date). A presigned `X-Amz-Security-Token` may be signed or, as those SDKs do,
//! appended after the signature unsigned.

mod canonical;
mod parse;

use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use time::macros::format_description;

pub use canonical::UNSIGNED_PAYLOAD;
pub use parse::Form;

use canonical::{
    CanonicalRequest, canonical_query, canonical_uri, query_pairs, sha256_hex, string_to_sign,
    trim_all,
};

/// The largest clock difference accepted between the signer and the server, as on AWS.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// An HTTP request as SigV4 sees it: everything exactly as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path, still percent-encoded as on the wire.
    pub path: &'a str,
    /// The query string without `?`, still percent-encoded.
    pub query: &'a str,
    /// Every header (any case), repeated names in the order received.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The first value of header `name` (compared without case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// Every value of header `name`, trimmed and joined by `,` as SigV4 wants them.
    fn header_values(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_all(v))
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

/// What an endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The server's region; the credential scope must name it.
    pub region: String,
    /// The signing names accepted here, such as `iot` (later `iotdata`, `iot-jobs-data`).
    pub services: Vec<String>,
    /// The largest accepted clock difference.
    pub max_skew: Duration,
}

impl Rules {
    /// Rules for `region` and `services`, with the 15-minute skew of AWS.
    pub fn new(region: impl Into<String>, services: &[&str]) -> Rules {
        Rules {
            region: region.into(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            max_skew: MAX_SKEW,
        }
    }
}

/// A key found by [`verify`]'s lookup: anything that can hand out its secret.
pub trait SecretKey {
    /// The secret access key.
    fn secret_access_key(&self) -> &str;
}

impl SecretKey for String {
    fn secret_access_key(&self) -> &str {
        self
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<K> {
    /// The access key, as the lookup returned it.
    pub key: K,
    /// The access key id.
    pub access_key_id: String,
    /// The credential scope's region.
    pub region: String,
    /// The credential scope's service (signing name).
    pub service: String,
    /// How the signature was carried.
    pub form: Form,
}

/// How a refused request is answered; the API maps each to an AWS error name and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No signature at all (`MissingAuthenticationTokenException`).
    MissingAuthenticationToken,
    /// A signature with parts missing or malformed (`IncompleteSignatureException`).
    IncompleteSignature,
    /// A signature that does not verify, is out of time or scoped elsewhere
    /// (`InvalidSignatureException`).
    InvalidSignature,
    /// An access key id that is unknown or revoked (`UnrecognizedClientException`).
    UnrecognizedClient,
}

/// Why a request's signature was refused. The messages follow AWS's and never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Missing Authentication Token")]
    Missing,
    /// An algorithm other than `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{0}'")]
    UnsupportedAlgorithm(String),
    /// A required signature parameter is absent.
    #[error("Authorization requires '{0}' parameter.")]
    MissingParameter(&'static str),
    /// The credential is not `id/date/region/service/aws4_request`.
    #[error(
        "Credential should be scoped to a valid region, not '{0}'. Expected access-key-id/YYYYMMDD/region/service/aws4_request."
    )]
    MalformedCredential(String),
    /// The header form without `X-Amz-Date`.
    #[error("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")]
    MissingDate,
    /// A request date not in ISO 8601 basic format.
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    MalformedDate(String),
    /// `X-Amz-Expires` not a number of seconds in 1..=604800.
    #[error("X-Amz-Expires must be between 1 and 604800 seconds, got '{0}'")]
    BadExpires(String),
    /// The signature is not hex.
    #[error("The signature is not a hex-encoded SHA-256 HMAC")]
    MalformedSignature,
    /// The credential scope's date is not the request's date.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{date}', from '{amz_date}'."
    )]
    ScopeDateMismatch {
        /// The scope's date.
        scope: String,
        /// The request date's day.
        date: String,
        /// The request date.
        amz_date: String,
    },
    /// The credential scope names another region.
    #[error("Credential should be scoped to a valid region, not '{got}'. Use '{expected}'.")]
    WrongRegion {
        /// The region in the scope.
        got: String,
        /// The server's region.
        expected: String,
    },
    /// The credential scope names a service this endpoint does not serve.
    #[error("Credential should be scoped to correct service: '{expected}', not '{got}'.")]
    WrongService {
        /// The service in the scope.
        got: String,
        /// The services accepted here.
        expected: String,
    },
    /// The request is older than the allowed skew (or its presigned URL has expired).
    #[error(
        "Signature expired: {amz_date} is now earlier than {limit} ({now} - {skew_minutes} min.)"
    )]
    Expired {
        /// The request date.
        amz_date: String,
        /// The earliest accepted date.
        limit: String,
        /// The server's time.
        now: String,
        /// The allowed skew (or validity), in minutes.
        skew_minutes: u64,
    },
    /// The request is dated too far in the future.
    #[error(
        "Signature not yet current: {amz_date} is still later than {limit} ({now} + {skew_minutes} min.)"
    )]
    NotYetCurrent {
        /// The request date.
        amz_date: String,
        /// The latest accepted date.
        limit: String,
        /// The server's time.
        now: String,
        /// The allowed skew, in minutes.
        skew_minutes: u64,
    },
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// A header listed in `SignedHeaders` is not in the request.
    #[error(
        "The request signature we calculated does not match the signature you provided: signed header '{0}' is missing from the request."
    )]
    SignedHeaderMissing(String),
    /// `x-amz-content-sha256` is not the hash of the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentHashMismatch,
    /// The access key id is unknown or revoked.
    #[error("The security token included in the request is invalid.")]
    UnknownKey(String),
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
}

impl SigV4Error {
    /// How the refusal is answered.
    pub fn failure(&self) -> Failure {
        use SigV4Error::*;
        match self {
            Missing => Failure::MissingAuthenticationToken,
            UnsupportedAlgorithm(_)
            | MissingParameter(_)
            | MalformedCredential(_)
            | MissingDate
            | MalformedDate(_)
            | BadExpires(_)
            | MalformedSignature => Failure::IncompleteSignature,
            ScopeDateMismatch { .. }
            | WrongRegion { .. }
            | WrongService { .. }
            | Expired { .. }
            | NotYetCurrent { .. }
            | HostNotSigned
            | SignedHeaderMissing(_)
            | ContentHashMismatch
            | Mismatch => Failure::InvalidSignature,
            UnknownKey(_) => Failure::UnrecognizedClient,
        }
    }
}

/// Verifies `request`'s signature at time `now` under `rules`; `lookup` finds an active access
/// key by id (it returns `None` for unknown and revoked keys).
pub fn verify<K: SecretKey>(
    request: &Request<'_>,
    rules: &Rules,
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Option<K>,
) -> Result<Signed<K>, SigV4Error> {
    let query = query_pairs(request.query);
    let parsed = parse::parse(request, &query)?;
    let credential = &parsed.credential;

    let date = parse_amz_date(&parsed.amz_date)?;
    // The date parsed as YYYYMMDDTHHMMSSZ, so its first 8 bytes are the day.
    let day = parsed.amz_date.get(..8).unwrap_or_default();
    if credential.date != day {
        return Err(SigV4Error::ScopeDateMismatch {
            scope: credential.date.clone(),
            date: day.to_owned(),
            amz_date: parsed.amz_date.clone(),
        });
    }
    check_time(&parsed, date, now, rules.max_skew)?;
    if credential.region != rules.region {
        return Err(SigV4Error::WrongRegion {
            got: credential.region.clone(),
            expected: rules.region.clone(),
        });
    }
    if !rules.services.contains(&credential.service) {
        return Err(SigV4Error::WrongService {
            got: credential.service.clone(),
            expected: rules.services.join("' or '"),
        });
    }
    let signed_names: Vec<&str> = parsed.signed_headers.split(';').collect();
    if !signed_names.iter().any(|n| n.eq_ignore_ascii_case("host")) {
        return Err(SigV4Error::HostNotSigned);
    }
    let signature = hex::decode(&parsed.signature).map_err(|_| SigV4Error::MalformedSignature)?;

    let Some(key) = lookup(&credential.access_key_id) else {
        return Err(SigV4Error::UnknownKey(credential.access_key_id.clone()));
    };

    let mut headers = String::new();
    for name in &signed_names {
        let value = request
            .header_values(name)
            .ok_or_else(|| SigV4Error::SignedHeaderMissing((*name).to_ascii_lowercase()))?;
        headers.push_str(&name.to_ascii_lowercase());
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }

    let body_hash = sha256_hex(request.body);
    let declared = request.header("x-amz-content-sha256").map(str::trim);
    let candidates: Vec<&str> = match (declared, parsed.form) {
        (Some(UNSIGNED_PAYLOAD), _) => vec![UNSIGNED_PAYLOAD],
        (Some(hash), _) if hash.eq_ignore_ascii_case(&body_hash) => vec![hash],
        (Some(_), _) => return Err(SigV4Error::ContentHashMismatch),
        (None, Form::Header) => vec![&body_hash],
        // Presigners differ: botocore signs UNSIGNED-PAYLOAD, the Rust SDK the body's hash.
        (None, Form::Presigned) => vec![&body_hash, UNSIGNED_PAYLOAD],
    };
    let skip = presigned_unsigned_parameters(parsed.form, &query);
    let scope = credential.scope();
    let signing_key = signing_key(
        key.secret_access_key(),
        &credential.date,
        &credential.region,
        &credential.service,
    );
    let uri = canonical_uri(request.path);
    let readings = skip.iter().flat_map(|skip| {
        let canonical_query = canonical_query(&query, skip);
        candidates.iter().map(move |hash| (canonical_query.clone(), *hash))
    });
    for (canonical_query, payload_hash) in readings {
        let canonical = CanonicalRequest {
            method: request.method,
            uri: uri.clone(),
            query: canonical_query,
            headers: headers.clone(),
            signed_headers: &parsed.signed_headers,
            payload_hash,
        };
        let to_sign = string_to_sign(&parsed.amz_date, &scope, &canonical.to_text());
        let mut mac = hmac(&signing_key);
        mac.update(to_sign.as_bytes());
        // Constant-time comparison.
        if mac.verify_slice(&signature).is_ok() {
            return Ok(Signed {
                key,
                access_key_id: credential.access_key_id.clone(),
                region: credential.region.clone(),
                service: credential.service.clone(),
                form: parsed.form,
            });
        }
    }
    Err(SigV4Error::Mismatch)
}

/// The query parameters a presigned URL's signature may leave out, one set per reading tried:
/// the signature itself always, and the session token when it is present, since signers
/// differ. The AWS SDKs sign `X-Amz-Security-Token` with the rest; the AWS IoT Device SDKs
/// presign MQTT over WebSocket URLs without it and append it after the signature. Either way
/// the token's value is not checked here (it belongs to temporary credentials).
fn presigned_unsigned_parameters(form: Form, query: &[(String, String)]) -> Vec<Vec<&'static str>> {
    if form != Form::Presigned {
        return vec![Vec::new()];
    }
    let mut sets = vec![vec!["X-Amz-Signature"]];
    if query.iter().any(|(name, _)| name == SECURITY_TOKEN) {
        sets.push(vec!["X-Amz-Signature", SECURITY_TOKEN]);
    }
    sets
}

/// The session token's query parameter.
const SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// The SigV4 signing key: HMACs of the date, region, service and `aws4_request`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        let mut mac = hmac(&key);
        mac.update(part.as_bytes());
        key = mac.finalize().into_bytes().to_vec();
    }
    key
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// The signature of `string_to_sign` under `secret` and scope, as hex (for signers in tests).
pub fn sign_string(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut mac = hmac(&signing_key(secret, date, region, service));
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn parse_amz_date(text: &str) -> Result<OffsetDateTime, SigV4Error> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(text, format)
        .map(|dt| dt.assume_utc())
        .map_err(|_| SigV4Error::MalformedDate(text.to_owned()))
}

fn format_amz_date(at: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    at.format(format).unwrap_or_else(|_| at.to_string())
}

fn check_time(
    parsed: &parse::Parsed,
    date: OffsetDateTime,
    now: SystemTime,
    skew: Duration,
) -> Result<(), SigV4Error> {
    let now = OffsetDateTime::from(now);
    let minutes = skew.as_secs() / 60;
    let earliest_date = now - skew;
    let latest_date = now + skew;
    if date > latest_date {
        return Err(SigV4Error::NotYetCurrent {
            amz_date: parsed.amz_date.clone(),
            limit: format_amz_date(latest_date),
            now: format_amz_date(now),
            skew_minutes: minutes,
        });
    }
    match parsed.expires {
        None if date < earliest_date => Err(SigV4Error::Expired {
            amz_date: parsed.amz_date.clone(),
            limit: format_amz_date(earliest_date),
            now: format_amz_date(now),
            skew_minutes: minutes,
        }),
        Some(expires) if date + Duration::from_secs(expires) < now => {
            let validity = Duration::from_secs(expires);
            Err(SigV4Error::Expired {
                amz_date: parsed.amz_date.clone(),
                limit: format_amz_date(now - validity),
                now: format_amz_date(now),
                skew_minutes: expires / 60,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
