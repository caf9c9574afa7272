//! The data-plane actions an AWS IoT policy governs, with their `iot:` names.
//!
//! Sources: AWS IoT Developer Guide "AWS IoT Core policy actions" (MQTT, Device Shadow and job
//! execution actions) and "Authorizing direct calls to AWS services" (`iot:AssumeRoleWithCertificate`).
//! In a policy, actions are matched case-insensitively ("The prefix and the action name are case
//! insensitive": IAM User Guide, reference_policies_elements_action.html) and may use `*`/`?`.

use std::fmt;
use std::str::FromStr;

/// One action a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// `iot:Connect`, on `client/{clientId}`.
    Connect,
    /// `iot:Publish`, on `topic/{topic}`.
    Publish,
    /// `iot:RetainPublish`, on `topic/{topic}` (a retained publish also needs `iot:Publish`).
    RetainPublish,
    /// `iot:Subscribe`, on `topicfilter/{filter}` (the filter taken literally).
    Subscribe,
    /// `iot:Receive`, on `topic/{topic}`, checked per delivery.
    Receive,
    /// `iot:GetRetainedMessage`, on `topic/{topic}`.
    GetRetainedMessage,
    /// `iot:ListRetainedMessages`, on `*`.
    ListRetainedMessages,
    /// `iot:GetThingShadow`, on `thing/{name}[/{shadow}]`.
    GetThingShadow,
    /// `iot:UpdateThingShadow`, on `thing/{name}[/{shadow}]`.
    UpdateThingShadow,
    /// `iot:DeleteThingShadow`, on `thing/{name}[/{shadow}]`.
    DeleteThingShadow,
    /// `iot:ListNamedShadowsForThing`, on `thing/{name}`.
    ListNamedShadowsForThing,
    /// `iot:DescribeJobExecution`, on `thing/{name}`.
    DescribeJobExecution,
    /// `iot:GetPendingJobExecutions`, on `thing/{name}`.
    GetPendingJobExecutions,
    /// `iot:UpdateJobExecution`, on `thing/{name}`.
    UpdateJobExecution,
    /// `iot:StartNextPendingJobExecution`, on `thing/{name}`.
    StartNextPendingJobExecution,
    /// `iot:AssumeRoleWithCertificate`, on `rolealias/{alias}`.
    AssumeRoleWithCertificate,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 16] = [
        Self::Connect,
        Self::Publish,
        Self::RetainPublish,
        Self::Subscribe,
        Self::Receive,
        Self::GetRetainedMessage,
        Self::ListRetainedMessages,
        Self::GetThingShadow,
        Self::UpdateThingShadow,
        Self::DeleteThingShadow,
        Self::ListNamedShadowsForThing,
        Self::DescribeJobExecution,
        Self::GetPendingJobExecutions,
        Self::UpdateJobExecution,
        Self::StartNextPendingJobExecution,
        Self::AssumeRoleWithCertificate,
    ];

    /// The name as written in policies, e.g. `iot:Connect`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "iot:Connect",
            Self::Publish => "iot:Publish",
            Self::RetainPublish => "iot:RetainPublish",
            Self::Subscribe => "iot:Subscribe",
            Self::Receive => "iot:Receive",
            Self::GetRetainedMessage => "iot:GetRetainedMessage",
            Self::ListRetainedMessages => "iot:ListRetainedMessages",
            Self::GetThingShadow => "iot:GetThingShadow",
            Self::UpdateThingShadow => "iot:UpdateThingShadow",
            Self::DeleteThingShadow => "iot:DeleteThingShadow",
            Self::ListNamedShadowsForThing => "iot:ListNamedShadowsForThing",
            Self::DescribeJobExecution => "iot:DescribeJobExecution",
            Self::GetPendingJobExecutions => "iot:GetPendingJobExecutions",
            Self::UpdateJobExecution => "iot:UpdateJobExecution",
            Self::StartNextPendingJobExecution => "iot:StartNextPendingJobExecution",
            Self::AssumeRoleWithCertificate => "iot:AssumeRoleWithCertificate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of [`Action::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown AWS IoT action \"{0}\"")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    /// Parses `iot:Connect` and friends, ignoring case as AWS does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}
