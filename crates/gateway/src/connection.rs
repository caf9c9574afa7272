//! The task that drives one MQTT connection over any byte stream.
//!
//! Loop: write what is ready, then wait for the first of: bytes from the socket, a wake-up
//! from the router, the head store commit, the keep-alive deadline, or shutdown. Packets that
//! acknowledge stored data wait for their commit; everything behind them waits too, so the
//! client sees acknowledgements in order.
//!
//! A plain-TCP connection that is quiet does without the loop: [`Driver::step_now`] does what
//! it can at once on its non-blocking socket, and [`crate::park`] keeps it between steps.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use ferrocore_broker::{
    Authorize, Broker, CloseReason, Connection, DelayedWill, SessionHandle, Transmit, now_ms,
};
use ferrocore_mqtt::{Decoder, Packet, ProtocolVersion, PubAck};
use ferrocore_store::Commit;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::sync::CancellationToken;

/// Size of the per-thread scratch buffer sockets are read into.
const READ_SCRATCH: usize = 64 * 1024;

/// Initial size of the per-thread buffer packets are encoded into before they are written.
const WRITE_SCRATCH_SIZE: usize = 64 * 1024;

thread_local! {
    /// Packets are encoded here and written from here; only what a socket does not take at
    /// once is kept by the connection.
    static WRITE_SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::with_capacity(WRITE_SCRATCH_SIZE));
    /// Reads land here first and are copied into the connection's buffer, so that an idle
    /// connection holds no read buffer at all while it waits.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SCRATCH]);
}

/// Reads what the socket has into `dst`, through the thread's scratch buffer.
fn poll_read_into<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    dst: &mut BytesMut,
) -> Poll<std::io::Result<usize>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                dst.extend_from_slice(buf.filled());
                Poll::Ready(Ok(buf.filled().len()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    })
}

/// Settings of connection tasks.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// How long the closing DISCONNECT may take to write.
    pub close_timeout: Duration,
    /// How long a plain-TCP connection may idle before it gives up its task and waits parked
    /// ([`crate::park`]); a tenth of it the first time. `None` keeps every connection on a
    /// task.
    pub park_after: Option<Duration>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            park_after: Some(Duration::from_millis(100)),
        }
    }
}

/// How much sooner than [`ConnectionSettings::park_after`] a connection parks the first time.
const FIRST_PARK: u32 = 10;

/// What every connection of a listener shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub broker: Broker,
    pub shutdown: CancellationToken,
    pub settings: ConnectionSettings,
}

/// Serves one MQTT connection until it closes, on the calling task.
pub async fn serve_connection<S>(
    stream: S,
    peer: Option<SocketAddr>,
    broker: Broker,
    shutdown: CancellationToken,
    settings: ConnectionSettings,
    authorizer: Option<Box<dyn Authorize>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let driver = Driver::new(stream, peer, &broker, authorizer);
    let shared = Shared { broker, shutdown, settings };
    // Without a parking time the driver never hands the connection back.
    let _ = drive(driver, &shared, None).await;
}

