//! The message journal: queued session messages in an append-only file beside the database.
//!
//! A queued QoS 1 message is written once and deleted once, usually within seconds; a b-tree
//! row for each made SQLite's inserts, page splits and deletes the cost of every durable
//! delivery. The journal instead appends one small record per put, delete or dropped session
//! to `<database>-messages`, and the writer thread keeps an index of the records still live
//! (client id → sequence number → where the record is), so that a file grown mostly dead is
//! rewritten with only its live records.
//!
//! # Records
//!
//! ```text
//! u32 body length | u32 CRC-32 of the body | body
//! body: 1 u32 client length, client, u64 seq, message    put
//!       2 u32 client length, client, u64 seq             delete
//!       3 u32 client length, client                      drop every message of the client
//!       4 u64 batch, u8 standalone                       end of a batch
//! ```
//!
//! All integers are little-endian. A batch's records count only once its end record is in
//! the file, so a torn tail (a crash mid-append) is ignored and cut off at the next open.
//!
//! # Atomicity with the database
//!
//! A group-committed batch may hold both journal records and SQL (a session's state with its
//! first message). The journal is written and synced first, then the SQL transaction commits,
//! and that transaction also records the batch's number in `journal_state`. A batch that
//! touched SQL counts only when the database has recorded its number; a batch of journal
//! records alone is marked standalone and counts as soon as its end record is there. So a
//! crash between the two writes leaves neither half. When the transaction fails, the journal is
//! cut back to where the batch began.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::StoreError;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const DROP: u8 = 3;
const END: u8 = 4;
const HEADER: usize = 8;
/// How much a rewrite copies per write.
const CHUNK: usize = 1 << 20;

/// Dead bytes below which the journal is never rewritten.
pub(crate) const DEFAULT_COMPACT_BYTES: u64 = 64 << 20;

/// The journal file of the database at `db`.
pub(crate) fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-messages");
    PathBuf::from(name)
}

/// The number of the last batch whose journal records count, as the database recorded it.
pub(crate) fn committed_batch(conn: &rusqlite::Connection) -> Result<u64, StoreError> {
    let batch: i64 = conn.query_row("SELECT batch FROM journal_state", [], |row| row.get(0))?;
    u64::try_from(batch).map_err(|_| StoreError::Corrupt(format!("journal batch {batch}")))
}

/// Messages still in the database's `messages` table, from before the journal.
pub(crate) fn legacy_messages(
    conn: &rusqlite::Connection,
) -> Result<Vec<(String, u64, Bytes)>, StoreError> {
    let mut stmt = conn.prepare("SELECT client_id, seq, message FROM messages")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let client_id: String = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let seq = u64::try_from(seq).map_err(|_| {
            StoreError::Corrupt(format!("negative message seq {seq} for {client_id:?}"))
        })?;
        out.push((client_id, seq, Bytes::from(row.get::<_, Vec<u8>>(2)?)));
    }
    Ok(out)
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Put { client_id: String, seq: u64, message: Bytes },
    Delete { client_id: String, seq: u64 },
    Drop { client_id: String },
    End { batch: u64, standalone: bool },
}

/// Appends one record to `out`.
fn encode(out: &mut Vec<u8>, kind: u8, client_id: &str, seq: Option<u64>, message: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(kind);
    out.extend_from_slice(&len32(client_id.len()).to_le_bytes());
    out.extend_from_slice(client_id.as_bytes());
    if let Some(seq) = seq {
        out.extend_from_slice(&seq.to_le_bytes());
    }
    out.extend_from_slice(message);
    seal(out, start);
}

fn encode_end(out: &mut Vec<u8>, batch: u64, standalone: bool) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(END);
    out.extend_from_slice(&batch.to_le_bytes());
    out.push(u8::from(standalone));
    seal(out, start);
}

/// Fills in the header of the record that starts at `start` and runs to the end of `out`.
fn seal(out: &mut [u8], start: usize) {
    let body = &out[start + HEADER..];
    let len = len32(body.len()).to_le_bytes();
    let crc = crc32fast::hash(body).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + HEADER].copy_from_slice(&crc);
}

/// Lengths are checked against [`MAX_RECORD`] before anything is encoded.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The largest record body: lengths are stored in 32 bits.
pub(crate) const MAX_RECORD: usize = u32::MAX as usize - 64;

