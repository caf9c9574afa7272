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
}

impl ResourceKind {
    fn prefix(self) -> &'static str {
        match self {
            ResourceKind::Thing => "thing",
            ResourceKind::ThingType => "thingtype",
            ResourceKind::ThingGroup => "thinggroup",
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
    }
}
