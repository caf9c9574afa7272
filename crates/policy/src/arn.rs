//! Resource ARNs in AWS IoT's layout: `arn:aws:iot:{region}:{account}:{type}/{id}`.
//!
//! The id is appended verbatim: topics and filters keep their `/`, `+` and `#`, since a policy
//! matches them as literal characters (AWS IoT Developer Guide, "Publish/Subscribe policy
//! examples": "MQTT wildcard characters "+" and "#" are treated as literal characters").

/// Builds resource ARNs for one region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    prefix: String,
}

impl Arns {
    /// ARNs in partition `aws` for `region` and the 12-digit `account`.
    pub fn new(region: &str, account: &str) -> Self {
        Self { prefix: format!("arn:aws:iot:{region}:{account}:") }
    }

    /// `arn:aws:iot:{region}:{account}:` (the common prefix).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn make(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}/{id}", self.prefix)
    }

    /// `client/{client_id}`, the resource of `iot:Connect`.
    pub fn client(&self, client_id: &str) -> String {
        self.make("client", client_id)
    }

    /// `topic/{topic}`, the resource of `iot:Publish`, `iot:RetainPublish` and `iot:Receive`.
    pub fn topic(&self, topic: &str) -> String {
        self.make("topic", topic)
    }

    /// `topicfilter/{filter}`, the resource of `iot:Subscribe`.
    pub fn topic_filter(&self, filter: &str) -> String {
        self.make("topicfilter", filter)
    }

    /// `thing/{name}`, the resource of shadow and job-execution actions.
    pub fn thing(&self, thing_name: &str) -> String {
        self.make("thing", thing_name)
    }

    /// `thing/{name}/{shadow}`, a named shadow.
    pub fn thing_shadow(&self, thing_name: &str, shadow_name: &str) -> String {
        self.make("thing", &format!("{thing_name}/{shadow_name}"))
    }

    /// `rolealias/{alias}`, the resource of `iot:AssumeRoleWithCertificate`.
    pub fn role_alias(&self, alias: &str) -> String {
        self.make("rolealias", alias)
    }

    /// `cert/{certificate_id}`.
    pub fn cert(&self, certificate_id: &str) -> String {
        self.make("cert", certificate_id)
    }

    /// `policy/{name}`.
    pub fn policy(&self, name: &str) -> String {
        self.make("policy", name)
    }
}
