//! [`Commit`]: the completion handle of one submission.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::StoreError;

/// The outcome the writer thread reports for one submission.
pub(crate) type Outcome = Result<(), StoreError>;

/// Resolves when the ops of one [`Store::submit`](crate::Store::submit) are durable (their
/// transaction committed) or failed.
///
/// Commits resolve in submission order. Dropping a `Commit` does not cancel the write; it only
/// discards the outcome. `Commit` is a [`Future`] (and [`Unpin`]), so it can be awaited
/// directly, polled from a `select!` loop or collected into a `FuturesUnordered`.
#[must_use = "a Commit reports whether the ops became durable"]
pub struct Commit {
    rx: oneshot::Receiver<Outcome>,
}

impl Commit {
    /// A pending commit and the sender the writer thread completes it with.
    pub(crate) fn pending() -> (oneshot::Sender<Outcome>, Commit) {
        let (tx, rx) = oneshot::channel();
        (tx, Commit { rx })
    }

    /// A commit that has already resolved to `outcome`.
    pub(crate) fn ready(outcome: Outcome) -> Commit {
        let (tx, commit) = Commit::pending();
        // The receiver is alive in `commit`, so this cannot fail.
        let _ = tx.send(outcome);
        commit
    }

    /// The outcome if it has already arrived, without waiting. Consumes the outcome: a later
    /// wait reports the store closed.
    pub fn try_outcome(&mut self) -> Option<Result<(), StoreError>> {
        match self.rx.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(StoreError::Closed)),
        }
    }

    /// Waits until the ops are durable or failed.
    pub async fn wait(self) -> Result<(), StoreError> {
        self.await
    }

    /// Blocks the current thread until the ops are durable or failed.
    ///
    /// # Panics
    ///
    /// Panics when called from within an asynchronous runtime's worker thread; use
    /// [`Commit::wait`] there.
    pub fn blocking_wait(self) -> Result<(), StoreError> {
        self.rx.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            // The writer thread dropped the sender without answering: it is gone.
            Poll::Ready(Err(_)) => Poll::Ready(Err(StoreError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit").finish_non_exhaustive()
    }
}
