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
use crate::journal::Journal;
use crate::stats::Counters;
use crate::{Op, StoreError};

/// One submission: ops and where to report their outcome, or a closure to run in the batch
/// transaction ([`Store::execute`](crate::Store::execute)).
pub(crate) enum Request {
    /// Blob-level ops, applied atomically and in order.
    Ops { ops: Vec<Op>, done: oneshot::Sender<Outcome> },
    /// A closure run under its own SAVEPOINT inside the batch transaction.
    Job(Box<dyn Job>),
}

impl Request {
    /// How much this request adds to a batch, for `max_batch`: its ops, or 1 for a job.
    fn weight(&self) -> usize {
        match self {
            Request::Ops { ops, .. } => ops.len(),
            Request::Job(_) => 1,
        }
    }
}

/// A closure submitted with [`Store::execute`](crate::Store::execute), type-erased.
pub(crate) trait Job: Send {
    /// Runs the closure against the batch transaction. Returns what to do once the batch's
    /// outcome is known, and an error when the transaction itself is no longer usable (the
    /// savepoint could not be taken, released or rolled back), which fails the whole batch.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> (Box<dyn Finish>, Result<(), StoreError>);
    /// Reports `error` without running: the batch failed before this job's turn.
    fn fail(self: Box<Self>, error: StoreError);
}

/// The second half of a [`Job`]: reports its result once the batch committed or failed.
pub(crate) trait Finish: Send {
    /// Reports the job's result, given the outcome of the batch's commit.
    fn finish(self: Box<Self>, outcome: Outcome);
}

/// A submission taken into a batch.
enum Entry {
    /// `rejected` is set when the ops failed validation; they then take no part in the
    /// transaction but are still answered in order.
    Ops { ops: Vec<Op>, done: oneshot::Sender<Outcome>, rejected: Option<StoreError> },
    /// A job before it ran (`job`) and after (`finish`).
    Job { job: Option<Box<dyn Job>>, finish: Option<Box<dyn Finish>> },
}

