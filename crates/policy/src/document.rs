//! Policy documents: parsing and validation (what CreatePolicy accepts), and the statements
//! they hold.
//!
//! Grammar (AWS IoT Developer Guide, "AWS IoT policy elements"): `Version` "Must be set to
//! "2012-10-17"", `Statement` one object or an array of them, each with `Effect` ("Allow" or
//! "Deny"), `Action` or `NotAction`, `Resource` or `NotResource` (each a string or an array of
//! strings), an optional `Condition` and `Sid`. Size: "policyDocument must have a minimum length
//! of 1, with a maximum length of 2048, excluding whitespace" (AWS CLI `iot create-policy`).

use serde_json::{Map, Value};

use crate::Request;
use crate::condition::{self, Condition};
use crate::context::Context;
use crate::error::PolicyError;
use crate::glob::{self, Token};
use crate::variables::{Template, Unresolved};

/// AWS's limit on a policy document, in characters other than whitespace.
pub const MAX_POLICY_CHARS: usize = 2048;

/// The only policy language version AWS IoT accepts.
pub const POLICY_VERSION: &str = "2012-10-17";

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants the actions, unless a matching Deny exists anywhere.
    Allow,
    /// Refuses the actions, whatever else allows them.
    Deny,
}

/// A parsed, valid policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    id: Option<String>,
    statements: Vec<Statement>,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    actions: Vec<Vec<Token>>,
    not_action: bool,
    resources: Vec<Template>,
    not_resource: bool,
    conditions: Vec<Condition>,
}

impl PolicyDocument {
    /// Parses and validates `text` as CreatePolicy would.
    pub fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
        let length = text.chars().filter(|c| !c.is_whitespace()).count();
        if length == 0 {
            return Err(PolicyError::Empty);
        }
        if length > MAX_POLICY_CHARS {
            return Err(PolicyError::TooLong { length, max: MAX_POLICY_CHARS });
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::InvalidJson { reason: e.to_string() })?;
        let Value::Object(top) = value else { return Err(PolicyError::NotAnObject) };
        if let Some(unknown) =
            top.keys().find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        {
            return Err(PolicyError::UnknownTopElement(unknown.clone()));
        }
        match top.get("Version") {
            None => return Err(PolicyError::MissingVersion),
            Some(Value::String(v)) if v == POLICY_VERSION => {}
            Some(other) => return Err(PolicyError::UnsupportedVersion(other.to_string())),
        }
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(PolicyError::InvalidId),
        };
        let statements = match top.get("Statement") {
            None => return Err(PolicyError::MissingStatement),
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect::<Vec<_>>(),
            Some(object @ Value::Object(_)) => vec![object],
            Some(_) => return Err(PolicyError::InvalidStatement),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, value)| match value {
                Value::Object(map) => Statement::parse(index, map),
                _ => Err(PolicyError::StatementNotObject { statement: index }),
            })
            .collect::<Result<_, _>>()?;
        Ok(PolicyDocument { id, statements })
    }

    /// The optional `Id`.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// This document alone: `Some(Deny)` if a Deny statement applies, else `Some(Allow)` if an
    /// Allow statement applies, else `None`.
    pub fn effect_on(&self, request: &Request, context: &Context) -> Option<Effect> {
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(request, context) {
                match statement.effect {
                    Effect::Deny => return Some(Effect::Deny),
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed.then_some(Effect::Allow)
    }
}

impl Statement {
    fn parse(statement: usize, map: &Map<String, Value>) -> Result<Statement, PolicyError> {
        const ELEMENTS: [&str; 7] =
            ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"];
        if let Some(unknown) = map.keys().find(|k| !ELEMENTS.contains(&k.as_str())) {
            return Err(PolicyError::UnknownElement { statement, element: unknown.clone() });
        }
        let sid = match map.get("Sid") {
            None => None,
            Some(Value::String(sid)) => Some(sid.clone()),
            Some(_) => return Err(PolicyError::InvalidSid { statement }),
        };
        let effect = match map.get("Effect") {
            None => return Err(PolicyError::MissingEffect { statement }),
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            Some(other) => {
                return Err(PolicyError::UnknownEffect { statement, value: other.to_string() });
            }
        };
        let (element, raw) =
            pick(statement, map, "Action")?.ok_or(PolicyError::MissingAction { statement })?;
        let not_action = element == "NotAction";
        let actions = strings(raw)
            .filter(|list| list.iter().all(|s| !s.is_empty()))
            .ok_or(PolicyError::InvalidAction { statement, element })?
            .into_iter()
            .map(|s| glob::compile(&s))
            .collect();
        let (element, raw) =
            pick(statement, map, "Resource")?.ok_or(PolicyError::MissingResource { statement })?;
        let not_resource = element == "NotResource";
        let resources = strings(raw)
            .ok_or(PolicyError::ResourceNotString { statement, element })?
            .into_iter()
            .map(|value| {
                // IAM: a resource is an ARN or "*" (reference_policies_elements_resource.html).
                if value != "*" && !value.starts_with("arn:") {
                    return Err(PolicyError::InvalidResource { statement, element, value });
                }
                Template::parse(&value)
                    .map_err(|e| PolicyError::UnknownVariable { statement, variable: e.0 })
            })
            .collect::<Result<_, _>>()?;
        let conditions = match map.get("Condition") {
            None => Vec::new(),
            Some(block) => condition::parse_block(statement, block)?,
        };
        Ok(Statement { sid, effect, actions, not_action, resources, not_resource, conditions })
    }

    /// The optional `Sid`.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or Deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether this statement applies to `request` (action, resource and every condition), with
    /// variables filled from `context`.
    ///
    /// A variable without a value: in an Allow, the resource or condition holding it matches
    /// nothing (and a `NotResource` holding one makes the statement not apply), so it grants
    /// nothing; in a Deny, its `${...}` text is kept literally, as AWS IoT documents ("the policy
    /// variable is not replaced ..., leaving the `${policy-variable}` text in the policy
    /// document": developerguide/cert-policy-variables.md), so it denies only that literal text.
    pub fn applies(&self, request: &Request, context: &Context) -> bool {
        let action = request.action.name();
        let named = self.actions.iter().any(|pattern| glob::matches(pattern, action, true));
        if named == self.not_action {
            return false;
        }
        let mode = match self.effect {
            Effect::Allow => Unresolved::Fail,
            Effect::Deny => Unresolved::Literal,
        };
        let resource = &request.resource;
        let resource_matches = if self.not_resource {
            let mut excluded = false;
            for template in &self.resources {
                match template.pattern(context, mode) {
                    Some(pattern) => excluded |= glob::matches(&pattern, resource, false),
                    None => return false,
                }
            }
            !excluded
        } else {
            self.resources.iter().any(|template| {
                template
                    .pattern(context, mode)
                    .is_some_and(|pattern| glob::matches(&pattern, resource, false))
            })
        };
        resource_matches && self.conditions.iter().all(|c| c.holds(context, mode))
    }
}

/// `X` or `NotX` from the statement, refusing both.
fn pick<'a>(
    statement: usize,
    map: &'a Map<String, Value>,
    element: &'static str,
) -> Result<Option<(&'static str, &'a Value)>, PolicyError> {
    let not = match element {
        "Action" => "NotAction",
        _ => "NotResource",
    };
    match (map.get(element), map.get(not)) {
        (Some(_), Some(_)) => Err(PolicyError::Conflicting { statement, element }),
        (Some(v), None) => Ok(Some((element, v))),
        (None, Some(v)) => Ok(Some((not, v))),
        (None, None) => Ok(None),
    }
}

/// A string, or a non-empty array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}
