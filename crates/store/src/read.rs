//! Reading everything back at startup ([`Store::load`](crate::Store::load)) on the read
//! connection, inside one read transaction so the snapshot is consistent.

use std::collections::BTreeMap;

use bytes::Bytes;
use rusqlite::Connection;

use crate::{RetainedRow, SessionRow, Snapshot, StoreError};

/// Reads the whole store.
///
/// Subscriptions and messages whose session row is missing are skipped (and counted in a
/// warning): a [`SessionRow`] needs its state.
pub(crate) fn load(conn: &mut Connection) -> Result<Snapshot, StoreError> {
    let tx = conn.transaction()?;
    let retained = {
        let mut stmt =
            tx.prepare_cached("SELECT topic, message, updated_at_ms FROM retained ORDER BY topic")?;
        let rows = stmt.query_map([], |row| {
            Ok(RetainedRow {
                topic: row.get(0)?,
                message: Bytes::from(row.get::<_, Vec<u8>>(1)?),
                updated_at_ms: row.get(2)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
    };

    let mut sessions = BTreeMap::new();
    {
        let mut stmt = tx.prepare_cached("SELECT client_id, state FROM sessions")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            let state = Bytes::from(row.get::<_, Vec<u8>>(1)?);
            sessions.insert(
                client_id.clone(),
                SessionRow { client_id, state, subscriptions: Vec::new(), messages: Vec::new() },
            );
        }
    }

    let mut orphans = 0usize;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT client_id, filter, options FROM subscriptions ORDER BY client_id, filter",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            match sessions.get_mut(&client_id) {
                Some(session) => session
                    .subscriptions
                    .push((row.get(1)?, Bytes::from(row.get::<_, Vec<u8>>(2)?))),
                None => orphans += 1,
            }
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT client_id, seq, message FROM messages ORDER BY client_id, seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let client_id: String = row.get(0)?;
            let seq: i64 = row.get(1)?;
            let seq = u64::try_from(seq).map_err(|_| {
                StoreError::Corrupt(format!("negative message seq {seq} for {client_id:?}"))
            })?;
            match sessions.get_mut(&client_id) {
                Some(session) => {
                    session.messages.push((seq, Bytes::from(row.get::<_, Vec<u8>>(2)?)))
                }
                None => orphans += 1,
            }
        }
    }
    tx.finish()?;
    if orphans > 0 {
        tracing::warn!(orphans, "store holds subscriptions or messages without a session; skipped");
    }
    Ok(Snapshot { retained, sessions: sessions.into_values().collect() })
}
