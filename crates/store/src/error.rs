//! The store's error type.
//!
//! [`StoreError`] is `Clone` because one failed transaction is reported to every waiter of its
//! batch; the non-`Clone` sources (SQLite and I/O errors) are therefore held in an [`Arc`].

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error (opening, migrating, reading or committing).
    #[error("sqlite: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// A filesystem operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path the operation was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The writer thread is gone: the store was closed, or the thread died.
    #[error("the store is closed")]
    Closed,
    /// The writer thread panicked; its last batch may not have been committed.
    #[error("the store's writer thread panicked")]
    WriterPanicked,
    /// The writer thread could not be started.
    #[error("cannot spawn the store's writer thread: {0}")]
    Spawn(#[source] Arc<std::io::Error>),
    /// SQLite refused to switch the database to write-ahead logging.
    #[error("cannot enable WAL mode, journal_mode is {0:?}")]
    JournalMode(String),
    /// The database was written by a newer Ferrocore with a schema this build does not know.
    #[error("database schema version {found} is newer than the supported version {supported}")]
    SchemaTooNew {
        /// The `user_version` found in the database.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A message sequence number does not fit SQLite's signed 64-bit integers.
    #[error("message sequence number {0} is larger than i64::MAX")]
    SeqOutOfRange(u64),
    /// A queued message too large for the message journal (over 4 GiB with its client id).
    #[error("a queued message of {0} bytes is too large to store")]
    TooLarge(usize),
    /// The database holds a value this build cannot interpret.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(Arc::new(error))
    }
}

impl StoreError {
    /// An [`StoreError::Io`] about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), source: Arc::new(source) }
    }
}
