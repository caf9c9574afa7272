//! Opening connections and the schema: connection pragmas and the ordered list of migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version`: version `n` means the first `n`
//! entries of [`MIGRATIONS`] have been applied. Migrations are append-only; never edit one that
//! has shipped.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Durability, StoreError};

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema migrations, in order. Entry `i` takes the schema from version `i` to `i + 1`.
///
/// Tables deliberately have no foreign keys: the broker may write a subscription or a message
/// before (or without) the session row, and [`Op::DeleteSession`](crate::Op::DeleteSession)
/// deletes the dependent rows explicitly. Large blobs live in ordinary rowid tables (not
/// `WITHOUT ROWID`), with the natural key as a unique primary-key index.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE retained (
         topic         TEXT    NOT NULL PRIMARY KEY,
         message       BLOB    NOT NULL,
         updated_at_ms INTEGER NOT NULL
     );
     CREATE TABLE sessions (
         client_id TEXT NOT NULL PRIMARY KEY,
         state     BLOB NOT NULL
     );
     CREATE TABLE subscriptions (
         client_id TEXT NOT NULL,
         filter    TEXT NOT NULL,
         options   BLOB NOT NULL,
         PRIMARY KEY (client_id, filter)
     );
     CREATE TABLE messages (
         client_id TEXT    NOT NULL,
         seq       INTEGER NOT NULL,
         message   BLOB    NOT NULL,
         PRIMARY KEY (client_id, seq)
     );",
    // 2: the registry (crate `ferrocore-registry` owns these tables and their SQL). Attribute
    // maps and lists are JSON text. Times are milliseconds since the Unix epoch. Names are the
    // keys; ids are UUIDs that never change.
    "CREATE TABLE things (
         name          TEXT    NOT NULL PRIMARY KEY,
         id            TEXT    NOT NULL UNIQUE,
         type_name     TEXT,
         attributes    TEXT    NOT NULL,
         version       INTEGER NOT NULL,
         billing_group TEXT,
         created_ms    INTEGER NOT NULL
     );
     CREATE INDEX things_by_type ON things (type_name, name);
     CREATE TABLE thing_types (
         name          TEXT    NOT NULL PRIMARY KEY,
         id            TEXT    NOT NULL UNIQUE,
         description   TEXT,
         searchable    TEXT    NOT NULL,
         mqtt5         TEXT,
         deprecated    INTEGER NOT NULL,
         deprecated_ms INTEGER,
         created_ms    INTEGER NOT NULL
     );
     CREATE TABLE thing_groups (
         name        TEXT    NOT NULL PRIMARY KEY,
         id          TEXT    NOT NULL UNIQUE,
         parent      TEXT,
         description TEXT,
         attributes  TEXT    NOT NULL,
         version     INTEGER NOT NULL,
         created_ms  INTEGER NOT NULL
     );
     CREATE INDEX thing_groups_by_parent ON thing_groups (parent, name);
     CREATE TABLE thing_group_members (
         group_name TEXT NOT NULL,
         thing_name TEXT NOT NULL,
         PRIMARY KEY (group_name, thing_name)
     );
     CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing_name, group_name);
     CREATE TABLE tags (
         resource_arn TEXT NOT NULL,
         key          TEXT NOT NULL,
         value        TEXT NOT NULL,
         PRIMARY KEY (resource_arn, key)
     );",
    // 3: access keys for SigV4 (crate `ferrocore-auth` owns this table and its SQL).
    "CREATE TABLE access_keys (
         id         TEXT    NOT NULL PRIMARY KEY,
         secret     TEXT    NOT NULL,
         created_ms INTEGER NOT NULL,
         status     TEXT    NOT NULL,
         admin      INTEGER NOT NULL
     );",
    // 4: device shadows (crate `ferrocore-shadow` owns this table and its SQL). One row per
    // (thing, shadow); the classic shadow's name is ''. `document` is the stored JSON (state
    // and metadata), NULL once the shadow is deleted: the row then keeps the version counter
    // and the deletion time (`updated_s`, epoch seconds) so that a recreated shadow continues
    // the numbering, as AWS does.
    "CREATE TABLE shadows (
         thing_name  TEXT    NOT NULL,
         shadow_name TEXT    NOT NULL,
         document    TEXT,
         version     INTEGER NOT NULL,
         updated_s   INTEGER NOT NULL,
         PRIMARY KEY (thing_name, shadow_name)
     );",
    // 5: certificates and CA certificates (crate `ferrocore-registry` owns these tables and
    // their SQL). `id` is the lowercase hex SHA-256 of the DER; `pem` the certificate as
    // registered. Times and validity bounds are milliseconds since the Unix epoch. `status` is
    // AWS's CertificateStatus / CACertificateStatus name; `mode` is 'DEFAULT' or 'SNI_ONLY'.
    // `subject` / `issuer` are the hex DER of the certificate's names, so that the issuer of a
    // certificate can be looked up. `settings` holds small per-account values, such as the CA
    // registration code (key 'registration_code').
    "CREATE TABLE certificates (
         id                TEXT    NOT NULL PRIMARY KEY,
         arn               TEXT    NOT NULL,
         pem               TEXT    NOT NULL,
         status            TEXT    NOT NULL,
         ca_certificate_id TEXT,
         issuer            TEXT    NOT NULL,
         owned_by          TEXT    NOT NULL,
         previous_owned_by TEXT,
         created_ms        INTEGER NOT NULL,
         updated_ms        INTEGER NOT NULL,
         not_before_ms     INTEGER NOT NULL,
         not_after_ms      INTEGER NOT NULL,
         mode              TEXT    NOT NULL,
         generation_id     TEXT    NOT NULL,
         customer_version  INTEGER NOT NULL
     );
     CREATE INDEX certificates_by_created ON certificates (created_ms, id);
     CREATE INDEX certificates_by_ca ON certificates (ca_certificate_id, created_ms, id);
     CREATE TABLE ca_certificates (
         id                 TEXT    NOT NULL PRIMARY KEY,
         arn                TEXT    NOT NULL,
         pem                TEXT    NOT NULL,
         status             TEXT    NOT NULL,
         auto_registration  TEXT    NOT NULL,
         subject            TEXT    NOT NULL,
         owned_by           TEXT    NOT NULL,
         created_ms         INTEGER NOT NULL,
         updated_ms         INTEGER NOT NULL,
         not_before_ms      INTEGER NOT NULL,
         not_after_ms       INTEGER NOT NULL,
         mode               TEXT    NOT NULL,
         generation_id      TEXT    NOT NULL,
         customer_version   INTEGER NOT NULL,
         registration_config TEXT
     );
     CREATE INDEX ca_certificates_by_created ON ca_certificates (created_ms, id);
     CREATE INDEX ca_certificates_by_subject ON ca_certificates (subject);
     CREATE TABLE settings (
         key   TEXT NOT NULL PRIMARY KEY,
         value TEXT NOT NULL
     );",
    // 6: policies, policy versions, policy attachments, thing principals (crate
    // `ferrocore-registry`). `next_version` is the id the next version gets (ids are never
    // reused); `generation` is AWS's generationId, a new UUID on every change. Attachment
    // targets and principals are ARNs (certificate or thing group ARNs).
    "CREATE TABLE policies (
         name            TEXT    NOT NULL PRIMARY KEY,
         arn             TEXT    NOT NULL,
         default_version TEXT    NOT NULL,
         next_version    INTEGER NOT NULL,
         generation      TEXT    NOT NULL,
         created_ms      INTEGER NOT NULL,
         updated_ms      INTEGER NOT NULL
     );
     CREATE TABLE policy_versions (
         policy_name TEXT    NOT NULL,
         version_id  TEXT    NOT NULL,
         document    TEXT    NOT NULL,
         created_ms  INTEGER NOT NULL,
         PRIMARY KEY (policy_name, version_id)
     );
     CREATE TABLE policy_attachments (
         policy_name TEXT NOT NULL,
         target      TEXT NOT NULL,
         PRIMARY KEY (policy_name, target)
     );
     CREATE INDEX policy_attachments_by_target ON policy_attachments (target, policy_name);
     CREATE TABLE thing_principals (
         thing_name     TEXT NOT NULL,
         principal      TEXT NOT NULL,
         principal_type TEXT NOT NULL DEFAULT 'NON_EXCLUSIVE_THING',
         PRIMARY KEY (thing_name, principal)
     );
     CREATE INDEX thing_principals_by_principal ON thing_principals (principal, thing_name);",
    // 7: topic rules and topic rule destinations (crate `ferrocore-rules`).
    "CREATE TABLE topic_rules (
         name          TEXT PRIMARY KEY,
         arn           TEXT NOT NULL,
         payload       TEXT NOT NULL,
         sql           TEXT NOT NULL,
         topic_pattern TEXT,
         disabled      INTEGER NOT NULL,
         created_ms    INTEGER NOT NULL,
         updated_ms    INTEGER NOT NULL
     );
     CREATE TABLE topic_rule_destinations (
         arn           TEXT PRIMARY KEY,
         url           TEXT NOT NULL UNIQUE,
         status        TEXT NOT NULL,
         status_reason TEXT,
         token         TEXT NOT NULL,
         created_ms    INTEGER NOT NULL,
         updated_ms    INTEGER NOT NULL
     );
     CREATE INDEX topic_rule_destinations_by_token ON topic_rule_destinations (token);",
    // 8: an access key may be limited by an IoT policy (by name) on the data plane.
    "ALTER TABLE access_keys ADD COLUMN policy TEXT;",
    // 9: queued messages in one b-tree keyed by (client_id, seq), without a rowid table
    // beside it: each queued delivery is one insert and each acknowledgement one delete.
    "CREATE TABLE messages_by_session (
         client_id TEXT    NOT NULL,
         seq       INTEGER NOT NULL,
         message   BLOB    NOT NULL,
         PRIMARY KEY (client_id, seq)
     ) WITHOUT ROWID;
     INSERT INTO messages_by_session (client_id, seq, message)
         SELECT client_id, seq, message FROM messages;
     DROP TABLE messages;
     ALTER TABLE messages_by_session RENAME TO messages;",
    // 10: queued messages move to the message journal (`journal.rs`); the database keeps the
    // number of the last batch whose journal records count. Rows left in `messages` are moved
    // into the journal when the store opens.
    "CREATE TABLE journal_state (
         id    INTEGER PRIMARY KEY CHECK (id = 0),
         batch INTEGER NOT NULL
     );
     INSERT INTO journal_state (id, batch) VALUES (0, 0);",
];

/// The schema version this build writes.
pub(crate) fn current_version() -> i64 {
    // The list is tiny; this cannot truncate.
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Opens the writer connection: WAL mode, `synchronous` per `durability`, busy timeout.
pub(crate) fn open_writer(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::JournalMode(mode));
    }
    conn.pragma_update(None, "synchronous", durability.pragma_value())?;
    Ok(conn)
}

/// Opens a read connection to an existing, migrated database. It refuses writes.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Brings the schema up to [`current_version`], one transaction for all pending migrations.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let supported = current_version();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tracing::info!(version = index + 1, "applying store migration");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", supported)?;
    tx.commit()?;
    Ok(())
}

/// The schema version recorded in the database.
#[cfg(test)]
pub(crate) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}
