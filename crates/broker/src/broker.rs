//! The router: which sessions exist, who subscribes to what, the retained set, and delivery
//! of each published message to every matching session.
//!
//! Lock order, where two are held: the session map before a session. The subscription trie and
//! the retained set are never held while a session is locked: routing collects its targets
//! under the trie's read lock, releases it, then locks each target session in turn.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrocore_mqtt::{ProtocolVersion, QoS, SharedFilter};
use ferrocore_store::{Commit, Op, Snapshot, Store};
use parking_lot::{Mutex, RwLock};

use crate::close::CloseReason;
use crate::config::BrokerConfig;
use crate::message::{Delivery, Message};
use crate::persist::{self, StoredSession};
use crate::retained::RetainedSet;
use crate::session::{Link, LinkDetails, SessionHandle, SessionMap, SessionState, Subscription};
use crate::trie::SubscriptionTree;

/// A subscriber as the trie holds it.
#[derive(Debug, Clone)]
struct Target {
    session: Arc<SessionHandle>,
    subscription: Subscription,
}

/// A retained message as the read API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedEntry {
    /// The message.
    pub message: Arc<Message>,
    /// When it was stored, in milliseconds since the Unix epoch (0 if unknown).
    pub modified_ms: u64,
}

/// What a connecting client asks for, already validated by the connection.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Client identifier (assigned already if the client sent none).
    pub client_id: Arc<str>,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// Session expiry interval in seconds, already capped by the configuration.
    pub expiry_interval: u32,
    /// Protocol version.
    pub protocol: ProtocolVersion,
    /// How many QoS 1/2 deliveries may be in flight to the client.
    pub max_inflight: u16,
    /// What the connection tells about itself (GetConnection); `None` for internal clients.
    pub details: Option<LinkDetails>,
}

/// A connection attached to its session.
#[derive(Debug)]
pub struct Attached {
    /// The session.
    pub session: Arc<SessionHandle>,
    /// The link the router wakes and the connection listens on.
    pub link: Arc<Link>,
    /// Whether an existing session was resumed.
    pub session_present: bool,
    /// Durability of the session's stored state, if it changed.
    pub commit: Option<Commit>,
}

/// The outcome of routing one message.
#[derive(Debug)]
pub struct Published {
    /// Sessions the message was queued for.
    pub matched: usize,
    /// Resolves once every stored copy (retained, persistent sessions) is durable.
    pub commit: Option<Commit>,
    /// A connected subscriber whose queue passed its high-water mark: the publisher should
    /// stop reading until it drains (see [`SessionHandle::drained`]).
    pub congested: Option<Arc<SessionHandle>>,
}

/// Below this many subscribers a deferred QoS 0 publish is queued at once instead of held
/// (see [`Broker::publish_deferred`]).
const MIN_BATCHED_FANOUT: usize = 4;

/// A [`PublishBatch`] is flushed once it holds this many messages...
const BATCH_MESSAGES: usize = 32;
/// ... or this many deliveries.
const BATCH_DELIVERIES: usize = 2048;

thread_local! {
    /// How many subscriptions the last routed message on this thread matched.
    static ROUTE_HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// QoS 0 deliveries routed by [`Broker::publish_deferred`] and not queued yet.
#[derive(Debug, Default)]
pub struct PublishBatch {
    /// Per session, in identifier order: its deliveries in publish order.
    groups: Vec<(Arc<SessionHandle>, Vec<Delivery>)>,
    deliveries: usize,
    messages: usize,
    /// Where one message is routed before it joins the groups; kept for its capacity.
    routed: Vec<(Arc<SessionHandle>, Delivery)>,
}

impl PublishBatch {
    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether the batch should be flushed before more is added: it stays small, so queue
    /// limits and back-pressure are noticed within a few messages.
    pub fn is_full(&self) -> bool {
        self.messages >= BATCH_MESSAGES || self.deliveries >= BATCH_DELIVERIES
    }
}

/// Queues `deliveries` for `session` under one lock, and notes the session in `congested`
/// (unless one is noted already) when its queue passed its high-water mark. Returns how many
/// were queued.
fn queue(
    session: &Arc<SessionHandle>,
    deliveries: impl IntoIterator<Item = Delivery>,
    ops: &mut Vec<Op>,
    congested: &mut Option<Arc<SessionHandle>>,
) -> usize {
    let mut state = session.lock();
    let mut queued = 0;
    for delivery in deliveries {
        if state.enqueue(session.client_id(), delivery, ops) {
            queued += 1;
        }
    }
    if congested.is_none() && state.press() {
        *congested = Some(Arc::clone(session));
    }
    queued
}

/// What the broker holds for one client identifier ([`Broker::client_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client identifier.
    pub client_id: Arc<str>,
    /// The connected client's address, if its driver recorded it.
    pub peer: Option<std::net::SocketAddr>,
    /// The connection's keep-alive in seconds, if its driver recorded it.
    pub keep_alive: Option<u16>,
    /// Whether a connection is attached.
    pub connected: bool,
    /// The protocol of the last connection.
    pub protocol: ProtocolVersion,
    /// Seconds the session outlives a disconnect (0: a clean session).
    pub session_expiry: u32,
    /// When the last connection ended, in ms since the epoch, if offline.
    pub disconnected_at_ms: Option<u64>,
    /// When the connection started, in ms since the epoch, if connected and known (it is
    /// known when lifecycle events are on).
    pub connected_at_ms: Option<u64>,
}

/// A message queued for one client by [`Broker::deliver_direct`].
#[derive(Debug)]
pub struct DirectDelivery {
    session: Arc<SessionHandle>,
    message: Arc<Message>,
    /// Resolves once the stored copy (a QoS 1 message to a persistent session) is durable.
    pub commit: Option<Commit>,
}

