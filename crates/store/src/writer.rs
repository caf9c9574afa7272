//! The writer thread: group commit.
//!
//! The thread owns the only writing connection. It blocks for the first submission, drains
//! whatever else is already queued (up to `max_batch` ops), applies everything in one
//! transaction with cached prepared statements, commits, and then answers every submission of
//! the batch in order. A failed transaction is rolled back and every submission of the batch
//! gets the error; the thread then carries on with the next batch. When every sender is gone
//! it drains the queue, checkpoints the WAL and exits.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::commit::Outcome;
use crate::stats::Counters;
use crate::{Op, StoreError};

/// One submission: its ops and where to report the outcome.
pub(crate) struct Request {
    pub(crate) ops: Vec<Op>,
    pub(crate) done: oneshot::Sender<Outcome>,
}

/// A submission taken into a batch. `rejected` is set when it failed validation; it then takes
/// no part in the transaction but is still answered in order.
struct Entry {
    request: Request,
    rejected: Option<StoreError>,
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) rx: Receiver<Request>,
    pub(crate) max_batch: usize,
    pub(crate) counters: Arc<Counters>,
}

impl Writer {
    /// The thread's body. Returns when every sender is dropped and the queue is empty; the
    /// result is that of the final WAL checkpoint.
    pub(crate) fn run(mut self) -> Result<(), StoreError> {
        tracing::debug!("store writer started");
        while let Ok(first) = self.rx.recv() {
            let batch = self.gather(first);
            self.commit_batch(batch);
        }
        tracing::debug!("store writer draining done, checkpointing");
        // TRUNCATE leaves an empty WAL file behind, so the next open replays nothing.
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        tracing::debug!("store writer stopped");
        Ok(())
    }

    /// The first request plus everything already queued, up to `max_batch` ops.
    fn gather(&self, first: Request) -> Vec<Entry> {
        let mut ops = first.ops.len();
        let mut batch = vec![entry(first)];
        while ops < self.max_batch {
            match self.rx.try_recv() {
                Ok(request) => {
                    ops += request.ops.len();
                    batch.push(entry(request));
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        batch
    }

    fn commit_batch(&mut self, batch: Vec<Entry>) {
        self.counters.record_submits(batch.len());
        let ops: usize =
            batch.iter().filter(|e| e.rejected.is_none()).map(|e| e.request.ops.len()).sum();
        let outcome = if ops == 0 {
            // Nothing to write (flush markers, rejected submissions): everything submitted
            // earlier has already been answered, so there is nothing to wait for.
            Ok(())
        } else {
            let started = Instant::now();
            match apply_batch(&mut self.conn, &batch) {
                Ok(()) => {
                    let elapsed = started.elapsed();
                    self.counters.record_commit(ops, elapsed);
                    tracing::trace!(ops, submits = batch.len(), ?elapsed, "store batch committed");
                    Ok(())
                }
                Err(error) => {
                    self.counters.record_failure();
                    tracing::error!(%error, ops, submits = batch.len(), "store batch failed");
                    Err(error)
                }
            }
        };
        for Entry { request, rejected } in batch {
            let result = match rejected {
                Some(error) => Err(error),
                None => outcome.clone(),
            };
            // A dropped Commit is fine: nobody is waiting for this one.
            let _ = request.done.send(result);
        }
    }
}

fn entry(request: Request) -> Entry {
    let rejected = validate(&request.ops).err();
    if let Some(error) = &rejected {
        tracing::warn!(%error, "store submission rejected");
    }
    Entry { request, rejected }
}

/// Checks what SQLite would only reject halfway through a transaction.
fn validate(ops: &[Op]) -> Result<(), StoreError> {
    for op in ops {
        if let Some(seq) = op.seq() {
            seq_param(seq)?;
        }
    }
    Ok(())
}

fn seq_param(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::SeqOutOfRange(seq))
}

/// Applies every accepted submission of the batch, in order, in one transaction.
fn apply_batch(conn: &mut Connection, batch: &[Entry]) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front instead of upgrading halfway through.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for entry in batch.iter().filter(|e| e.rejected.is_none()) {
        for op in &entry.request.ops {
            apply(&tx, op)?;
        }
    }
    // On error the dropped transaction rolls back.
    tx.commit()?;
    Ok(())
}

fn apply(tx: &Transaction<'_>, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::PutRetained { topic, message, updated_at_ms } => {
            tx.prepare_cached(
                "INSERT INTO retained (topic, message, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (topic) DO UPDATE
                 SET message = excluded.message, updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![topic, &message[..], updated_at_ms])?;
        }
        Op::DeleteRetained { topic } => {
            tx.prepare_cached("DELETE FROM retained WHERE topic = ?1")?.execute(params![topic])?;
        }
        Op::PutSession { client_id, state } => {
            tx.prepare_cached(
                "INSERT INTO sessions (client_id, state) VALUES (?1, ?2)
                 ON CONFLICT (client_id) DO UPDATE SET state = excluded.state",
            )?
            .execute(params![client_id, &state[..]])?;
        }
        Op::DeleteSession { client_id } => {
            tx.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1")?
                .execute(params![client_id])?;
            tx.prepare_cached("DELETE FROM messages WHERE client_id = ?1")?
                .execute(params![client_id])?;
            tx.prepare_cached("DELETE FROM sessions WHERE client_id = ?1")?
                .execute(params![client_id])?;
        }
        Op::PutSubscription { client_id, filter, options } => {
            tx.prepare_cached(
                "INSERT INTO subscriptions (client_id, filter, options) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id, filter) DO UPDATE SET options = excluded.options",
            )?
            .execute(params![client_id, filter, &options[..]])?;
        }
        Op::DeleteSubscription { client_id, filter } => {
            tx.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2")?
                .execute(params![client_id, filter])?;
        }
        Op::PutMessage { client_id, seq, message } => {
            tx.prepare_cached(
                "INSERT INTO messages (client_id, seq, message) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id, seq) DO UPDATE SET message = excluded.message",
            )?
            .execute(params![client_id, seq_param(*seq)?, &message[..]])?;
        }
        Op::DeleteMessage { client_id, seq } => {
            tx.prepare_cached("DELETE FROM messages WHERE client_id = ?1 AND seq = ?2")?
                .execute(params![client_id, seq_param(*seq)?])?;
        }
    }
    Ok(())
}
