//! Policy variables (`${iot:ClientId}`) and condition keys: their names, their values in a
//! [`Context`], and templates (a resource or condition value with variables in it).
//!
//! Names follow the AWS IoT Developer Guide: "Basic AWS IoT Core policy variables"
//! (`iot:ClientId`, `aws:SourceIp`, `iot:DomainName`), "Thing policy variables"
//! (`iot:Connection.Thing.*`) and "X.509 Certificate AWS IoT Core policy variables"
//! (`iot:Certificate.*`, with `.N` for the N-th value, `.List` for all of them, at most five
//! values, and no substitution for values over 1024 characters or containing wildcards). Names
//! are matched case-insensitively ("Key names are case-insensitive": IAM User Guide,
//! reference_policies_variables.html); thing attribute names keep their case.
//!
//! `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$` (IAM User Guide, "Special
//! characters"; AWS IoT Developer Guide, "AWS IoT Core policy variables").

use std::borrow::Cow;

use crate::context::{AltNameKind, CertificateContext, Context, DnAttribute};
use crate::date;
use crate::glob::{self, Token};

/// AWS keeps at most this many values of a multi-valued certificate attribute.
const MAX_ARRAY_ITEMS: usize = 5;
/// AWS does not substitute certificate values longer than this.
const MAX_VALUE_CHARS: usize = 1024;
/// AWS does not substitute certificate values containing these (the reference lists `* $ + ? #`).
const UNSUBSTITUTABLE: [char; 5] = ['*', '$', '+', '?', '#'];

/// Which value(s) of a multi-valued attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selector {
    /// The bare name: the first value.
    First,
    /// `.N`: the value at 0-based index N.
    Index(usize),
    /// `.List`: every value (for `ForAnyValue:` / `ForAllValues:` conditions).
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Subject,
    Issuer,
}

/// A variable or condition key AWS IoT knows, or any other condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    ClientId,
    DomainName,
    SourceIp,
    ThingName,
    ThingTypeName,
    IsAttached,
    ThingAttribute(String),
    CertDn(Side, DnAttribute, Selector),
    CertAltName(Side, AltNameKind, Selector),
    CertSerialNumber,
    CertAvailableKeys(Selector),
    CognitoIdentityId,
    ConnectAttributes,
    SecureTransport,
    CurrentTime,
    EpochTime,
    /// A condition key this crate does not model, lower-cased; looked up in [`Context::extra`].
    Other(String),
}

impl Key {
    /// The known name `raw` (any case), or `None`.
    pub(crate) fn known(raw: &str) -> Option<Key> {
        let lower = raw.to_ascii_lowercase();
        let simple = match lower.as_str() {
            "iot:clientid" => Some(Key::ClientId),
            "iot:domainname" => Some(Key::DomainName),
            "aws:sourceip" => Some(Key::SourceIp),
            "iot:connection.thing.thingname" => Some(Key::ThingName),
            "iot:connection.thing.thingtypename" => Some(Key::ThingTypeName),
            "iot:connection.thing.isattached" => Some(Key::IsAttached),
            "iot:certificate.serialnumber" => Some(Key::CertSerialNumber),
            "iot:connectattributes" => Some(Key::ConnectAttributes),
            "aws:securetransport" => Some(Key::SecureTransport),
            "aws:currenttime" => Some(Key::CurrentTime),
            "aws:epochtime" => Some(Key::EpochTime),
            "cognito-identity.amazonaws.com:sub" => Some(Key::CognitoIdentityId),
            _ => None,
        };
        if simple.is_some() {
            return simple;
        }
        const ATTRIBUTES: &str = "iot:connection.thing.attributes[";
        if lower.starts_with(ATTRIBUTES) && lower.ends_with(']') && raw.len() > ATTRIBUTES.len() + 1
        {
            // ASCII lower-casing keeps byte offsets, so the slice is on the same boundaries.
            let attribute = raw.get(ATTRIBUTES.len()..raw.len() - 1)?;
            return Some(Key::ThingAttribute(attribute.to_owned()));
        }
        if let Some(rest) = lower.strip_prefix("iot:certificate.availablekeys") {
            return selector(rest).map(Key::CertAvailableKeys);
        }
        let (side, rest) = if let Some(rest) = lower.strip_prefix("iot:certificate.subject.") {
            (Side::Subject, rest)
        } else if let Some(rest) = lower.strip_prefix("iot:certificate.issuer.") {
            (Side::Issuer, rest)
        } else {
            return None;
        };
        if let Some(rest) = rest.strip_prefix("alternativename.") {
            return AltNameKind::ALL.into_iter().find_map(|kind| {
                let tail = rest.strip_prefix(&kind.name().to_ascii_lowercase())?;
                Some(Key::CertAltName(side, kind, selector(tail)?))
            });
        }
        DnAttribute::ALL.into_iter().find_map(|attribute| {
            let tail = rest.strip_prefix(&attribute.name().to_ascii_lowercase())?;
            Some(Key::CertDn(side, attribute, selector(tail)?))
        })
    }