/// Decodes a record body; `None` when it is not one.
fn decode(body: Bytes) -> Option<Record> {
    let mut at = 1;
    let take = |at: &mut usize, n: usize| -> Option<Bytes> {
        let end = at.checked_add(n).filter(|end| *end <= body.len())?;
        let out = body.slice(*at..end);
        *at = end;
        Some(out)
    };
    let u64_at = |at: &mut usize| -> Option<u64> {
        let bytes = take(at, 8)?;
        Some(u64::from_le_bytes(bytes[..].try_into().ok()?))
    };
    let client = |at: &mut usize| -> Option<String> {
        let len = take(at, 4)?;
        let len = u32::from_le_bytes(len[..].try_into().ok()?);
        let bytes = take(at, usize::try_from(len).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    };
    let record = match *body.first()? {
        PUT => {
            let client_id = client(&mut at)?;
            let seq = u64_at(&mut at)?;
            Record::Put { client_id, seq, message: body.slice(at..) }
        }
        DELETE => {
            let client_id = client(&mut at)?;
            let seq = u64_at(&mut at)?;
            Record::Delete { client_id, seq }
        }
        DROP => Record::Drop { client_id: client(&mut at)? },
        END => {
            let batch = u64_at(&mut at)?;
            let standalone = take(&mut at, 1)?[0] != 0;
            Record::End { batch, standalone }
        }
        _ => return None,
    };
    // Trailing bytes are allowed only where the message runs to the end.
    (matches!(record, Record::Put { .. }) || at == body.len()).then_some(record)
}

/// Where a record lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    offset: u64,
    len: u32,
}

/// What a replay found beyond the records it applied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Where the last counted batch ends: everything after it is torn or uncounted.
    pub(crate) valid_len: u64,
    /// Batches skipped because the database never recorded them.
    pub(crate) uncommitted: u64,
    /// Bytes after the last complete record (a torn or corrupt tail).
    pub(crate) torn: u64,
}

/// Reads the journal at `path` and hands every record of a counted batch to `apply`, in file
/// order, with where it lies. A batch counts when it is standalone or its number is at most
/// `committed` (the number the database recorded). A missing file is an empty journal.
fn replay(
    path: &Path,
    committed: u64,
    mut apply: impl FnMut(Record, Slot),
) -> Result<Replayed, StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Replayed::default()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let size = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut offset = 0u64;
    let mut batch = Vec::new();
    let mut out = Replayed::default();
    loop {
        let mut header = [0u8; HEADER];
        if size - offset < HEADER as u64 {
            break;
        }
        reader.read_exact(&mut header).map_err(|e| StoreError::io(path, e))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if u64::from(len) > size - offset - HEADER as u64 {
            break;
        }
        let mut body = vec![0u8; len as usize];
        reader.read_exact(&mut body).map_err(|e| StoreError::io(path, e))?;
        if crc32fast::hash(&body) != crc {
            break;
        }
        let Some(record) = decode(Bytes::from(body)) else {
            break;
        };
        let Some(total) = len.checked_add(HEADER as u32) else {
            break;
        };
        let slot = Slot { offset, len: total };
        offset += u64::from(slot.len);
        match record {
            Record::End { batch: number, standalone } => {
                if standalone || number <= committed {
                    for (record, slot) in batch.drain(..) {
                        apply(record, slot);
                    }
                } else {
                    out.uncommitted += 1;
                    batch.clear();
                }
                out.valid_len = offset;
            }
            record => batch.push((record, slot)),
        }
    }
    out.torn = size - out.valid_len;
    Ok(out)
}

/// Reads the journal at `path` into client id → sequence number → message, for
/// [`Store::load`](crate::Store::load).
pub(crate) fn read_all(
    path: &Path,
    committed: u64,
) -> Result<HashMap<String, BTreeMap<u64, Bytes>>, StoreError> {
    let mut messages: HashMap<String, BTreeMap<u64, Bytes>> = HashMap::new();
    replay(path, committed, |record, _| match record {
        Record::Put { client_id, seq, message } => {
            messages.entry(client_id).or_default().insert(seq, message);
        }
        Record::Delete { client_id, seq } => {
            if let Some(queue) = messages.get_mut(&client_id) {
                queue.remove(&seq);
            }
        }
        Record::Drop { client_id } => {
            messages.remove(&client_id);
        }
        Record::End { .. } => {}
    })?;
    messages.retain(|_, queue| !queue.is_empty());
    Ok(messages)
}

/// A change to the index, applied once its batch is written.
enum Change {
    Put { client_id: Arc<str>, seq: u64, slot: Slot },
    Delete { client_id: Arc<str>, seq: u64 },
    Drop { client_id: String },
}

/// The writer thread's side of the journal: the open file, the index of live records and the
/// batch being staged.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes in the file; the next record goes here.
    len: u64,
    /// Whether a write is synced to disk before it counts.
    sync: bool,
    /// Dead bytes below which the file is not rewritten.
    compact_bytes: u64,
    live: HashMap<Arc<str>, BTreeMap<u64, Slot>>,
    live_bytes: u64,
    /// The number the next batch gets.
    next_batch: u64,
    /// Records of the batch being staged, and what they change in the index.
    staged: Vec<u8>,
    changes: Vec<Change>,
    /// Set when a failed batch could be neither cut off nor rewritten away: its records might
    /// count after a later batch, so nothing more is written.
    broken: bool,
}

