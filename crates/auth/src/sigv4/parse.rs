//! Reading the signature's parameters from a request: the `Authorization` header
//! (header-signed form) or the `X-Amz-*` query parameters (presigned form).

use super::canonical::ALGORITHM;
use super::{Request, SigV4Error};

/// How the request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// In the `Authorization` header.
    Header,
    /// In the query string (a presigned URL).
    Presigned,
}

/// `access-key-id/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) access_key_id: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Credential {
    fn parse(text: &str) -> Result<Credential, SigV4Error> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [id, date, region, service, "aws4_request"]
                if !id.is_empty() && !region.is_empty() && !service.is_empty() =>
            {
                Ok(Credential {
                    access_key_id: (*id).to_owned(),
                    date: (*date).to_owned(),
                    region: (*region).to_owned(),
                    service: (*service).to_owned(),
                })
            }
            _ => Err(SigV4Error::MalformedCredential(text.to_owned())),
        }
    }

    /// `date/region/service/aws4_request`.
    pub(crate) fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// The signature's parameters, before any check.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub(crate) form: Form,
    pub(crate) credential: Credential,
    /// Lower-case names, as listed by the client.
    pub(crate) signed_headers: String,
    /// The hex signature as sent.
    pub(crate) signature: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) amz_date: String,
    /// Seconds the presigned URL is valid for.
    pub(crate) expires: Option<u64>,
}

/// The longest validity of a presigned URL, seven days, as AWS allows.
const MAX_EXPIRES: u64 = 604_800;

pub(crate) fn parse(
    request: &Request<'_>,
    query: &[(String, String)],
) -> Result<Parsed, SigV4Error> {
    if let Some(authorization) = request.header("authorization") {
        return parse_header(request, authorization);
    }
    if query.iter().any(|(name, _)| name == "X-Amz-Algorithm") {
        return parse_query(query);
    }
    Err(SigV4Error::Missing)
}

fn parse_header(request: &Request<'_>, authorization: &str) -> Result<Parsed, SigV4Error> {
    let (algorithm, rest) = authorization.trim().split_once(' ').unwrap_or((authorization, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else { continue };
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let credential = credential.ok_or(SigV4Error::MissingParameter("Credential"))?;
    let signed_headers = signed_headers.ok_or(SigV4Error::MissingParameter("SignedHeaders"))?;
    let signature = signature.ok_or(SigV4Error::MissingParameter("Signature"))?;
    let amz_date = request.header("x-amz-date").ok_or(SigV4Error::MissingDate)?;
    Ok(Parsed {
        form: Form::Header,
        credential: Credential::parse(credential)?,
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        amz_date: amz_date.trim().to_owned(),
        expires: None,
    })
}

fn parse_query(query: &[(String, String)]) -> Result<Parsed, SigV4Error> {
    let get = |name: &'static str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or(SigV4Error::MissingParameter(name))
    };
    let algorithm = get("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let credential = Credential::parse(get("X-Amz-Credential")?)?;
    // Without `X-Amz-Expires` (the AWS IoT Device SDKs' MQTT over WebSocket URLs), the URL is
    // valid within the clock skew of its date, as a header-signed request is.
    let expires = match get("X-Amz-Expires") {
        Ok(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|e| (1..=MAX_EXPIRES).contains(e))
                .ok_or_else(|| SigV4Error::BadExpires(text.to_owned()))?,
        ),
        Err(_) => None,
    };
    Ok(Parsed {
        form: Form::Presigned,
        credential,
        signed_headers: get("X-Amz-SignedHeaders")?.to_owned(),
        signature: get("X-Amz-Signature")?.to_owned(),
        amz_date: get("X-Amz-Date")?.to_owned(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_needs_five_parts_ending_in_aws4_request() {
        let c = Credential::parse("AKID/20150830/us-east-1/iot/aws4_request")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.scope(), "20150830/us-east-1/iot/aws4_request");
        for bad in [
            "AKID/20150830/us-east-1/iot",
            "AKID/20150830/us-east-1/iot/aws4",
            "/d/r/s/aws4_request",
            "",
        ] {
            assert!(
                matches!(Credential::parse(bad), Err(SigV4Error::MalformedCredential(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_presigned_url_may_leave_out_its_expiry() {
        let pairs = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Credential", "AKID/20150830/us-east-1/iotdevicegateway/aws4_request"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("X-Amz-SignedHeaders", "host"),
                ("X-Amz-Signature", "00"),
            ]
            .iter()
            .chain(extra)
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
        };
        let expires = |extra: &[(&str, &str)]| {
            parse_query(&pairs(extra))
                .map(|parsed| parsed.expires)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(expires(&[]), None);
        assert_eq!(expires(&[("X-Amz-Expires", "60")]), Some(60));
        assert!(matches!(
            parse_query(&pairs(&[("X-Amz-Expires", "0")])),
            Err(SigV4Error::BadExpires(_))
        ));
    }
}
