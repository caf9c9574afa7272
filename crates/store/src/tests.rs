//! The store's tests: every op kind round-trips through a reopen, batching, ordering, closing,
//! and durability across a dropped handle and a SIGKILLed process.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::*;

fn config(path: &Path) -> StoreConfig {
    StoreConfig {
        path: path.to_owned(),
        synchronous: Durability::Normal,
        max_batch: StoreConfig::DEFAULT_MAX_BATCH,
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(config(&dir.path().join("store.db"))).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn put_retained(topic: &str, message: &str, at: i64) -> Op {
    Op::PutRetained { topic: topic.into(), message: b(message), updated_at_ms: at }
}

fn put_session(client_id: &str, state: &str) -> Op {
    Op::PutSession { client_id: client_id.into(), state: b(state) }
}

fn put_sub(client_id: &str, filter: &str, options: &str) -> Op {
    Op::PutSubscription { client_id: client_id.into(), filter: filter.into(), options: b(options) }
}

fn put_msg(client_id: &str, seq: u64, message: &str) -> Op {
    Op::PutMessage { client_id: client_id.into(), seq, message: b(message) }
}

#[test]
fn empty_store_loads_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.load().unwrap(), Snapshot::default());
    store.close().unwrap();
}

#[test]
fn open_creates_parent_directory_and_sets_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/store.db");
    let store = Store::open(config(&path)).unwrap();
    store.close().unwrap();
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::user_version(&conn).unwrap(), schema::current_version());
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    Store::open(config(&path)).unwrap().close().unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    match Store::open(config(&path)) {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn queued_messages_survive_the_move_to_a_table_without_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    // A database as version 8 left it, with a queued message.
    let conn = Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..8] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 8).unwrap();
    conn.execute("INSERT INTO sessions (client_id, state) VALUES ('c1', x'01')", []).unwrap();
    conn.execute("INSERT INTO messages (client_id, seq, message) VALUES ('c1', 4, x'6d34')", [])
        .unwrap();
    drop(conn);

    let store = Store::open(config(&path)).unwrap();
    let sessions = store.load().unwrap().sessions;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].messages, vec![(4, b("m4"))]);
    store.write(vec![put_msg("c1", 5, "m5")]).unwrap();
    store.close().unwrap();
    // Migration 10 and the open after it moved the row into the message journal.
    let conn = Connection::open(&path).unwrap();
    let count: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 0);
    drop(conn);
    let store = Store::open(config(&path)).unwrap();
    let sessions = store.load().unwrap().sessions;
    assert_eq!(sessions[0].messages, vec![(4, b("m4")), (5, b("m5"))]);
    assert!(journal::path_for(&path).exists());
}

#[test]
fn every_op_kind_round_trips_through_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(vec![
            put_retained("a/b", "r1", 10),
            put_retained("a/c", "r2", 20),
            put_retained("z", "gone", 30),
            put_session("c1", "s1"),
            put_session("c2", "s2"),
            put_sub("c1", "x/#", "o1"),
            put_sub("c1", "a/+", "o2"),
            put_sub("c1", "gone", "o3"),
            put_msg("c1", 3, "m3"),
            put_msg("c1", 1, "m1"),
            put_msg("c1", 2, "gone"),
            put_msg("c2", 7, "m7"),
        ])
        .unwrap();
    store
        .write(vec![
            // Upserts replace.
            put_retained("a/b", "r1'", 11),
            put_session("c2", "s2'"),
            put_sub("c1", "x/#", "o1'"),
            put_msg("c2", 7, "m7'"),
            // Deletes remove; deleting something absent is fine.
            Op::DeleteRetained { topic: "z".into() },
            Op::DeleteRetained { topic: "never".into() },
            Op::DeleteSubscription { client_id: "c1".into(), filter: "gone".into() },
            Op::DeleteMessage { client_id: "c1".into(), seq: 2 },
            Op::DeleteMessage { client_id: "nobody".into(), seq: 2 },
        ])
        .unwrap();

    let expected = Snapshot {
        retained: vec![
            RetainedRow { topic: "a/b".into(), message: b("r1'"), updated_at_ms: 11 },
            RetainedRow { topic: "a/c".into(), message: b("r2"), updated_at_ms: 20 },
        ],
        sessions: vec![
            SessionRow {
                client_id: "c1".into(),
                state: b("s1"),
                subscriptions: vec![("a/+".into(), b("o2")), ("x/#".into(), b("o1'"))],
                messages: vec![(1, b("m1")), (3, b("m3"))],
            },
            SessionRow {
                client_id: "c2".into(),
                state: b("s2'"),
                subscriptions: vec![],
                messages: vec![(7, b("m7'"))],
            },
        ],
    };
    assert_eq!(store.load().unwrap(), expected);
    store.close().unwrap();

    let reopened = open(&dir);
    assert_eq!(reopened.load().unwrap(), expected);
    reopened.close().unwrap();
}