    /// A condition key: a known name, or [`Key::Other`].
    pub(crate) fn condition_key(raw: &str) -> Key {
        Key::known(raw).unwrap_or_else(|| Key::Other(raw.to_ascii_lowercase()))
    }

    fn is_certificate(&self) -> bool {
        matches!(
            self,
            Key::CertDn(..)
                | Key::CertAltName(..)
                | Key::CertSerialNumber
                | Key::CertAvailableKeys(_)
        )
    }

    /// The values of this key in `ctx`; `None` when absent (no value at all).
    pub(crate) fn values(&self, ctx: &Context) -> Option<Vec<String>> {
        let one = |v: Option<&String>| v.map(|v| vec![v.clone()]);
        let thing = ctx.thing_name.is_some();
        let values = match self {
            Key::ClientId => one(ctx.client_id.as_ref()),
            Key::DomainName => one(ctx.domain_name.as_ref()),
            Key::SourceIp => ctx.source_ip.map(|ip| vec![ip.to_string()]),
            Key::ThingName => one(ctx.thing_name.as_ref()),
            Key::ThingTypeName if thing => one(ctx.thing_type_name.as_ref()),
            Key::ThingAttribute(attribute) if thing => one(ctx.thing_attributes.get(attribute)),
            Key::ThingTypeName | Key::ThingAttribute(_) => None,
            Key::IsAttached => ctx.is_attached.map(|b| vec![b.to_string()]),
            Key::CertDn(side, attribute, sel) => {
                let cert = ctx.certificate.as_ref()?;
                let dn = match side {
                    Side::Subject => &cert.subject,
                    Side::Issuer => &cert.issuer,
                };
                select(dn.get(*attribute), *sel)
            }
            Key::CertAltName(side, kind, sel) => {
                let cert = ctx.certificate.as_ref()?;
                let names = match side {
                    Side::Subject => &cert.subject_alt_names,
                    Side::Issuer => &cert.issuer_alt_names,
                };
                select(names.get(*kind), *sel)
            }
            Key::CertSerialNumber => one(ctx.certificate.as_ref()?.serial_number.as_ref()),
            Key::CertAvailableKeys(sel) => select(&available_keys(ctx.certificate.as_ref()?), *sel),
            Key::CognitoIdentityId => one(ctx.cognito_identity_id.as_ref()),
            Key::ConnectAttributes => Some(ctx.connect_attributes.clone()),
            Key::SecureTransport => ctx.secure_transport.map(|b| vec![b.to_string()]),
            Key::CurrentTime => ctx
                .epoch_seconds
                .and_then(|s| s.checked_mul(1000))
                .map(|ms| vec![date::format_iso(ms)]),
            Key::EpochTime => ctx.epoch_seconds.map(|s| vec![s.to_string()]),
            Key::Other(key) => ctx
                .extra
                .get(key)
                .or_else(|| {
                    ctx.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
                })
                .cloned(),
        };
        values.filter(|v| !v.is_empty())
    }

    /// The one value that replaces `${name}`, or `None` when AWS would leave it unreplaced.
    fn substitute(&self, ctx: &Context) -> Option<String> {
        if matches!(
            self,
            Key::CertDn(_, _, Selector::List)
                | Key::CertAltName(_, _, Selector::List)
                | Key::CertAvailableKeys(Selector::List)
        ) {
            return None;
        }
        let value = self.values(ctx)?.into_iter().next()?;
        if self.is_certificate()
            && (value.chars().count() > MAX_VALUE_CHARS || value.contains(UNSUBSTITUTABLE))
        {
            return None;
        }
        Some(value)
    }
}

fn selector(tail: &str) -> Option<Selector> {
    match tail {
        "" => Some(Selector::First),
        ".list" => Some(Selector::List),
        _ => {
            let digits = tail.strip_prefix('.')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // An index past usize is an index past the five kept values: never resolves.
            Some(Selector::Index(digits.parse().unwrap_or(usize::MAX)))
        }
    }
}

