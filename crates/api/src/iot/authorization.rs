//! TestAuthorization: decides each `authInfo` against the principal's effective policies (plus
//! `policyNamesToAdd`, minus `policyNamesToSkip`) with `ferrocore-policy`, in the context a
//! connection of that principal would have: the client id, the thing attached to the principal
//! whose name is the client id (AWS fills thing variables only then), and the certificate's
//! fields.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use ferrocore_policy::{Action, AuthDecision, Context, PolicyDocument, Request, evaluate};
use ferrocore_registry::EffectivePolicy;
use serde::{Deserialize, Serialize};

use super::policies::{PolicyDto, check_principal};
use crate::ApiState;
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsQuery};

/// The most `authInfos` per request (`AuthInfos`: 1..10).
const MAX_AUTH_INFOS: usize = 10;

/// `AuthInfo`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    action_type: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestAuthorizationRequest {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
    auth_infos: Option<Vec<AuthInfo>>,
    #[serde(default)]
    policy_names_to_add: Vec<String>,
    #[serde(default)]
    policy_names_to_skip: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestAuthorizationQuery {
    client_id: Option<String>,
}

/// `Policies` wrapper of `Allowed`, `ImplicitDeny`, `ExplicitDeny`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyList {
    policies: Vec<PolicyDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Denied {
    implicit_deny: PolicyList,
    explicit_deny: PolicyList,
}

/// `AuthResult`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthResult {
    auth_info: AuthInfo,
    allowed: PolicyList,
    denied: Denied,
    auth_decision: &'static str,
    missing_context_values: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestAuthorizationResponse {
    auth_results: Vec<AuthResult>,
}

fn action(action_type: Option<&str>) -> Result<Action, ApiError> {
    match action_type {
        Some("CONNECT") => Ok(Action::Connect),
        Some("PUBLISH") => Ok(Action::Publish),
        Some("SUBSCRIBE") => Ok(Action::Subscribe),
        Some("RECEIVE") => Ok(Action::Receive),
        Some(other) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{other}' at 'authInfos.member.actionType' failed to satisfy constraint: Member must satisfy enum value set: [PUBLISH, SUBSCRIBE, RECEIVE, CONNECT]"
        ))),
        None => Err(ApiError::invalid("Every authInfo needs an actionType")),
    }
}

pub(crate) async fn test(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<TestAuthorizationQuery>,
    AwsJson(body): AwsJson<TestAuthorizationRequest>,
) -> Result<Json<TestAuthorizationResponse>, ApiError> {
    let auth_infos = body.auth_infos.unwrap_or_default();
    if auth_infos.is_empty() || auth_infos.len() > MAX_AUTH_INFOS {
        return Err(ApiError::invalid(format!(
            "1 validation error detected: Value at 'authInfos' failed to satisfy constraint: Member must have length between 1 and {MAX_AUTH_INFOS}"
        )));
    }
    check_principal(&state, body.principal.as_deref(), body.cognito_identity_pool_id.as_deref())?;
    let Some(principal) = body.principal else {
        return Err(ApiError::invalid("principal is required"));
    };
    let registry = state.registry();
    let mut policies: Vec<EffectivePolicy> = registry
        .effective_policies_for(Some(&principal), None)?
        .into_iter()
        .filter(|p| !body.policy_names_to_skip.contains(&p.name))
        .collect();
    let to_add: Vec<String> = body
        .policy_names_to_add
        .into_iter()
        .filter(|name| !policies.iter().any(|p| &p.name == name))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    policies.extend(registry.policies_by_name(&to_add)?);
    let context = context(&state, &principal, query.client_id)?;
    let documents: Vec<&PolicyDocument> = policies.iter().map(|p| p.document.as_ref()).collect();
    let missing = missing_context_values(&policies, &context);
    let dto = |index: &usize| {
        policies
            .get(*index)
            .map(|p| PolicyDto { policy_name: p.name.clone(), policy_arn: p.arn.clone() })
    };
    let mut results = Vec::with_capacity(auth_infos.len());
    for info in auth_infos {
        let action = action(info.action_type.as_deref())?;
        if info.resources.is_empty() {
            return Err(ApiError::invalid("Every authInfo needs at least one resource"));
        }
        let (mut allowing, mut denying) = (BTreeSet::new(), BTreeSet::new());
        let mut all_allowed = true;
        for resource in &info.resources {
            let decision = evaluate(&documents, &Request::new(action, resource.clone()), &context);
            all_allowed &= decision.allowed;
            allowing.extend(decision.allowing);
            denying.extend(decision.denying);
        }
        let decision = if !denying.is_empty() {
            AuthDecision::ExplicitDeny
        } else if all_allowed {
            AuthDecision::Allowed
        } else {
            AuthDecision::ImplicitDeny
        };
        let implicit: Vec<PolicyDto> = if decision == AuthDecision::ImplicitDeny {
            (0..policies.len()).filter(|i| !allowing.contains(i)).filter_map(|i| dto(&i)).collect()
        } else {
            Vec::new()
        };
        results.push(AuthResult {
            auth_info: info,
            allowed: PolicyList { policies: allowing.iter().filter_map(dto).collect() },
            denied: Denied {
                implicit_deny: PolicyList { policies: implicit },
                explicit_deny: PolicyList { policies: denying.iter().filter_map(dto).collect() },
            },
            auth_decision: decision.as_str(),
            missing_context_values: missing.clone(),
        });
    }
    Ok(Json(TestAuthorizationResponse { auth_results: results }))
}

