//! Reading everything back at startup ([`Store::load`](crate::Store::load)): the database on
//! the read connection, inside one read transaction so the snapshot is consistent, and the
//! queued messages from the message journal.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use rusqlite::Connection;

use crate::{RetainedRow, SessionRow, Snapshot, StoreError, journal};

/// Reads the whole store.
///
/// Subscriptions and messages whose session row is missing are skipped (and counted in a
/// warning): a [`SessionRow`] needs its state.
pub(crate) fn load(conn: &mut Connection, journal_path: &Path) -> Result<Snapshot, StoreError> {
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
    // Read after the database's snapshot: the journal holds at least the batches the
    // snapshot counts, and a batch the snapshot does not count is skipped.
    let committed = journal::committed_batch(&tx)?;
    for (client_id, queue) in journal::read_all(journal_path, committed)? {
        match sessions.get_mut(&client_id) {
            Some(session) => session.messages = queue.into_iter().collect(),
            None => orphans += queue.len(),
        }
    }
    tx.finish()?;
    if orphans > 0 {
        tracing::warn!(orphans, "store holds subscriptions or messages without a session; skipped");
    }
    Ok(Snapshot { retained, sessions: sessions.into_values().collect() })
}
