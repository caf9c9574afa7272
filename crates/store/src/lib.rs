//! Durable state for Ferrocore: SQLite in the data directory, with group-committed writes.
//!
//! The store is deliberately blob-level. The broker serializes retained messages and queued
//! session messages (as encoded MQTT 5 PUBLISH packets), session state and subscription options
//! itself; the store keeps those bytes keyed by topic, client id, topic filter and sequence
//! number ([`Op`]), and hands everything back at startup ([`Store::load`] → [`Snapshot`]).
//! Everything is in SQLite except the queued messages, which are in a journal file beside it.
//!
//! # Writes: group commit
//!
//! [`Store::submit`] enqueues a `Vec<Op>` and returns a [`Commit`] at once; it never blocks on
//! disk. One dedicated writer thread (named `ferrocore-store`) blocks for the first queued
//! submission, drains every submission already queued (up to [`StoreConfig::max_batch`] ops),
//! applies them in submission order in **one** SQLite transaction using cached prepared
//! statements and one append to the message journal, commits (one fsync each for the whole
//! batch under [`Durability::Full`], none for SQLite when the batch is only messages), and then
//! resolves each submission's [`Commit`] in submission order. Each submission is atomic. If a
//! transaction fails it is rolled back, every submission of that batch gets the error, and the
//! writer carries on. Under load, many submissions share one fsync; when idle, a lone submission
//! is committed immediately.
//!
//! # Transactions for other crates
//!
//! Crates with their own tables (the registry, the access keys) write with
//! [`Store::execute`]: a closure that runs on the writer thread inside the next group-commit
//! transaction, under its own SAVEPOINT, so a closure that fails rolls back only its own
//! changes, and whose result is reported once its batch is durable. They read with
//! [`Store::read`]. They own their SQL; the store owns only the schema migrations, so that
//! one ordered list versions the whole database.
//!
//! # Reads
//!
//! [`Store::load`] and [`Store::read`] use a second connection (behind a mutex) in one read
//! transaction; in WAL mode it neither waits for nor blocks the writer.
//!
//! # Why rusqlite
//!
//! * Its API is synchronous, which fits one dedicated writer thread doing group commit: the
//!   thread owns the connection and a transaction is a plain function call, with no executor
//!   hopping per statement.
//! * The `bundled` feature compiles SQLite into the binary, so there is no system library to
//!   install or version-match.
//! * No async runtime is needed in the store's core; the only async piece is [`Commit`], a
//!   oneshot the broker's tasks can await.
//!
//! # Schema
//!
//! Versioned with `PRAGMA user_version` and an ordered list of migrations (`schema.rs`). The
//! broker's tables:
//!
//! ```sql
//! retained      (topic TEXT PRIMARY KEY, message BLOB, updated_at_ms INTEGER)
//! sessions      (client_id TEXT PRIMARY KEY, state BLOB)
//! subscriptions (client_id TEXT, filter TEXT, options BLOB, PRIMARY KEY (client_id, filter))
//! journal_state (batch INTEGER)  -- one row
//! ```
//!
//! Queued session messages ([`Op::PutMessage`], [`Op::DeleteMessage`]) are not rows: they go
//! to the message journal, an append-only file beside the database (`<database>-messages`),
//! written in the same group commit and counted only when the batch's SQL half committed too
//! (the `journal` module explains how). A queued message is put once and deleted once, usually
//! within seconds, which is what a log does well and a b-tree does not.
//!
//! There are no foreign keys; [`Op::DeleteSession`] deletes the session's subscriptions and
//! messages explicitly. Migration 2 adds the registry's tables (`things`, `thing_types`,
//! `thing_groups`, `thing_group_members`, `tags`), migration 3 the `access_keys` of SigV4 and
//! migration 4 the `shadows` of the Device Shadow service; their SQL lives in the crates that
//! own them.

mod commit;
mod config;
mod error;
mod execute;
mod journal;
mod op;
mod read;
mod schema;
mod stats;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_execute;

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, Transaction};

pub use commit::Commit;
pub use config::{Durability, StoreConfig};
pub use error::StoreError;
pub use op::{Op, RetainedRow, SessionRow, Snapshot};
pub use stats::StoreStats;

/// The SQLite binding the store is built on, re-exported so that crates writing their own SQL
/// through [`Store::execute`] and [`Store::read`] use the very same version.
pub use rusqlite;

use stats::Counters;
use writer::{Request, Writer};

/// The name of the writer thread.
pub const WRITER_THREAD_NAME: &str = "ferrocore-store";

/// A handle to the store: the writer thread's queue plus a read connection.
///
/// Cheap to clone; all clones share the same writer. When the last clone is dropped without
/// [`Store::close`], the writer still commits everything queued before the drop returns.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    /// `None` once closed.
    sender: RwLock<Option<mpsc::Sender<Request>>>,
    /// `None` once joined.
    writer: Mutex<Option<JoinHandle<Result<(), StoreError>>>>,
    reader: Mutex<Connection>,
    counters: Arc<Counters>,
}

