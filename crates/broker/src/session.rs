//! A session's state: subscriptions, the queue of deliveries not yet sent, the in-flight
//! window of QoS 1/2 deliveries awaiting acknowledgement, and packet identifiers.
//!
//! A session outlives its connections when it is persistent. It is shared between the router
//! (which enqueues deliveries) and the connection that is attached to it (which sends them),
//! behind one mutex in [`SessionHandle`]. All methods are synchronous and take the time as an
//! argument; waking the attached connection goes through its [`Link`].

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::task::{Context, Poll, Waker};

use ferrocore_mqtt::{ProtocolVersion, QoS, SubscriptionOptions};
use ferrocore_store::Op;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::close::CloseReason;
use crate::message::Delivery;
use crate::persist;

/// One subscription of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Options from SUBSCRIBE, QoS already lowered to what was granted.
    pub options: SubscriptionOptions,
    /// Subscription identifier (MQTT 5).
    pub id: Option<u32>,
}

/// The connection side of a session: how the router wakes the connection task that is
/// attached, and how another party (a takeover, shutdown, an operator) asks it to close.
///
/// A connection with a running task waits on [`Link::notified`]; an idle connection whose
/// task ended (parked) leaves a [`Waker`] instead ([`Link::park`]). Either way one waker
/// slot holds who to wake, and the next wake or kick takes it and wakes it once: a single
/// waiter needs no wait list.
#[derive(Debug, Default)]
pub struct Link {
    /// Who to wake: the task waiting in [`Link::notified`], or the parked connection.
    waker: Mutex<Option<Waker>>,
    /// A wake or kick not yet seen by [`Link::notified`].
    signalled: AtomicBool,
    /// The first close request ([`CloseReason::to_bits`]; 0 for none).
    kick: AtomicU16,
    /// Set by the first wake since the connection last looked: later wakes skip the
    /// notification (one per batch, not one per message).
    pending: AtomicBool,
    /// What the connection told about itself (GetConnection); `None` for internal clients.
    details: Option<LinkDetails>,
}

/// A client's address, kept without an IPv6 flow label or scope: 20 bytes instead of a
/// `SocketAddr`'s 32, in every connection and its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerAddr {
    ip: Option<IpAddr>,
    port: u16,
}

impl PeerAddr {
    /// The compact form of `peer`.
    pub fn new(peer: Option<SocketAddr>) -> PeerAddr {
        PeerAddr { ip: peer.map(|p| p.ip()), port: peer.map_or(0, |p| p.port()) }
    }

    /// The address, if there is one.
    pub fn get(&self) -> Option<SocketAddr> {
        self.ip.map(|ip| SocketAddr::new(ip, self.port))
    }

    /// The IP address, if there is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
}

/// What a connection tells about itself beyond the session (its address and the keep-alive
/// in effect): reported by the iot-data GetConnection API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDetails {
    peer: PeerAddr,
    keep_alive: u16,
}

impl LinkDetails {
    /// The details of a connection from `peer` with `keep_alive` (seconds) in effect.
    pub fn new(peer: PeerAddr, keep_alive: u16) -> LinkDetails {
        LinkDetails { peer, keep_alive }
    }

    /// The client's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.get()
    }

    /// The keep-alive in effect, in seconds (as the client asked, within the limits).
    pub fn keep_alive(&self) -> u16 {
        self.keep_alive
    }
}

impl Link {
    /// A new link.
    pub fn new() -> Arc<Link> {
        Arc::new(Link::default())
    }

    /// A new link of a connection with `details`.
    pub fn with_details(details: Option<LinkDetails>) -> Arc<Link> {
        Arc::new(Link { details, ..Link::default() })
    }

    /// Wakes the connection task: deliveries are waiting.
    ///
    /// Called with the session locked. While the flag is set the connection has not drained
    /// yet, so a plain load suffices and the cache line stays shared instead of bouncing
    /// between the publisher's and the subscriber's cores.
    pub fn wake(&self) {
        if !self.pending.load(Ordering::Acquire) && !self.pending.swap(true, Ordering::SeqCst) {
            self.signal();
        }
    }

