//! The task that drives one MQTT connection over any byte stream.
//!
//! Loop: write what is ready, then wait for the first of: bytes from the socket, a wake-up
//! from the router, the head store commit, the keep-alive deadline, or shutdown. Packets that
//! acknowledge stored data wait for their commit; everything behind them waits too, so the
//! client sees acknowledgements in order.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use ferrocore_broker::{
    Authorize, Broker, CloseReason, Connection, DelayedWill, LinkDetails, SessionHandle, Transmit,
    now_ms,
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
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
        }
    }
}

/// Serves one MQTT connection until it closes.
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
    let max_packet = broker.config().max_packet_size();
    let receive_maximum = usize::from(broker.config().receive_maximum.max(1));
    let publisher_wait = Duration::from_millis(broker.config().publisher_wait_ms);
    let mut driver = Driver {
        stream,
        decoder: Decoder::new(max_packet),
        connection: Connection::with_peer(broker.clone(), peer),
        read_buf: BytesMut::new(),
        write_buf: BytesMut::new(),
        queue: VecDeque::new(),
        connect_keep_alive: None,
    };
    if let Some(authorizer) = authorizer {
        driver.connection.set_authorizer(authorizer);
    }
    // One timer for the connection's life, moved only when the deadline changes: the
    // CONNECT deadline first, then the keep-alive.
    let mut deadline = tokio::time::Instant::now() + settings.connect_timeout;
    let timer = tokio::time::sleep_until(deadline);
    tokio::pin!(timer);
    let mut link = None;
    let mut congested: Option<Arc<SessionHandle>> = None;
    let reason = loop {
        if let Err(reason) = driver.flush().await {
            break reason;
        }
        if link.is_none() {
            link = driver.connection.link();
            if let Some(link) = &link {
                // For GetConnection: what only the driver knows.
                let asked = driver.connect_keep_alive.unwrap_or(0);
                let keep_alive = broker.config().effective_keep_alive(asked);
                link.set_details(LinkDetails { peer, keep_alive });
            }
        }
        if driver.connection.protocol().is_some() {
            let wanted = match driver.connection.poll_timeout() {
                Some(deadline_ms) => {
                    tokio::time::Instant::now()
                        + Duration::from_millis(deadline_ms.saturating_sub(now_ms()))
                }
                None => tokio::time::Instant::now() + Duration::from_secs(86_400 * 365),
            };
            // The keep-alive deadline moves with every packet; the timer is re-armed only when
            // it fired, must fire sooner, or lags by more than a tolerance, so busy connections
            // do not churn the timer wheel. A timer that fires early is harmless: the
            // connection checks the real deadline.
            let lag = wanted.saturating_duration_since(deadline);
            if timer.is_elapsed() || wanted < deadline || lag > Duration::from_millis(250) {
                deadline = wanted;
                timer.as_mut().reset(deadline);
            }
        }
        let head_commit = matches!(driver.queue.front(), Some(Transmit::AfterCommit(..)));
        let waiting = driver.queue.len();
        if congested.is_none() {
            congested = driver.connection.take_congestion();
        }
        let reading = waiting < receive_maximum && congested.is_none();
        let step = tokio::select! {
            biased;
            () = shutdown.cancelled() => Err(CloseReason::ServerShutdown),
            result = next_commit(&mut driver.queue), if head_commit => match result {
                Ok(()) => Ok(()),
                Err(error) => {
                    tracing::error!(%error, "store write failed; closing the connection");
                    Err(CloseReason::ServerError)
                }
            },
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
                    tracing::info!(?peer, "no CONNECT in time");
                    Err(CloseReason::ConnectionLost)
                } else {
                    driver.connection.handle_timeout(now_ms())
                }
            }
        };
        if let Err(reason) = step {
            break reason;
        }
    };
    let delayed = driver.connection.close(reason, now_ms());
    driver.collect();
    // Packets waiting for a commit are dropped: the client will send those PUBLISHes again.
    let version = driver.connection_version();
    for transmit in std::mem::take(&mut driver.queue) {
        if !matches!(transmit, Transmit::AfterCommit(..)) {
            encode_into(&transmit, version, &mut driver.write_buf);
        }
    }
    if !driver.write_buf.is_empty() {
        let write = driver.stream.write_all(&driver.write_buf);
        let _ = tokio::time::timeout(settings.close_timeout, write).await;
    }
    let _ = tokio::time::timeout(settings.close_timeout, driver.stream.shutdown()).await;
    if let Some(will) = delayed {
        spawn_delayed_will(broker, will);
    }
    tracing::debug!(?peer, reason = reason.lifecycle_name(), "connection task ended");
}

struct Driver<S> {
    stream: S,
    decoder: Decoder,
    connection: Connection,
    read_buf: BytesMut,
    write_buf: BytesMut,
    queue: VecDeque<Transmit>,
    /// The keep-alive the CONNECT asked for.
    connect_keep_alive: Option<u16>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
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
                    if let Packet::Connect(connect) = &packet {
                        self.connect_keep_alive.get_or_insert(connect.keep_alive);
                    }
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
    /// writes them with one write call.
    ///
    /// Packets are encoded into a per-thread scratch buffer and written from there with one
    /// non-blocking attempt; only what the socket does not take at once is copied into the
    /// connection's own buffer and awaited. A connection therefore keeps no write buffer
    /// between bursts, and a busy one does not regrow one per burst.
    async fn flush(&mut self) -> Result<(), CloseReason> {
        let version = self.connection_version();
        let queue = &mut self.queue;
        let connection = &mut self.connection;
        let stream = &mut self.stream;
        let leftover = &mut self.write_buf;
        let attempt = WRITE_SCRATCH.with_borrow_mut(|out| {
            out.clear();
            // Items queued behind a commit keep their order; with none waiting, the
            // connection's output is encoded straight away.
            while queue.front().is_some_and(|t| !matches!(t, Transmit::AfterCommit(..))) {
                if let Some(transmit) = queue.pop_front() {
                    encode_into(&transmit, version, out);
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
            // One write with a no-op waker: if the socket is not ready, the real wait below
            // registers the task's waker.
            let mut cx = Context::from_waker(Waker::noop());
            let written = match Pin::new(&mut *stream).poll_write(&mut cx, out) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(error)) => return Err(error),
                Poll::Pending => 0,
            };
            leftover.extend_from_slice(&out[written..]);
            if out.capacity() > 4 * WRITE_SCRATCH_SIZE {
                *out = BytesMut::with_capacity(WRITE_SCRATCH_SIZE);
            }
            Ok(())
        });
        if attempt.is_err() {
            return Err(CloseReason::ConnectionLost);
        }
        if self.write_buf.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.write_buf).await;
        // What had to wait is released: idle connections keep no write buffer.
        self.write_buf = BytesMut::new();
        result.map_err(|_| CloseReason::ConnectionLost)
    }
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