#[test]
fn delete_session_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(vec![
            put_session("c1", "s1"),
            put_sub("c1", "a", "o"),
            put_msg("c1", 1, "m"),
            put_session("c2", "s2"),
            put_sub("c2", "a", "o"),
            put_msg("c2", 1, "m"),
        ])
        .unwrap();
    store.write(vec![Op::DeleteSession { client_id: "c1".into() }]).unwrap();
    store.close().unwrap();

    let store = open(&dir);
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(snapshot.sessions[0].client_id, "c2");
    assert_eq!(snapshot.sessions[0].subscriptions.len(), 1);
    assert_eq!(snapshot.sessions[0].messages.len(), 1);
    // Nothing of c1 is left behind, not even rows load() would skip.
    let conn = Connection::open(dir.path().join("store.db")).unwrap();
    for table in ["subscriptions", "messages"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table} WHERE client_id = 'c1'"), [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

#[test]
fn ops_apply_in_submission_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Within one submission.
    store
        .write(vec![
            put_retained("t", "x", 1),
            Op::DeleteRetained { topic: "t".into() },
            Op::DeleteRetained { topic: "u".into() },
            put_retained("u", "y", 2),
        ])
        .unwrap();
    // Across submissions that land in one batch.
    let commits: Vec<_> = (0..100)
        .flat_map(|i| {
            [
                store.submit(vec![put_session("c", &format!("s{i}"))]),
                store.submit(vec![Op::DeleteSession { client_id: "c".into() }]),
            ]
        })
        .chain([store.submit(vec![put_session("d", "first")])])
        .chain([store.submit(vec![put_session("d", "last")])])
        .collect();
    for commit in commits {
        commit.blocking_wait().unwrap();
    }
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.retained.len(), 1);
    assert_eq!(snapshot.retained[0].topic, "u");
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(snapshot.sessions[0].client_id, "d");
    assert_eq!(snapshot.sessions[0].state, b("last"));
}

#[test]
fn commits_resolve_in_submission_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for round in 0..5u64 {
        let mut commits: Vec<_> =
            (0..200).map(|i| store.submit(vec![put_msg("c", round * 1000 + i, "m")])).collect();
        // Once a commit has resolved, every commit submitted before it has resolved too.
        let last = commits.pop().unwrap();
        last.blocking_wait().unwrap();
        for (i, commit) in commits.iter_mut().enumerate() {
            match commit.try_outcome() {
                Some(outcome) => outcome.unwrap(),
                None => panic!("commit {i} of round {round} unresolved after a later one"),
            }
        }
    }
}

