//! One client connection as a sans-I/O state machine.
//!
//! The driver (the gateway's connection task) feeds it decoded packets, wake-ups from the
//! router and the passing of time, and takes packets to write:
//!
//! - inputs: [`Connection::handle_packet`], [`Connection::handle_decode_error`],
//!   [`Connection::handle_wakeup`], [`Connection::handle_timeout`];
//! - outputs: [`Connection::poll_transmit`] (packets, some to be written only once the store
//!   has made them durable) and [`Connection::poll_timeout`] (the keep-alive deadline);
//! - end: an input returns `Err(CloseReason)`; the driver then calls [`Connection::close`],
//!   writes what `poll_transmit` still yields, and closes the socket.
//!
//! Time is always an argument (`now_ms`, milliseconds since the Unix epoch).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use ferrocore_mqtt::{
    AckProperties, ConnAck, ConnAckProperties, Connect, DecodeError, Disconnect, Packet,
    ProtocolVersion, PubAck, Publish, QoS, ReasonCode, SharedFilter, SubAck, Subscribe, TopicName,
    UnsubAck, Unsubscribe, Will,
};
use ferrocore_store::{Commit, Op};

use crate::authorize::{Authorize, ConnectAttributes};
use crate::broker::{Broker, ConnectRequest, PublishBatch};
use crate::close::CloseReason;
use crate::events::{self, ConnectionIdentity};
use crate::limits::{check_topic, client_may_publish};
use crate::message::{Delivery, Message};
use crate::session::{Link, LinkDetails, Outgoing, PeerAddr, SessionHandle, Subscription};

/// A packet to write, possibly only after a store commit. Kept small (the common cases
/// inline, the rest boxed): one is queued per packet on the hot path.
#[derive(Debug)]
pub enum Transmit {
    /// Write now.
    Packet(Box<Packet>),
    /// Write a successful PUBACK now (the common acknowledgement, without an allocation).
    PubAck(u16),
    /// Write this delivery now (encoded from the message's shared template when possible).
    Publish {
        /// The delivery.
        delivery: Delivery,
        /// Its packet identifier (0 for QoS 0).
        packet_id: u16,
        /// DUP flag.
        dup: bool,
        /// When it was taken from the session, for the expiry interval left.
        now_ms: u64,
    },
    /// Write once the commit resolves (an acknowledgement of something stored).
    AfterCommit(Commit, Box<Packet>),
}

/// A will whose delay has not passed when the connection closed.
#[derive(Debug)]
pub struct DelayedWill {
    /// The session it belongs to.
    pub session: Arc<SessionHandle>,
    /// The will message.
    pub message: Message,
    /// How long to wait, in milliseconds.
    pub delay_ms: u64,
}

/// A client connection.
#[derive(Debug)]
pub struct Connection {
    broker: Broker,
    peer: PeerAddr,
    active: Option<Active>,
    closed: bool,
    /// What is waiting to go out; boxed on first use and given back when the connection
    /// idles, so that an idle connection keeps one pointer instead of four empty queues.
    out: Option<Box<Outbox>>,
    /// Decides every MQTT action; `None` allows everything.
    authorizer: Option<Box<dyn Authorize>>,
    /// Whether the packet being handled came through `handle_packet_deferred`.
    defer: bool,
}

/// A connection's outputs while it is busy.
#[derive(Debug, Default)]
struct Outbox {
    transmit: VecDeque<Transmit>,
    ops: Vec<Op>,
    /// QoS 0 publishes routed by [`Connection::handle_packet_deferred`] and not queued yet;
    /// boxed on first use, so that connections that never publish stay small.
    batch: Option<Box<PublishBatch>>,
    /// A subscriber this client's publishes could not be queued for (back-pressure).
    congested: Option<Arc<SessionHandle>>,
}

impl Outbox {
    fn is_empty(&self) -> bool {
        self.transmit.is_empty()
            && self.ops.is_empty()
            && self.congested.is_none()
            && self.batch.as_ref().is_none_or(|batch| batch.is_empty())
    }
}

#[derive(Debug)]
struct Active {
    protocol: ProtocolVersion,
    session: Arc<SessionHandle>,
    link: Arc<Link>,
    keep_alive_ms: u32,
    last_activity_ms: u64,
    /// Boxed, like the other parts most connections lack: an idle connection stays small.
    will: Option<Box<(TopicName, Will)>>,
    connect_expiry: u32,
    // Boxed: 8 bytes instead of an empty map's 48 in every connection that uses no alias.
    #[allow(clippy::box_collection)]
    aliases: Option<Box<HashMap<u16, TopicName>>>,
    /// The client's Maximum Packet Size; `u32::MAX` when it set none.
    client_max_packet: u32,
    rate: Option<TokenBucket>,
    /// What this connection's lifecycle events share; `None` when they are off or the id
    /// cannot carry them. The rest of their identity is built when an event is.
    events: Option<EventIds>,
    /// Who the client authenticated as, if an authorizer knows.
    principal: Option<Arc<str>>,
}

