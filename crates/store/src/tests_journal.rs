//! The message journal's tests: records round-trip, torn and corrupt tails, batches the
//! database never counted, rewrites, legacy rows, and a client's sequence numbers reused after
//! its session was dropped.

#![allow(clippy::unwrap_used)]

use std::io::Write;

use super::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db-messages");
    Fixture { _dir: dir, path }
}

fn open(path: &Path, committed: u64, compact_bytes: u64) -> Journal {
    Journal::open(path.to_owned(), committed, false, compact_bytes, Vec::new()).unwrap()
}

/// Client → [(seq, message)] as a replay counting batches up to `committed` sees it.
fn contents(path: &Path, committed: u64) -> Vec<(String, Vec<(u64, Bytes)>)> {
    let mut out: Vec<_> = read_all(path, committed)
        .unwrap()
        .into_iter()
        .map(|(client, queue)| (client, queue.into_iter().collect()))
        .collect();
    out.sort();
    out
}

fn commit(journal: &mut Journal) {
    let number = journal.next_batch();
    journal.write_staged(number, true).unwrap();
    journal.publish();
}

/// Puts one message in a batch of its own.
fn put(journal: &mut Journal, client_id: &str, seq: u64, message: &[u8]) {
    journal.stage_put(&client_id.into(), seq, message);
    commit(journal);
}

#[test]
fn records_round_trip() {
    let mut out = Vec::new();
    encode(&mut out, PUT, "client-é", Some(7), b"payload");
    encode(&mut out, DELETE, "c", Some(u64::MAX), &[]);
    encode(&mut out, DROP, "", None, &[]);
    encode_end(&mut out, 42, true);
    let mut records = Vec::new();
    let mut rest = &out[..];
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
        let body = &rest[HEADER..HEADER + len];
        assert_eq!(crc32fast::hash(body), crc);
        records.push(decode(Bytes::copy_from_slice(body)).unwrap());
        rest = &rest[HEADER + len..];
    }
    assert_eq!(
        records,
        [
            Record::Put { client_id: "client-é".into(), seq: 7, message: b("payload") },
            Record::Delete { client_id: "c".into(), seq: u64::MAX },
            Record::Drop { client_id: String::new() },
            Record::End { batch: 42, standalone: true },
        ]
    );
    // Truncated bodies, unknown kinds and trailing bytes are not records.
    assert_eq!(decode(Bytes::from_static(&[PUT, 9, 0, 0, 0, b'a'])), None);
    assert_eq!(decode(Bytes::from_static(&[9])), None);
    assert_eq!(decode(Bytes::from_static(&[DROP, 0, 0, 0, 0, 1])), None);
    assert_eq!(decode(Bytes::new()), None);
}

#[test]
fn puts_deletes_and_drops_replay_in_order() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    journal.stage_put(&"a".into(), 1, b"a1");
    journal.stage_put(&"a".into(), 2, b"a2");
    journal.stage_put(&"b".into(), 1, b"b1");
    commit(&mut journal);
    journal.stage_delete(&"a".into(), 1);
    journal.stage_drop("b");
    // A dropped client's numbers start again.
    journal.stage_put(&"b".into(), 1, b"b1-again");
    commit(&mut journal);
    assert_eq!(
        contents(&f.path, 0),
        [("a".into(), vec![(2, b("a2"))]), ("b".into(), vec![(1, b("b1-again"))])]
    );
    drop(journal);
    // Reopening rewrites the file with only what is live, and replays the same.
    let journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    assert_eq!(journal.live_bytes() + 18, journal.len(), "two puts and one end record");
    assert_eq!(
        contents(&f.path, 0),
        [("a".into(), vec![(2, b("a2"))]), ("b".into(), vec![(1, b("b1-again"))])]
    );
}

#[test]
fn a_torn_tail_is_ignored_and_cut_off() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"kept");
    let good = journal.len();
    // A crash halfway through the next append: its end record never made it.
    journal.stage_put(&"a".into(), 2, b"torn");
    let mut partial = journal.staged.clone();
    partial.truncate(partial.len() - 3);
    drop(journal);
    OpenOptions::new().append(true).open(&f.path).unwrap().write_all(&partial).unwrap();
    assert_eq!(contents(&f.path, 0), [("a".into(), vec![(1, b("kept"))])]);

    let journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    assert_eq!(journal.len(), good);
    assert_eq!(std::fs::metadata(&f.path).unwrap().len(), good);
}

#[test]
fn a_batch_without_its_end_record_does_not_count() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"one");
    let mut records = Vec::new();
    encode(&mut records, PUT, "a", Some(2), b"two");
    drop(journal);
    // Complete records, but no end: the writer died before finishing the batch.
    OpenOptions::new().append(true).open(&f.path).unwrap().write_all(&records).unwrap();
    assert_eq!(contents(&f.path, 0), [("a".into(), vec![(1, b("one"))])]);
}