#[test]
fn concurrent_submitters_are_group_committed() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        synchronous: Durability::Full,
        ..config(&dir.path().join("store.db"))
    })
    .unwrap();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let store = store.clone();
            scope.spawn(move || {
                let client = format!("client-{t}");
                let mut inflight = VecDeque::new();
                for seq in 0..PER_THREAD {
                    inflight.push_back(store.submit(vec![put_msg(
                        &client,
                        seq,
                        &format!("{t}:{seq}"),
                    )]));
                    // A window of outstanding commits, like a broker with many connections.
                    if inflight.len() >= 256 {
                        inflight.pop_front().unwrap().blocking_wait().unwrap();
                    }
                }
                for commit in inflight {
                    commit.blocking_wait().unwrap();
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let stats = store.stats();
    let submits = THREADS * PER_THREAD;
    eprintln!("{submits} submits in {elapsed:?}: {stats:?}");
    assert_eq!(stats.ops, submits);
    assert!(stats.submits >= submits);
    assert!(
        stats.commits * 10 < submits,
        "expected batching, got {} commits for {submits} submits",
        stats.commits
    );
    assert!(stats.largest_batch > 1);
    assert_eq!(stats.failed_commits, 0);
    drop(store);

    let store = open(&dir);
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 0, "messages without sessions are skipped");
    // Each client's messages are all there once it has a session.
    let sessions = (0..THREADS).map(|t| put_session(&format!("client-{t}"), "s")).collect();
    store.write(sessions).unwrap();
    for session in store.load().unwrap().sessions {
        let seqs: Vec<u64> = session.messages.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, (0..PER_THREAD).collect::<Vec<_>>(), "{}", session.client_id);
    }
}

#[test]
fn max_batch_bounds_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(StoreConfig { max_batch: 10, ..config(&dir.path().join("store.db")) }).unwrap();
    let commits: Vec<_> = (0..200).map(|i| store.submit(vec![put_msg("c", i, "m")])).collect();
    // One submission larger than the limit still commits whole.
    let big = store.submit((1000..1050).map(|i| put_msg("c", i, "m")).collect());
    for commit in commits {
        commit.blocking_wait().unwrap();
    }
    big.blocking_wait().unwrap();
    let stats = store.stats();
    assert_eq!(stats.ops, 250);
    assert!(stats.commits >= 20, "{stats:?}");
    assert!(stats.largest_batch <= 59, "{stats:?}");
}

#[test]
fn invalid_submission_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let before = store.submit(vec![put_session("a", "s")]);
    let bad = store.submit(vec![put_session("b", "s"), put_msg("b", u64::MAX, "m")]);
    let after = store.submit(vec![put_session("c", "s")]);
    before.blocking_wait().unwrap();
    assert!(matches!(bad.blocking_wait(), Err(StoreError::SeqOutOfRange(u64::MAX))));
    after.blocking_wait().unwrap();
    let ids: Vec<_> = store.load().unwrap().sessions.into_iter().map(|s| s.client_id).collect();
    assert_eq!(ids, ["a", "c"]);
}

#[test]
fn failed_transaction_fails_its_batch_and_writer_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(config(&path)).unwrap();
    store.write(vec![put_session("a", "s")]).unwrap();
    // Sabotage the schema from outside so the next transaction fails.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("ALTER TABLE retained RENAME TO retained_hidden").unwrap();
    // The batch fails in its SQL half: its message must not count.
    let failed = store.submit(vec![
        put_session("b", "s"),
        put_msg("a", 1, "lost with its batch"),
        put_retained("t", "m", 1),
    ]);
    assert!(matches!(failed.blocking_wait(), Err(StoreError::Sqlite(_))));
    conn.execute_batch("ALTER TABLE retained_hidden RENAME TO retained").unwrap();
    drop(conn);
    // The failed batch was rolled back and the writer still works.
    store.write(vec![put_retained("t", "m", 1)]).unwrap();
    // Not even once a later batch with a SQL half has a larger number.
    store.write(vec![put_session("a", "s2"), put_msg("a", 2, "kept")]).unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(snapshot.sessions[0].messages, vec![(2, b("kept"))]);
    assert_eq!(snapshot.retained.len(), 1);
    assert_eq!(store.stats().failed_commits, 1);
    store.close().unwrap();
    let store = Store::open(config(&path)).unwrap();
    assert_eq!(store.load().unwrap().sessions[0].messages, vec![(2, b("kept"))]);
}

