//! The gateway's answer to the broker's [`Authorize`] questions: AWS IoT policies.
//!
//! A [`PolicyAuthorizer`] belongs to one connection. Its policies come either from the plain
//! listener's local policy, or, for a device that authenticated with a certificate
//! ([`crate::devices`]), from the registry: the policies attached to the certificate and to the
//! thing groups (with their ancestors) of the things attached to it. Policy variables are
//! filled from the connection (client id, the thing whose name is the client id if it is
//! attached to the certificate, the certificate's fields). Decisions are cached per connection
//! and dropped whenever the registry's change epoch moves, so a policy change applies to the
//! next operation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ferrocore_broker::{Authorize, ConnectAttributes, Link};
use ferrocore_policy::{Action, Arns, CertificateContext, Context, PolicyDocument, Request};
use ferrocore_registry::Registry;

use crate::devices::{Devices, Registered};

/// Cached decisions per connection before the cache is emptied (a client that publishes to
/// ever new topics must not grow it without bound).
const CACHE_LIMIT: usize = 512;

/// Decides one connection's MQTT actions with IoT policies.
#[derive(Debug)]
pub struct PolicyAuthorizer {
    source: Source,
    arns: Arns,
    context: Context,
    policies: Vec<Arc<PolicyDocument>>,
    epoch: u64,
    /// Decisions by resource name (a topic, filter or client id), one slot per MQTT action:
    /// looked up by `&str`, so a hit allocates nothing.
    cache: HashMap<Box<str>, [Option<bool>; MQTT_ACTIONS]>,
}

/// The actions the broker asks about, and their slots in the cache.
const MQTT_ACTIONS: usize = 5;

fn slot(action: Action) -> usize {
    match action {
        Action::Connect => 0,
        Action::Publish => 1,
        Action::RetainPublish => 2,
        Action::Subscribe => 3,
        _ => 4,
    }
}

#[derive(Debug)]
enum Source {
    /// Fixed policies: the plain development listener's, or an access key's.
    Local { principal: String },
    /// A registered, ACTIVE device certificate.
    Device { devices: Devices, certificate: Arc<Registered> },
    /// Authentication failed: everything is denied. The reason was logged.
    Refused { principal: String },
}

impl PolicyAuthorizer {
    /// The plain listener's authorizer: `policy` for every client from `peer`.
    pub fn local(policy: Arc<PolicyDocument>, arns: Arns, peer: Option<SocketAddr>) -> Self {
        PolicyAuthorizer::fixed("anonymous".to_owned(), vec![policy], arns, peer, false)
    }

    /// An authorizer with fixed `policies` for `principal` (an access key limited by a
    /// policy, over MQTT over WebSocket), from `peer`, over TLS or not.
    pub fn fixed(
        principal: String,
        policies: Vec<Arc<PolicyDocument>>,
        arns: Arns,
        peer: Option<SocketAddr>,
        secure: bool,
    ) -> Self {
        let context = Context {
            source_ip: peer.map(|p| p.ip()),
            secure_transport: Some(secure),
            ..Context::default()
        };
        PolicyAuthorizer {
            source: Source::Local { principal },
            arns,
            context,
            policies,
            epoch: 0,
            cache: HashMap::new(),
        }
    }

    /// An authorizer for a device authenticated as `certificate` (registered and ACTIVE).
    pub(crate) fn device(
        devices: Devices,
        certificate: Arc<Registered>,
        peer: Option<SocketAddr>,
    ) -> Self {
        let context = Context {
            source_ip: peer.map(|p| p.ip()),
            secure_transport: Some(true),
            certificate: Some(CertificateContext::clone(&certificate.context)),
            ..Context::default()
        };
        PolicyAuthorizer {
            arns: devices.policy_arns().clone(),
            source: Source::Device { devices, certificate },
            context,
            policies: Vec::new(),
            epoch: u64::MAX,
            cache: HashMap::new(),
        }
    }