impl DirectDelivery {
    /// Whether the message still waits in the session: queued, or sent at QoS 1 and not yet
    /// acknowledged. Once it is not, it was written (QoS 0) or acknowledged (QoS 1).
    pub fn is_pending(&self) -> bool {
        self.session.lock().holds(&self.message)
    }
}

/// What was restored from the store at startup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Retained messages.
    pub retained: usize,
    /// Persistent sessions.
    pub sessions: usize,
    /// Queued messages over all sessions.
    pub messages: usize,
    /// Rows that could not be read and were skipped.
    pub corrupt: usize,
}

/// The broker: cheap to clone, shared by every connection and service.
#[derive(Debug, Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: BrokerConfig,
    store: Option<Store>,
    sessions: Mutex<SessionMap>,
    subscriptions: RwLock<SubscriptionTree<u64, Target>>,
    retained: RwLock<RetainedSet>,
    next_session_id: AtomicU64,
    versions: crate::events::Versions,
    /// Ids of the internal sessions (services), the only receivers of Basic Ingest.
    internal: RwLock<HashSet<u64>>,
}

impl Broker {
    /// A broker with `config`, writing durable state to `store` if given.
    pub fn new(config: BrokerConfig, store: Option<Store>) -> Broker {
        Broker {
            inner: Arc::new(Inner {
                config,
                store,
                sessions: Mutex::new(SessionMap::default()),
                subscriptions: RwLock::new(SubscriptionTree::new()),
                retained: RwLock::new(RetainedSet::new()),
                next_session_id: AtomicU64::new(1),
                versions: crate::events::Versions::default(),
                internal: RwLock::new(HashSet::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    /// The store, if durable.
    pub fn store(&self) -> Option<&Store> {
        self.inner.store.as_ref()
    }

    /// Submits `ops` to the store; `None` when there is nothing to wait for.
    pub fn persist(&self, ops: Vec<Op>) -> Option<Commit> {
        if ops.is_empty() {
            return None;
        }
        self.inner.store.as_ref().map(|store| store.submit(ops))
    }

    fn new_session(&self, client_id: Arc<str>, state: SessionState) -> Arc<SessionHandle> {
        let id = self.inner.next_session_id.fetch_add(1, Ordering::Relaxed);
        SessionHandle::new(id, client_id, state)
    }

    /// Rebuilds retained messages and persistent sessions from the store. Sessions come back
    /// offline; their expiry clock runs from when they were last seen.
    pub fn restore(&self, snapshot: Snapshot, now_ms: u64) -> Restored {
        let mut restored = Restored::default();
        {
            let mut retained = self.inner.retained.write();
            for row in snapshot.retained {
                match persist::decode_retained(row.message) {
                    Ok(message) => {
                        let at = u64::try_from(row.updated_at_ms).unwrap_or(0);
                        retained.apply(message, at);
                        restored.retained += 1;
                    }
                    Err(error) => {
                        tracing::error!(topic = row.topic, %error, "skipping retained message");
                        restored.corrupt += 1;
                    }
                }
            }
        }
        for row in snapshot.sessions {
            let stored = match persist::decode_session(row.state) {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::error!(client_id = row.client_id, %error, "skipping session");
                    restored.corrupt += 1;
                    continue;
                }
            };
            let mut state = SessionState::new(
                stored.protocol,
                stored.expiry_interval,
                self.config().max_queued_messages,
            );
            // A session that was online when the process stopped counts as disconnected now.
            let since =
                if stored.disconnected_at_ms == 0 { now_ms } else { stored.disconnected_at_ms };
            state.set_disconnected_at(since);
            let client_id: Arc<str> = Arc::from(row.client_id.as_str());
            let mut subscriptions = Vec::new();
            for (filter, blob) in row.subscriptions {
                match (persist::decode_subscription(blob), SharedFilter::parse(&filter)) {
                    (Ok(sub), Ok(parsed)) => {
                        state.subscriptions.insert(filter, sub.clone());
                        subscriptions.push((parsed, sub));
                    }
                    _ => {
                        tracing::error!(client_id = row.client_id, filter, "skipping subscription");
                        restored.corrupt += 1;
                    }
                }
            }
            for (seq, blob) in row.messages {
                match persist::decode_delivery(seq, blob) {
                    Ok(delivery) => {
                        state.restore(delivery);
                        restored.messages += 1;
                    }
                    Err(error) => {
                        tracing::error!(client_id = row.client_id, seq, %error, "skipping message");
                        restored.corrupt += 1;
                    }
                }
            }
            let session = self.new_session(Arc::clone(&client_id), state);
            {
                let mut trie = self.inner.subscriptions.write();
                for (parsed, subscription) in subscriptions {
                    let target = Target { session: Arc::clone(&session), subscription };
                    trie.insert(
                        parsed.filter.as_str(),
                        parsed.group.as_deref(),
                        session.id(),
                        target,
                    );
                }
            }
            self.inner.sessions.lock().insert(session);
            restored.sessions += 1;
        }
        self.expire_sessions(now_ms);
        restored
    }

    /// Attaches a new connection to its session: resumes the existing one unless a clean
    /// start is asked for, and closes any connection that held it (session takeover).
    pub fn connect(&self, request: ConnectRequest) -> Attached {
        let link = Link::with_details(request.details);
        let mut ops = Vec::new();
        let mut sessions = self.inner.sessions.lock();
        let existing = sessions.get(&request.client_id).cloned();
        let mut version = None;
        if let Some(old) = existing {
            let mut state = old.lock();
            if let Some(old_link) = state.link.take() {
                old_link.kick(CloseReason::TakenOver);
            }
            if !request.clean_start {
                let was_persistent = state.is_persistent();
                state.protocol = request.protocol;
                state.expiry_interval = request.expiry_interval;
                state.resume(Arc::clone(&link), request.max_inflight);
                if state.is_persistent() {
                    ops.push(self.session_op(&old, &state));
                    if !was_persistent {
                        for (filter, sub) in &state.subscriptions {
                            ops.push(subscription_op(&old, filter, sub));
                        }
                    }
                } else if was_persistent {
                    ops.push(Op::DeleteSession { client_id: old.client_id().to_string() });
                }
                drop(state);
                return Attached {
                    session: old,
                    link,
                    session_present: true,
                    commit: self.persist(ops),
                };
            }
            let was_persistent = state.is_persistent();
            let filters: Vec<String> = state.subscriptions.keys().cloned().collect();
            state.subscriptions.clear();
            version = Some(state.version);
            drop(state);
            self.remove_from_trie(&old, &filters);
            if was_persistent {
                ops.push(Op::DeleteSession { client_id: old.client_id().to_string() });
            }
        }
        let mut state = SessionState::new(
            request.protocol,
            request.expiry_interval,
            self.config().max_queued_messages,
        );
        // The client's version numbers go on from its previous session's.
        state.version = version.unwrap_or_else(|| self.inner.versions.take(&request.client_id));
        state.resume(Arc::clone(&link), request.max_inflight);
        let session = self.new_session(Arc::clone(&request.client_id), state);
        if request.expiry_interval > 0 {
            ops.push(self.session_op(&session, &session.lock()));
        }
        sessions.insert(Arc::clone(&session));
        drop(sessions);
        Attached { session, link, session_present: false, commit: self.persist(ops) }
    }

    fn session_op(&self, session: &SessionHandle, state: &SessionState) -> Op {
        let stored = StoredSession {
            protocol: state.protocol,
            expiry_interval: state.expiry_interval,
            disconnected_at_ms: state.disconnected_at_ms().unwrap_or(0),
        };
        Op::PutSession {
            client_id: session.client_id().to_string(),
            state: persist::encode_session(&stored),
        }
    }

    /// Detaches the connection behind `link` from `session`. A session with no expiry ends
    /// here; a persistent one waits offline for its expiry interval.
    pub fn disconnect(&self, session: &Arc<SessionHandle>, link: &Arc<Link>, now_ms: u64) {
        let mut state = session.lock();
        if !state.link.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
            return; // taken over: the session belongs to another connection now
        }
        // The lifecycle-event reset clock runs from the disconnect.
        state.version.seen(now_ms);
        state.detach(now_ms);
        state.wake_publishers();
        if state.is_persistent() {
            let op = self.session_op(session, &state);
            drop(state);
            self.persist(vec![op]);
            return;
        }
        drop(state);
        self.end_session_if_offline(session, |_| true);
    }

    /// Ends sessions whose expiry interval has passed since they disconnected.
    pub fn expire_sessions(&self, now_ms: u64) -> usize {
        self.inner.versions.sweep(now_ms);
        let candidates: Vec<Arc<SessionHandle>> =
            self.inner.sessions.lock().values().cloned().collect();
        let mut ended = 0;
        for session in candidates {
            let expired = |state: &SessionState| {
                state.disconnected_at_ms().is_some_and(|at| {
                    at.saturating_add(u64::from(state.expiry_interval) * 1000) <= now_ms
                })
            };
            if self.end_session_if_offline(&session, expired) {
                tracing::debug!(client_id = %session.client_id(), "session expired");
                ended += 1;
            }
        }
        ended
    }

    /// Ends `session` if it is still the registered session of its client, offline, and
    /// `condition` holds. Returns whether it ended.
    fn end_session_if_offline(
        &self,
        session: &Arc<SessionHandle>,
        condition: impl Fn(&SessionState) -> bool,
    ) -> bool {
        let mut sessions = self.inner.sessions.lock();
        let registered = sessions.get(session.client_id()).is_some_and(|s| Arc::ptr_eq(s, session));
        let mut state = session.lock();
        if state.is_online() || !condition(&state) {
            return false;
        }
        if registered {
            sessions.remove(session.client_id());
            self.inner.versions.keep(session.client_id(), state.version);
        }
        drop(sessions);
        let was_persistent = state.is_persistent();
        let filters: Vec<String> = state.subscriptions.keys().cloned().collect();
        state.subscriptions.clear();
        drop(state);
        self.remove_from_trie(session, &filters);
        if was_persistent {
            self.persist(vec![Op::DeleteSession { client_id: session.client_id().to_string() }]);
        }
        true
    }

    fn remove_from_trie(&self, session: &SessionHandle, filters: &[String]) {
        let mut trie = self.inner.subscriptions.write();
        for filter in filters {
            if let Ok(parsed) = SharedFilter::parse(filter) {
                trie.remove(parsed.filter.as_str(), parsed.group.as_deref(), &session.id());
            }
        }
    }

    /// Adds subscriptions to `session` and queues the retained messages they ask for.
    /// `entries` are (filter as written, parsed filter, subscription with granted QoS).
    /// Returns, per entry, whether the subscription is new, and the commit of its storage.
    pub fn subscribe(
        &self,
        session: &Arc<SessionHandle>,
        entries: Vec<(String, SharedFilter, Subscription)>,
        now_ms: u64,
    ) -> (Vec<bool>, Option<Commit>) {
        let mut ops = Vec::new();
        let mut fresh = Vec::with_capacity(entries.len());
        {
            let mut state = session.lock();
            for (raw, _, sub) in &entries {
                let existed = state.subscriptions.insert(raw.clone(), sub.clone()).is_some();
                fresh.push(!existed);
                if state.is_persistent() {
                    ops.push(subscription_op(session, raw, sub));
                }
            }
        }
        {
            let mut trie = self.inner.subscriptions.write();
            for (_, parsed, sub) in &entries {
                let target = Target { session: Arc::clone(session), subscription: sub.clone() };
                trie.insert(parsed.filter.as_str(), parsed.group.as_deref(), session.id(), target);
            }
        }
        let mut retained_deliveries = Vec::new();
        {
            let retained = self.inner.retained.read();
            for ((_, parsed, sub), is_new) in entries.iter().zip(&fresh) {
                use ferrocore_mqtt::RetainHandling::*;
                let wanted = match sub.options.retain_handling {
                    SendAtSubscribe => true,
                    SendIfNew => *is_new,
                    DoNotSend => false,
                };
                if parsed.group.is_some() || !wanted || retained.is_empty() {
                    continue;
                }
                for message in retained.matching(&parsed.filter, now_ms) {
                    retained_deliveries.push(Delivery {
                        qos: message.qos.min(sub.options.qos),
                        message,
                        retain: true,
                        subscription_ids: sub.id.into_iter().collect(),
                        seq: None,
                    });
                }
            }
        }
        if !retained_deliveries.is_empty() {
            let mut state = session.lock();
            for delivery in retained_deliveries {
                state.enqueue(session.client_id(), delivery, &mut ops);
            }
        }
        (fresh, self.persist(ops))
    }

    /// Removes subscriptions; returns, per filter, whether it existed.
    pub fn unsubscribe(&self, session: &Arc<SessionHandle>, filters: &[String]) -> Vec<bool> {
        let mut ops = Vec::new();
        let mut existed = Vec::with_capacity(filters.len());
        {
            let mut state = session.lock();
            for filter in filters {
                let removed = state.subscriptions.remove(filter).is_some();
                existed.push(removed);
                if removed && state.is_persistent() {
                    ops.push(Op::DeleteSubscription {
                        client_id: session.client_id().to_string(),
                        filter: filter.clone(),
                    });
                }
            }
        }
        let removed: Vec<String> =
            filters.iter().zip(&existed).filter(|(_, e)| **e).map(|(f, _)| f.clone()).collect();
        self.remove_from_trie(session, &removed);
        self.persist(ops);
        existed
    }

    /// Routes `message` to every matching subscription and, if it is retained, updates the
    /// retained set.
    pub fn publish(&self, message: Message, now_ms: u64) -> Published {
        let message = Arc::new(message);
        let mut ops = Vec::new();
        if message.retain {
            let changed = self.inner.retained.write().apply(Arc::clone(&message), now_ms);
            if message.payload.is_empty() {
                if changed {
                    ops.push(Op::DeleteRetained { topic: message.topic.to_string() });
                }
            } else {
                ops.push(Op::PutRetained {
                    topic: message.topic.to_string(),
                    message: persist::encode_retained(&message),
                    updated_at_ms: i64::try_from(now_ms).unwrap_or(i64::MAX),
                });
            }
        }
        let mut matched = 0;
        let mut congested = None;
        self.route(&message, |session, delivery| {
            matched += queue(session, [delivery], &mut ops, &mut congested);
        });
        Published { matched, commit: self.persist(ops), congested }
    }

    /// Finds the sessions `message` goes to and makes each its delivery: overlapping
    /// subscriptions of one session deliver once, at the highest QoS, with every matching
    /// subscription identifier. Sessions come in identifier order.
    fn route(&self, message: &Arc<Message>, mut each: impl FnMut(&Arc<SessionHandle>, Delivery)) {
        // Held while `each` runs, which takes session locks: nothing takes this lock while
        // holding a session's.
        let trie = self.inner.subscriptions.read();
        // Sized like the last match on this thread: a fan-out to many sessions does not regrow
        // the list from nothing for every message.
        let mut targets: Vec<(u64, &Target)> = Vec::with_capacity(ROUTE_HINT.get());
        trie.for_each_match(message.topic.as_str(), |id, target| {
            let no_local = target.subscription.options.no_local
                && message.publisher.as_deref() == Some(&**target.session.client_id());
            if !no_local {
                targets.push((*id, target));
            }
        });
        if is_basic_ingest(message.topic.as_str()) {
            // Basic Ingest (`$aws/rules/{rule}/...`) reaches the rules engine only, never an
            // MQTT subscriber.
            let internal = self.inner.internal.read();
            targets.retain(|(id, _)| internal.contains(id));
        }
        ROUTE_HINT.set(targets.len().min(1024));
        targets.sort_unstable_by_key(|(id, _)| *id);
        let mut i = 0;
        while i < targets.len() {
            let (id, first) = &targets[i];
            let mut qos = first.subscription.options.qos;
            let mut retain = first.subscription.options.retain_as_published && message.retain;
            let mut ids: Vec<u32> = first.subscription.id.into_iter().collect();
            let mut j = i + 1;
            while j < targets.len() && targets[j].0 == *id {
                let sub = &targets[j].1.subscription;
                qos = qos.max(sub.options.qos);
                retain |= sub.options.retain_as_published && message.retain;
                ids.extend(sub.id);
                j += 1;
            }
            let delivery = Delivery {
                message: Arc::clone(message),
                qos: message.qos.min(qos),
                retain,
                subscription_ids: ids,
                seq: None,
            };
            each(&first.session, delivery);
            i = j;
        }
    }

    /// Routes a QoS 0 message without RETAIN into `batch` instead of queueing it at once:
    /// [`Broker::flush_publishes`] then queues a run of such messages with one lock round
    /// trip and one wake per subscriber instead of one per message. Anything else (which
    /// may need storage or an acknowledgement) is published at once, after the batch.
    pub fn publish_deferred(
        &self,
        message: Message,
        now_ms: u64,
        batch: &mut PublishBatch,
    ) -> Option<Published> {
        if message.qos != QoS::AtMostOnce || message.retain {
            let held = self.flush_publishes(batch);
            let mut published = self.publish(message, now_ms);
            published.congested = held.or(published.congested);
            return Some(published);
        }
        let message = Arc::new(message);
        let mut routed = std::mem::take(&mut batch.routed);
        self.route(&message, |session, delivery| routed.push((Arc::clone(session), delivery)));
        if routed.len() < MIN_BATCHED_FANOUT {
            // Few subscribers: holding the message saves too little to pay for the later wake
            // (a point-to-point flow loses its overlap of publisher and subscriber). Queue it
            // now, after what is held, so that nothing is overtaken.
            let mut congested = self.flush_publishes(batch);
            let mut matched = 0;
            let mut ops = Vec::new();
            for (session, delivery) in routed.drain(..) {
                matched += queue(&session, [delivery], &mut ops, &mut congested);
            }
            batch.routed = routed;
            return Some(Published { matched, commit: self.persist(ops), congested });
        }
        let groups = &mut batch.groups;
        let mut at = 0;
        let added = routed.len();
        // As many messages as the batch will hold at this fan-out: one allocation per group.
        let room = (BATCH_DELIVERIES / added).clamp(1, BATCH_MESSAGES);
        for (session, delivery) in routed.drain(..) {
            // Sessions come in identifier order, as the groups are kept: one forward walk.
            let id = session.id();
            while at < groups.len() && groups[at].0.id() < id {
                at += 1;
            }
            if at == groups.len() || groups[at].0.id() != id {
                groups.insert(at, (session, Vec::with_capacity(room)));
            }
            groups[at].1.push(delivery);
            at += 1;
        }
        batch.routed = routed;
        batch.deliveries += added;
        batch.messages += 1;
        None
    }

    /// Queues what `batch` holds, in publish order per session, locking each session once.
    /// Returns a connected subscriber whose queue passed its high-water mark, if any.
    pub fn flush_publishes(&self, batch: &mut PublishBatch) -> Option<Arc<SessionHandle>> {
        batch.messages = 0;
        batch.deliveries = 0;
        let mut ops = Vec::new();
        let mut congested = None;
        for (session, deliveries) in batch.groups.drain(..) {
            queue(&session, deliveries, &mut ops, &mut congested);
        }
        // QoS 0 deliveries are never stored; nothing is expected here.
        if !ops.is_empty() {
            self.persist(ops);
        }
        congested
    }

    /// Whether a message to `topic` would reach anyone (a client or an internal service):
    /// lets callers skip building messages nobody receives, such as lifecycle events.
    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.inner.subscriptions.read().has_match(topic)
    }

    /// Publishes a will held back by its delay, unless the session got a connection again.
    pub fn publish_delayed_will(&self, session: &Arc<SessionHandle>, will: Message, now_ms: u64) {
        if session.lock().is_online() {
            return;
        }
        self.publish(will, now_ms);
    }

    /// Asks every connected client to close (server shutdown).
    pub fn kick_all(&self, reason: CloseReason) {
        for session in self.inner.sessions.lock().values() {
            if let Some(link) = &session.lock().link {
                link.kick(reason);
            }
        }
    }

    /// Asks the connection of `client_id`, if any, to close.
    pub fn kick(&self, client_id: &str, reason: CloseReason) -> bool {
        let sessions = self.inner.sessions.lock();
        let Some(session) = sessions.get(client_id) else { return false };
        let state = session.lock();
        match &state.link {
            Some(link) => {
                link.kick(reason);
                true
            }
            None => false,
        }
    }

    /// What the broker holds for `client_id`: its session, connected or not, and when it
    /// disconnected. `None` when there is no session (never connected, or its session ended).
    pub fn client_info(&self, client_id: &str) -> Option<ClientInfo> {
        let session = self.inner.sessions.lock().get(client_id).cloned()?;
        let state = session.lock();
        let details = state.link.as_ref().and_then(|link| link.details());
        Some(ClientInfo {
            client_id: Arc::clone(session.client_id()),
            peer: details.and_then(|d| d.peer()),
            keep_alive: details.map(|d| d.keep_alive()),
            connected: state.is_online(),
            protocol: state.protocol,
            session_expiry: state.expiry_interval,
            disconnected_at_ms: state.disconnected_at_ms(),
            connected_at_ms: if state.is_online() { state.version.last_seen() } else { None },
        })
    }

    /// The subscriptions of `client_id`'s session (connected or offline and persistent): the
    /// filters as written, in filter order, with their granted QoS. `None` without a session.
    pub fn client_subscriptions(&self, client_id: &str) -> Option<Vec<(String, QoS)>> {
        let session = self.inner.sessions.lock().get(client_id).cloned()?;
        let state = session.lock();
        Some(state.subscriptions.iter().map(|(f, s)| (f.clone(), s.options.qos)).collect())
    }

    /// Disconnects the connected client `client_id` at an operator's request (lifecycle reason
    /// `API_INITIATED_DISCONNECT`, MQTT 5 reason 0x98). `clean_session` ends its session with
    /// the connection (subscriptions and queued messages gone); `prevent_will` keeps its will
    /// from being published. Returns the session, to wait for the connection to go, or `None`
    /// if the client is not connected.
    pub fn disconnect_client(
        &self,
        client_id: &str,
        clean_session: bool,
        prevent_will: bool,
    ) -> Option<Arc<SessionHandle>> {
        let session = self.inner.sessions.lock().get(client_id).cloned()?;
        let mut state = session.lock();
        let link = Arc::clone(state.link.as_ref()?);
        if clean_session && state.is_persistent() {
            // A session with no expiry ends when its connection detaches; its stored copy goes
            // now, as nothing will be stored for it any more.
            state.expiry_interval = 0;
            self.persist(vec![Op::DeleteSession { client_id: client_id.to_owned() }]);
        }
        drop(state);
        link.kick(if prevent_will {
            CloseReason::AdministrativeWithoutWill
        } else {
            CloseReason::Administrative
        });
        Some(session)
    }

    /// Queues `message` for the connected client `client_id` alone, at the message's QoS,
    /// whether or not it subscribes to the topic (iot-data SendDirectMessage). The receiving
    /// connection still applies its `iot:Receive` check. `None` if the client is not
    /// connected or its queue is full.
    pub fn deliver_direct(&self, client_id: &str, message: Message) -> Option<DirectDelivery> {
        let session = self.inner.sessions.lock().get(client_id).cloned()?;
        let message = Arc::new(message);
        let delivery = Delivery {
            qos: message.qos,
            message: Arc::clone(&message),
            retain: false,
            subscription_ids: Vec::new(),
            seq: None,
        };
        let mut ops = Vec::new();
        let mut state = session.lock();
        if !state.is_online() || !state.enqueue(session.client_id(), delivery, &mut ops) {
            return None;
        }
        drop(state);
        let commit = self.persist(ops);
        Some(DirectDelivery { session, message, commit })
    }

    /// Number of sessions (online and offline persistent).
    pub fn session_count(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    /// Number of connected clients.
    pub fn connected_count(&self) -> usize {
        self.inner.sessions.lock().values().filter(|s| s.lock().is_online()).count()
    }

    /// Number of subscriptions in the routing table.
    pub fn subscription_count(&self) -> usize {
        self.inner.subscriptions.read().len()
    }

    /// Number of retained messages.
    pub fn retained_count(&self) -> usize {
        self.inner.retained.read().len()
    }

    /// The retained message for exactly `topic`.
    pub fn retained(&self, topic: &str) -> Option<Arc<Message>> {
        self.inner.retained.read().get(topic).cloned()
    }

    /// The retained message for exactly `topic`, with when it was stored, unless it has
    /// expired at `now_ms`.
    pub fn retained_entry(&self, topic: &str, now_ms: u64) -> Option<RetainedEntry> {
        let retained = self.inner.retained.read();
        let (message, modified_ms) = retained.entry(topic)?;
        (!message.is_expired(now_ms))
            .then(|| RetainedEntry { message: Arc::clone(message), modified_ms })
    }

    /// Up to `limit` retained messages not expired at `now_ms`, in topic order, starting
    /// after topic `after` (from the first when `None`): one page of a listing that resumes
    /// correctly when messages come and go in between.
    pub fn retained_page(
        &self,
        after: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Vec<RetainedEntry> {
        self.inner
            .retained
            .read()
            .page(after, limit, now_ms)
            .into_iter()
            .map(|(message, modified_ms)| RetainedEntry { message, modified_ms })
            .collect()
    }

    /// A session for a service inside the process (shadow, jobs, rules): it subscribes and
    /// receives like a client, with no network connection and no entry in the client map.
    pub(crate) fn internal_session(&self, name: &str) -> (Arc<SessionHandle>, Arc<Link>) {
        let link = Link::new();
        let mut state =
            SessionState::new(ProtocolVersion::V5, 0, self.config().max_queued_messages);
        state.resume(Arc::clone(&link), u16::MAX);
        let session = self.new_session(Arc::from(name), state);
        self.inner.internal.write().insert(session.id());
        (session, link)
    }

    /// Removes an internal session's subscriptions.
    pub(crate) fn drop_internal_session(&self, session: &Arc<SessionHandle>) {
        let filters: Vec<String> = {
            let mut state = session.lock();
            state.link = None;
            std::mem::take(&mut state.subscriptions).into_keys().collect()
        };
        self.remove_from_trie(session, &filters);
        self.inner.internal.write().remove(&session.id());
    }

    /// The highest QoS granted: the lower of `asked` and the configured maximum.
    pub fn grant(&self, asked: QoS) -> QoS {
        asked.min(self.config().max_qos())
    }
}

/// Whether `topic` is a Basic Ingest topic, `$aws/rules/{rule}/...`.
pub fn is_basic_ingest(topic: &str) -> bool {
    topic.strip_prefix("$aws/rules/").is_some_and(|rest| rest.contains('/'))
}

fn subscription_op(session: &SessionHandle, filter: &str, sub: &Subscription) -> Op {
    Op::PutSubscription {
        client_id: session.client_id().to_string(),
        filter: filter.to_owned(),
        options: persist::encode_subscription(sub),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod retained_read_tests {
    use bytes::Bytes;
    use ferrocore_mqtt::TopicName;

    use super::*;

    fn retain(broker: &Broker, topic: &str, payload: &'static str, now_ms: u64) {
        let message = Message::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(payload.as_bytes()),
            QoS::AtLeastOnce,
            true,
        );
        broker.publish(message, now_ms);
    }

    #[test]
    fn retained_pages_are_in_topic_order_with_their_time() {
        let broker = Broker::new(BrokerConfig::default(), None);
        retain(&broker, "b", "2", 20);
        retain(&broker, "a", "1", 10);
        retain(&broker, "c", "3", 30);
        let topics = |page: &[RetainedEntry]| -> Vec<String> {
            page.iter().map(|e| e.message.topic.to_string()).collect()
        };
        let first = broker.retained_page(None, 2, 40);
        assert_eq!(topics(&first), ["a", "b"]);
        assert_eq!(first[0].modified_ms, 10);
        let second = broker.retained_page(Some("b"), 2, 40);
        assert_eq!(topics(&second), ["c"]);
        assert!(broker.retained_page(Some("c"), 2, 40).is_empty());
        retain(&broker, "a", "new", 50);
        assert_eq!(broker.retained_entry("a", 60).unwrap().modified_ms, 50);
        retain(&broker, "a", "", 70);
        assert_eq!(broker.retained_entry("a", 80), None);
        assert_eq!(topics(&broker.retained_page(None, 10, 80)), ["b", "c"]);
    }

    #[tokio::test]
    async fn basic_ingest_reaches_only_internal_sessions() {
        use crate::internal::InternalClient;
        let broker = Broker::new(BrokerConfig::default(), None);
        let rules = InternalClient::new(&broker, "$rules/r1");
        rules.subscribe("$aws/rules/r1/#", QoS::AtLeastOnce).unwrap();
        // An ordinary session subscribed to the same topic.
        let attached = broker.connect(ConnectRequest {
            client_id: Arc::from("c1"),
            clean_start: true,
            expiry_interval: 0,
            protocol: ProtocolVersion::V5,
            max_inflight: 10,
            details: None,
        });
        let parsed = SharedFilter::parse("$aws/rules/r1/#").unwrap();
        let sub = Subscription { options: Default::default(), id: None };
        broker.subscribe(&attached.session, vec![("$aws/rules/r1/#".into(), parsed, sub)], 0);
        let message = Message::new(
            TopicName::new("$aws/rules/r1/a/b").unwrap(),
            Bytes::from_static(b"{}"),
            QoS::AtLeastOnce,
            false,
        );
        assert_eq!(broker.publish(message, 1).matched, 1, "only the rules engine");
        assert!(rules.try_recv().is_some());
        assert!(attached.session.lock().pop_queued().is_none());
        assert!(is_basic_ingest("$aws/rules/r1/x"));
        assert!(!is_basic_ingest("$aws/rules/r1"));
        assert!(!is_basic_ingest("a/rules/r1/x"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod connection_api_tests {
    use bytes::Bytes;
    use ferrocore_mqtt::TopicName;

    use super::*;

    fn connect(broker: &Broker, client_id: &str, expiry: u32) -> Attached {
        broker.connect(request(client_id, expiry))
    }

    fn request(client_id: &str, expiry: u32) -> ConnectRequest {
        ConnectRequest {
            client_id: Arc::from(client_id),
            clean_start: true,
            expiry_interval: expiry,
            protocol: ProtocolVersion::V5,
            max_inflight: 10,
            details: None,
        }
    }

    fn subscribe(broker: &Broker, attached: &Attached, filter: &str, qos: QoS) {
        let parsed = SharedFilter::parse(filter).unwrap();
        let mut sub = Subscription { options: Default::default(), id: None };
        sub.options.qos = qos;
        broker.subscribe(&attached.session, vec![(filter.into(), parsed, sub)], 0);
    }

    fn message(topic: &str, qos: QoS) -> Message {
        Message::new(TopicName::new(topic).unwrap(), Bytes::from_static(b"hi"), qos, false)
    }

    #[test]
    fn version_numbers_go_on_across_sessions_and_are_kept_aside_only_once_a_session_ends() {
        let broker = Broker::new(BrokerConfig::default(), None);
        let next = |attached: &Attached, now: u64| attached.session.lock().version.next(now);
        let first = connect(&broker, "c1", 0);
        assert_eq!(next(&first, 10), 1);
        assert_eq!(broker.inner.versions.len(), 0, "a connected client's is in its session");
        broker.disconnect(&first.session, &first.link, 20);
        assert_eq!(broker.inner.versions.len(), 1, "its session ended");
        let second = connect(&broker, "c1", 0);
        assert_eq!(broker.inner.versions.len(), 0);
        assert_eq!(next(&second, 30), 2);
        // A takeover with a clean start makes a new session; the numbers go on.
        let third = connect(&broker, "c1", 3600);
        assert!(!Arc::ptr_eq(&second.session, &third.session));
        assert_eq!(next(&third, 40), 3);
        // Resumed, the same session counts on.
        let resumed = broker.connect(ConnectRequest { clean_start: false, ..request("c1", 3600) });
        assert_eq!(next(&resumed, 50), 4);
        assert_eq!(broker.client_info("c1").unwrap().connected_at_ms, Some(50));
    }

    #[test]
    fn client_info_and_subscriptions_of_known_and_unknown_clients() {
        let broker = Broker::new(BrokerConfig::default(), None);
        assert_eq!(broker.client_info("nobody"), None);
        assert_eq!(broker.client_subscriptions("nobody"), None);
        let attached = broker.connect(ConnectRequest {
            details: Some(LinkDetails::new(
                crate::session::PeerAddr::new("127.0.0.1:4242".parse().ok()),
                30,
            )),
            ..request("c1", 3600)
        });
        subscribe(&broker, &attached, "b/#", QoS::AtLeastOnce);
        subscribe(&broker, &attached, "a/+", QoS::AtMostOnce);
        let peer = "127.0.0.1:4242".parse().ok();
        let info = broker.client_info("c1").unwrap();
        assert!(info.connected);
        assert_eq!((info.peer, info.keep_alive), (peer, Some(30)));
        assert_eq!(info.session_expiry, 3600);
        assert_eq!(info.disconnected_at_ms, None);
        assert_eq!(
            broker.client_subscriptions("c1").unwrap(),
            [("a/+".to_owned(), QoS::AtMostOnce), ("b/#".to_owned(), QoS::AtLeastOnce)]
        );
        broker.disconnect(&attached.session, &attached.link, 42);
        let info = broker.client_info("c1").unwrap();
        assert!(!info.connected, "a persistent session stays, offline");
        assert_eq!((info.peer, info.keep_alive), (None, None));
        assert_eq!(info.disconnected_at_ms, Some(42));
        assert_eq!(broker.client_subscriptions("c1").unwrap().len(), 2);
    }

    #[test]
    fn disconnect_client_kicks_with_the_asked_reason_and_can_end_the_session() {
        let broker = Broker::new(BrokerConfig::default(), None);
        assert!(broker.disconnect_client("nobody", false, false).is_none());
        let attached = connect(&broker, "keep", 3600);
        assert!(broker.disconnect_client("keep", false, false).is_some());
        assert_eq!(attached.link.kicked(), Some(CloseReason::Administrative));
        broker.disconnect(&attached.session, &attached.link, 1);
        assert!(broker.client_info("keep").is_some(), "the session is kept");
        assert!(broker.disconnect_client("keep", false, false).is_none(), "not connected");

        let attached = connect(&broker, "clean", 3600);
        subscribe(&broker, &attached, "t", QoS::AtLeastOnce);
        assert!(broker.disconnect_client("clean", true, true).is_some());
        assert_eq!(attached.link.kicked(), Some(CloseReason::AdministrativeWithoutWill));
        broker.disconnect(&attached.session, &attached.link, 1);
        assert_eq!(broker.client_info("clean"), None, "cleanSession ends the session");
        assert_eq!(broker.publish(message("t", QoS::AtLeastOnce), 2).matched, 0);
    }

    #[test]
    fn direct_delivery_reaches_one_session_without_a_subscription() {
        let broker = Broker::new(BrokerConfig::default(), None);
        assert!(broker.deliver_direct("nobody", message("x/y", QoS::AtMostOnce)).is_none());
        let target = connect(&broker, "target", 0);
        let other = connect(&broker, "other", 0);
        subscribe(&broker, &other, "x/#", QoS::AtLeastOnce);
        let direct = broker.deliver_direct("target", message("x/y", QoS::AtLeastOnce)).unwrap();
        assert!(direct.is_pending());
        assert!(other.session.lock().pop_queued().is_none(), "subscribers do not get it");
        let mut ops = Vec::new();
        let Some(crate::session::Outgoing::Publish { delivery, packet_id, .. }) =
            target.session.lock().poll_outgoing(&Arc::from("target"), 0, &mut ops)
        else {
            panic!("nothing to send")
        };
        assert_eq!(delivery.message.topic.as_str(), "x/y");
        assert_eq!(delivery.qos, QoS::AtLeastOnce);
        assert!(direct.is_pending(), "in flight until acknowledged");
        assert!(target.session.lock().handle_puback(&Arc::from("target"), packet_id, &mut ops));
        assert!(!direct.is_pending());
        broker.disconnect(&target.session, &target.link, 1);
        assert!(broker.deliver_direct("target", message("x/y", QoS::AtMostOnce)).is_none());
    }

    fn topics(attached: &Attached) -> Vec<String> {
        let mut state = attached.session.lock();
        std::iter::from_fn(|| state.pop_queued())
            .map(|d| format!("{}:{}", d.message.topic, d.qos as u8))
            .collect()
    }

    #[test]
    fn deferred_publishes_are_queued_at_the_flush_in_order() {
        let broker = Broker::new(BrokerConfig::default(), None);
        let a = connect(&broker, "a", 0);
        let b = connect(&broker, "b", 0);
        let both = connect(&broker, "both", 0);
        subscribe(&broker, &a, "a/#", QoS::AtLeastOnce);
        subscribe(&broker, &b, "b/#", QoS::AtLeastOnce);
        subscribe(&broker, &both, "#", QoS::AtLeastOnce);
        subscribe(&broker, &both, "a/+", QoS::AtMostOnce);
        // Enough subscribers on every topic for messages to be held.
        let fans: Vec<_> = (0..3).map(|i| connect(&broker, &format!("fan{i}"), 0)).collect();
        for fan in &fans {
            subscribe(&broker, fan, "#", QoS::AtMostOnce);
        }
        let mut batch = PublishBatch::default();
        for topic in ["a/1", "b/1", "a/2", "c", "b/2"] {
            assert!(
                broker.publish_deferred(message(topic, QoS::AtMostOnce), 0, &mut batch).is_none()
            );
        }
        assert!(!batch.is_empty());
        assert!(topics(&a).is_empty(), "held until the flush");
        assert!(broker.flush_publishes(&mut batch).is_none());
        assert!(batch.is_empty());
        assert_eq!(topics(&a), ["a/1:0", "a/2:0"]);
        assert_eq!(topics(&b), ["b/1:0", "b/2:0"]);
        assert_eq!(topics(&both), ["a/1:0", "b/1:0", "a/2:0", "c:0", "b/2:0"], "once each");
        // A QoS 1 message is published at once, after what the batch held.
        broker.publish_deferred(message("a/3", QoS::AtMostOnce), 0, &mut batch);
        let published = broker.publish_deferred(message("a/4", QoS::AtLeastOnce), 0, &mut batch);
        assert_eq!(published.map(|p| p.matched), Some(5));
        assert!(batch.is_empty());
        assert_eq!(topics(&a), ["a/3:0", "a/4:1"]);
        // A session that went offline meanwhile gets nothing.
        broker.publish_deferred(message("b/3", QoS::AtMostOnce), 0, &mut batch);
        broker.disconnect(&b.session, &b.link, 1);
        broker.flush_publishes(&mut batch);
        assert!(topics(&b).is_empty());
    }

    #[test]
    fn a_deferred_publish_with_few_subscribers_is_queued_at_once_after_what_is_held() {
        let broker = Broker::new(BrokerConfig::default(), None);
        let fans: Vec<_> = (0..4).map(|i| connect(&broker, &format!("fan{i}"), 0)).collect();
        for fan in &fans {
            subscribe(&broker, fan, "wide", QoS::AtMostOnce);
        }
        subscribe(&broker, &fans[0], "narrow", QoS::AtMostOnce);
        let mut batch = PublishBatch::default();
        assert!(broker.publish_deferred(message("wide", QoS::AtMostOnce), 0, &mut batch).is_none());
        assert!(topics(&fans[0]).is_empty(), "four subscribers: held");
        let published = broker.publish_deferred(message("narrow", QoS::AtMostOnce), 0, &mut batch);
        assert_eq!(published.map(|p| p.matched), Some(1), "one subscriber: queued at once");
        assert!(batch.is_empty(), "after what was held");
        assert_eq!(topics(&fans[0]), ["wide:0", "narrow:0"]);
        assert_eq!(topics(&fans[1]), ["wide:0"]);
    }

    #[test]
    fn has_subscribers_sees_clients_and_wildcards() {
        let broker = Broker::new(BrokerConfig::default(), None);
        let topic = "$aws/events/presence/connected/c1";
        assert!(!broker.has_subscribers(topic));
        let a = connect(&broker, "a", 0);
        subscribe(&broker, &a, "#", QoS::AtMostOnce);
        assert!(!broker.has_subscribers(topic), "`#` does not match `$` topics");
        subscribe(&broker, &a, "$aws/events/presence/+/+", QoS::AtMostOnce);
        assert!(broker.has_subscribers(topic));
    }
}
