//! The SQL of the crate's two tables, `topic_rules` and `topic_rule_destinations` (created by
//! the store's migration 7). Writes run inside [`ferrocore_store::Store::execute`] closures,
//! reads inside [`ferrocore_store::Store::read`]; these functions take the transaction.

use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};

use crate::error::RulesError;

/// A topic rule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    /// The name, the key.
    pub name: String,
    /// `arn:aws:iot:{region}:{account}:rule/{name}`.
    pub arn: String,
    /// The `TopicRulePayload` as given (with `ruleDisabled` and `awsIotSqlVersion` filled).
    pub payload: serde_json::Value,
    /// The SQL text.
    pub sql: String,
    /// The FROM filter.
    pub topic_pattern: Option<String>,
    /// Whether it is disabled.
    pub disabled: bool,
    /// When it was created, epoch milliseconds.
    pub created_ms: i64,
}

/// A destination's status, as the model names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationStatus {
    /// Confirmed and in use.
    Enabled,
    /// Waiting for its confirmation.
    InProgress,
    /// Confirmed, then disabled.
    Disabled,
    /// The confirmation could not be sent.
    Error,
    /// Being deleted.
    Deleting,
}

impl DestinationStatus {
    /// The model's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Enabled => "ENABLED",
            DestinationStatus::InProgress => "IN_PROGRESS",
            DestinationStatus::Disabled => "DISABLED",
            DestinationStatus::Error => "ERROR",
            DestinationStatus::Deleting => "DELETING",
        }
    }

    /// The status the model names `name`.
    pub fn parse(name: &str) -> Option<DestinationStatus> {
        Some(match name {
            "ENABLED" => DestinationStatus::Enabled,
            "IN_PROGRESS" => DestinationStatus::InProgress,
            "DISABLED" => DestinationStatus::Disabled,
            "ERROR" => DestinationStatus::Error,
            "DELETING" => DestinationStatus::Deleting,
            _ => return None,
        })
    }
}

/// A topic rule destination (HTTP URL) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `arn:aws:iot:{region}:{account}:ruledestination/http/{uuid}`.
    pub arn: String,
    /// The confirmation URL: HTTP actions whose URL starts with it may use it.
    pub url: String,
    /// Its status.
    pub status: DestinationStatus,
    /// Why it has that status, when not obvious.
    pub status_reason: Option<String>,
    /// The confirmation token sent to the URL.
    pub token: String,
    /// Created, epoch milliseconds.
    pub created_ms: i64,
    /// Last changed, epoch milliseconds.
    pub updated_ms: i64,
}

const RULE_COLUMNS: &str = "name, arn, payload, sql, topic_pattern, disabled, created_ms";

fn rule_from_row(row: &Row<'_>) -> rusqlite::Result<(StoredRule, String)> {
    let payload: String = row.get(2)?;
    Ok((
        StoredRule {
            name: row.get(0)?,
            arn: row.get(1)?,
            payload: serde_json::Value::Null,
            sql: row.get(3)?,
            topic_pattern: row.get(4)?,
            disabled: row.get(5)?,
            created_ms: row.get(6)?,
        },
        payload,
    ))
}

fn with_payload((mut rule, payload): (StoredRule, String)) -> Result<StoredRule, RulesError> {
    rule.payload = serde_json::from_str(&payload)
        .map_err(|e| RulesError::Store(format!("corrupt payload of rule {}: {e}", rule.name)))?;
    Ok(rule)
}

/// The rule named `name`.
pub fn rule(tx: &Transaction<'_>, name: &str) -> Result<Option<StoredRule>, RulesError> {
    let row = tx
        .prepare_cached(&format!("SELECT {RULE_COLUMNS} FROM topic_rules WHERE name = ?1"))?
        .query_row([name], rule_from_row)
        .optional()?;
    row.map(with_payload).transpose()
}