    /// An authorizer that denies everything: authentication failed as `principal` says.
    pub(crate) fn refused(principal: String) -> Self {
        PolicyAuthorizer {
            source: Source::Refused { principal },
            arns: Arns::new("us-east-1", "000000000000"),
            context: Context::default(),
            policies: Vec::new(),
            epoch: 0,
            cache: HashMap::new(),
        }
    }

    /// Reloads a device's policies and thing variables when the registry changed.
    fn refresh(&mut self) {
        let Source::Device { devices, certificate } = &self.source else { return };
        let registry = devices.registry();
        let epoch = registry.epoch();
        if epoch == self.epoch {
            return;
        }
        self.cache.clear();
        self.epoch = epoch;
        match registry.effective_policies(&certificate.arn) {
            Ok(policies) => {
                self.policies = policies.into_iter().map(|p| p.document).collect();
            }
            Err(error) => {
                // Fail closed: without policies nothing is allowed.
                tracing::error!(certificate = certificate.id, %error, "cannot read the policies");
                self.policies.clear();
            }
        }
        if let Some(client_id) = self.context.client_id.clone() {
            fill_thing(registry, &certificate.arn, &client_id, &mut self.context);
        }
    }

    fn decide(&mut self, action: Action, resource_name: &str) -> bool {
        if matches!(self.source, Source::Refused { .. }) {
            return false;
        }
        self.refresh();
        if let Some(allowed) = self.cache.get(resource_name).and_then(|slots| slots[slot(action)]) {
            return allowed;
        }
        let request = match action {
            Action::Connect => Request::connect(&self.arns, resource_name),
            Action::Publish => Request::publish(&self.arns, resource_name),
            Action::RetainPublish => Request::retain_publish(&self.arns, resource_name),
            Action::Subscribe => Request::subscribe(&self.arns, resource_name),
            _ => Request::receive(&self.arns, resource_name),
        };
        let policies: Vec<&PolicyDocument> = self.policies.iter().map(|p| p.as_ref()).collect();
        let allowed = ferrocore_policy::evaluate(&policies, &request, &self.context).allowed;
        if self.cache.len() >= CACHE_LIMIT && !self.cache.contains_key(resource_name) {
            self.cache.clear();
        }
        let slots = self.cache.entry(Box::from(resource_name)).or_insert([None; MQTT_ACTIONS]);
        slots[slot(action)] = Some(allowed);
        allowed
    }
}

/// Fills the thing variables: AWS sets them only when the client id is the name of a thing
/// attached to the connection's certificate.
fn fill_thing(registry: &Registry, principal: &str, client_id: &str, context: &mut Context) {
    context.thing_name = None;
    context.thing_type_name = None;
    context.thing_attributes.clear();
    let attached = match registry.things_of_principal(principal) {
        Ok(things) => things.iter().any(|t| t == client_id),
        Err(error) => {
            tracing::error!(%error, "cannot read the things of a certificate");
            false
        }
    };
    context.is_attached = Some(attached);
    if !attached {
        return;
    }
    match registry.describe_thing(client_id) {
        Ok(thing) => {
            context.thing_name = Some(thing.name);
            context.thing_type_name = thing.type_name;
            context.thing_attributes = thing.attributes;
        }
        Err(error) => tracing::debug!(%error, client_id, "attached thing not readable"),
    }
}

impl Authorize for PolicyAuthorizer {
    fn connect(&mut self, client_id: &str, attributes: ConnectAttributes) -> bool {
        if let Source::Refused { principal } = &self.source {
            tracing::info!(
                client_id,
                principal,
                "CONNECT refused: the certificate may not connect"
            );
            return false;
        }
        self.context.client_id = Some(client_id.to_owned());
        self.context.connect_attributes =
            attributes.names().into_iter().map(str::to_owned).collect();
        self.context.epoch_seconds = Some(epoch_seconds());
        // Thing variables depend on the client id: load them now.
        self.epoch = u64::MAX;
        self.decide(Action::Connect, client_id)
    }

    fn publish(&mut self, topic: &str, retain: bool) -> bool {
        self.decide(Action::Publish, topic)
            && (!retain || self.decide(Action::RetainPublish, topic))
    }