    /// Records a signal for [`Link::notified`] and wakes whoever waits: the running task, or
    /// the parked connection (the signal is then kept for the task that resumes it).
    fn signal(&self) {
        self.signalled.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Leaves `waker` to be woken by the next wake or kick, instead of a running task. Returns
    /// `false` (and keeps nothing) when one is already pending: the connection has work now.
    ///
    /// A wake or kick racing with this is not lost: each records itself (`pending`, `kick`)
    /// before it takes the lock, which this holds while it looks for them: either this sees
    /// the record, or the wake finds the waker.
    pub fn park(&self, waker: &Waker) -> bool {
        let mut parked = self.waker.lock();
        if self.kick.load(Ordering::SeqCst) != 0 || self.pending.load(Ordering::SeqCst) {
            return false;
        }
        *parked = Some(waker.clone());
        true
    }

    /// Takes the signal a wake or kick left, as [`Link::notified`] would without waiting:
    /// whether the connection has router work to look at.
    pub fn take_signal(&self) -> bool {
        self.signalled.swap(false, Ordering::SeqCst)
    }

    /// Forgets the parked waker: the connection runs again and waits on [`Link::notified`].
    pub fn unpark(&self) {
        drop(self.waker.lock().take());
    }

    /// Called by the connection with the session locked, after it took what was queued: the
    /// next enqueue (which also holds the lock) notifies again, so none is missed.
    pub fn clear_wake(&self) {
        self.pending.store(false, Ordering::Release);
    }

    /// Asks the connection to close for `reason`. The first request wins.
    pub fn kick(&self, reason: CloseReason) {
        let _ = self.kick.compare_exchange(0, reason.to_bits(), Ordering::SeqCst, Ordering::SeqCst);
        self.signal();
    }

    /// The connection's details, if it told them.
    pub fn details(&self) -> Option<LinkDetails> {
        self.details
    }

    /// The pending close request, if any.
    pub fn kicked(&self) -> Option<CloseReason> {
        CloseReason::from_bits(self.kick.load(Ordering::SeqCst))
    }

    /// Resolves on the next wake or kick (one sent while nobody waited is kept). One task
    /// waits at a time, the connection's own: a second waiter would take the first's place.
    pub fn notified(&self) -> Notified<'_> {
        Notified { link: self }
    }
}

/// The future of [`Link::notified`]. Dropped before it resolves, it may leave its task's
/// waker behind, which costs that task at most one spurious wake-up.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    link: &'a Link,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let link = self.link;
        if link.take_signal() {
            return Poll::Ready(());
        }
        *link.waker.lock() = Some(cx.waker().clone());
        // Looked at again once the waker is in place: a signal in between took no waker
        // (or the one before), so it is seen here.
        if link.take_signal() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// The state of a QoS 1/2 delivery that was sent and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflightPhase {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,
    /// PUBREL sent; waiting for PUBCOMP (QoS 2).
    AwaitingComp,
}

/// What a session sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A PUBLISH of this delivery.
    Publish {
        /// The delivery (shares the message).
        delivery: Delivery,
        /// Its packet identifier (0 for QoS 0).
        packet_id: u16,
        /// Whether it is sent again.
        dup: bool,
    },
    /// A PUBREL for a QoS 2 delivery being resumed.
    PubRel(u16),
}

/// A session shared between the router and its connection.
#[derive(Debug)]
pub struct SessionHandle {
    id: u64,
    client_id: Arc<str>,
    state: Mutex<SessionState>,
}

impl SessionHandle {
    pub(crate) fn new(id: u64, client_id: Arc<str>, state: SessionState) -> Arc<SessionHandle> {
        Arc::new(SessionHandle { id, client_id, state: Mutex::new(state) })
    }

    /// A process-unique identity of this session (a clean start makes a new one).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The client identifier.
    pub fn client_id(&self) -> &Arc<str> {
        &self.client_id
    }

    /// Locks the state.
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, SessionState> {
        self.state.lock()
    }