impl Active {
    /// The client identifier (its session's).
    fn client_id(&self) -> &Arc<str> {
        self.session.client_id()
    }
}

/// The parts of a connection's lifecycle-event identity that are its own.
#[derive(Debug, Clone, Copy)]
struct EventIds {
    session_identifier: uuid::Uuid,
    /// Never 0, which lets `Option<EventIds>` take no room of its own.
    version_number: NonZeroU64,
}

/// Publishes allowed per second, refilled continuously.
#[derive(Debug)]
struct TokenBucket {
    per_second: NonZeroU32,
    /// Single precision: a fraction of a publish is all the precision a bucket needs.
    tokens: f32,
    updated_ms: u64,
}

impl TokenBucket {
    fn new(per_second: NonZeroU32, now_ms: u64) -> TokenBucket {
        TokenBucket { per_second, tokens: per_second.get() as f32, updated_ms: now_ms }
    }

    fn take(&mut self, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.updated_ms) as f32 / 1000.0;
        self.updated_ms = now_ms;
        let cap = self.per_second.get() as f32;
        self.tokens = (self.tokens + elapsed * cap).min(cap);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

type Step = Result<(), CloseReason>;

impl Connection {
    /// A connection that has not sent CONNECT yet.
    pub fn new(broker: Broker) -> Connection {
        Connection {
            broker,
            peer: PeerAddr::default(),
            active: None,
            closed: false,
            out: None,
            defer: false,
            authorizer: None,
        }
    }

    /// Has `authorizer` decide this connection's actions, from CONNECT on.
    pub fn set_authorizer(&mut self, authorizer: Box<dyn Authorize>) {
        self.authorizer = Some(authorizer);
    }

    /// A connection from `peer`, whose address its lifecycle events report.
    pub fn with_peer(broker: Broker, peer: Option<SocketAddr>) -> Connection {
        Connection { peer: PeerAddr::new(peer), ..Connection::new(broker) }
    }

    /// The protocol version, once CONNECT was accepted.
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        self.active.as_ref().map(|a| a.protocol)
    }

    /// The client identifier, once connected.
    pub fn client_id(&self) -> Option<&Arc<str>> {
        self.active.as_ref().map(Active::client_id)
    }

    /// The link the router wakes this connection through, once connected.
    pub fn link(&self) -> Option<Arc<Link>> {
        self.active.as_ref().map(|a| Arc::clone(&a.link))
    }