    fn subscribe(&mut self, filter: &str) -> bool {
        self.decide(Action::Subscribe, filter)
    }

    fn receive(&mut self, topic: &str) -> bool {
        self.decide(Action::Receive, topic)
    }

    fn principal(&self) -> &str {
        match &self.source {
            Source::Local { principal } | Source::Refused { principal } => principal,
            Source::Device { certificate, .. } => &certificate.id,
        }
    }

    fn attached(&mut self, link: &Arc<Link>) {
        if let Source::Device { devices, certificate } = &self.source {
            devices.track(certificate, link);
        }
    }
}

fn epoch_seconds() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:iot:us-east-1:000000000000";

    fn local(policy: &str) -> PolicyAuthorizer {
        let document = PolicyDocument::parse(policy).unwrap();
        let arns = Arns::new("us-east-1", "000000000000");
        PolicyAuthorizer::local(Arc::new(document), arns, Some("127.0.0.1:5000".parse().unwrap()))
    }

    fn own_topics() -> PolicyAuthorizer {
        local(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [
                {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{ARN}:client/${{iot:ClientId}}"}},
                {{"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "{ARN}:topic/${{iot:ClientId}}/*"}},
                {{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "{ARN}:topicfilter/${{iot:ClientId}}/#"}},
                {{"Effect": "Deny", "Action": "iot:Connect", "Resource": "{ARN}:client/banned"}}
            ]}}"#
        ))
    }

    #[test]
    fn variables_are_filled_from_the_client_id() {
        let mut a = own_topics();
        assert!(a.connect("dev-1", ConnectAttributes::default()));
        assert!(a.publish("dev-1/temp", false));
        assert!(!a.publish("dev-2/temp", false), "another client's topic");
        assert!(a.receive("dev-1/cmd"));
        assert!(!a.receive("dev-2/cmd"));
        assert!(a.subscribe("dev-1/#"), "MQTT wildcards are literal: `#` matches `#`");
        assert!(!a.subscribe("dev-1/+"), "`+` is not `#`");
    }

    #[test]
    fn explicit_deny_wins_and_nothing_is_allowed_by_default() {
        assert!(!own_topics().connect("banned", ConnectAttributes::default()));
        let mut other = local(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
                "Action": "iot:Publish", "Resource": "{ARN}:topic/*"}}]}}"#
        ));
        assert!(!other.connect("x", ConnectAttributes::default()), "not allowed: denied");
    }

    #[test]
    fn retained_publish_needs_both_actions() {
        let mut a = own_topics();
        assert!(a.connect("d", ConnectAttributes::default()));
        assert!(a.publish("d/x", false));
        assert!(!a.publish("d/x", true), "no iot:RetainPublish");
        let mut both = local(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
                "Action": ["iot:Publish", "iot:RetainPublish"], "Resource": "{ARN}:topic/*"}}]}}"#
        ));
        assert!(both.publish("d/x", true));
    }

    #[test]
    fn decisions_are_cached_per_action_and_bounded() {
        let mut a = own_topics();
        assert!(a.connect("c", ConnectAttributes::default()));
        assert!(a.publish("c/1", false));
        assert!(a.receive("c/1"));
        assert_eq!(a.cache.get("c/1").unwrap()[slot(Action::Publish)], Some(true));
        assert_eq!(a.cache.get("c/1").unwrap()[slot(Action::Subscribe)], None);
        for i in 0..(CACHE_LIMIT * 2) {
            a.publish(&format!("c/{i}"), false);
        }
        assert!(a.cache.len() <= CACHE_LIMIT);
    }

    #[test]
    fn a_refused_authorizer_denies_everything() {
        let mut a = PolicyAuthorizer::refused("abc".to_owned());
        assert!(!a.connect("x", ConnectAttributes::default()));
        assert!(!a.publish("t", false));
        assert!(!a.subscribe("t"));
        assert!(!a.receive("t"));
        assert_eq!(a.principal(), "abc");
    }
}