/// The context a connection of `principal` with `client_id` would have.
fn context(
    state: &ApiState,
    principal: &str,
    client_id: Option<String>,
) -> Result<Context, ApiError> {
    let registry = state.registry();
    let mut context =
        Context { epoch_seconds: Some(ferrocore_now_seconds()), ..Context::default() };
    if let Some(client_id) = &client_id {
        let things = registry.things_of_principal(principal)?;
        let attached = things.iter().any(|t| t == client_id);
        if attached {
            let thing = registry.describe_thing(client_id)?;
            context.thing_name = Some(thing.name);
            context.thing_type_name = thing.type_name;
            context.thing_attributes = thing.attributes;
        }
        context.is_attached = Some(attached);
    }
    context.client_id = client_id;
    context.certificate = certificate_context(state, principal);
    Ok(context)
}

/// The certificate fields of `principal`, when it is a registered certificate whose PEM
/// parses (a stored certificate was parsed when it was registered).
fn certificate_context(
    state: &ApiState,
    principal: &str,
) -> Option<ferrocore_policy::CertificateContext> {
    let (_, id) = principal.rsplit_once(":cert/")?;
    let certificate = state.registry().describe_certificate(id).ok()?;
    match ferrocore_pki::ParsedCertificate::from_pem(&certificate.pem) {
        Ok(parsed) => Some(parsed.policy_context()),
        Err(error) => {
            tracing::warn!(%error, id, "a registered certificate does not parse");
            None
        }
    }
}

fn ferrocore_now_seconds() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// The policy variables used in `policies` that `context` cannot fill.
fn missing_context_values(policies: &[EffectivePolicy], context: &Context) -> Vec<String> {
    let mut missing = BTreeSet::new();
    for policy in policies {
        let mut rest = policy.text.as_str();
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            if !has_value(name, context) {
                missing.insert(name.to_owned());
            }
            rest = &after[end + 1..];
        }
    }
    missing.into_iter().collect()
}

/// Whether `context` fills variable `name` (variables this check does not know count as
/// filled: they are condition keys the caller cannot supply here).
fn has_value(name: &str, context: &Context) -> bool {
    const ATTRIBUTES: &str = "iot:Connection.Thing.Attributes[";
    if let Some(attribute) = name.strip_prefix(ATTRIBUTES).and_then(|r| r.strip_suffix(']')) {
        return context.thing_attributes.contains_key(attribute);
    }
    match name {
        "iot:ClientId" => context.client_id.is_some(),
        "iot:Connection.Thing.ThingName" => context.thing_name.is_some(),
        "iot:Connection.Thing.ThingTypeName" => context.thing_type_name.is_some(),
        "iot:Connection.Thing.IsAttached" => context.is_attached.is_some(),
        "iot:DomainName" => context.domain_name.is_some(),
        "aws:SourceIp" => context.source_ip.is_some(),
        other if other.starts_with("iot:Certificate.") => context.certificate.is_some(),
        _ => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn unfilled_variables_are_reported_once() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":["arn:aws:iot:us-east-1:1:client/${iot:ClientId}","arn:aws:iot:us-east-1:1:client/${iot:Connection.Thing.ThingName}","arn:aws:iot:us-east-1:1:client/${iot:Connection.Thing.ThingName}x"]}]}"#;
        let policy = EffectivePolicy {
            name: "p".into(),
            arn: "arn".into(),
            document: Arc::new(PolicyDocument::parse(text).unwrap()),
            text: text.into(),
        };
        let context = Context { client_id: Some("c".into()), ..Context::default() };
        let missing = missing_context_values(std::slice::from_ref(&policy), &context);
        assert_eq!(missing, ["iot:Connection.Thing.ThingName"]);
        let full = Context { thing_name: Some("t".into()), ..context };
        assert!(missing_context_values(&[policy], &full).is_empty());
    }
}
