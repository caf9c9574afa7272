//! [`Store::execute`](crate::Store::execute): a caller's closure run on the writer thread,
//! inside the group-commit transaction, under its own SAVEPOINT.
//!
//! The closure's changes commit with the rest of its batch; its result is reported only once
//! that commit is durable. When the closure returns `Err`, its savepoint is rolled back, so
//! only its own changes are undone and the rest of the batch commits.

use rusqlite::Transaction;
use tokio::sync::oneshot;

use crate::StoreError;
use crate::commit::Outcome;
use crate::writer::{Finish, Job};

/// The savepoint each closure runs under. Closures never nest, so one name is enough.
const SAVEPOINT: &str = "ferrocore_execute";

/// A closure and where to send its result.
pub(crate) struct Execute<F, R, E> {
    pub(crate) f: F,
    pub(crate) done: oneshot::Sender<Result<R, E>>,
}

/// A closure's result, waiting for its batch's commit.
struct Finished<R, E> {
    result: Result<R, E>,
    done: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for Execute<F, R, E>
where
    F: FnOnce(&Transaction<'_>) -> Result<R, E> + Send,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> (Box<dyn Finish>, Result<(), StoreError>) {
        let Execute { f, done } = *self;
        if let Err(error) = tx.execute_batch(&format!("SAVEPOINT {SAVEPOINT}")) {
            let error = StoreError::from(error);
            let finish = Finished { result: Err(E::from(error.clone())), done };
            return (Box::new(finish), Err(error));
        }
        let result = f(tx);
        let end = match result {
            Ok(_) => format!("RELEASE {SAVEPOINT}"),
            Err(_) => format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"),
        };
        let usable = tx.execute_batch(&end).map_err(StoreError::from);
        (Box::new(Finished { result, done }), usable)
    }

    fn fail(self: Box<Self>, error: StoreError) {
        // A dropped receiver is fine: nobody waits for this result any more.
        let _ = self.done.send(Err(E::from(error)));
    }
}

impl<R: Send, E: From<StoreError> + Send> Finish for Finished<R, E> {
    fn finish(self: Box<Self>, outcome: Outcome) {
        let result = match (self.result, outcome) {
            (Ok(value), Ok(())) => Ok(value),
            // The closure's changes were rolled back with the failed batch.
            (Ok(_), Err(error)) => Err(E::from(error)),
            (Err(error), _) => Err(error),
        };
        let _ = self.done.send(result);
    }
}