    /// Waits until the session's queue has drained below its low-water mark, or it went
    /// offline. Publishers wait here (bounded by a timeout of their own) instead of letting a
    /// slow subscriber's queue grow: back-pressure instead of loss.
    pub async fn drained(&self) {
        let notify = {
            let mut state = self.lock();
            if !state.is_congested() {
                return;
            }
            // Kept with the queue, which a congested session has: idle sessions hold none.
            Arc::clone(state.traffic().drained.get_or_insert_with(Default::default))
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before checking again, so a drain since the first check is not lost.
        notified.as_mut().enable();
        if !self.lock().is_congested() {
            return;
        }
        notified.await;
    }

    /// Called by the attached connection after it took deliveries from the queue: wakes
    /// publishers waiting on this session once the queue is low again.
    pub fn release_pressure(&self) {
        let mut state = self.lock();
        if state.is_pressed() && !state.is_congested() {
            state.relieve();
            let notify = state.drained();
            drop(state);
            if let Some(notify) = notify {
                notify.notify_waiters();
            }
        }
    }
}

/// The registered sessions, found by client identifier.
///
/// A set of the sessions themselves, hashed and compared by the client id each carries, so
/// that an entry is one pointer instead of a second pointer to the key beside it: about 20
/// bytes a session at the map's usual load instead of 55.
#[derive(Debug, Default)]
pub(crate) struct SessionMap(HashSet<ByClientId>);

#[derive(Debug)]
struct ByClientId(Arc<SessionHandle>);

impl PartialEq for ByClientId {
    fn eq(&self, other: &Self) -> bool {
        self.0.client_id() == other.0.client_id()
    }
}

impl Eq for ByClientId {}

impl Hash for ByClientId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, which lookups by `&str` use (`Borrow` requires it).
        self.0.client_id().as_ref().hash(state);
    }
}

impl Borrow<str> for ByClientId {
    fn borrow(&self) -> &str {
        self.0.client_id()
    }
}

impl SessionMap {
    /// The session of `client_id`.
    pub(crate) fn get(&self, client_id: &str) -> Option<&Arc<SessionHandle>> {
        self.0.get(client_id).map(|entry| &entry.0)
    }

    /// Registers `session` under its client id, in place of any other.
    pub(crate) fn insert(&mut self, session: Arc<SessionHandle>) {
        self.0.replace(ByClientId(session));
    }

    /// Forgets the session of `client_id`.
    pub(crate) fn remove(&mut self, client_id: &str) {
        self.0.remove(client_id);
    }

    /// Every registered session.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<SessionHandle>> {
        self.0.iter().map(|entry| &entry.0)
    }

    /// How many sessions are registered.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The mutable part of a session.
#[derive(Debug)]
pub struct SessionState {
    /// Protocol version of the last connection.
    pub protocol: ProtocolVersion,
    /// Seconds the session outlives a disconnect; 0 ends it with the connection.
    pub expiry_interval: u32,
    /// Subscriptions by filter as written (including any `$share/{group}/` prefix).
    pub subscriptions: BTreeMap<String, Subscription>,
    /// The attached connection, if online.
    pub link: Option<Arc<Link>>,
    /// When the last connection ended, in ms since the epoch, if offline (never 0, which lets
    /// the option take no room of its own).
    disconnected_at: Option<NonZeroU64>,
    /// Most QoS 1/2 deliveries in flight (the client's Receive Maximum).
    pub max_inflight: u16,
    /// The client's lifecycle-event version number.
    pub version: crate::events::Version,
    /// `None` while nothing is queued or in flight: an idle session stays small.
    traffic: Option<Box<Traffic>>,
    next_seq: u64,
    max_queued: u32,
}

/// What a session holds only while messages pass through it.
#[derive(Debug, Default)]
struct Traffic {
    queue: VecDeque<Delivery>,
    inflight: BTreeMap<u16, (Delivery, InflightPhase)>,
    /// Packet identifiers to send again first after a resume.
    resend: VecDeque<u16>,
    /// What publishers waiting for the queue to drain wait on; made by the first of them.
    drained: Option<Arc<Notify>>,
    /// Packet identifiers of QoS 2 publishes received and not yet released.
    incoming_qos2: BTreeSet<u16>,
    /// The next packet identifier to try (0 counts as 1).
    next_packet_id: u16,
    /// Deliveries dropped because the queue was full, since it was last empty.
    dropped: u32,
    /// Publishers wait for the queue to drain.
    pressed: bool,
    /// The queue did not drain while a publisher waited: nobody waits for it until it has.
    slow: bool,
}