#[test]
fn close_then_submit_returns_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let clone = store.clone();
    let pending = store.submit(vec![put_session("a", "s")]);
    store.close().unwrap();
    pending.blocking_wait().unwrap();
    assert!(matches!(
        clone.submit(vec![put_session("b", "s")]).blocking_wait(),
        Err(StoreError::Closed)
    ));
    assert!(matches!(clone.write(vec![]), Err(StoreError::Closed)));
    assert!(matches!(store.flush(), Err(StoreError::Closed)));
    // Closing twice is fine and reads still work.
    clone.close().unwrap();
    assert_eq!(store.load().unwrap().sessions.len(), 1);
    // The WAL was checkpointed into the main file.
    let wal = dir.path().join("store.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn data_survives_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let clone = store.clone();
    let resolved: Vec<_> =
        (0..50).map(|i| store.submit(vec![put_retained(&format!("t/{i}"), "m", i)])).collect();
    for commit in resolved {
        commit.blocking_wait().unwrap();
    }
    // Submitted but never awaited: still committed before the last handle's drop returns.
    let _unawaited = clone.submit(vec![put_retained("t/late", "m", 99)]);
    drop(store);
    drop(clone);
    let store = open(&dir);
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.retained.len(), 51);
}

#[test]
fn commit_is_an_unpin_future() {
    fn assert_unpin<T: Unpin + Future<Output = Result<(), StoreError>>>() {}
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_unpin::<Commit>();
    assert_send_sync::<Store>();

    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut a = store.submit(vec![put_session("a", "s")]);
        let b = store.submit(vec![put_session("b", "s")]);
        tokio::select! {
            r = &mut a => r.unwrap(),
        }
        b.wait().await.unwrap();
        store.submit(Vec::new()).await.unwrap();
    });
    assert_eq!(store.load().unwrap().sessions.len(), 2);
}

/// The env var that turns [`child_writer`] into the child process of
/// [`committed_writes_survive_sigkill`]; its value is the database path.
const CHILD_ENV: &str = "FERROCORE_STORE_TEST_CHILD_DB";

fn child_message(seq: u64) -> Bytes {
    Bytes::from(format!("message {seq} ").repeat(8))
}

/// Not a test on its own: does nothing unless [`CHILD_ENV`] is set.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(StoreConfig {
        path: path.into(),
        synchronous: Durability::Normal,
        max_batch: 4096,
    })
    .unwrap();
    let mut stdout = std::io::stdout().lock();
    let mut inflight = VecDeque::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    store.write(vec![put_session("child", "s")]).unwrap();
    let mut seq = 0u64;
    // Keep writing until killed (bounded, in case the parent died).
    while Instant::now() < deadline {
        inflight.push_back((
            seq,
            store.submit(vec![
                // Upserted by the next op: the last write of a key wins.
                put_msg("child", seq, ""),
                Op::PutMessage { client_id: "child".into(), seq, message: child_message(seq) },
                put_retained(&format!("t/{seq}"), "r", i64::try_from(seq).unwrap()),
            ]),
        ));
        seq += 1;
        if inflight.len() >= 32 {
            let (n, commit) = inflight.pop_front().unwrap();
            commit.blocking_wait().unwrap();
            writeln!(stdout, "committed {n}").unwrap();
            stdout.flush().unwrap();
        }
    }
}

#[test]
fn committed_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_committed = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            let n: u64 = n.trim().parse().unwrap();
            last_committed = Some(n);
            if n >= 2000 {
                break;
            }
        }
    }
    // SIGKILL, mid-write: no destructor, no checkpoint.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have been killed, got {status}");
    let last = last_committed.expect("the child reported no commits");
    assert!(last >= 2000, "the child stopped early at {last}");

    let store = Store::open(config(&path)).unwrap();
    let snapshot = store.load().unwrap();
    assert!(snapshot.retained.len() as u64 > last);
    let rows = snapshot.sessions.into_iter().find(|s| s.client_id == "child").unwrap().messages;
    assert!(rows.len() as u64 > last, "{} rows, last committed {last}", rows.len());
    for (i, (seq, message)) in rows.iter().enumerate() {
        let seq = *seq;
        assert_eq!(seq, i as u64, "no gaps");
        assert_eq!(message[..], child_message(seq)[..]);
    }
}