/// Every rule, by name.
pub fn all_rules(tx: &Transaction<'_>) -> Result<Vec<StoredRule>, RulesError> {
    let mut statement =
        tx.prepare_cached(&format!("SELECT {RULE_COLUMNS} FROM topic_rules ORDER BY name"))?;
    let rows = statement.query_map([], rule_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(with_payload).collect()
}

/// Up to `limit` rules after name `after`, filtered by FROM filter and disabled flag.
pub fn list_rules(
    tx: &Transaction<'_>,
    after: &str,
    topic: Option<&str>,
    disabled: Option<bool>,
    limit: usize,
) -> Result<Vec<StoredRule>, RulesError> {
    let mut statement = tx.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM topic_rules WHERE name > ?1
           AND (?2 IS NULL OR topic_pattern = ?2) AND (?3 IS NULL OR disabled = ?3)
         ORDER BY name LIMIT ?4"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement
        .query_map(params![after, topic, disabled, limit], rule_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(with_payload).collect()
}

/// Inserts or replaces `rule`.
pub fn put_rule(tx: &Transaction<'_>, rule: &StoredRule, now_ms: i64) -> Result<(), RulesError> {
    tx.prepare_cached(
        "INSERT INTO topic_rules (name, arn, payload, sql, topic_pattern, disabled, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (name) DO UPDATE SET arn = ?2, payload = ?3, sql = ?4, topic_pattern = ?5,
           disabled = ?6, updated_ms = ?8",
    )?
    .execute(params![
        rule.name,
        rule.arn,
        rule.payload.to_string(),
        rule.sql,
        rule.topic_pattern,
        rule.disabled,
        rule.created_ms,
        now_ms
    ])?;
    Ok(())
}

/// Deletes the rule; returns whether it existed.
pub fn delete_rule(tx: &Transaction<'_>, name: &str) -> Result<bool, RulesError> {
    Ok(tx.prepare_cached("DELETE FROM topic_rules WHERE name = ?1")?.execute([name])? > 0)
}

const DESTINATION_COLUMNS: &str = "arn, url, status, status_reason, token, created_ms, updated_ms";

fn destination_from_row(row: &Row<'_>) -> rusqlite::Result<Destination> {
    let status: String = row.get(2)?;
    Ok(Destination {
        arn: row.get(0)?,
        url: row.get(1)?,
        status: DestinationStatus::parse(&status).unwrap_or(DestinationStatus::Error),
        status_reason: row.get(3)?,
        token: row.get(4)?,
        created_ms: row.get(5)?,
        updated_ms: row.get(6)?,
    })
}

/// The destination of `arn`.
pub fn destination(tx: &Transaction<'_>, arn: &str) -> Result<Option<Destination>, RulesError> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE arn = ?1"
        ))?
        .query_row([arn], destination_from_row)
        .optional()?)
}

/// The destination whose URL is `url`.
pub fn destination_by_url(
    tx: &Transaction<'_>,
    url: &str,
) -> Result<Option<Destination>, RulesError> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE url = ?1"
        ))?
        .query_row([url], destination_from_row)
        .optional()?)
}

/// The destination whose confirmation token is `token`.
pub fn destination_by_token(
    tx: &Transaction<'_>,
    token: &str,
) -> Result<Option<Destination>, RulesError> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE token = ?1"
        ))?
        .query_row([token], destination_from_row)
        .optional()?)
}

/// Up to `limit` destinations after ARN `after`.
pub fn list_destinations(
    tx: &Transaction<'_>,
    after: &str,
    limit: usize,
) -> Result<Vec<Destination>, RulesError> {
    let mut statement = tx.prepare_cached(&format!(
        "SELECT {DESTINATION_COLUMNS} FROM topic_rule_destinations WHERE arn > ?1 ORDER BY arn LIMIT ?2"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(statement
        .query_map(params![after, limit], destination_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every destination.
pub fn all_destinations(tx: &Transaction<'_>) -> Result<Vec<Destination>, RulesError> {
    list_destinations(tx, "", usize::MAX)
}

/// Inserts or replaces `destination`.
pub fn put_destination(tx: &Transaction<'_>, d: &Destination) -> Result<(), RulesError> {
    tx.prepare_cached(
        "INSERT INTO topic_rule_destinations (arn, url, status, status_reason, token, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (arn) DO UPDATE SET url = ?2, status = ?3, status_reason = ?4, token = ?5,
           updated_ms = ?7",
    )?
    .execute(params![d.arn, d.url, d.status.as_str(), d.status_reason, d.token, d.created_ms, d.updated_ms])?;
    Ok(())
}

/// Deletes the destination; returns whether it existed.
pub fn delete_destination(tx: &Transaction<'_>, arn: &str) -> Result<bool, RulesError> {
    Ok(tx.prepare_cached("DELETE FROM topic_rule_destinations WHERE arn = ?1")?.execute([arn])? > 0)
}