impl Traffic {
    /// Whether nothing is queued, in flight or waited for.
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
            && self.inflight.is_empty()
            && self.resend.is_empty()
            && self.incoming_qos2.is_empty()
            && self.drained.as_ref().is_none_or(|notify| Arc::strong_count(notify) == 1)
    }
}

impl SessionState {
    /// A new, empty session.
    pub fn new(protocol: ProtocolVersion, expiry_interval: u32, max_queued: usize) -> SessionState {
        SessionState {
            protocol,
            expiry_interval,
            subscriptions: BTreeMap::new(),
            link: None,
            disconnected_at: None,
            max_inflight: 100,
            version: Default::default(),
            traffic: None,
            next_seq: 1,
            max_queued: u32::try_from(max_queued).unwrap_or(u32::MAX),
        }
    }

    /// Whether the session is stored and outlives its connection.
    pub fn is_persistent(&self) -> bool {
        self.expiry_interval > 0
    }

    /// Whether a connection is attached.
    pub fn is_online(&self) -> bool {
        self.link.is_some()
    }

    /// Deliveries waiting to be sent.
    pub fn queued(&self) -> usize {
        self.traffic.as_ref().map_or(0, |t| t.queue.len())
    }

    /// Deliveries sent and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        self.traffic.as_ref().map_or(0, |t| t.inflight.len())
    }

    /// Whether `message` (this very message, not an equal one) is still queued or in flight:
    /// a direct delivery waiting for its acknowledgement.
    pub fn holds(&self, message: &Arc<crate::message::Message>) -> bool {
        self.traffic.as_ref().is_some_and(|t| {
            t.queue.iter().any(|d| Arc::ptr_eq(&d.message, message))
                || t.inflight.values().any(|(d, _)| Arc::ptr_eq(&d.message, message))
        })
    }

    /// The queues, made on first use.
    fn traffic(&mut self) -> &mut Traffic {
        self.traffic.get_or_insert_with(Box::default)
    }

    /// Wakes every publisher waiting on this session (it went offline: it will not drain).
    pub(crate) fn wake_publishers(&self) {
        if let Some(notify) = self.drained() {
            notify.notify_waiters();
        }
    }

    /// Records a QoS 2 PUBLISH from the client as received and not yet released.
    pub fn receive_qos2(&mut self, packet_id: u16) {
        self.traffic().incoming_qos2.insert(packet_id);
    }

    /// Whether a QoS 2 PUBLISH with `packet_id` was received and not yet released.
    pub fn has_received_qos2(&self, packet_id: u16) -> bool {
        self.traffic.as_ref().is_some_and(|t| t.incoming_qos2.contains(&packet_id))
    }

    /// Releases a received QoS 2 PUBLISH (PUBREL); returns whether it was known.
    pub fn release_qos2(&mut self, packet_id: u16) -> bool {
        self.traffic.as_mut().is_some_and(|t| t.incoming_qos2.remove(&packet_id))
    }

    /// When the last connection ended, in ms since the epoch, if offline.
    pub fn disconnected_at_ms(&self) -> Option<u64> {
        self.disconnected_at.map(NonZeroU64::get)
    }

    /// Records that the last connection ended at `now_ms` (0 is taken as 1 ms later).
    pub fn set_disconnected_at(&mut self, now_ms: u64) {
        self.disconnected_at = Some(NonZeroU64::new(now_ms).unwrap_or(NonZeroU64::MIN));
    }

    /// Publishers no longer wait for this session, and it is no longer counted slow.
    fn relieve(&mut self) {
        if let Some(traffic) = &mut self.traffic {
            traffic.pressed = false;
            traffic.slow = false;
        }
    }

    /// What publishers waiting for this session wait on, if one ever waited.
    fn drained(&self) -> Option<Arc<Notify>> {
        self.traffic.as_ref()?.drained.clone()
    }

    /// Gives back the memory of an idle session's empty queues.
    pub fn shrink(&mut self) {
        if self.traffic.as_ref().is_some_and(|t| t.is_empty()) {
            self.traffic = None;
        }
    }

    /// Whether a connected session's queue is above its high-water mark (a tenth of the
    /// queue limit), or above the low-water mark (half that) while publishers already wait.
    pub fn is_congested(&self) -> bool {
        if !self.is_online() {
            return false;
        }
        let high = (self.max_queued as usize / 10).max(1);
        let mark = if self.traffic.as_ref().is_some_and(|t| t.pressed) { high / 2 } else { high };
        self.queued() >= mark
    }

    /// Whether publishers are waiting for this session to drain, or it was found slow.
    pub fn is_pressed(&self) -> bool {
        self.traffic.as_ref().is_some_and(|t| t.pressed || t.slow)
    }

    /// Marks the session as holding publishers back if it is congested; returns whether it
    /// is. A session marked slow holds nobody back until it has drained.
    pub fn press(&mut self) -> bool {
        if self.traffic.as_ref().is_some_and(|t| t.slow) {
            return false;
        }
        let congested = self.is_congested();
        if congested {
            // A congested session has a queue, so this makes nothing.
            self.traffic().pressed = true;
        }
        congested
    }

    /// Marks a session that did not drain while a publisher waited for it: publishers stop
    /// waiting for it (its queue limit applies instead) until it catches up, so one stuck
    /// subscriber cannot hold every publisher back.
    pub fn mark_slow(&mut self) {
        if self.is_congested() {
            self.traffic().slow = true;
        }
    }

    /// Deliveries dropped because the queue was full, since it was last empty.
    pub fn dropped(&self) -> u64 {
        self.traffic.as_ref().map_or(0, |t| u64::from(t.dropped))
    }

    /// Queues a delivery, storing it first if the session is persistent and the delivery is
    /// QoS 1 or 2. QoS 0 is not queued for an offline session. Returns whether it was queued.
    pub fn enqueue(
        &mut self,
        client_id: &Arc<str>,
        mut delivery: Delivery,
        ops: &mut Vec<Op>,
    ) -> bool {
        if !self.is_online() && delivery.qos == QoS::AtMostOnce {
            return false;
        }
        if self.queued() >= self.max_queued as usize {
            let traffic = self.traffic();
            traffic.dropped = traffic.dropped.saturating_add(1);
            if traffic.dropped.is_power_of_two() {
                tracing::warn!(
                    client_id = &**client_id,
                    dropped = traffic.dropped,
                    "session queue full; dropping"
                );
            }
            return false;
        }
        if self.is_persistent() && delivery.qos != QoS::AtMostOnce {
            let seq = self.next_seq;
            self.next_seq += 1;
            delivery.seq = Some(seq);
            ops.push(Op::PutMessage {
                client_id: Arc::clone(client_id),
                seq,
                message: persist::encode_delivery(&delivery),
            });
        }
        self.traffic().queue.push_back(delivery);
        if let Some(link) = &self.link {
            link.wake();
        }
        true
    }

    /// Takes the next queued delivery directly, for internal clients that have no in-flight
    /// window.
    pub fn pop_queued(&mut self) -> Option<Delivery> {
        self.traffic.as_mut()?.queue.pop_front()
    }

    /// Restores a stored delivery at startup, keeping its sequence number.
    pub fn restore(&mut self, delivery: Delivery) {
        if let Some(seq) = delivery.seq {
            self.next_seq = self.next_seq.max(seq + 1);
        }
        self.traffic().queue.push_back(delivery);
    }

    /// Prepares a resumed session for a new connection: every unacknowledged delivery is sent
    /// again first, PUBLISH with DUP set or PUBREL, in packet-identifier order.
    pub fn resume(&mut self, link: Arc<Link>, max_inflight: u16) {
        self.link = Some(link);
        self.disconnected_at = None;
        self.max_inflight = max_inflight.max(1);
        if let Some(traffic) = &mut self.traffic {
            traffic.resend = traffic.inflight.keys().copied().collect();
        }
    }

    /// Detaches the connection. QoS 0 deliveries still queued are dropped.
    pub fn detach(&mut self, now_ms: u64) {
        self.link = None;
        self.set_disconnected_at(now_ms);
        self.relieve();
        if let Some(traffic) = &mut self.traffic {
            traffic.queue.retain(|d| d.qos != QoS::AtMostOnce);
            traffic.resend.clear();
        }
        self.shrink();
    }

    /// The next packet to send, if the in-flight window allows one. Expired deliveries are
    /// dropped on the way (their stored copy removed through `ops`).
    pub fn poll_outgoing(
        &mut self,
        client_id: &Arc<str>,
        now_ms: u64,
        ops: &mut Vec<Op>,
    ) -> Option<Outgoing> {
        let max_inflight = usize::from(self.max_inflight);
        let traffic = self.traffic.as_mut()?;
        while let Some(packet_id) = traffic.resend.pop_front() {
            match traffic.inflight.get(&packet_id) {
                Some((delivery, InflightPhase::AwaitingAck)) => {
                    return Some(Outgoing::Publish {
                        delivery: delivery.clone(),
                        packet_id,
                        dup: true,
                    });
                }
                Some((_, InflightPhase::AwaitingComp)) => return Some(Outgoing::PubRel(packet_id)),
                None => {}
            }
        }
        loop {
            let front = traffic.queue.front()?;
            if front.message.is_expired(now_ms) {
                if let Some(d) = traffic.queue.pop_front() {
                    remove_stored(client_id, &d, ops);
                }
                continue;
            }
            if front.qos == QoS::AtMostOnce {
                let delivery = traffic.queue.pop_front()?;
                return Some(Outgoing::Publish { delivery, packet_id: 0, dup: false });
            }
            if traffic.inflight.len() >= max_inflight {
                return None;
            }
            let packet_id = allocate_packet_id(&mut traffic.next_packet_id, &traffic.inflight)?;
            let delivery = traffic.queue.pop_front()?;
            traffic.inflight.insert(packet_id, (delivery.clone(), InflightPhase::AwaitingAck));
            return Some(Outgoing::Publish { delivery, packet_id, dup: false });
        }
    }

    /// Removes the in-flight delivery `packet_id` if `finished` says its acknowledgement
    /// ends it; returns whether it did.
    fn finish(
        &mut self,
        client_id: &Arc<str>,
        packet_id: u16,
        ops: &mut Vec<Op>,
        finished: impl FnOnce(&Delivery, InflightPhase) -> bool,
    ) -> bool {
        let Some(traffic) = self.traffic.as_mut() else { return false };
        match traffic.inflight.get(&packet_id) {
            Some((delivery, phase)) if finished(delivery, *phase) => {
                if let Some((delivery, _)) = traffic.inflight.remove(&packet_id) {
                    remove_stored(client_id, &delivery, ops);
                }
                true
            }
            _ => false,
        }
    }

    /// Handles PUBACK (QoS 1) for `packet_id`. Returns whether it matched a delivery.
    pub fn handle_puback(
        &mut self,
        client_id: &Arc<str>,
        packet_id: u16,
        ops: &mut Vec<Op>,
    ) -> bool {
        self.finish(client_id, packet_id, ops, |delivery, phase| {
            phase == InflightPhase::AwaitingAck && delivery.qos == QoS::AtLeastOnce
        })
    }

    /// Handles PUBREC (QoS 2) for `packet_id`; returns whether a PUBREL should be sent.
    pub fn handle_pubrec(&mut self, packet_id: u16) -> bool {
        let Some(traffic) = self.traffic.as_mut() else { return false };
        match traffic.inflight.get_mut(&packet_id) {
            Some((delivery, phase)) if delivery.qos == QoS::ExactlyOnce => {
                *phase = InflightPhase::AwaitingComp;
                true
            }
            _ => false,
        }
    }

    /// Handles PUBCOMP (QoS 2) for `packet_id`.
    pub fn handle_pubcomp(
        &mut self,
        client_id: &Arc<str>,
        packet_id: u16,
        ops: &mut Vec<Op>,
    ) -> bool {
        self.finish(client_id, packet_id, ops, |_, phase| phase == InflightPhase::AwaitingComp)
    }

    /// A delivery that arrived in a PUBREC with an error code is finished, as if acknowledged.
    pub fn abandon(&mut self, client_id: &Arc<str>, packet_id: u16, ops: &mut Vec<Op>) {
        self.finish(client_id, packet_id, ops, |_, _| true);
    }
}

