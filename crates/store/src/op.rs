//! The blob-level data model: write operations ([`Op`]) and what [`Store::load`](crate::Store::load)
//! returns ([`Snapshot`]).
//!
//! The store never interprets payloads: the broker serializes retained messages and queued
//! messages (as encoded MQTT 5 PUBLISH packets), session state and subscription options itself,
//! and the store keeps those bytes keyed by topic, client id, filter and sequence number.

use std::sync::Arc;

use bytes::Bytes;

/// One write. A submission is a `Vec<Op>` applied atomically and in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace the retained message of `topic`.
    PutRetained {
        /// The topic name.
        topic: String,
        /// The serialized message.
        message: Bytes,
        /// When the message was retained, in milliseconds since the Unix epoch.
        updated_at_ms: i64,
    },
    /// Remove the retained message of `topic`, if any.
    DeleteRetained {
        /// The topic name.
        topic: String,
    },
    /// Insert or replace the state of the session of `client_id`.
    PutSession {
        /// The client identifier.
        client_id: String,
        /// The serialized session state.
        state: Bytes,
    },
    /// Remove the session of `client_id` together with its subscriptions and messages.
    DeleteSession {
        /// The client identifier.
        client_id: String,
    },
    /// Insert or replace the subscription of `client_id` to `filter`.
    PutSubscription {
        /// The client identifier.
        client_id: String,
        /// The topic filter (including any `$share/` prefix).
        filter: String,
        /// The serialized subscription options.
        options: Bytes,
    },
    /// Remove the subscription of `client_id` to `filter`, if any.
    DeleteSubscription {
        /// The client identifier.
        client_id: String,
        /// The topic filter.
        filter: String,
    },
    /// Insert or replace message number `seq` of the session of `client_id`.
    PutMessage {
        /// The client identifier (shared with the session: one per message would be an
        /// allocation per message).
        client_id: Arc<str>,
        /// The broker-assigned sequence number; at most `i64::MAX`.
        seq: u64,
        /// The serialized message.
        message: Bytes,
    },
    /// Remove message number `seq` of the session of `client_id`, if any.
    DeleteMessage {
        /// The client identifier.
        client_id: Arc<str>,
        /// The sequence number.
        seq: u64,
    },
}

impl Op {
    /// The sequence number this op carries, if any.
    pub(crate) fn seq(&self) -> Option<u64> {
        match self {
            Op::PutMessage { seq, .. } | Op::DeleteMessage { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    /// Whether the op changes the database; queued messages live in the journal instead.
    pub(crate) fn touches_sql(&self) -> bool {
        !matches!(self, Op::PutMessage { .. } | Op::DeleteMessage { .. })
    }
}

/// Everything in the store, as read at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// All retained messages, ordered by topic.
    pub retained: Vec<RetainedRow>,
    /// All sessions, ordered by client id.
    pub sessions: Vec<SessionRow>,
}

/// One retained message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedRow {
    /// The topic name.
    pub topic: String,
    /// The serialized message.
    pub message: Bytes,
    /// When the message was retained, in milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
}

/// One session with its subscriptions and stored messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The client identifier.
    pub client_id: String,
    /// The serialized session state.
    pub state: Bytes,
    /// `(filter, options)` pairs, ordered by filter.
    pub subscriptions: Vec<(String, Bytes)>,
    /// `(seq, message)` pairs, ordered by sequence number ascending.
    pub messages: Vec<(u64, Bytes)>,
}