impl Store {
    /// Opens (creating if needed) the database at `config.path`: creates the parent directory,
    /// switches to WAL mode, sets `synchronous`, runs pending migrations and starts the writer
    /// thread.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        if let Some(parent) = config.path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
            }
        }
        let mut conn = schema::open_writer(&config.path, config.synchronous)?;
        schema::migrate(&mut conn)?;
        let legacy = journal::legacy_messages(&conn)?;
        let moved = !legacy.is_empty();
        let journal = journal::Journal::open(
            journal::path_for(&config.path),
            journal::committed_batch(&conn)?,
            config.synchronous == Durability::Full,
            journal::DEFAULT_COMPACT_BYTES,
            legacy,
        )?;
        if moved {
            // Only once the journal holds them, synced.
            conn.execute("DELETE FROM messages", [])?;
        }
        let reader = schema::open_reader(&config.path)?;

        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            conn,
            journal,
            rx,
            max_batch: config.max_batch.max(1),
            counters: Arc::clone(&counters),
        };
        let handle = std::thread::Builder::new()
            .name(WRITER_THREAD_NAME.to_owned())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Spawn(Arc::new(e)))?;
        tracing::info!(
            path = %config.path.display(),
            synchronous = ?config.synchronous,
            max_batch = config.max_batch,
            "store opened"
        );
        Ok(Store {
            inner: Arc::new(Inner {
                config,
                sender: RwLock::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                reader: Mutex::new(reader),
                counters,
            }),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Reads everything, for startup: retained messages ordered by topic, sessions ordered by
    /// client id with their subscriptions (by filter) and messages (by seq).
    ///
    /// Sees every submission whose [`Commit`] has resolved `Ok`.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let mut conn = self.inner.reader.lock();
        read::load(&mut conn, &journal::path_for(&self.inner.config.path))
    }

    /// Enqueues `ops` for the writer thread and returns at once; never blocks on disk.
    ///
    /// The ops are applied atomically and in order. An empty `ops` resolves once everything
    /// submitted before it is durable. After [`Store::close`] the commit resolves to
    /// [`StoreError::Closed`].
    pub fn submit(&self, ops: Vec<Op>) -> Commit {
        let sender = self.inner.sender.read();
        let Some(sender) = sender.as_ref() else {
            return Commit::ready(Err(StoreError::Closed));
        };
        let (done, commit) = Commit::pending();
        match sender.send(Request::Ops { ops, done }) {
            Ok(()) => commit,
            // The writer thread is gone (it panicked); the request was not queued.
            Err(_) => Commit::ready(Err(StoreError::Closed)),
        }
    }

    /// Submits `ops` and blocks until they are durable.
    ///
    /// For tests and startup. Panics when called from within an async runtime worker; await
    /// [`Store::submit`]'s [`Commit`] there.
    pub fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.submit(ops).blocking_wait()
    }

    /// Blocks until everything submitted so far is durable (or has failed).
    ///
    /// Returns the outcome of the flush marker itself: `Ok` once all earlier submissions have
    /// been answered, [`StoreError::Closed`] after [`Store::close`]. Must not be called from
    /// within an async runtime worker; `store.submit(Vec::new()).await` is the async flush.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write(Vec::new())
    }

    /// Flushes, stops the writer thread and checkpoints the WAL into the database file.
    ///
    /// Later submissions, on this or any clone, resolve to [`StoreError::Closed`]; `load` keeps
    /// working. Closing again returns `Ok`.
    pub fn close(&self) -> Result<(), StoreError> {
        // Held throughout, so a concurrent close waits for this one to finish.
        let mut writer = self.inner.writer.lock();
        let Some(handle) = writer.take() else {
            return Ok(());
        };
        let flushed = self.flush();
        // Dropping the only sender lets the writer drain the queue and exit.
        drop(self.inner.sender.write().take());
        let stopped = join(handle);
        tracing::info!(path = %self.inner.config.path.display(), "store closed");
        flushed.and(stopped)
    }

    /// Runs `f` on the writer thread inside the next group-commit transaction, under its own
    /// SAVEPOINT, and resolves to its result once that transaction is durable.
    ///
    /// Closures are serialized with every other write, so `f` may read and then write without
    /// racing anyone: this is how crates above the store make read-check-write changes
    /// transactional. When `f` returns `Err`, only its own changes are rolled back and the
    /// rest of the batch commits. When the batch fails to commit, a successful `f`'s result
    /// becomes that [`StoreError`]. `f` runs on the writer thread and delays every other
    /// write while it runs: keep it to SQL.
    ///
    /// The returned future need not be polled for `f` to run; it only reports the result.
    pub fn execute<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (done, rx) = tokio::sync::oneshot::channel();
        let queued = match self.inner.sender.read().as_ref() {
            Some(sender) => {
                sender.send(Request::Job(Box::new(execute::Execute { f, done }))).is_ok()
            }
            None => false,
        };
        async move {
            if !queued {
                return Err(E::from(StoreError::Closed));
            }
            rx.await.unwrap_or_else(|_| Err(E::from(StoreError::Closed)))
        }
    }

    /// Runs `f` against the read connection, inside one read transaction (a consistent
    /// snapshot that sees every write whose commit has resolved).
    ///
    /// The read connection is shared and `query_only`; `f` should be a few queries. It blocks
    /// the calling thread for as long as `f` runs.
    pub fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E>,
        E: From<StoreError>,
    {
        let mut conn = self.inner.reader.lock();
        let tx = conn.transaction().map_err(|e| E::from(StoreError::from(e)))?;
        let result = f(&tx)?;
        tx.finish().map_err(|e| E::from(StoreError::from(e)))?;
        Ok(result)
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> StoreStats {
        self.inner.counters.snapshot()
    }
}

fn join(handle: JoinHandle<Result<(), StoreError>>) -> Result<(), StoreError> {
    handle.join().unwrap_or(Err(StoreError::WriterPanicked))
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.sender.get_mut().take());
        if let Some(handle) = self.writer.get_mut().take() {
            if let Err(error) = join(handle) {
                tracing::error!(%error, "store writer stopped with an error");
            }
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.config.path)
            .field("closed", &self.inner.sender.read().is_none())
            .finish_non_exhaustive()
    }
}
