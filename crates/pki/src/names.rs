//! Names inside certificates: distinguished names and alternative names as AWS's policy
//! variables see them, and a CSR's subject copied into a certificate to issue.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrocore_policy::context::{AltNameKind, AltNames, DistinguishedName, DnAttribute};
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

use crate::PkiError;

/// The attribute of a name attribute's OID, for the attributes AWS defines variables for.
pub(crate) fn dn_attribute(oid: &str) -> Option<DnAttribute> {
    Some(match oid {
        "2.5.4.3" => DnAttribute::CommonName,
        "2.5.4.6" => DnAttribute::Country,
        "2.5.4.10" => DnAttribute::Organization,
        "2.5.4.11" => DnAttribute::OrganizationalUnit,
        "2.5.4.8" => DnAttribute::State,
        "2.5.4.5" => DnAttribute::SerialNumber,
        "2.5.4.46" => DnAttribute::DistinguishedNameQualifier,
        "2.5.4.12" => DnAttribute::Title,
        "2.5.4.4" => DnAttribute::Surname,
        "2.5.4.42" => DnAttribute::GivenName,
        "2.5.4.43" => DnAttribute::Initials,
        "2.5.4.65" => DnAttribute::Pseudonym,
        "2.5.4.44" => DnAttribute::GenerationQualifier,
        _ => return None,
    })
}

/// The policy-variable view of `name`: each known attribute's string values in order.
/// Values that are not strings are left out.
pub(crate) fn distinguished_name(name: &X509Name<'_>) -> DistinguishedName {
    let mut dn = DistinguishedName::default();
    for attr in name.iter_attributes() {
        let Some(attribute) = dn_attribute(&attr.attr_type().to_id_string()) else { continue };
        if let Ok(value) = attr.as_str() {
            dn = dn.with(attribute, value);
        }
    }
    dn
}

/// The policy-variable view of general names.
pub(crate) fn alt_names<'a>(names: impl Iterator<Item = &'a GeneralName<'a>>) -> AltNames {
    let mut out = AltNames::default();
    for name in names {
        match name {
            GeneralName::RFC822Name(v) => out = out.with(AltNameKind::Rfc822Name, *v),
            GeneralName::DNSName(v) => out = out.with(AltNameKind::DnsName, *v),
            GeneralName::URI(v) => out = out.with(AltNameKind::UniformResourceIdentifier, *v),
            GeneralName::DirectoryName(n) => {
                out = out.with(AltNameKind::DirectoryName, n.to_string());
            }
            GeneralName::IPAddress(bytes) => {
                if let Some(ip) = ip_address(bytes) {
                    out = out.with(AltNameKind::IpAddress, ip.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// An IP address from the 4 or 16 bytes of an iPAddress general name.
fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(bytes).ok().map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// `name` as an rcgen name, to issue a certificate with the subject a CSR asked for. Every
/// attribute keeps its type and string type; a multi-valued RDN becomes one RDN per value.
pub(crate) fn rcgen_name(name: &X509Name<'_>) -> Result<rcgen::DistinguishedName, PkiError> {
    use x509_parser::der_parser::asn1_rs::Tag;

    let mut dn = rcgen::DistinguishedName::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| PkiError::InvalidCsr("The CSR's subject has an invalid OID".into()))?
            .collect();
        let ty = rcgen::DnType::from_oid(&oid);
        let data = attr.attr_value().data;
        let text = || {
            std::str::from_utf8(data).map(str::to_owned).map_err(|_| {
                PkiError::InvalidCsr("The CSR's subject holds a string that is not UTF-8".into())
            })
        };
        let bad = |_| PkiError::InvalidCsr("The CSR's subject holds an invalid string".into());
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => {
                rcgen::DnValue::PrintableString(text()?.try_into().map_err(bad)?)
            }
            Tag::Ia5String => rcgen::DnValue::Ia5String(text()?.try_into().map_err(bad)?),
            Tag::T61String => rcgen::DnValue::TeletexString(text()?.try_into().map_err(bad)?),
            Tag::Utf8String => rcgen::DnValue::Utf8String(text()?),
            Tag::BmpString => rcgen::DnValue::BmpString(
                rcgen::string::BmpString::from_utf16be(data.to_vec()).map_err(bad)?,
            ),
            Tag::UniversalString => rcgen::DnValue::UniversalString(
                rcgen::string::UniversalString::from_utf32be(data.to_vec()).map_err(bad)?,
            ),
            other => {
                return Err(PkiError::InvalidCsr(format!(
                    "The CSR's subject holds a value of unsupported type {other}"
                )));
            }
        };
        if dn.get(&ty).is_some() {
            return Err(PkiError::InvalidCsr(format!(
                "The CSR's subject repeats attribute {}: only subjects with each attribute once \
                 can be issued",
                attr.attr_type().to_id_string()
            )));
        }
        dn.push(ty, value);
    }
    Ok(dn)
}