fn select(values: &[String], sel: Selector) -> Option<Vec<String>> {
    let kept = &values[..values.len().min(MAX_ARRAY_ITEMS)];
    match sel {
        Selector::First => kept.first().map(|v| vec![v.clone()]),
        Selector::Index(i) => kept.get(i).map(|v| vec![v.clone()]),
        Selector::List => Some(kept.to_vec()),
    }
}

/// `iot:Certificate.AvailableKeys`: the names of the certificate variables that hold values.
fn available_keys(cert: &CertificateContext) -> Vec<String> {
    let mut keys = Vec::new();
    if cert.serial_number.is_some() {
        keys.push("iot:Certificate.SerialNumber".to_owned());
    }
    for (side, dn, alt) in [
        ("Subject", &cert.subject, &cert.subject_alt_names),
        ("Issuer", &cert.issuer, &cert.issuer_alt_names),
    ] {
        for attribute in DnAttribute::ALL {
            if !dn.get(attribute).is_empty() {
                keys.push(format!("iot:Certificate.{side}.{}", attribute.name()));
            }
        }
        for kind in AltNameKind::ALL {
            if !alt.get(kind).is_empty() {
                keys.push(format!("iot:Certificate.{side}.AlternativeName.{}", kind.name()));
            }
        }
    }
    keys
}

/// What to do with a variable that has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// The element holding it matches nothing (used for `Allow`: it grants nothing).
    Fail,
    /// Keep the `${...}` text as literal characters, as AWS IoT documents ("the policy variable
    /// is not replaced ..., leaving the `${policy-variable}` text in the policy document").
    Literal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Policy text: `*` and `?` are wildcards where the element allows them.
    Text(String),
    /// A literal character from `${*}`, `${?}` or `${$}`.
    Escaped(char),
    /// `${name}`; `raw` is the whole `${...}` as written.
    Var { name: Key, raw: String },
}

/// A string from a policy with its `${...}` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
    /// The pattern, made once, when no variable is in it (most resources and values): then a
    /// decision allocates nothing for it.
    fixed: Option<Vec<Token>>,
}

/// `${name}` names no policy variable; carries the name.
#[derive(Debug)]
pub(crate) struct UnknownVariable(pub(crate) String);

impl Template {
    /// Parses `${...}` in `text`. A `${` with no closing `}` is literal text.
    pub(crate) fn parse(text: &str) -> Result<Template, UnknownVariable> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else { break };
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let inner = &rest[start + 2..start + 2 + len];
            let raw = &rest[start..start + 3 + len];
            pieces.push(match inner {
                "*" => Piece::Escaped('*'),
                "?" => Piece::Escaped('?'),
                "$" => Piece::Escaped('$'),
                _ => match Key::known(inner) {
                    Some(name) => Piece::Var { name, raw: raw.to_owned() },
                    None => return Err(UnknownVariable(inner.to_owned())),
                },
            });
            rest = &rest[start + 3 + len..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let mut template = Template { pieces, fixed: None };
        if !template.pieces.iter().any(|piece| matches!(piece, Piece::Var { .. })) {
            // Without variables the context and the mode change nothing.
            let empty = Context::default();
            template.fixed = template.fill(&empty, Unresolved::Fail);
        }
        Ok(template)
    }

    /// The pattern with variables filled from `ctx`: policy text keeps its wildcards, substituted
    /// values and escapes are literal. `None` if a variable has no value and `mode` is `Fail`.
    pub(crate) fn pattern(&self, ctx: &Context, mode: Unresolved) -> Option<Cow<'_, [Token]>> {
        match &self.fixed {
            Some(fixed) => Some(Cow::Borrowed(fixed)),
            None => self.fill(ctx, mode).map(Cow::Owned),
        }
    }

    /// [`Template::pattern`], made anew.
    fn fill(&self, ctx: &Context, mode: Unresolved) -> Option<Vec<Token>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => glob::push_wild(text, &mut out),
                Piece::Escaped(c) => out.push(Token::Lit(*c)),
                Piece::Var { name, raw } => match (name.substitute(ctx), mode) {
                    (Some(value), _) => glob::push_literal(&value, &mut out),
                    (None, Unresolved::Literal) => glob::push_literal(raw, &mut out),
                    (None, Unresolved::Fail) => return None,
                },
            }
        }
        Some(out)
    }
}

/// A pattern read back as plain text (for exact comparisons, where `*` is just a character).
pub(crate) fn text_of(pattern: &[Token]) -> String {
    pattern
        .iter()
        .map(|t| match t {
            Token::Lit(c) => *c,
            Token::Any => '*',
            Token::One => '?',
        })
        .collect()
}