/// Drives a connection until it closes (`None`), or, with `park_after`, until it has been
/// idle that long: then it is handed back, nothing buffered, for [`crate::park`] to keep
/// without a task.
pub(crate) async fn drive<S>(
    mut driver: Driver<S>,
    shared: &Shared,
    park_after: Option<Duration>,
) -> Option<Driver<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let broker = &shared.broker;
    let settings = shared.settings;
    // A new connection parks sooner the first time: whether it will be busy is unknown, and
    // one extra park and resume costs a few microseconds, while a burst of new connections
    // that all wait out the full time keeps thousands of tasks' memory.
    let park_after =
        park_after.map(|after| if driver.parked_before { after } else { after / FIRST_PARK });
    let receive_maximum = usize::from(broker.config().receive_maximum.max(1));
    let publisher_wait = Duration::from_millis(broker.config().publisher_wait_ms);
    // One timer for the task's life, moved only when the deadline changes: the CONNECT
    // deadline first, then the keep-alive or the parking time, whichever comes first.
    let mut deadline = tokio::time::Instant::now() + settings.connect_timeout;
    let timer = tokio::time::sleep_until(deadline);
    tokio::pin!(timer);
    let mut link = None;
    let mut congested: Option<Arc<SessionHandle>> = None;
    let mut active_at = tokio::time::Instant::now();
    let reason = loop {
        if let Err(reason) = driver.flush().await {
            break reason;
        }
        if link.is_none() {
            link = driver.connection.link();
        }
        if congested.is_none() {
            congested = driver.connection.take_congestion();
        }
        let parkable = park_after.filter(|_| congested.is_none() && driver.is_idle());
        if driver.connection.protocol().is_some() {
            let now = tokio::time::Instant::now();
            let mut wanted = match driver.connection.poll_timeout() {
                Some(deadline_ms) => {
                    now + Duration::from_millis(deadline_ms.saturating_sub(now_ms()))
                }
                None => now + Duration::from_secs(86_400 * 365),
            };
            if let Some(after) = parkable {
                wanted = wanted.min(active_at + after);
            }
            // The deadlines move with every packet; the timer is re-armed only when it fired,
            // must fire sooner, or lags by more than a tolerance, so busy connections do not
            // churn the timer wheel. A timer that fires early is harmless: the connection
            // checks the real deadline, and parking checks how long it was idle.
            let lag = wanted.saturating_duration_since(deadline);
            if timer.is_elapsed() || wanted < deadline || lag > Duration::from_millis(250) {
                deadline = wanted;
                timer.as_mut().reset(deadline);
            }
        }
        let head_commit = matches!(driver.queue.front(), Some(Transmit::AfterCommit(..)));
        let reading = driver.queue.len() < receive_maximum && congested.is_none();
        let step = tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => Err(CloseReason::ServerShutdown),
            result = next_commit(&mut driver.queue), if head_commit => {
                result.map_err(|error| store_failed(&error))
            }
            () = wait_drained(congested.as_deref(), publisher_wait), if congested.is_some() => {
                congested = None;
                // Packets read before the pause are still buffered.
                driver.decode_all()
            }
            read = poll_fn(|cx| poll_read_into(&mut driver.stream, cx, &mut driver.read_buf)),
                if reading =>
            {
                match read {
                    Ok(0) | Err(_) => Err(CloseReason::ConnectionLost),
                    Ok(_) => driver.decode_all(),
                }
            }
            () = wait_link(link.as_deref()) => driver.connection.handle_wakeup(now_ms()),
            () = &mut timer => {
                if driver.connection.protocol().is_none() {
                    tracing::info!(peer = ?driver.connection.peer(), "no CONNECT in time");
                    Err(CloseReason::ConnectionLost)
                } else if parkable.is_some_and(|after| active_at.elapsed() >= after) {
                    driver.connection.shrink();
                    return Some(driver);
                } else {
                    // Not activity: the parking time keeps counting.
                    match driver.connection.handle_timeout(now_ms()) {
                        Ok(()) => continue,
                        Err(reason) => break reason,
                    }
                }
            }
        };
        if let Err(reason) = step {
            break reason;
        }
        // Only parking asks how long the connection has idled: no clock read per wake-up
        // otherwise.
        if park_after.is_some() {
            active_at = tokio::time::Instant::now();
        }
    };
    driver.close(reason, shared).await;
    None
}

/// One connection's socket, protocol state and what waits to be written.
#[derive(Debug)]
pub(crate) struct Driver<S> {
    stream: S,
    decoder: Decoder,
    pub(crate) connection: Connection,
    read_buf: BytesMut,
    write_buf: BytesMut,
    queue: VecDeque<Transmit>,
    /// Whether it has waited parked before.
    parked_before: bool,
}

/// A connection's state without its socket and buffers: what a parked connection keeps.
/// Its decoder is made again on the way back (it holds nothing but the protocol version and
/// the broker's maximum packet size), 16 bytes less in every parked connection.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) connection: Connection,
}

impl Parts {
    /// Ends a connection whose socket was lost on the way through the parking lot (the
    /// reactor refused it back): the will and the session go as for a lost connection.
    pub(crate) fn abandon(mut self, shared: &Shared) {
        let reason = CloseReason::ConnectionLost;
        let delayed = self.connection.close(reason, now_ms());
        if let Some(will) = delayed {
            spawn_delayed_will(shared.broker.clone(), will);
        }
    }
}

impl<S> Driver<S> {
    /// Its socket.
    pub(crate) fn stream(&self) -> &S {
        &self.stream
    }