/// The next packet identifier not in flight, counting on from `next`.
fn allocate_packet_id(
    next: &mut u16,
    inflight: &BTreeMap<u16, (Delivery, InflightPhase)>,
) -> Option<u16> {
    for _ in 0..u16::MAX {
        let id = (*next).max(1);
        *next = if id == u16::MAX { 1 } else { id + 1 };
        if !inflight.contains_key(&id) {
            return Some(id);
        }
    }
    None
}

fn remove_stored(client_id: &Arc<str>, delivery: &Delivery, ops: &mut Vec<Op>) {
    if let Some(seq) = delivery.seq {
        ops.push(Op::DeleteMessage { client_id: Arc::clone(client_id), seq });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::message::Message;
    use bytes::Bytes;
    use ferrocore_mqtt::TopicName;

    /// The client identifier these tests' sessions belong to.
    fn cid() -> Arc<str> {
        Arc::from("c")
    }

    #[test]
    fn a_peer_address_keeps_its_ip_and_port_in_20_bytes() {
        assert_eq!(size_of::<PeerAddr>(), 20);
        assert_eq!(PeerAddr::new(None).get(), None);
        assert_eq!(PeerAddr::default().ip(), None);
        for text in ["127.0.0.1:1883", "[::1]:8883", "[2001:db8::7]:65535"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(PeerAddr::new(Some(addr)).get(), Some(addr));
            assert_eq!(PeerAddr::new(Some(addr)).ip(), Some(addr.ip()));
        }
    }

    fn delivery(qos: QoS) -> Delivery {
        let message =
            Message::new(TopicName::new("t").unwrap(), Bytes::from_static(b"x"), qos, false);
        Delivery {
            message: Arc::new(message),
            qos,
            retain: false,
            subscription_ids: vec![],
            seq: None,
        }
    }

    fn online(expiry: u32) -> SessionState {
        let mut s = SessionState::new(ProtocolVersion::V5, expiry, 10);
        s.resume(Link::new(), 2);
        s
    }

    #[test]
    fn offline_sessions_do_not_queue_qos0() {
        let mut s = SessionState::new(ProtocolVersion::V311, 60, 10);
        let mut ops = Vec::new();
        assert!(!s.enqueue(&cid(), delivery(QoS::AtMostOnce), &mut ops));
        assert!(s.enqueue(&cid(), delivery(QoS::AtLeastOnce), &mut ops));
        assert_eq!(s.queued(), 1);
        assert!(matches!(&ops[..], [Op::PutMessage { seq: 1, .. }]));
    }

    #[test]
    fn inflight_window_limits_qos1_and_puback_frees_it() {
        let mut s = online(0);
        let mut ops = Vec::new();
        for _ in 0..3 {
            s.enqueue(&cid(), delivery(QoS::AtLeastOnce), &mut ops);
        }
        assert!(ops.is_empty(), "clean sessions store nothing");
        let first = s.poll_outgoing(&cid(), 0, &mut ops).unwrap();
        let second = s.poll_outgoing(&cid(), 0, &mut ops).unwrap();
        assert!(s.poll_outgoing(&cid(), 0, &mut ops).is_none(), "window of 2 is full");
        let (Outgoing::Publish { packet_id: p1, .. }, Outgoing::Publish { packet_id: p2, .. }) =
            (first, second)
        else {
            panic!()
        };
        assert_ne!(p1, p2);
        assert!(s.handle_puback(&cid(), p1, &mut ops));
        assert!(!s.handle_puback(&cid(), p1, &mut ops), "second ack matches nothing");
        assert!(s.poll_outgoing(&cid(), 0, &mut ops).is_some());
    }

    #[test]
    fn resume_resends_unacked_with_dup_then_pubrel() {
        let mut s = online(60);
        let mut ops = Vec::new();
        s.enqueue(&cid(), delivery(QoS::AtLeastOnce), &mut ops);
        s.enqueue(&cid(), delivery(QoS::ExactlyOnce), &mut ops);
        let Some(Outgoing::Publish { packet_id: p1, .. }) = s.poll_outgoing(&cid(), 0, &mut ops)
        else {
            panic!()
        };
        let Some(Outgoing::Publish { packet_id: p2, .. }) = s.poll_outgoing(&cid(), 0, &mut ops)
        else {
            panic!()
        };
        assert!(s.handle_pubrec(p2));
        s.detach(5);
        s.resume(Link::new(), 10);
        let Some(Outgoing::Publish { packet_id, dup, .. }) = s.poll_outgoing(&cid(), 0, &mut ops)
        else {
            panic!()
        };
        assert!(dup);
        assert_eq!(packet_id, p1);
        assert_eq!(s.poll_outgoing(&cid(), 0, &mut ops), Some(Outgoing::PubRel(p2)));
        ops.clear();
        assert!(s.handle_pubcomp(&cid(), p2, &mut ops));
        assert!(matches!(&ops[..], [Op::DeleteMessage { seq: 2, .. }]));
    }

    #[test]
    fn an_idle_session_gives_its_queues_back_and_a_busy_one_keeps_them() {
        let mut s = online(0);
        assert!(s.traffic.is_none(), "a new session allocates no queues");
        let mut ops = Vec::new();
        assert!(s.enqueue(&cid(), delivery(QoS::AtLeastOnce), &mut ops));
        let Some(Outgoing::Publish { packet_id, .. }) = s.poll_outgoing(&cid(), 0, &mut ops) else {
            panic!("expected a publish");
        };
        s.shrink();
        assert!(s.traffic.is_some(), "a delivery in flight keeps them");
        assert!(s.handle_puback(&cid(), packet_id, &mut ops));
        s.shrink();
        assert!(s.traffic.is_none(), "nothing queued or in flight: given back");
        // And made again on the next delivery, which still goes out.
        assert!(s.enqueue(&cid(), delivery(QoS::AtLeastOnce), &mut ops));
        assert_eq!(s.queued(), 1);
        assert!(s.poll_outgoing(&cid(), 0, &mut ops).is_some());
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let mut s = online(0);
        let mut ops = Vec::new();
        for _ in 0..12 {
            s.enqueue(&cid(), delivery(QoS::AtMostOnce), &mut ops);
        }
        assert_eq!(s.queued(), 10);
        assert_eq!(s.dropped(), 2);
    }

    #[test]
    fn expired_messages_are_not_sent() {
        let mut s = online(0);
        let mut ops = Vec::new();
        let mut d = delivery(QoS::AtMostOnce);
        Arc::make_mut(&mut d.message).expires_at_ms = Some(100);
        s.enqueue(&cid(), d, &mut ops);
        assert!(s.poll_outgoing(&cid(), 100, &mut ops).is_none());
    }

    /// Counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(link: &Link, waker: &Waker) -> Poll<()> {
        let mut notified = link.notified();
        Pin::new(&mut notified).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_signal_is_taken_once_without_waiting() {
        let link = Link::new();
        assert!(!link.take_signal());
        link.wake();
        assert!(link.take_signal());
        assert!(!link.take_signal(), "taken");
        let count = Arc::new(Count(Default::default()));
        assert_eq!(poll(&link, &Waker::from(count)), Poll::Pending, "not left for a waiter");
        link.kick(CloseReason::TakenOver);
        assert!(link.take_signal());
    }

    #[test]
    fn a_link_keeps_a_signal_wakes_its_waiter_once_and_refuses_to_park_when_signalled() {
        let link = Link::new();
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(Arc::clone(&count));
        // A wake before anyone waits is kept for the next wait, once.
        link.wake();
        assert_eq!(poll(&link, &waker), Poll::Ready(()));
        assert_eq!(poll(&link, &waker), Poll::Pending);
        // While one is pending, wakes are coalesced; once cleared, the waiter is woken once.
        link.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "still pending: coalesced");
        link.clear_wake();
        link.wake();
        link.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&link, &waker), Poll::Ready(()));
        // Parking with a wake pending is refused; without, the parked waker gets the next one.
        assert!(!link.park(&waker));
        link.clear_wake();
        assert!(link.park(&waker));
        link.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        // A kick wakes whoever waits and refuses any later parking.
        link.clear_wake();
        assert_eq!(poll(&link, &waker), Poll::Ready(()), "the parked wake's signal is kept");
        assert_eq!(poll(&link, &waker), Poll::Pending);
        link.kick(CloseReason::TakenOver);
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        assert_eq!(link.kicked(), Some(CloseReason::TakenOver));
        link.kick(CloseReason::ServerShutdown);
        assert_eq!(link.kicked(), Some(CloseReason::TakenOver), "the first request wins");
        assert!(!link.park(&waker));
    }
}
