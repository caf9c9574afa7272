//! Counters the writer thread keeps for benchmarks and metrics ([`StoreStats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A point-in-time copy of the writer's counters, from [`Store::stats`](crate::Store::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Submissions received by the writer thread (including empty ones used by `flush`).
    pub submits: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Transactions that failed and were rolled back.
    pub failed_commits: u64,
    /// Ops committed.
    pub ops: u64,
    /// The most ops committed in one transaction.
    pub largest_batch: u64,
    /// Time spent in committed transactions, from `BEGIN` to the end of `COMMIT` (including
    /// the fsync).
    pub total_commit_time: Duration,
}

/// The live counters, shared between the writer thread and the [`Store`](crate::Store) handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    submits: AtomicU64,
    commits: AtomicU64,
    failed_commits: AtomicU64,
    ops: AtomicU64,
    largest_batch: AtomicU64,
    commit_nanos: AtomicU64,
}

impl Counters {
    pub(crate) fn record_submits(&self, n: usize) {
        self.submits.fetch_add(as_u64(n), Ordering::Relaxed);
    }

    pub(crate) fn record_commit(&self, ops: usize, elapsed: Duration) {
        let ops = as_u64(ops);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.ops.fetch_add(ops, Ordering::Relaxed);
        self.largest_batch.fetch_max(ops, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.commit_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn record_failure(&self) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        StoreStats {
            submits: self.submits.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
            ops: self.ops.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            total_commit_time: Duration::from_nanos(self.commit_nanos.load(Ordering::Relaxed)),
        }
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
