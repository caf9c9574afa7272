//! What a request carries besides its action and resource: the values that fill policy
//! variables (`${iot:ClientId}`) and condition keys (`aws:SourceIp`).
//!
//! The caller fills only what AWS would have: thing fields only when the connection's client id
//! equals the thing name and the principal is attached to the thing (AWS IoT Developer Guide,
//! "Thing policy variables"), certificate fields only for X.509 connections. Anything left
//! `None` or empty is absent, and absent values never satisfy a policy (see [`crate::evaluate()`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The variables and condition keys of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// `iot:ClientId`: the MQTT client id (absent over HTTPS publish).
    pub client_id: Option<String>,
    /// `iot:DomainName`: the domain name the client connected to.
    pub domain_name: Option<String>,
    /// `aws:SourceIp`: the client's address.
    pub source_ip: Option<IpAddr>,
    /// `iot:Connection.Thing.ThingName`.
    pub thing_name: Option<String>,
    /// `iot:Connection.Thing.ThingTypeName`.
    pub thing_type_name: Option<String>,
    /// `iot:Connection.Thing.Attributes[name]`, by attribute name (case-sensitive).
    pub thing_attributes: BTreeMap<String, String>,
    /// `iot:Connection.Thing.IsAttached`.
    pub is_attached: Option<bool>,
    /// `iot:Certificate.*`, for connections authenticated by an X.509 certificate.
    pub certificate: Option<CertificateContext>,
    /// `cognito-identity.amazonaws.com:sub`, for Cognito identities.
    pub cognito_identity_id: Option<String>,
    /// `iot:ConnectAttributes` on `iot:Connect`: `PersistentConnect`, `LastWill`, ...
    /// (AWS IoT Developer Guide, "Connect policy examples").
    pub connect_attributes: Vec<String>,
    /// `aws:SecureTransport`.
    pub secure_transport: Option<bool>,
    /// `aws:CurrentTime` and `aws:EpochTime`, as seconds since the Unix epoch. The crate reads
    /// no clock: the caller passes the time of the request.
    pub epoch_seconds: Option<i64>,
    /// Any other condition key, by name, looked up ignoring ASCII case (condition key names are
    /// case-insensitive: IAM User Guide, reference_policies_variables.html "Key names are
    /// case-insensitive").
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The certificate fields AWS IoT exposes as `iot:Certificate.*`
/// (developerguide/cert-policy-variables.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateContext {
    /// `iot:Certificate.SerialNumber`.
    pub serial_number: Option<String>,
    /// `iot:Certificate.Subject.*`.
    pub subject: DistinguishedName,
    /// `iot:Certificate.Issuer.*`.
    pub issuer: DistinguishedName,
    /// `iot:Certificate.Subject.AlternativeName.*`.
    pub subject_alt_names: AltNames,
    /// `iot:Certificate.Issuer.AlternativeName.*`.
    pub issuer_alt_names: AltNames,
}

/// The distinguished-name attributes AWS IoT defines policy variables for. AWS lists exactly
/// these thirteen (developerguide/cert-policy-variables.md); Locality is not among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DnAttribute {
    /// `CommonName` (CN).
    CommonName,
    /// `Country` (C).
    Country,
    /// `Organization` (O).
    Organization,
    /// `OrganizationalUnit` (OU).
    OrganizationalUnit,
    /// `State` (ST).
    State,
    /// `SerialNumber` (the DN's serialNumber attribute, not the certificate's).
    SerialNumber,
    /// `DistinguishedNameQualifier` (dnQualifier).
    DistinguishedNameQualifier,
    /// `Title`.
    Title,
    /// `Surname` (SN).
    Surname,
    /// `GivenName`.
    GivenName,
    /// `Initials`.
    Initials,
    /// `Pseudonym`.
    Pseudonym,
    /// `GenerationQualifier`.
    GenerationQualifier,
}

impl DnAttribute {
    /// Every attribute, in AWS's order.
    pub const ALL: [DnAttribute; 13] = [
        Self::CommonName,
        Self::Country,
        Self::Organization,
        Self::OrganizationalUnit,
        Self::State,
        Self::SerialNumber,
        Self::DistinguishedNameQualifier,
        Self::Title,
        Self::Surname,
        Self::GivenName,
        Self::Initials,
        Self::Pseudonym,
        Self::GenerationQualifier,
    ];

    /// The name used in policy variables (`iot:Certificate.Subject.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::CommonName => "CommonName",
            Self::Country => "Country",
            Self::Organization => "Organization",
            Self::OrganizationalUnit => "OrganizationalUnit",
            Self::State => "State",
            Self::SerialNumber => "SerialNumber",
            Self::DistinguishedNameQualifier => "DistinguishedNameQualifier",
            Self::Title => "Title",
            Self::Surname => "Surname",
            Self::GivenName => "GivenName",
            Self::Initials => "Initials",
            Self::Pseudonym => "Pseudonym",
            Self::GenerationQualifier => "GenerationQualifier",
        }
    }
}

/// A subject or issuer name: each attribute may hold several values, in certificate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    /// Values by attribute.
    pub values: BTreeMap<DnAttribute, Vec<String>>,
}

impl DistinguishedName {
    /// Adds one value of `attribute` (builder style).
    pub fn with(mut self, attribute: DnAttribute, value: impl Into<String>) -> Self {
        self.values.entry(attribute).or_default().push(value.into());
        self
    }

    /// The values of `attribute`, empty if it has none.
    pub fn get(&self, attribute: DnAttribute) -> &[String] {
        self.values.get(&attribute).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The kinds of alternative name AWS IoT exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AltNameKind {
    /// `RFC822Name` (e-mail).
    Rfc822Name,
    /// `DNSName`.
    DnsName,
    /// `DirectoryName`.
    DirectoryName,
    /// `UniformResourceIdentifier`.
    UniformResourceIdentifier,
    /// `IPAddress`.
    IpAddress,
}

impl AltNameKind {
    /// Every kind, in AWS's order.
    pub const ALL: [AltNameKind; 5] = [
        Self::Rfc822Name,
        Self::DnsName,
        Self::DirectoryName,
        Self::UniformResourceIdentifier,
        Self::IpAddress,
    ];

    /// The name used in policy variables (`...AlternativeName.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rfc822Name => "RFC822Name",
            Self::DnsName => "DNSName",
            Self::DirectoryName => "DirectoryName",
            Self::UniformResourceIdentifier => "UniformResourceIdentifier",
            Self::IpAddress => "IPAddress",
        }
    }
}

/// Alternative names by kind, each in certificate order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    /// Values by kind.
    pub values: BTreeMap<AltNameKind, Vec<String>>,
}

impl AltNames {
    /// Adds one name of `kind` (builder style).
    pub fn with(mut self, kind: AltNameKind, value: impl Into<String>) -> Self {
        self.values.entry(kind).or_default().push(value.into());
        self
    }

    /// The names of `kind`, empty if it has none.
    pub fn get(&self, kind: AltNameKind) -> &[String] {
        self.values.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }
}
