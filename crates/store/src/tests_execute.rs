//! Tests of [`Store::execute`] and [`Store::read`]: results after commit, a failing closure
//! rolled back alone, ordering with blob ops, and errors after close.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::path::Path;

use rusqlite::params;

use crate::*;

#[derive(Debug, PartialEq)]
enum TestError {
    Store(String),
    Refused(&'static str),
}

impl From<StoreError> for TestError {
    fn from(error: StoreError) -> Self {
        TestError::Store(error.to_string())
    }
}

impl From<rusqlite::Error> for TestError {
    fn from(error: rusqlite::Error) -> Self {
        TestError::Store(error.to_string())
    }
}

fn open(path: &Path) -> Store {
    Store::open(StoreConfig { synchronous: Durability::Normal, ..StoreConfig::new(path) }).unwrap()
}

fn insert_tag(key: &'static str) -> impl FnOnce(&Transaction<'_>) -> Result<(), TestError> {
    move |tx| {
        tx.execute(
            "INSERT INTO tags (resource_arn, key, value) VALUES ('arn', ?1, 'v')",
            params![key],
        )?;
        Ok(())
    }
}

/// Closes the store off the async runtime (closing blocks until the writer is done).
async fn close(store: Store) {
    tokio::task::spawn_blocking(move || store.close()).await.unwrap().unwrap();
}

fn tag_keys(store: &Store) -> Vec<String> {
    store
        .read(|tx| {
            let mut stmt = tx.prepare("SELECT key FROM tags ORDER BY key")?;
            let keys = stmt.query_map([], |row| row.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok::<_, TestError>(keys)
        })
        .unwrap()
}

#[tokio::test]
async fn execute_returns_the_closure_result_once_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    store.execute(insert_tag("a")).await.unwrap();
    let count = store
        .execute(|tx| {
            let n: i64 = tx.query_row("SELECT count(*) FROM tags", [], |row| row.get(0))?;
            Ok::<_, TestError>(n)
        })
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Committed: visible to the read connection and after a reopen.
    assert_eq!(tag_keys(&store), ["a"]);
    close(store.clone()).await;
    assert_eq!(tag_keys(&open(&dir.path().join("s.db"))), ["a"]);
}

#[tokio::test]
async fn a_failing_closure_rolls_back_only_its_own_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    // Queue several closures back to back so that they share one batch.
    let first = store.execute(insert_tag("a"));
    let failing = store.execute(|tx| {
        tx.execute("INSERT INTO tags (resource_arn, key, value) VALUES ('arn', 'bad', 'v')", [])?;
        Err::<(), _>(TestError::Refused("changed my mind"))
    });
    let blob = store.submit(vec![Op::DeleteRetained { topic: "t".into() }]);
    let last = store.execute(insert_tag("c"));
    first.await.unwrap();
    assert_eq!(failing.await, Err(TestError::Refused("changed my mind")));
    blob.await.unwrap();
    last.await.unwrap();
    assert_eq!(tag_keys(&store), ["a", "c"]);
}

#[tokio::test]
async fn a_constraint_error_in_a_closure_fails_only_that_closure() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    store.execute(insert_tag("a")).await.unwrap();
    let again = store.execute(insert_tag("a"));
    let other = store.execute(insert_tag("b"));
    assert!(matches!(again.await, Err(TestError::Store(m)) if m.contains("UNIQUE")));
    other.await.unwrap();
    assert_eq!(tag_keys(&store), ["a", "b"]);
}

#[tokio::test]
async fn closures_and_ops_apply_in_submission_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let put = store.submit(vec![Op::PutSession { client_id: "c".into(), state: "s".into() }]);
    let seen = store.execute(|tx| {
        let n: i64 = tx.query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))?;
        Ok::<_, TestError>(n)
    });
    put.await.unwrap();
    assert_eq!(seen.await.unwrap(), 1);
    assert!(store.stats().ops >= 2);
}

#[tokio::test]
async fn execute_after_close_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    close(store.clone()).await;
    let result = store.execute(insert_tag("a")).await;
    assert_eq!(result, Err(TestError::from(StoreError::Closed)));
}

#[test]
fn read_is_query_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.db"));
    let result = store.read(|tx| {
        tx.execute("INSERT INTO tags (resource_arn, key, value) VALUES ('a', 'b', 'c')", [])?;
        Ok::<_, TestError>(())
    });
    assert!(matches!(result, Err(TestError::Store(_))), "{result:?}");
    store.close().unwrap();
}