impl Entry {
    /// How many units of work the entry puts into the transaction.
    fn work(&self) -> usize {
        match self {
            Entry::Ops { ops, rejected: None, .. } => ops.len(),
            Entry::Ops { .. } => 0,
            Entry::Job { .. } => 1,
        }
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) journal: Journal,
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
        self.journal.truncate_if_empty();
        // TRUNCATE leaves an empty WAL file behind, so the next open replays nothing.
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        tracing::debug!("store writer stopped");
        Ok(())
    }

    /// The first request plus everything already queued, up to `max_batch` ops.
    fn gather(&self, first: Request) -> Vec<Entry> {
        let mut ops = first.weight();
        let mut batch = vec![entry(first)];
        while ops < self.max_batch {
            match self.rx.try_recv() {
                Ok(request) => {
                    ops += request.weight();
                    batch.push(entry(request));
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        batch
    }

    fn commit_batch(&mut self, mut batch: Vec<Entry>) {
        self.counters.record_submits(batch.len());
        let ops: usize = batch.iter().map(Entry::work).sum();
        let outcome = if ops == 0 {
            // Nothing to write (flush markers, rejected submissions): everything submitted
            // earlier has already been answered, so there is nothing to wait for.
            Ok(())
        } else {
            let started = Instant::now();
            match apply_batch(&mut self.conn, &mut self.journal, &mut batch) {
                Ok(()) => {
                    self.journal.maybe_compact();
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
        for entry in batch {
            match entry {
                Entry::Ops { done, rejected, .. } => {
                    let result = match rejected {
                        Some(error) => Err(error),
                        None => outcome.clone(),
                    };
                    // A dropped Commit is fine: nobody is waiting for this one.
                    let _ = done.send(result);
                }
                Entry::Job { finish: Some(finish), .. } => finish.finish(outcome.clone()),
                Entry::Job { job: Some(job), finish: None } => {
                    // The batch failed before this job ran.
                    job.fail(outcome.clone().err().unwrap_or(StoreError::Closed));
                }
                Entry::Job { job: None, finish: None } => {}
            }
        }
    }
}

fn entry(request: Request) -> Entry {
    match request {
        Request::Ops { ops, done } => {
            let rejected = validate(&ops).err();
            if let Some(error) = &rejected {
                tracing::warn!(%error, "store submission rejected");
            }
            Entry::Ops { ops, done, rejected }
        }
        Request::Job(job) => Entry::Job { job: Some(job), finish: None },
    }
}

/// Checks what SQLite would only reject halfway through a transaction.
fn validate(ops: &[Op]) -> Result<(), StoreError> {
    for op in ops {
        if let Some(seq) = op.seq() {
            seq_param(seq)?;
        }
        if let Op::PutMessage { client_id, message, .. } = op {
            let size = client_id.len().saturating_add(message.len());
            if size > crate::journal::MAX_RECORD {
                return Err(StoreError::TooLarge(size));
            }
        }
    }
    Ok(())
}

fn seq_param(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::SeqOutOfRange(seq))
}

impl Entry {
    /// Whether the entry has anything for the database (rather than only for the journal).
    fn touches_sql(&self) -> bool {
        match self {
            Entry::Ops { ops, rejected: None, .. } => ops.iter().any(Op::touches_sql),
            Entry::Ops { .. } => false,
            Entry::Job { .. } => true,
        }
    }
}

/// Applies every accepted submission of the batch, in order: queued messages to the journal,
/// everything else in one SQL transaction (none when the batch is only queued messages). The
/// journal's half is written (and synced) first; the transaction then records the batch's
/// number, so the journal half counts only once the SQL half has committed (see the `journal`
/// module).
fn apply_batch(
    conn: &mut Connection,
    journal: &mut Journal,
    batch: &mut [Entry],
) -> Result<(), StoreError> {
    journal.discard_staged();
    // IMMEDIATE takes the write lock up front instead of upgrading halfway through.
    let tx = if batch.iter().any(Entry::touches_sql) {
        Some(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    } else {
        None
    };
    for entry in batch.iter_mut() {
        match entry {
            Entry::Ops { ops, rejected: None, .. } => {
                for op in ops.iter() {
                    // Whatever the journal does not take touches SQL, so `tx` is there.
                    if !stage(journal, op)
                        && let Some(tx) = &tx
                    {
                        apply(tx, op)?;
                    }
                }
            }
            Entry::Ops { .. } => {}
            Entry::Job { job, finish } => {
                // A job touches SQL, so `tx` is there.
                if let (Some(job), Some(tx)) = (job.take(), &tx) {
                    let (done, usable) = job.run(tx);
                    *finish = Some(done);
                    usable?;
                }
            }
        }
    }
    let start = journal.len();
    let wrote = journal.has_staged();
    if wrote {
        let number = journal.next_batch();
        if let Some(tx) = &tx {
            tx.prepare_cached("UPDATE journal_state SET batch = ?1")?
                .execute(params![seq_param(number)?])?;
        }
        // On error the dropped transaction rolls back.
        journal.write_staged(number, tx.is_none())?;
    }
    if let Some(tx) = tx
        && let Err(error) = tx.commit()
    {
        if wrote {
            journal.revert(start);
        }
        return Err(error.into());
    }
    journal.publish();
    Ok(())
}

/// Stages `op` in the journal if it is about queued messages; returns whether it is done
/// there. [`Op::DeleteSession`] is staged (its messages) and still applied to the database
/// (its state and subscriptions).
fn stage(journal: &mut Journal, op: &Op) -> bool {
    match op {
        Op::PutMessage { client_id, seq, message } => {
            journal.stage_put(client_id, *seq, message);
            true
        }
        Op::DeleteMessage { client_id, seq } => {
            journal.stage_delete(client_id, *seq);
            true
        }
        Op::DeleteSession { client_id } => {
            journal.stage_drop(client_id);
            false
        }
        _ => false,
    }
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
        // Staged in the journal instead.
        Op::PutMessage { .. } | Op::DeleteMessage { .. } => {}
    }
    Ok(())
}