    /// The broker this connection belongs to.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The client's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.get()
    }

    /// Gives back the memory of empty queues; the driver calls this when the connection
    /// idles, so that thousands of idle connections do not each keep a burst's capacity.
    pub fn shrink(&mut self) {
        if self.out.as_ref().is_some_and(|out| out.is_empty()) {
            self.out = None;
        }
        if let Some(active) = &self.active {
            active.session.lock().shrink();
        }
    }

    /// Whether [`Connection::close`] has run.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A subscriber that a message from this client could not be queued for without passing
    /// its high-water mark. The driver should stop reading from this client until
    /// [`SessionHandle::drained`] resolves (or a timeout passes): back-pressure on publishers.
    pub fn take_congestion(&mut self) -> Option<Arc<SessionHandle>> {
        self.out.as_mut()?.congested.take()
    }

    /// Whether a congested subscriber is waiting to be taken by the driver.
    pub fn is_congested(&self) -> bool {
        self.out.as_ref().is_some_and(|out| out.congested.is_some())
    }

    /// The next packet to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.as_mut()?.transmit.pop_front()
    }

    /// When the keep-alive runs out (1.5 times the keep-alive after the last packet).
    pub fn poll_timeout(&self) -> Option<u64> {
        let active = self.active.as_ref()?;
        (active.keep_alive_ms > 0)
            .then(|| active.last_activity_ms + u64::from(active.keep_alive_ms) * 3 / 2)
    }

    /// Handles the passing of time.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Step {
        match self.poll_timeout() {
            Some(deadline) if now_ms >= deadline => Err(CloseReason::KeepAliveTimeout),
            _ => Ok(()),
        }
    }

    /// Handles bytes that did not decode: the client is told why (MQTT 5) and disconnected.
    pub fn handle_decode_error(&mut self, error: DecodeError) -> CloseReason {
        let code = error.reason_code();
        if self.active.is_none() {
            // Before CONNECT was accepted, an unknown protocol level is answered with a 3.1.1
            // CONNACK (return code 1), which every client version can read.
            if let DecodeError::UnsupportedProtocolVersion(_) | DecodeError::InvalidProtocolName =
                error
            {
                self.send(Packet::ConnAck(ConnAck {
                    session_present: false,
                    code: ReasonCode::UnsupportedProtocolVersion,
                    properties: ConnAckProperties::default(),
                }));
            }
        }
        CloseReason::ClientError(code)
    }

    /// Handles a packet from the client.
    pub fn handle_packet(&mut self, packet: Packet, now_ms: u64) -> Step {
        self.defer = false;
        self.handle_any(packet, now_ms)
    }

    /// Handles a packet from the client that is followed by more already received: a QoS 0
    /// PUBLISH without RETAIN may be held to be queued together with the next ones (one lock
    /// round trip and one wake per subscriber for the run). The caller calls
    /// [`Connection::flush_publishes`] once it has handled what it received.
    pub fn handle_packet_deferred(&mut self, packet: Packet, now_ms: u64) -> Step {
        self.defer = true;
        let step = self.handle_any(packet, now_ms);
        self.defer = false;
        if self.out.as_ref().and_then(|out| out.batch.as_ref()).is_some_and(|b| b.is_full()) {
            self.flush_publishes();
        }
        step
    }

    /// Queues the QoS 0 publishes held by [`Connection::handle_packet_deferred`].
    pub fn flush_publishes(&mut self) {
        let Some(out) = self.out.as_mut() else { return };
        let Some(batch) = out.batch.as_mut().filter(|b| !b.is_empty()) else { return };
        if let Some(congested) = self.broker.flush_publishes(batch) {
            out.congested.get_or_insert(congested);
        }
    }

    fn handle_any(&mut self, packet: Packet, now_ms: u64) -> Step {
        if !matches!(&packet, Packet::Publish(p) if self.defer && p.qos == QoS::AtMostOnce) {
            // Anything else keeps its order after the publishes held so far.
            self.flush_publishes();
        }
        let Some(active) = self.active.as_mut() else {
            return match packet {
                Packet::Connect(connect) => {
                    self.handle_connect(*connect, now_ms)?;
                    // A resumed session may hold deliveries queued while it was offline.
                    self.handle_wakeup(now_ms)
                }
                _ => Err(CloseReason::ClientError(ReasonCode::ProtocolError)),
            };
        };
        active.last_activity_ms = now_ms;
        let result = match packet {
            Packet::Publish(publish) => self.handle_publish(publish, now_ms),
            Packet::PubAck(ack) => {
                let (session, client_id) = self.session()?;
                session.lock().handle_puback(&client_id, ack.packet_id, &mut self.out().ops);
                Ok(())
            }
            Packet::PubRec(ack) => self.handle_pubrec(ack),
            Packet::PubRel(ack) => {
                let active = self.active()?;
                let known = active.session.lock().release_qos2(ack.packet_id);
                let mut comp = PubAck::success(ack.packet_id);
                if !known {
                    comp.reason = ReasonCode::PacketIdentifierNotFound;
                }
                self.send(Packet::PubComp(comp));
                Ok(())
            }
            Packet::PubComp(ack) => {
                let (session, client_id) = self.session()?;
                session.lock().handle_pubcomp(&client_id, ack.packet_id, &mut self.out().ops);
                Ok(())
            }
            Packet::Subscribe(subscribe) => self.handle_subscribe(subscribe, now_ms),
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(unsubscribe, now_ms),
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(disconnect) => self.handle_disconnect(disconnect),
            Packet::Connect(_) => {
                tracing::info!("second CONNECT on a connection");
                Err(CloseReason::ClientError(ReasonCode::ProtocolError))
            }
            Packet::Auth(_) => {
                tracing::info!("AUTH without an authentication method");
                Err(CloseReason::ClientError(ReasonCode::ProtocolError))
            }
            other @ (Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp) => {
                tracing::info!(packet = other.name(), "client sent a server-only packet");
                Err(CloseReason::ClientError(ReasonCode::ProtocolError))
            }
        };
        result?;
        self.handle_wakeup(now_ms)
    }

    /// Moves deliveries waiting in the session to the transmit queue, up to the in-flight
    /// window, and notices a close request (takeover, shutdown, operator).
    pub fn handle_wakeup(&mut self, now_ms: u64) -> Step {
        let Some(active) = self.active.as_ref() else { return Ok(()) };
        if let Some(reason) = active.link.kicked() {
            return Err(reason);
        }
        let session = Arc::clone(&active.session);
        let client_id = Arc::clone(active.client_id());
        let protocol = active.protocol;
        let limited = active.client_max_packet != u32::MAX;
        let max = usize::try_from(active.client_max_packet).unwrap_or(usize::MAX);
        let mut state = session.lock();
        let outbox = self.out.get_or_insert_with(Box::default);
        while let Some(out) = state.poll_outgoing(&client_id, now_ms, &mut outbox.ops) {
            let transmit = match out {
                Outgoing::Publish { delivery, packet_id, dup } => {
                    // A packet larger than the client accepts is discarded as if delivered
                    // [MQTT-3.1.2-25].
                    if limited && delivery.encoded_len(protocol, now_ms).map_or(true, |n| n > max) {
                        if delivery.qos != QoS::AtMostOnce {
                            state.abandon(&client_id, packet_id, &mut outbox.ops);
                        }
                        tracing::debug!(%client_id, "dropping a message larger than the client's maximum packet size");
                        continue;
                    }
                    if let Some(authorizer) = self.authorizer.as_mut()
                        && !authorizer.receive(delivery.message.topic.as_str())
                    {
                        // iot:Receive denied: the message is not delivered, and the client is
                        // not told (AWS IoT Core).
                        if delivery.qos != QoS::AtMostOnce {
                            state.abandon(&client_id, packet_id, &mut outbox.ops);
                        }
                        tracing::debug!(%client_id, topic = %delivery.message.topic, "iot:Receive denied");
                        continue;
                    }
                    Transmit::Publish { delivery, packet_id, dup, now_ms }
                }
                Outgoing::PubRel(packet_id) => {
                    Transmit::Packet(Box::new(Packet::PubRel(PubAck::success(packet_id))))
                }
            };
            outbox.transmit.push_back(transmit);
        }
        // Under the session lock, after draining: a later enqueue wakes this connection again.
        if let Some(active) = self.active.as_ref() {
            active.link.clear_wake();
        }
        let pressed = state.is_pressed();
        drop(state);
        if pressed {
            session.release_pressure();
        }
        self.flush_ops();
        Ok(())
    }

    /// Ends the connection: tells an MQTT 5 client why (unless it left by itself), publishes
    /// the will if the reason calls for one, and detaches the session. Returns a will that must
    /// wait for its delay. Calling it twice does nothing the second time.
    pub fn close(&mut self, reason: CloseReason, now_ms: u64) -> Option<DelayedWill> {
        if self.closed {
            return None;
        }
        self.closed = true;
        self.flush_publishes();
        let mut active = self.active.take()?;
        if active.protocol == ProtocolVersion::V5
            && let Some(code) = reason.disconnect_code()
        {
            self.send(Packet::Disconnect(Disconnect::new(code)));
        }
        tracing::info!(client_id = %active.client_id(), reason = reason.lifecycle_name(), "client disconnected");
        let mut delayed = None;
        if let Some((topic, will)) = active.will.take().filter(|_| reason.sends_will()).map(|w| *w)
        {
            let delay = will.properties.will_delay_interval.unwrap_or(0).min(active.connect_expiry);
            let message = will_message(topic, will, active.client_id(), now_ms);
            if delay == 0 {
                self.broker.publish(message, now_ms);
            } else {
                delayed = Some(DelayedWill {
                    session: Arc::clone(&active.session),
                    message,
                    delay_ms: u64::from(delay) * 1000,
                });
            }
        }
        self.flush_ops();
        self.broker.disconnect(&active.session, &active.link, now_ms);
        if active.events.is_some() {
            let by_client = matches!(
                reason,
                CloseReason::ClientDisconnect | CloseReason::ClientDisconnectWithWill
            );
            if let Some(id) = self.presence_identity(&active, "disconnected")
                && let Some(message) =
                    events::disconnected(&id, reason.lifecycle_name(), by_client, now_ms)
            {
                self.broker.publish(message, now_ms);
            }
        }
        delayed
    }

    fn active(&self) -> Result<&Active, CloseReason> {
        self.active.as_ref().ok_or(CloseReason::ClientError(ReasonCode::ProtocolError))
    }

    fn session(&self) -> Result<(Arc<SessionHandle>, Arc<str>), CloseReason> {
        let active = self.active()?;
        Ok((Arc::clone(&active.session), Arc::clone(active.client_id())))
    }

    fn out(&mut self) -> &mut Outbox {
        self.out.get_or_insert_with(Box::default)
    }

    fn send(&mut self, packet: Packet) {
        self.out().transmit.push_back(Transmit::Packet(Box::new(packet)));
    }

    fn send_after(&mut self, commit: Option<Commit>, packet: Packet) {
        self.out().transmit.push_back(match commit {
            Some(commit) => Transmit::AfterCommit(commit, Box::new(packet)),
            None => match packet {
                Packet::PubAck(ack)
                    if ack.reason == ReasonCode::Success
                        && ack.properties == AckProperties::default() =>
                {
                    Transmit::PubAck(ack.packet_id)
                }
                other => Transmit::Packet(Box::new(other)),
            },
        });
    }

    fn flush_ops(&mut self) {
        if let Some(out) = self.out.as_mut().filter(|out| !out.ops.is_empty()) {
            self.broker.persist(std::mem::take(&mut out.ops));
        }
    }

    fn refuse_connect(&mut self, code: ReasonCode, why: &str) -> Step {
        tracing::info!(reason = ?code, why, "refusing CONNECT");
        self.send(Packet::ConnAck(ConnAck {
            session_present: false,
            code,
            properties: ConnAckProperties {
                reason_string: Some(why.to_owned()),
                ..ConnAckProperties::default()
            },
        }));
        Err(CloseReason::ClientError(code))
    }

    fn handle_connect(&mut self, connect: Connect, now_ms: u64) -> Step {
        let config = self.broker.config().clone();
        let v5 = connect.protocol == ProtocolVersion::V5;
        if connect.properties.authentication_method.is_some() {
            return self.refuse_connect(
                ReasonCode::BadAuthenticationMethod,
                "enhanced authentication is not supported",
            );
        }
        let mut assigned = None;
        let client_id: Arc<str> = if connect.client_id.is_empty() {
            if !v5 && !connect.clean_start {
                return self.refuse_connect(
                    ReasonCode::ClientIdentifierNotValid,
                    "an empty client identifier needs a clean session",
                );
            }
            let id = format!("ferrocore-{:016x}", rand::random::<u64>());
            assigned = Some(id.clone());
            Arc::from(id)
        } else {
            Arc::from(connect.client_id.as_str())
        };
        if client_id.len() > config.max_client_id_length {
            return self.refuse_connect(
                ReasonCode::ClientIdentifierNotValid,
                "client identifier longer than allowed",
            );
        }
        let attributes = ConnectAttributes {
            persistent: if v5 {
                connect.properties.session_expiry_interval.unwrap_or(0) > 0
            } else {
                !connect.clean_start
            },
            last_will: connect.will.is_some(),
        };
        if let Some(authorizer) = self.authorizer.as_mut()
            && !authorizer.connect(&client_id, attributes)
        {
            tracing::info!(%client_id, principal = authorizer.principal(), "iot:Connect denied");
            return self.refuse_connect(ReasonCode::NotAuthorized, "not authorized");
        }
        let will = match connect.will {
            Some(will) => match self.check_will(&will) {
                Ok(topic) => Some(Box::new((topic, will))),
                Err((code, why)) => return self.refuse_connect(code, why),
            },
            None => None,
        };
        let requested_expiry = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            config.session_expiry_interval
        };
        let expiry = requested_expiry.min(config.session_expiry_interval);
        let max_inflight = if v5 {
            connect.properties.receive_maximum.unwrap_or(u16::MAX).min(config.max_inflight)
        } else {
            config.max_inflight
        };
        let keep_alive = config.effective_keep_alive(connect.keep_alive);
        let attached = self.broker.connect(ConnectRequest {
            client_id: Arc::clone(&client_id),
            clean_start: connect.clean_start,
            expiry_interval: expiry,
            protocol: connect.protocol,
            max_inflight,
            details: Some(LinkDetails::new(self.peer, keep_alive)),
        });
        let mut properties = ConnAckProperties::default();
        if v5 {
            properties.assigned_client_identifier = assigned;
            properties.receive_maximum = Some(config.receive_maximum);
            if config.max_qos() != QoS::ExactlyOnce {
                properties.maximum_qos = Some(config.maximum_qos.min(1));
            }
            properties.maximum_packet_size = u32::try_from(config.max_packet_size()).ok();
            properties.topic_alias_maximum = Some(config.topic_alias_maximum);
            if keep_alive != connect.keep_alive {
                properties.server_keep_alive = Some(keep_alive);
            }
            if expiry != requested_expiry {
                properties.session_expiry_interval = Some(expiry);
            }
        }
        tracing::info!(%client_id, protocol = ?connect.protocol, clean_start = connect.clean_start,
            session_present = attached.session_present, keep_alive, "client connected");
        let connack = Packet::ConnAck(ConnAck {
            session_present: attached.session_present,
            code: ReasonCode::Success,
            properties,
        });
        let client_max_packet = connect.properties.maximum_packet_size.unwrap_or(u32::MAX);
        let events =
            (config.lifecycle_events && events::has_events(&client_id)).then(|| EventIds {
                session_identifier: events::session_identifier(),
                version_number: NonZeroU64::new(attached.session.lock().version.next(now_ms))
                    .unwrap_or(NonZeroU64::MIN),
            });
        if let Some(authorizer) = self.authorizer.as_mut() {
            authorizer.attached(&attached.link);
        }
        self.active = Some(Active {
            protocol: connect.protocol,
            session: attached.session,
            link: attached.link,
            keep_alive_ms: u32::from(keep_alive) * 1000,
            last_activity_ms: now_ms,
            will,
            connect_expiry: expiry,
            aliases: None,
            client_max_packet,
            rate: config
                .publish_rate_limit()
                .and_then(NonZeroU32::new)
                .map(|rate| TokenBucket::new(rate, now_ms)),
            events,
            principal: self.authorizer.as_ref().map(|a| Arc::from(a.principal())),
        });
        if let Some(active) = self.active.as_ref()
            && let Some(id) = self.presence_identity(active, "connected")
            && let Some(message) = events::connected(&id, now_ms)
        {
            self.broker.publish(message, now_ms);
        }
        self.send_after(attached.commit, connack);
        Ok(())
    }

    fn check_will(&mut self, will: &Will) -> Result<TopicName, (ReasonCode, &'static str)> {
        let config = self.broker.config();
        if will.qos > config.max_qos() {
            return Err((ReasonCode::QoSNotSupported, "will QoS not supported"));
        }
        if will.payload.len() > config.max_payload_size {
            return Err((ReasonCode::PacketTooLarge, "will payload too large"));
        }
        let invalid = (ReasonCode::TopicNameInvalid, "invalid will topic");
        let topic = TopicName::new(&will.topic).map_err(|_| invalid)?;
        check_topic(config, topic.as_str()).map_err(|_| invalid)?;
        if !client_may_publish(config, topic.as_str()) || (will.retain && topic.is_system()) {
            return Err((ReasonCode::NotAuthorized, "will topic is reserved"));
        }
        if let Some(authorizer) = self.authorizer.as_mut()
            && !authorizer.publish(topic.as_str(), will.retain)
        {
            return Err((ReasonCode::NotAuthorized, "not authorized to publish the will"));
        }
        Ok(topic)
    }

    /// Refuses one PUBLISH: an MQTT 5 QoS 1/2 publish gets an acknowledgement with `code`,
    /// an MQTT 5 QoS 0 publish is dropped with a log line, and an MQTT 3.1.1 client, which
    /// has no way to hear a refusal, is disconnected as AWS IoT Core does.
    fn refuse_publish(
        &mut self,
        publish: &Publish,
        code: ReasonCode,
        why: &str,
        close: CloseReason,
    ) -> Step {
        let active = self.active()?;
        tracing::info!(client_id = %active.client_id(), topic = publish.topic, why, "refusing PUBLISH");
        if active.protocol == ProtocolVersion::V311 {
            return Err(close);
        }
        let ack = PubAck {
            packet_id: publish.packet_id,
            reason: code,
            properties: AckProperties {
                reason_string: Some(why.to_owned()),
                ..AckProperties::default()
            },
        };
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(Packet::PubAck(ack)),
            QoS::ExactlyOnce => self.send(Packet::PubRec(ack)),
        }
        Ok(())
    }

    fn handle_publish(&mut self, mut publish: Publish, now_ms: u64) -> Step {
        let config = self.broker.config().clone();
        let active =
            self.active.as_mut().ok_or(CloseReason::ClientError(ReasonCode::ProtocolError))?;
        if publish.qos > config.max_qos() {
            tracing::info!(client_id = %active.client_id(), "QoS 2 PUBLISH while QoS 2 is not supported");
            return Err(CloseReason::ClientError(ReasonCode::QoSNotSupported));
        }
        if publish.payload.len() > config.max_payload_size {
            tracing::info!(client_id = %active.client_id(), size = publish.payload.len(), "payload too large");
            return Err(CloseReason::ClientError(ReasonCode::PacketTooLarge));
        }
        // Topic aliases (MQTT 5, client to server).
        if let Some(alias) = publish.properties.topic_alias.take() {
            if alias == 0 || alias > config.topic_alias_maximum {
                tracing::info!(client_id = %active.client_id(), alias, "topic alias out of range");
                return Err(CloseReason::ClientError(ReasonCode::TopicAliasInvalid));
            }
            if publish.topic.is_empty() {
                match active.aliases.as_ref().and_then(|aliases| aliases.get(&alias)) {
                    Some(topic) => publish.topic = topic.to_string(),
                    None => {
                        tracing::info!(client_id = %active.client_id(), alias, "unknown topic alias");
                        return Err(CloseReason::ClientError(ReasonCode::ProtocolError));
                    }
                }
            } else if let Ok(topic) = TopicName::new(&publish.topic) {
                active.aliases.get_or_insert_default().insert(alias, topic);
            }
        }
        let Ok(topic) = TopicName::new(&publish.topic) else {
            return Err(CloseReason::ClientError(ReasonCode::TopicNameInvalid));
        };
        if let Some(bucket) = active.rate.as_mut()
            && !bucket.take(now_ms)
        {
            return self.refuse_publish(
                &publish,
                ReasonCode::QuotaExceeded,
                "publish rate limit exceeded",
                CloseReason::Throttled(ReasonCode::MessageRateTooHigh),
            );
        }
        if let Err(error) = check_topic(&config, topic.as_str()) {
            return self.refuse_publish(
                &publish,
                ReasonCode::TopicNameInvalid,
                &error.to_string(),
                CloseReason::ClientError(ReasonCode::TopicNameInvalid),
            );
        }
        if !client_may_publish(&config, topic.as_str()) || (publish.retain && topic.is_system()) {
            return self.refuse_publish(
                &publish,
                ReasonCode::NotAuthorized,
                "reserved topic",
                CloseReason::Forbidden(ReasonCode::NotAuthorized),
            );
        }
        if let Some(authorizer) = self.authorizer.as_mut()
            && !authorizer.publish(topic.as_str(), publish.retain)
        {
            return self.refuse_publish(
                &publish,
                ReasonCode::NotAuthorized,
                "not authorized",
                CloseReason::Forbidden(ReasonCode::NotAuthorized),
            );
        }
        let active = self.active()?;
        let client_id = Arc::clone(active.client_id());
        let active_principal = active.principal.clone();
        if publish.qos == QoS::ExactlyOnce
            && active.session.lock().has_received_qos2(publish.packet_id)
        {
            // A resent QoS 2 PUBLISH that was already routed: acknowledge again, route once.
            self.send(Packet::PubRec(PubAck::success(publish.packet_id)));
            return Ok(());
        }
        let mut properties = publish.properties;
        let expires_at_ms =
            properties.message_expiry_interval.take().map(|s| now_ms + u64::from(s) * 1000);
        properties.subscription_identifiers.clear();
        let message = Message {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties,
            publisher: Some(client_id),
            principal: active_principal,
            source_ip: self.peer.ip(),
            expires_at_ms,
            templates: Default::default(),
        };
        let published = if self.defer {
            let out = self.out.get_or_insert_with(Box::default);
            let batch = out.batch.get_or_insert_with(Box::default);
            match self.broker.publish_deferred(message, now_ms, batch) {
                Some(published) => published,
                None => return Ok(()),
            }
        } else {
            // `handle_any` flushed what was held before it came here.
            self.broker.publish(message, now_ms)
        };
        if published.congested.is_some() {
            self.out().congested = published.congested;
        }
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.send_after(
                    published.commit,
                    Packet::PubAck(PubAck::success(publish.packet_id)),
                );
            }
            QoS::ExactlyOnce => {
                self.active()?.session.lock().receive_qos2(publish.packet_id);
                self.send_after(
                    published.commit,
                    Packet::PubRec(PubAck::success(publish.packet_id)),
                );
            }
        }
        Ok(())
    }

    fn handle_pubrec(&mut self, ack: PubAck) -> Step {
        let (session, client_id) = self.session()?;
        let mut state = session.lock();
        if ack.reason.is_error() {
            state.abandon(&client_id, ack.packet_id, &mut self.out().ops);
            return Ok(());
        }
        let known = state.handle_pubrec(ack.packet_id);
        drop(state);
        let mut rel = PubAck::success(ack.packet_id);
        if !known {
            rel.reason = ReasonCode::PacketIdentifierNotFound;
        }
        self.send(Packet::PubRel(rel));
        Ok(())
    }

    fn handle_subscribe(&mut self, subscribe: Subscribe, now_ms: u64) -> Step {
        let config = self.broker.config().clone();
        let active = self.active()?;
        let v5 = active.protocol == ProtocolVersion::V5;
        let client_id = Arc::clone(active.client_id());
        let session = Arc::clone(&active.session);
        if let Some(max) = config.filters_per_subscribe_limit()
            && subscribe.filters.len() > max
        {
            tracing::info!(%client_id, filters = subscribe.filters.len(), max, "too many filters in one SUBSCRIBE");
            return Err(CloseReason::ClientError(ReasonCode::QuotaExceeded));
        }
        let mut reasons = Vec::with_capacity(subscribe.filters.len());
        let mut accepted = Vec::new();
        let mut held = session.lock().subscriptions.len();
        for (raw, options) in subscribe.filters {
            let parsed = match SharedFilter::parse(&raw) {
                Ok(parsed) => parsed,
                Err(_) => {
                    reasons.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            if parsed.group.is_some() && options.no_local {
                tracing::info!(%client_id, filter = raw, "No Local on a shared subscription");
                return Err(CloseReason::ClientError(ReasonCode::ProtocolError));
            }
            if let Err(error) = check_topic(&config, &raw) {
                tracing::info!(%client_id, filter = raw, %error, "refusing subscription");
                if !v5 {
                    return Err(CloseReason::ClientError(ReasonCode::TopicFilterInvalid));
                }
                reasons.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            if let Some(authorizer) = self.authorizer.as_mut()
                && !authorizer.subscribe(&raw)
            {
                tracing::info!(%client_id, filter = raw, "iot:Subscribe denied");
                reasons.push(ReasonCode::NotAuthorized);
                continue;
            }
            let exists = session.lock().subscriptions.contains_key(&raw);
            if !exists
                && let Some(max) = config.subscriptions_limit()
                && held >= max
            {
                tracing::info!(%client_id, filter = raw, max, "subscription quota exceeded");
                if !v5 {
                    return Err(CloseReason::Throttled(ReasonCode::QuotaExceeded));
                }
                reasons.push(ReasonCode::QuotaExceeded);
                continue;
            }
            if !exists {
                held += 1;
            }
            let mut options = options;
            options.qos = self.broker.grant(options.qos);
            reasons.push(ReasonCode::granted(options.qos));
            let id = subscribe.properties.subscription_identifier;
            accepted.push((raw, parsed, Subscription { options, id }));
        }
        let topics: Vec<String> = accepted.iter().map(|(raw, _, _)| raw.clone()).collect();
        let (_, commit) = if accepted.is_empty() {
            (Vec::new(), None)
        } else {
            self.broker.subscribe(&session, accepted, now_ms)
        };
        self.publish_subscription_event(true, &topics, now_ms);
        let suback = Packet::SubAck(SubAck {
            packet_id: subscribe.packet_id,
            reasons,
            properties: AckProperties::default(),
        });
        self.send_after(commit, suback);
        Ok(())
    }

    fn handle_unsubscribe(&mut self, unsubscribe: Unsubscribe, now_ms: u64) -> Step {
        let session = Arc::clone(&self.active()?.session);
        let existed = self.broker.unsubscribe(&session, &unsubscribe.filters);
        let removed: Vec<String> = unsubscribe
            .filters
            .iter()
            .zip(&existed)
            .filter(|(_, e)| **e)
            .map(|(f, _)| f.clone())
            .collect();
        self.publish_subscription_event(false, &removed, now_ms);
        let reasons = existed
            .into_iter()
            .map(|e| if e { ReasonCode::Success } else { ReasonCode::NoSubscriptionExisted })
            .collect();
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: unsubscribe.packet_id,
            reasons,
            properties: AckProperties::default(),
        }));
        Ok(())
    }

    /// The identity this connection's lifecycle events carry, if it has them.
    fn event_identity(&self, active: &Active) -> Option<ConnectionIdentity> {
        let ids = active.events?;
        Some(ConnectionIdentity {
            client_id: Arc::clone(active.client_id()),
            session_identifier: ids.session_identifier,
            principal_identifier: match active.principal.as_deref() {
                Some(principal) => std::borrow::Cow::Owned(principal.to_owned()),
                None => std::borrow::Cow::Borrowed("anonymous"),
            },
            ip_address: self.peer.ip(),
            version_number: ids.version_number.get(),
        })
    }

    /// The identity for a presence event of `kind`, if the connection has lifecycle events
    /// and someone would receive this one: nobody listening, nothing is built.
    fn presence_identity(&self, active: &Active, kind: &str) -> Option<ConnectionIdentity> {
        active.events?;
        let topic = events::presence_topic(kind, active.client_id());
        if !self.broker.has_subscribers(&topic) {
            return None;
        }
        self.event_identity(active)
    }

    fn publish_subscription_event(&self, subscribed: bool, topics: &[String], now_ms: u64) {
        let Some(id) = self.active.as_ref().and_then(|a| self.event_identity(a)) else { return };
        if topics.is_empty() {
            return;
        }
        if let Some(message) = events::subscriptions(&id, subscribed, topics, now_ms) {
            self.broker.publish(message, now_ms);
        }
    }

    fn handle_disconnect(&mut self, disconnect: Disconnect) -> Step {
        let active = self.active()?;
        if let Some(expiry) = disconnect.properties.session_expiry_interval {
            if active.connect_expiry == 0 && expiry > 0 {
                // [MQTT-3.14.2-2]: a session that was to end cannot be made persistent here.
                return Err(CloseReason::ClientError(ReasonCode::ProtocolError));
            }
            let capped = expiry.min(self.broker.config().session_expiry_interval);
            active.session.lock().expiry_interval = capped;
        }
        Err(match disconnect.reason {
            ReasonCode::DisconnectWithWill => CloseReason::ClientDisconnectWithWill,
            _ => CloseReason::ClientDisconnect,
        })
    }
}

fn will_message(topic: TopicName, will: Will, client_id: &Arc<str>, now_ms: u64) -> Message {
    let p = will.properties;
    let mut message = Message::new(topic, will.payload, will.qos, will.retain);
    message.properties.payload_format_indicator = p.payload_format_indicator;
    message.properties.content_type = p.content_type;
    message.properties.response_topic = p.response_topic;
    message.properties.correlation_data = p.correlation_data;
    message.properties.user_properties = p.user_properties;
    message.expires_at_ms = p.message_expiry_interval.map(|s| now_ms + u64::from(s) * 1000);
    message.publisher = Some(Arc::clone(client_id));
    message
}
