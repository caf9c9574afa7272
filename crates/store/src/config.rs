//! Store configuration: where the database lives, how durable a commit is, and how large a
//! group-committed batch may grow.

use std::path::PathBuf;

/// How durable a resolved [`Commit`](crate::Commit) is. Both modes use SQLite's write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit (WAL, `synchronous=FULL`, and the message journal synced):
    /// survives power loss.
    #[default]
    Full,
    /// WAL, `synchronous=NORMAL`: survives a process crash (kill -9) but not power loss.
    Normal,
}

impl Durability {
    /// The value for `PRAGMA synchronous`.
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Configuration for [`Store::open`](crate::Store::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The database file. Its parent directory is created if missing; SQLite keeps the
    /// `-wal` and `-shm` files next to it.
    pub path: PathBuf,
    /// How durable a resolved commit is.
    pub synchronous: Durability,
    /// The most operations the writer thread puts into one transaction. A single submission
    /// larger than this is still committed whole (submissions are atomic); the limit only stops
    /// the writer from draining more submissions into the same batch.
    pub max_batch: usize,
}

impl StoreConfig {
    /// The default batch limit, in operations.
    pub const DEFAULT_MAX_BATCH: usize = 4096;

    /// A configuration for the database at `path`, with the other settings at their defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig { path: path.into(), ..StoreConfig::default() }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("ferrocore.db"),
            synchronous: Durability::Full,
            max_batch: Self::DEFAULT_MAX_BATCH,
        }
    }
}
