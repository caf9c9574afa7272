//! ARNs of registry resources: `arn:aws:iot:{region}:{account}:{kind}/{name}`.

use crate::error::{RegistryError, invalid};

/// A kind of resource the registry names by ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// `thing/{name}`.
    Thing,
    /// `thingtype/{name}`.
    ThingType,
    /// `thinggroup/{name}`.
    ThingGroup,
    /// `policy/{name}`.
    Policy,
}

impl ResourceKind {
    fn prefix(self) -> &'static str {
        match self {
            ResourceKind::Thing => "thing",
            ResourceKind::ThingType => "thingtype",
            ResourceKind::ThingGroup => "thinggroup",
            ResourceKind::Policy => "policy",
        }
    }
}

/// The region and account that every ARN carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    /// The region, such as `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Arns {
    /// The ARN of resource `name` of `kind`.
    pub fn arn(&self, kind: ResourceKind, name: &str) -> String {
        format!("arn:aws:iot:{}:{}:{}/{name}", self.region, self.account, kind.prefix())
    }

    /// The ARN of the device certificate `id`: `arn:aws:iot:{region}:{account}:cert/{id}`.
    pub fn certificate_arn(&self, id: &str) -> String {
        format!("arn:aws:iot:{}:{}:cert/{id}", self.region, self.account)
    }

    /// The ARN of the CA certificate `id`: `arn:aws:iot:{region}:{account}:cacert/{id}`.
    pub fn ca_certificate_arn(&self, id: &str) -> String {
        format!("arn:aws:iot:{}:{}:cacert/{id}", self.region, self.account)
    }

    /// The certificate id of a certificate ARN of this region and account, or `None` if `arn`
    /// is something else.
    pub fn certificate_id<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:iot:{}:{}:cert/", self.region, self.account);
        arn.strip_prefix(&prefix).filter(|id| !id.is_empty() && !id.contains('/'))
    }

    /// Splits an ARN of this region and account into kind and name.
    pub fn parse(&self, arn: &str) -> Result<(ResourceKind, String), RegistryError> {
        let prefix = format!("arn:aws:iot:{}:{}:", self.region, self.account);
        let rest = arn.strip_prefix(&prefix).ok_or_else(|| {
            invalid(format!("'{arn}' is not an ARN of this region and account ({prefix}...)"))
        })?;
        let (kind, name) =
            rest.split_once('/').ok_or_else(|| invalid(format!("'{arn}' is not a valid ARN")))?;
        let kind = match kind {
            "thing" => ResourceKind::Thing,
            "thingtype" => ResourceKind::ThingType,
            "thinggroup" => ResourceKind::ThingGroup,
            "policy" => ResourceKind::Policy,
            other => {
                return Err(invalid(format!(
                    "Resource type '{other}' of '{arn}' is not supported"
                )));
            }
        };
        Ok((kind, name.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip_and_foreign_arns_are_refused() {
        let arns = Arns { region: "eu-west-1".into(), account: "123456789012".into() };
        let arn = arns.arn(ResourceKind::ThingGroup, "g:1");
        assert_eq!(arn, "arn:aws:iot:eu-west-1:123456789012:thinggroup/g:1");
        assert_eq!(arns.parse(&arn).unwrap(), (ResourceKind::ThingGroup, "g:1".to_owned()));
        assert!(arns.parse("arn:aws:iot:us-east-1:123456789012:thing/t").is_err());
        assert!(arns.parse("arn:aws:iot:eu-west-1:123456789012:rule/r").is_err());
        assert!(arns.parse("arn:aws:iot:eu-west-1:123456789012:thing").is_err());
        let cert = arns.certificate_arn("ab12");
        assert_eq!(cert, "arn:aws:iot:eu-west-1:123456789012:cert/ab12");
        assert_eq!(arns.certificate_id(&cert), Some("ab12"));
        assert_eq!(arns.certificate_id(&arns.ca_certificate_arn("ab12")), None);
        assert_eq!(arns.ca_certificate_arn("cd"), "arn:aws:iot:eu-west-1:123456789012:cacert/cd");
    }
}
