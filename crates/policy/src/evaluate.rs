//! Deciding a request against every policy that applies to a principal.
//!
//! "By default, all policies are implicitly denied. An explicit allow in any identity-based or
//! resource-based policy overrides the default behavior. An explicit deny in any policy
//! overrides any allows" (AWS IoT Developer Guide, "AWS IoT Core policies"). The decision also
//! says which policies allowed and which denied, as TestAuthorization reports them.

use crate::action::Action;
use crate::arn::Arns;
use crate::context::Context;
use crate::document::{Effect, PolicyDocument};

/// What is being asked: an action on a resource ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The action.
    pub action: Action,
    /// The full resource ARN, e.g. `arn:aws:iot:us-east-1:000000000000:topic/a/b`.
    pub resource: String,
}

impl Request {
    /// `action` on `resource`.
    pub fn new(action: Action, resource: impl Into<String>) -> Self {
        Self { action, resource: resource.into() }
    }

    /// `iot:Connect` on `client/{client_id}`.
    pub fn connect(arns: &Arns, client_id: &str) -> Self {
        Self::new(Action::Connect, arns.client(client_id))
    }

    /// `iot:Publish` on `topic/{topic}`.
    pub fn publish(arns: &Arns, topic: &str) -> Self {
        Self::new(Action::Publish, arns.topic(topic))
    }

    /// `iot:RetainPublish` on `topic/{topic}`.
    pub fn retain_publish(arns: &Arns, topic: &str) -> Self {
        Self::new(Action::RetainPublish, arns.topic(topic))
    }

    /// `iot:Subscribe` on `topicfilter/{filter}` (the filter literally, wildcards included).
    pub fn subscribe(arns: &Arns, filter: &str) -> Self {
        Self::new(Action::Subscribe, arns.topic_filter(filter))
    }

    /// `iot:Receive` on `topic/{topic}`.
    pub fn receive(arns: &Arns, topic: &str) -> Self {
        Self::new(Action::Receive, arns.topic(topic))
    }
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// True when some policy allows and none denies.
    pub allowed: bool,
    /// Indexes (into the `policies` given) of the policies with an applying Allow statement.
    pub allowing: Vec<usize>,
    /// Indexes of the policies with an applying Deny statement.
    pub denying: Vec<usize>,
}

/// TestAuthorization's `authDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthDecision {
    /// `ALLOWED`.
    Allowed,
    /// `EXPLICIT_DENY`: a Deny statement applied.
    ExplicitDeny,
    /// `IMPLICIT_DENY`: nothing allowed.
    ImplicitDeny,
}

impl AuthDecision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "ALLOWED",
            Self::ExplicitDeny => "EXPLICIT_DENY",
            Self::ImplicitDeny => "IMPLICIT_DENY",
        }
    }
}

impl Decision {
    /// Allowed, explicitly denied, or implicitly denied.
    pub fn auth_decision(&self) -> AuthDecision {
        if !self.denying.is_empty() {
            AuthDecision::ExplicitDeny
        } else if self.allowed {
            AuthDecision::Allowed
        } else {
            AuthDecision::ImplicitDeny
        }
    }
}

/// Decides `request` against the union of `policies` (the principal's, plus those of its
/// thing's groups). Explicit deny wins; no allow means deny.
pub fn evaluate(policies: &[&PolicyDocument], request: &Request, context: &Context) -> Decision {
    let mut decision = Decision::default();
    for (index, policy) in policies.iter().enumerate() {
        let (mut allows, mut denies) = (false, false);
        for statement in policy.statements() {
            if (statement.effect() == Effect::Allow && allows)
                || (statement.effect() == Effect::Deny && denies)
            {
                continue;
            }
            if statement.applies(request, context) {
                match statement.effect() {
                    Effect::Allow => allows = true,
                    Effect::Deny => denies = true,
                }
            }
        }
        if allows {
            decision.allowing.push(index);
        }
        if denies {
            decision.denying.push(index);
        }
    }
    decision.allowed = decision.denying.is_empty() && !decision.allowing.is_empty();
    decision
}