impl Journal {
    /// Opens the journal at `path`: replays it, counting batches up to `committed`, then
    /// rewrites it with only its live records, so that nothing torn, uncounted or dead stays.
    /// `legacy` are messages found in the database's old `messages` table; they only fill in
    /// what the journal does not hold, since anything it says about the same message is newer.
    pub(crate) fn open(
        path: PathBuf,
        committed: u64,
        sync: bool,
        compact_bytes: u64,
        legacy: Vec<(String, u64, Bytes)>,
    ) -> Result<Journal, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut journal = Journal {
            path,
            file,
            len: 0,
            sync,
            compact_bytes,
            live: HashMap::new(),
            live_bytes: 0,
            next_batch: committed + 1,
            staged: Vec::new(),
            changes: Vec::new(),
            broken: false,
        };
        let mut changes = Vec::new();
        let found = replay(&journal.path, committed, |record, slot| {
            changes.push(match record {
                Record::Put { client_id, seq, .. } => {
                    Change::Put { client_id: client_id.into(), seq, slot }
                }
                Record::Delete { client_id, seq } => {
                    Change::Delete { client_id: client_id.into(), seq }
                }
                Record::Drop { client_id } => Change::Drop { client_id },
                Record::End { .. } => return,
            })
        })?;
        journal.len = found.valid_len;
        journal.changes = changes;
        journal.publish();
        if found.torn > 0 || found.uncommitted > 0 {
            tracing::warn!(
                path = %journal.path.display(),
                torn_bytes = found.torn,
                uncommitted_batches = found.uncommitted,
                "message journal had an incomplete tail; it is dropped"
            );
        }
        journal.file.set_len(journal.len).map_err(|e| StoreError::io(&journal.path, e))?;
        let mut moved = 0usize;
        for (client_id, seq, message) in &legacy {
            let held = journal.live.get(client_id.as_str()).is_some_and(|q| q.contains_key(seq));
            if !held {
                journal.stage_put(&Arc::from(client_id.as_str()), *seq, message);
                moved += 1;
            }
        }
        if journal.has_staged() {
            journal.write_staged(0, true)?;
            journal.publish();
            tracing::info!(messages = moved, "queued messages moved into the journal");
        }
        journal.rewrite()?;
        Ok(journal)
    }

    /// Creates `<journal>.tmp`, empty, for a rewrite.
    fn create_tmp(&self) -> Result<(PathBuf, File), StoreError> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, e))?;
        Ok((tmp, file))
    }

    /// Stages a put of message `seq` of `client_id`.
    pub(crate) fn stage_put(&mut self, client_id: &Arc<str>, seq: u64, message: &[u8]) {
        let offset = self.len + self.staged.len() as u64;
        let before = self.staged.len();
        encode(&mut self.staged, PUT, client_id, Some(seq), message);
        let len = len32(self.staged.len() - before);
        self.changes.push(Change::Put {
            client_id: Arc::clone(client_id),
            seq,
            slot: Slot { offset, len },
        });
    }

    /// Stages the delete of message `seq` of `client_id`.
    pub(crate) fn stage_delete(&mut self, client_id: &Arc<str>, seq: u64) {
        encode(&mut self.staged, DELETE, client_id, Some(seq), &[]);
        self.changes.push(Change::Delete { client_id: Arc::clone(client_id), seq });
    }

    /// Stages the delete of every message of `client_id`.
    pub(crate) fn stage_drop(&mut self, client_id: &str) {
        encode(&mut self.staged, DROP, client_id, None, &[]);
        self.changes.push(Change::Drop { client_id: client_id.to_owned() });
    }

    /// Whether the batch being staged has records.
    pub(crate) fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// The number the staged batch will be written under.
    pub(crate) fn next_batch(&self) -> u64 {
        self.next_batch
    }

    /// Forgets the staged batch.
    pub(crate) fn discard_staged(&mut self) {
        self.staged.clear();
        self.changes.clear();
    }

    /// Appends the staged records and the batch's end record, and syncs them when the store
    /// is durable. On failure the file is cut back and the batch is forgotten.
    pub(crate) fn write_staged(&mut self, batch: u64, standalone: bool) -> Result<(), StoreError> {
        if self.broken {
            self.discard_staged();
            return Err(StoreError::Corrupt(format!(
                "{} holds a failed batch that could not be removed; restart to recover",
                self.path.display()
            )));
        }
        encode_end(&mut self.staged, batch, standalone);
        let written = self
            .file
            .write_all_at(&self.staged, self.len)
            .and_then(|()| if self.sync { self.file.sync_data() } else { Ok(()) });
        if let Err(error) = written {
            self.discard_staged();
            self.undo_write();
            return Err(StoreError::io(&self.path, error));
        }
        self.len += self.staged.len() as u64;
        self.staged.clear();
        self.next_batch = self.next_batch.max(batch) + 1;
        Ok(())
    }

    /// Takes back the last written batch, whose other half (the SQL transaction) failed.
    pub(crate) fn revert(&mut self, batch_start: u64) {
        self.changes.clear();
        self.len = batch_start;
        self.undo_write();
    }

    /// Cuts the file back to `len`. If even that fails, the file is rewritten from the index,
    /// which never saw the failed batch.
    fn undo_write(&mut self) {
        let cut = self
            .file
            .set_len(self.len)
            .and_then(|()| if self.sync { self.file.sync_data() } else { Ok(()) });
        if let Err(error) = cut {
            tracing::error!(%error, path = %self.path.display(), "cannot cut the message journal back; rewriting it");
            if let Err(error) = self.rewrite() {
                tracing::error!(%error, "cannot rewrite the message journal; no more writes");
                self.broken = true;
            }
        }
    }

    /// Where the file ends: a batch written next starts here.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Applies the written batch's changes to the index.
    pub(crate) fn publish(&mut self) {
        for change in std::mem::take(&mut self.changes) {
            match change {
                Change::Put { client_id, seq, slot } => {
                    let queue = self.live.entry(client_id).or_default();
                    if let Some(old) = queue.insert(seq, slot) {
                        self.live_bytes -= u64::from(old.len);
                    }
                    self.live_bytes += u64::from(slot.len);
                }
                Change::Delete { client_id, seq } => {
                    if let Some(queue) = self.live.get_mut(&*client_id) {
                        if let Some(old) = queue.remove(&seq) {
                            self.live_bytes -= u64::from(old.len);
                        }
                        if queue.is_empty() {
                            self.live.remove(&*client_id);
                        }
                    }
                }
                Change::Drop { client_id } => {
                    if let Some(queue) = self.live.remove(client_id.as_str()) {
                        self.live_bytes -= queue.values().map(|s| u64::from(s.len)).sum::<u64>();
                    }
                }
            }
        }
    }

    /// Rewrites the file when its dead bytes reach the threshold and outweigh the live ones.
    pub(crate) fn maybe_compact(&mut self) {
        let dead = self.len - self.live_bytes;
        if dead >= self.compact_bytes.max(self.live_bytes) {
            if let Err(error) = self.rewrite() {
                tracing::error!(%error, "cannot compact the message journal; it keeps growing");
            }
        }
    }

    /// Rewrites the journal when nothing in it is live any more, however small it is.
    pub(crate) fn truncate_if_empty(&mut self) {
        if self.live_bytes == 0 && self.len > 0 {
            if let Err(error) = self.rewrite() {
                tracing::error!(%error, "cannot empty the message journal");
            }
        }
    }

    fn read_slot(&self, slot: Slot) -> Result<Vec<u8>, StoreError> {
        let mut record = vec![0u8; slot.len as usize];
        self.file
            .read_exact_at(&mut record, slot.offset)
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(record)
    }

    /// Writes every live record into a new file, syncs it and renames it over the journal.
    fn rewrite(&mut self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let before = self.len;
        let (tmp, file) = self.create_tmp()?;
        let write_at = |bytes: &[u8], offset: u64| {
            file.write_all_at(bytes, offset).map_err(|e| StoreError::io(&tmp, e))
        };
        let mut live = HashMap::with_capacity(self.live.len());
        let mut chunk = Vec::with_capacity(CHUNK);
        // Bytes of the new file already written, and where the next record goes.
        let mut flushed = 0u64;
        let mut at = 0u64;
        for (client_id, queue) in &self.live {
            let mut moved = BTreeMap::new();
            for (seq, slot) in queue {
                chunk.extend_from_slice(&self.read_slot(*slot)?);
                moved.insert(*seq, Slot { offset: at, len: slot.len });
                at += u64::from(slot.len);
                if chunk.len() >= CHUNK {
                    write_at(&chunk, flushed)?;
                    flushed += chunk.len() as u64;
                    chunk.clear();
                }
            }
            live.insert(client_id.clone(), moved);
        }
        // An empty journal is an empty file; otherwise the records form one standalone batch.
        if !live.is_empty() {
            encode_end(&mut chunk, 0, true);
        }
        write_at(&chunk, flushed)?;
        let end = flushed + chunk.len() as u64;
        file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| StoreError::io(&self.path, e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))?;
        }
        self.file = file;
        self.len = end;
        self.live = live;
        tracing::debug!(before, after = end, elapsed = ?started.elapsed(), "message journal rewritten");
        Ok(())
    }

    /// Bytes of live records.
    #[cfg(test)]
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }
}

#[cfg(test)]
#[path = "tests_journal.rs"]
mod tests;
