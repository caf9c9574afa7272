//! The `shadows` table (created by the store's migration 4): one row per (thing, shadow),
//! `shadow_name = ''` for the classic shadow, `document` NULL for a deleted shadow whose
//! version counter is kept. This module owns that table's SQL and nothing else.

use ferrocore_store::StoreError;
use ferrocore_store::rusqlite::{OptionalExtension, Transaction, params};

use crate::document::{ShadowRecord, Stored};
use crate::name::ShadowId;

/// Reads what is stored for `id`.
pub(crate) fn load(tx: &Transaction<'_>, id: &ShadowId) -> Result<Stored, StoreError> {
    let row: Option<(Option<String>, i64, i64)> = tx
        .prepare_cached(
            "SELECT document, version, updated_s FROM shadows
             WHERE thing_name = ?1 AND shadow_name = ?2",
        )?
        .query_row(params![id.thing, id.stored_shadow_name()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((document, version, updated_s)) = row else {
        return Ok(Stored::Absent);
    };
    let version = u64::try_from(version).unwrap_or(0);
    match document {
        None => Ok(Stored::Deleted { version, deleted_at: u64::try_from(updated_s).unwrap_or(0) }),
        Some(json) => match ShadowRecord::from_stored_json(&json, version) {
            Some(record) => Ok(Stored::Live(record)),
            None => {
                // Only a corrupted database gets here; answer as if the shadow were gone
                // rather than failing every request for it forever.
                tracing::error!(shadow = %id, "unreadable shadow document in the store");
                Ok(Stored::Deleted { version, deleted_at: u64::try_from(updated_s).unwrap_or(0) })
            }
        },
    }
}

/// Writes `stored` for `id` at `now` (epoch seconds).
pub(crate) fn save(
    tx: &Transaction<'_>,
    id: &ShadowId,
    stored: &Stored,
    now: u64,
) -> Result<(), StoreError> {
    let (document, version, updated) = match stored {
        Stored::Absent => {
            tx.prepare_cached("DELETE FROM shadows WHERE thing_name = ?1 AND shadow_name = ?2")?
                .execute(params![id.thing, id.stored_shadow_name()])?;
            return Ok(());
        }
        Stored::Deleted { version, deleted_at } => (None, *version, *deleted_at),
        Stored::Live(record) => (Some(record.to_stored_json()), record.version, now),
    };
    tx.prepare_cached(
        "INSERT INTO shadows (thing_name, shadow_name, document, version, updated_s)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (thing_name, shadow_name) DO UPDATE SET
             document = excluded.document, version = excluded.version,
             updated_s = excluded.updated_s",
    )?
    .execute(params![
        id.thing,
        id.stored_shadow_name(),
        document,
        i64::try_from(version).unwrap_or(i64::MAX),
        i64::try_from(updated).unwrap_or(i64::MAX),
    ])?;
    Ok(())
}

/// The names of `thing`'s live named shadows after `after`, in name order, at most `limit`.
pub(crate) fn list_named(
    tx: &Transaction<'_>,
    thing: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT shadow_name FROM shadows
         WHERE thing_name = ?1 AND shadow_name > ?2 AND document IS NOT NULL
         ORDER BY shadow_name LIMIT ?3",
    )?;
    let names = statement
        .query_map(params![thing, after, i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            row.get(0)
        })?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}