    /// Splits an idle driver (nothing buffered) into its socket and the rest.
    pub(crate) fn into_parts(self) -> (S, Parts) {
        let Driver { stream, connection, .. } = self;
        (stream, Parts { connection })
    }

    /// Puts a driver back together, after it was parked.
    pub(crate) fn from_parts(stream: S, parts: Parts) -> Driver<S> {
        let Parts { connection } = parts;
        let max_packet_size = connection.broker().config().max_packet_size();
        // Connections park only once CONNECT is accepted, which fixed the version; one that
        // had not would still expect CONNECT.
        let decoder = match connection.protocol() {
            Some(version) => Decoder::with_version(version, max_packet_size),
            None => Decoder::new(max_packet_size),
        };
        Driver {
            stream,
            decoder,
            connection,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            queue: VecDeque::new(),
            parked_before: true,
        }
    }

    pub(crate) fn new(
        stream: S,
        peer: Option<SocketAddr>,
        broker: &Broker,
        authorizer: Option<Box<dyn Authorize>>,
    ) -> Driver<S> {
        let mut connection = Connection::with_peer(broker.clone(), peer);
        if let Some(authorizer) = authorizer {
            connection.set_authorizer(authorizer);
        }
        Driver {
            stream,
            decoder: Decoder::new(broker.config().max_packet_size()),
            connection,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            queue: VecDeque::new(),
            parked_before: false,
        }
    }

    /// Whether the connection is up and nothing is buffered or waiting in either direction:
    /// all it does is wait for the client or the router.
    fn is_idle(&self) -> bool {
        self.connection.protocol().is_some()
            && !self.connection.is_congested()
            && self.read_buf.is_empty()
            && self.write_buf.is_empty()
            && self.queue.is_empty()
    }

    fn connection_version(&self) -> ProtocolVersion {
        self.connection.protocol().or(self.decoder.version()).unwrap_or(ProtocolVersion::V311)
    }

    /// Decodes and handles every whole packet in the read buffer.
    fn decode_all(&mut self) -> Result<(), CloseReason> {
        let step = self.decode_packets();
        // QoS 0 publishes held to be queued per subscriber in one go are queued now.
        self.connection.flush_publishes();
        step
    }

    fn decode_packets(&mut self) -> Result<(), CloseReason> {
        let now = now_ms();
        loop {
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(packet)) => {
                    self.connection.handle_packet_deferred(packet, now)?;
                    // A congested subscriber pauses this client: the rest stays buffered.
                    if self.connection.is_congested() {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    // Nothing left over: give the memory back while the connection idles.
                    if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
                        self.read_buf = BytesMut::new();
                    }
                    return Ok(());
                }
                Err(error) => {
                    tracing::info!(%error, "malformed packet");
                    return Err(self.connection.handle_decode_error(error));
                }
            }
        }
    }

    /// Moves the connection's output to the ordered queue.
    fn collect(&mut self) {
        while let Some(transmit) = self.connection.poll_transmit() {
            self.queue.push_back(transmit);
        }
    }

    /// Encodes every packet that is ready, up to the first one waiting for a commit, and
    /// offers them to `write` in one piece.
    ///
    /// Packets are encoded into a per-thread scratch buffer and offered from there once;
    /// only what `write` does not take is copied into the connection's own buffer, to be
    /// waited for. A connection therefore keeps no write buffer between bursts, and a busy one
    /// does not regrow one per burst.
    fn write_ready(
        &mut self,
        write: impl FnOnce(&mut S, &[u8]) -> Result<usize, CloseReason>,
    ) -> Result<(), CloseReason> {
        let version = self.connection_version();
        let queue = &mut self.queue;
        let connection = &mut self.connection;
        let stream = &mut self.stream;
        let leftover = &mut self.write_buf;
        WRITE_SCRATCH.with_borrow_mut(|out| {
            out.clear();
            // Items queued behind a commit keep their order; with none waiting, the
            // connection's output is encoded straight away. Acknowledgements whose group
            // commit resolved meanwhile go out with this write, not with one write each.
            loop {
                match queue.front_mut() {
                    None => break,
                    Some(Transmit::AfterCommit(commit, _)) => match commit.try_outcome() {
                        None => break,
                        Some(Ok(())) => {
                            if let Some(Transmit::AfterCommit(_, packet)) = queue.pop_front() {
                                encode_into(&Transmit::Packet(packet), version, out);
                            }
                        }
                        Some(Err(error)) => return Err(store_failed(&error)),
                    },
                    Some(_) => {
                        if let Some(transmit) = queue.pop_front() {
                            encode_into(&transmit, version, out);
                        }
                    }
                }
            }
            while let Some(transmit) = connection.poll_transmit() {
                if queue.is_empty() && !matches!(transmit, Transmit::AfterCommit(..)) {
                    encode_into(&transmit, version, out);
                } else {
                    queue.push_back(transmit);
                }
            }
            if out.is_empty() {
                return Ok(());
            }
            if !leftover.is_empty() {
                leftover.extend_from_slice(out);
                return Ok(());
            }
            let written = write(stream, out)?;
            leftover.extend_from_slice(&out[written..]);
            if out.capacity() > 4 * WRITE_SCRATCH_SIZE {
                *out = BytesMut::with_capacity(WRITE_SCRATCH_SIZE);
            }
            Ok(())
        })
    }

    /// The same connection over another form of its socket (taken into or out of the
    /// reactor). When `convert` fails the connection is lost: its will and session go as for
    /// a lost connection.
    pub(crate) fn map_stream<T, E: std::fmt::Display>(
        self,
        convert: impl FnOnce(S) -> Result<T, E>,
        shared: &Shared,
    ) -> Option<Driver<T>> {
        let Driver { stream, decoder, connection, read_buf, write_buf, queue, parked_before } =
            self;
        match convert(stream) {
            Ok(stream) => Some(Driver {
                stream,
                decoder,
                connection,
                read_buf,
                write_buf,
                queue,
                parked_before,
            }),
            Err(error) => {
                tracing::warn!(%error, "could not move a connection into or out of the reactor");
                Parts { connection }.abandon(shared);
                None
            }
        }
    }
}