#[test]
fn corruption_stops_the_replay_at_the_damaged_record() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"first");
    let first = journal.len();
    put(&mut journal, "a", 2, b"second");
    put(&mut journal, "a", 3, b"third");
    drop(journal);
    let mut bytes = std::fs::read(&f.path).unwrap();
    // Flip a byte of the second put's message.
    let at = first as usize + HEADER + 1 + 4 + 1 + 8;
    bytes[at] ^= 0xff;
    std::fs::write(&f.path, &bytes).unwrap();
    assert_eq!(contents(&f.path, 0), [("a".into(), vec![(1, b("first"))])]);
    let journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    assert_eq!(journal.len(), first);
}

#[test]
fn a_batch_counts_only_once_the_database_recorded_its_number() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"alone");
    // A batch with a SQL half, number 5: the database recorded it or not.
    journal.stage_put(&"a".into(), 2, b"with sql");
    journal.write_staged(5, false).unwrap();
    journal.publish();
    assert_eq!(journal.next_batch(), 6);
    assert_eq!(contents(&f.path, 4), [("a".into(), vec![(1, b("alone"))])]);
    assert_eq!(contents(&f.path, 5), [("a".into(), vec![(1, b("alone")), (2, b("with sql"))])]);
    drop(journal);
    // Opened by a database that never committed batch 5: the batch is gone for good, even
    // once later batches have larger numbers.
    let journal = open(&f.path, 4, DEFAULT_COMPACT_BYTES);
    assert_eq!(journal.next_batch(), 5);
    drop(journal);
    assert_eq!(contents(&f.path, 100), [("a".into(), vec![(1, b("alone"))])]);
}

#[test]
fn a_reverted_batch_leaves_nothing_behind() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"kept");
    let start = journal.len();
    journal.stage_put(&"a".into(), 2, b"reverted");
    journal.stage_drop("a");
    let number = journal.next_batch();
    journal.write_staged(number, false).unwrap();
    journal.revert(start);
    assert_eq!(std::fs::metadata(&f.path).unwrap().len(), start);
    assert_eq!(contents(&f.path, u64::MAX), [("a".into(), vec![(1, b("kept"))])]);
    // The index never saw it either.
    put(&mut journal, "a", 3, b"next");
    drop(journal);
    let journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    assert_eq!(contents(&f.path, 0), [("a".into(), vec![(1, b("kept")), (3, b("next"))])]);
    drop(journal);
}

#[test]
fn a_mostly_dead_journal_is_rewritten_with_its_live_records() {
    let f = fixture();
    let mut journal = open(&f.path, 0, 4096);
    let message = [7u8; 100];
    for seq in 0..200 {
        journal.stage_put(&format!("c{}", seq % 4).into(), seq, &message);
    }
    commit(&mut journal);
    let full = journal.len();
    journal.maybe_compact();
    assert_eq!(journal.len(), full, "nothing dead, no rewrite");
    for seq in 0..190 {
        journal.stage_delete(&format!("c{}", seq % 4).into(), seq);
    }
    commit(&mut journal);
    journal.maybe_compact();
    let record = 8 + 1 + 4 + 2 + 8 + 100;
    assert_eq!(journal.live_bytes(), 10 * record);
    assert_eq!(journal.len(), 10 * record + 18, "ten puts and an end record");
    assert_eq!(std::fs::metadata(&f.path).unwrap().len(), journal.len());
    // The rewritten file replays the same and takes further writes.
    journal.stage_delete(&"c2".into(), 190);
    journal.stage_put(&"c0".into(), 500, b"late");
    commit(&mut journal);
    let seen = contents(&f.path, 0);
    let all: Vec<u64> = seen.iter().flat_map(|(_, q)| q.iter().map(|(s, _)| *s)).collect();
    assert_eq!(all.len(), 10);
    assert!(all.contains(&500) && !all.contains(&190) && all.contains(&199));
    // Drained, it shrinks to nothing at once.
    for (client, queue) in &seen {
        for (seq, _) in queue {
            journal.stage_delete(&client.as_str().into(), *seq);
        }
    }
    commit(&mut journal);
    journal.truncate_if_empty();
    assert_eq!(journal.len(), 0);
    assert_eq!(std::fs::metadata(&f.path).unwrap().len(), 0);
    assert!(contents(&f.path, 0).is_empty());
}

#[test]
fn legacy_rows_fill_in_what_the_journal_lacks() {
    let f = fixture();
    let mut journal = open(&f.path, 0, DEFAULT_COMPACT_BYTES);
    put(&mut journal, "a", 1, b"journal");
    drop(journal);
    let legacy = vec![("a".to_owned(), 1, b("legacy")), ("b".to_owned(), 4, b("b4"))];
    let journal = Journal::open(f.path.clone(), 0, true, DEFAULT_COMPACT_BYTES, legacy).unwrap();
    assert_eq!(
        contents(&f.path, 0),
        [("a".into(), vec![(1, b("journal"))]), ("b".into(), vec![(4, b("b4"))])]
    );
    drop(journal);
}

#[test]
fn a_missing_journal_is_empty() {
    let f = fixture();
    assert!(contents(&f.path, 0).is_empty());
    let journal = open(&f.path, 3, DEFAULT_COMPACT_BYTES);
    assert_eq!((journal.len(), journal.next_batch()), (0, 4));
}