impl Driver<std::net::TcpStream> {
    /// Does what the connection can do at once, outside the reactor, on a non-blocking
    /// socket: takes what the router left, reads what the socket holds (up to `max_read`
    /// bytes), handles it, and offers the answers to one non-blocking write.
    ///
    /// `Ok(true)` when it is idle afterwards: the socket had nothing more to read, and
    /// nothing is left to write or to wait for. `Ok(false)` when it has work that needs
    /// waiting: output the socket did not take, a commit, a congested subscriber, more bytes
    /// than `max_read`, or no complete CONNECT yet. `Err` when it is to close.
    pub(crate) fn step_now(&mut self, max_read: usize) -> Result<bool, CloseReason> {
        if self.connection.link().is_some_and(|link| link.take_signal()) {
            self.connection.handle_wakeup(now_ms())?;
        }
        let mut read = 0;
        let drained = loop {
            if read >= max_read || self.connection.is_congested() {
                break false;
            }
            match read_now(&self.stream, &mut self.read_buf) {
                Ok(0) => return Err(CloseReason::ConnectionLost),
                Ok(n) => {
                    read += n;
                    self.decode_all()?;
                    // Less than asked: the socket had no more. Bytes that come later are a
                    // new edge for whoever waits on the socket (the lot or the reactor), so
                    // no read is needed to see it empty.
                    if n < READ_SCRATCH && read < max_read {
                        break true;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(CloseReason::ConnectionLost),
            }
        };
        self.connection.handle_timeout(now_ms())?;
        self.write_ready(|stream, bytes| match (&*stream).write(bytes) {
            Ok(n) => Ok(n),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(_) => Err(CloseReason::ConnectionLost),
        })?;
        Ok(drained && self.is_idle())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// Closes the connection for `reason`: the will and the session, then what is left to
    /// write, then the socket.
    pub(crate) async fn close(mut self, reason: CloseReason, shared: &Shared) {
        let delayed = self.connection.close(reason, now_ms());
        self.collect();
        // Packets waiting for a commit are dropped: the client will send those PUBLISHes again.
        let version = self.connection_version();
        for transmit in std::mem::take(&mut self.queue) {
            if !matches!(transmit, Transmit::AfterCommit(..)) {
                encode_into(&transmit, version, &mut self.write_buf);
            }
        }
        let timeout = shared.settings.close_timeout;
        if !self.write_buf.is_empty() {
            let write = self.stream.write_all(&self.write_buf);
            let _ = tokio::time::timeout(timeout, write).await;
        }
        let _ = tokio::time::timeout(timeout, self.stream.shutdown()).await;
        if let Some(will) = delayed {
            spawn_delayed_will(shared.broker.clone(), will);
        }
        tracing::debug!(peer = ?self.connection.peer(), reason = reason.lifecycle_name(), "connection task ended");
    }

    /// Writes every packet that is ready: one non-blocking attempt, then, for what the
    /// socket did not take, a wait.
    async fn flush(&mut self) -> Result<(), CloseReason> {
        self.write_ready(|stream, bytes| {
            // One write with a no-op waker: if the socket is not ready, the real wait below
            // registers the task's waker.
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(stream).poll_write(&mut cx, bytes) {
                Poll::Ready(Ok(n)) => Ok(n),
                Poll::Ready(Err(_)) => Err(CloseReason::ConnectionLost),
                Poll::Pending => Ok(0),
            }
        })?;
        if self.write_buf.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.write_buf).await;
        // What had to wait is released: idle connections keep no write buffer.
        self.write_buf = BytesMut::new();
        result.map_err(|_| CloseReason::ConnectionLost)
    }
}

/// Reads what a non-blocking socket holds into `dst`, through the thread's scratch buffer.
fn read_now(stream: &std::net::TcpStream, dst: &mut BytesMut) -> std::io::Result<usize> {
    SCRATCH.with_borrow_mut(|scratch| {
        let n = (&*stream).read(scratch)?;
        dst.extend_from_slice(&scratch[..n]);
        Ok(n)
    })
}

fn encode_into(transmit: &Transmit, version: ProtocolVersion, out: &mut BytesMut) {
    let (result, name) = match transmit {
        Transmit::Packet(packet) | Transmit::AfterCommit(_, packet) => {
            (ferrocore_mqtt::encode(packet, version, out), packet.name())
        }
        Transmit::PubAck(packet_id) => {
            let ack = Packet::PubAck(PubAck::success(*packet_id));
            (ferrocore_mqtt::encode(&ack, version, out), "PUBACK")
        }
        Transmit::Publish { delivery, packet_id, dup, now_ms } => {
            (delivery.encode(*packet_id, *dup, version, *now_ms, out), "PUBLISH")
        }
    };
    if let Err(error) = result {
        tracing::warn!(%error, packet = name, "could not encode a packet; skipped");
    }
}

/// Why a connection closes when the store could not write what it acknowledges.
fn store_failed(error: &ferrocore_store::StoreError) -> CloseReason {
    tracing::error!(%error, "store write failed; closing the connection");
    CloseReason::ServerError
}

/// Waits for the head commit and turns it into a packet ready to write.
async fn next_commit(queue: &mut VecDeque<Transmit>) -> Result<(), ferrocore_store::StoreError> {
    let Some(Transmit::AfterCommit(commit, _)) = queue.front_mut() else {
        return Ok(());
    };
    let result = wait(commit).await;
    if let Some(Transmit::AfterCommit(_, packet)) = queue.pop_front() {
        queue.push_front(Transmit::Packet(packet));
    }
    result
}

async fn wait(commit: &mut Commit) -> Result<(), ferrocore_store::StoreError> {
    commit.await
}

/// Waits for a congested subscriber to drain, for at most `limit`: a stuck subscriber slows
/// its publishers down but never stops them for good (its queue limit then drops what does
/// not fit).
async fn wait_drained(session: Option<&SessionHandle>, limit: Duration) {
    if let Some(session) = session
        && tokio::time::timeout(limit, session.drained()).await.is_err()
    {
        tracing::debug!(client_id = %session.client_id(), "slow subscriber; publishers stop waiting");
        session.lock().mark_slow();
    }
}

async fn wait_link(link: Option<&ferrocore_broker::Link>) {
    match link {
        Some(link) => link.notified().await,
        None => std::future::pending().await,
    }
}

fn spawn_delayed_will(broker: Broker, will: DelayedWill) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(will.delay_ms)).await;
        broker.publish_delayed_will(&will.session, will.message, now_ms());
    });
}
