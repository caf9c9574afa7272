//! Parking: idle plain-TCP connections kept without a task and without a reactor entry.
//!
//! A connection task that has been idle for a while (nothing buffered either way, nothing to
//! wait for but the client, the router, its keep-alive or shutdown) ends. Its socket leaves
//! tokio's reactor for the listener's [`Lot`], an epoll set of its own, and the rest of its
//! state ([`Parts`], without buffers) waits in a [`Cell`]: no task, no future, no timer and
//! no readiness record of its own, a few hundred bytes instead of a few kilobytes. What can
//! give it work wakes the cell, which spawns a task to drive it again:
//!
//! - the socket becoming readable (or closed): the lot's epoll reports it;
//! - the router or a close request: the session's [`Link`] holds the cell's waker
//!   ([`Link::park`]);
//! - the keep-alive deadline or shutdown: the lot keeps deadlines in order and wakes what
//!   falls due, and everything at shutdown.
//!
//! A wake takes the state out of the cell, so the connection runs on at most one task; later
//! wakes of the same cell find it empty and do nothing. The resumed task takes the socket out
//! of the lot and back into the reactor. A connection keeps the listener's [`TaskTracker`]
//! waiting while parked, as it does while it runs.
//!
//! [`Link`]: ferrocore_broker::Link
//! [`Link::park`]: ferrocore_broker::Link::park

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Wake, Waker};
use std::time::Duration;

use ferrocore_broker::now_ms;
use mio::unix::SourceFd;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::connection::{Driver, Parts, Shared, drive};

/// What the plain-TCP connections of one listener share.
#[derive(Debug)]
pub(crate) struct TcpShared {
    pub shared: Shared,
    /// `None` when parking is off, or its epoll set could not be made.
    pub lot: Option<Lot>,
    pub tracker: TaskTracker,
    pub runtime: Handle,
}

/// Drives a plain-TCP connection until it closes, parking it whenever it idles.
pub(crate) async fn serve_parking(mut driver: Driver<TcpStream>, ctx: Arc<TcpShared>) {
    let park_after = ctx.shared.settings.park_after.filter(|_| ctx.lot.is_some());
    loop {
        let Some(idle) = drive(driver, &ctx.shared, park_after).await else { return };
        match park(idle, &ctx) {
            Some(busy) => driver = busy,
            None => return,
        }
    }
}

/// A parked connection.
struct Parked {
    socket: std::net::TcpStream,
    parts: Parts,
    /// Its token in the lot.
    id: u64,
    /// Its keep-alive deadline (ms since the epoch; `u64::MAX` for none).
    deadline: u64,
    /// Keeps the listener's tracker waiting for this connection.
    _tracked: TaskTrackerToken,
}

/// Where a parked connection waits; its waker is the cell itself.
struct Cell {
    parked: Mutex<Option<Parked>>,
    ctx: Arc<TcpShared>,
}

impl Wake for Cell {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(parked) = self.parked.lock().take() else { return };
        let ctx = Arc::clone(&self.ctx);
        let task = ctx.tracker.track_future(resume(parked, Arc::clone(&ctx)));
        // Wakes come from the lot's task or from the router (any thread).
        ctx.runtime.spawn(task);
    }
}

async fn resume(parked: Parked, ctx: Arc<TcpShared>) {
    let Parked { socket, parts, id, deadline, _tracked } = parked;
    if let Some(lot) = &ctx.lot {
        lot.remove(id, deadline, &socket);
    }
    if let Some(link) = parts.connection.link() {
        link.unpark();
    }
    match TcpStream::from_std(socket) {
        Ok(stream) => serve_parking(Driver::from_parts(stream, parts), ctx).await,
        Err(error) => {
            tracing::warn!(%error, "could not return a parked connection to the reactor");
            parts.abandon(&ctx.shared);
        }
    }
}

/// Parks `driver`, or hands it back when it has work already (bytes, a wake, a close
/// request, shutdown). `None` once it is parked, or ended because its socket was lost on the
/// way.
fn park(driver: Driver<TcpStream>, ctx: &Arc<TcpShared>) -> Option<Driver<TcpStream>> {
    let (Some(lot), Some(link)) = (&ctx.lot, driver.connection.link()) else {
        return Some(driver);
    };
    let deadline = driver.connection.poll_timeout().unwrap_or(u64::MAX);
    let (stream, parts) = driver.into_parts();
    let socket = match stream.into_std() {
        Ok(socket) => socket,
        Err(error) => {
            tracing::warn!(%error, "could not take an idle connection out of the reactor");
            parts.abandon(&ctx.shared);
            return None;
        }
    };
    let id = lot.next_id();
    let cell = Arc::new(Cell { parked: Mutex::new(None), ctx: Arc::clone(ctx) });
    let waker = Waker::from(Arc::clone(&cell));
    // The cell stays locked until every registration is made, so that a wake arriving
    // meanwhile (from another thread) waits and then finds the connection in place.
    let mut slot = cell.parked.lock();
    let parked = slot.insert(Parked { socket, parts, id, deadline, _tracked: ctx.tracker.token() });
    let registered = lot.insert(id, deadline, &cell, &parked.socket);
    if let Err(error) = &registered {
        tracing::warn!(%error, "could not park an idle connection");
    }
    let parked_ok = registered.is_ok() && link.park(&waker);
    if parked_ok && !ctx.shared.shutdown.is_cancelled() {
        return None;
    }
    // Work came first, or the lot may have woken everything already: run it now.
    link.unpark();
    let parked = slot.take()?;
    if registered.is_ok() {
        lot.remove(parked.id, parked.deadline, &parked.socket);
    }
    match TcpStream::from_std(parked.socket) {
        Ok(stream) => Some(Driver::from_parts(stream, parked.parts)),
        Err(error) => {
            tracing::warn!(%error, "could not return a connection to the reactor");
            parked.parts.abandon(&ctx.shared);
            None
        }
    }
}

/// One listener's parked connections: their sockets in an epoll set of the lot's own, their
/// cells by token, and their keep-alive deadlines in order. A thread of its own waits on the
/// set (with a timeout at the earliest deadline) and wakes what is ready or due.
#[derive(Debug, Clone)]
pub(crate) struct Lot {
    inner: Arc<LotInner>,
}

struct LotInner {
    registry: mio::Registry,
    /// Interrupts the thread's wait: a sooner deadline, or shutdown.
    interrupt: mio::Waker,
    stopped: AtomicBool,
    state: Mutex<LotState>,
    next: AtomicU64,
}

impl std::fmt::Debug for LotInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LotInner").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct LotState {
    cells: HashMap<u64, Arc<Cell>>,
    /// (deadline, id); connections without a keep-alive are not here.
    deadlines: BTreeSet<(u64, u64)>,
}

/// How many readiness events the lot takes per epoll call.
const EVENTS: usize = 1024;

/// The token of the interrupt; connections count up from 0 and never reach it.
const INTERRUPT: mio::Token = mio::Token(usize::MAX);

impl Lot {
    /// A lot whose thread runs until `shutdown`, then wakes every connection in it.
    pub(crate) fn start(shutdown: CancellationToken) -> io::Result<Lot> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let interrupt = mio::Waker::new(poll.registry(), INTERRUPT)?;
        let inner = Arc::new(LotInner {
            registry,
            interrupt,
            stopped: AtomicBool::new(false),
            state: Mutex::new(LotState::default()),
            next: AtomicU64::new(0),
        });
        let waiting = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("ferrocore-lot".into())
            .spawn(move || run_lot(&waiting, poll))?;
        let stopping = Arc::clone(&inner);
        tokio::spawn(async move {
            shutdown.cancelled().await;
            stopping.stopped.store(true, Ordering::SeqCst);
            if let Err(error) = stopping.interrupt.wake() {
                tracing::error!(%error, "could not stop the parking lot");
            }
        });
        Ok(Lot { inner })
    }

    fn next_id(&self) -> u64 {
        self.inner.next.fetch_add(1, Ordering::Relaxed)
    }

    fn insert(
        &self,
        id: u64,
        deadline: u64,
        cell: &Arc<Cell>,
        socket: &std::net::TcpStream,
    ) -> io::Result<()> {
        let sooner = {
            let mut state = self.inner.state.lock();
            state.cells.insert(id, Arc::clone(cell));
            deadline != u64::MAX && {
                state.deadlines.insert((deadline, id));
                state.deadlines.first() == Some(&(deadline, id))
            }
        };
        let fd = socket.as_raw_fd();
        let token = mio::Token(id as usize);
        let mut registered =
            self.inner.registry.register(&mut SourceFd(&fd), token, mio::Interest::READABLE);
        if registered.is_ok() && sooner {
            registered = self.inner.interrupt.wake();
        }
        if registered.is_err() {
            self.remove(id, deadline, socket);
        }
        registered
    }

    fn remove(&self, id: u64, deadline: u64, socket: &std::net::TcpStream) {
        let fd = socket.as_raw_fd();
        if let Err(error) = self.inner.registry.deregister(&mut SourceFd(&fd)) {
            tracing::debug!(%error, "parked socket was not registered");
        }
        let mut state = self.inner.state.lock();
        state.cells.remove(&id);
        state.deadlines.remove(&(deadline, id));
    }

    /// How many connections are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.state.lock().cells.len()
    }
}

/// The lot's thread.
fn run_lot(lot: &LotInner, mut poll: mio::Poll) {
    let mut events = mio::Events::with_capacity(EVENTS);
    loop {
        let next = lot.state.lock().deadlines.first().map(|(deadline, _)| *deadline);
        let timeout = next.map(|ms| Duration::from_millis(ms.saturating_sub(now_ms())));
        if let Err(error) = poll.poll(&mut events, timeout) {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Not expected; parked connections still wake for the router and at shutdown.
            tracing::error!(%error, "the parking lot cannot wait for its sockets");
            std::thread::sleep(Duration::from_millis(100));
        }
        let woken: Vec<Arc<Cell>> = {
            let mut state = lot.state.lock();
            if lot.stopped.load(Ordering::SeqCst) {
                state.deadlines.clear();
                std::mem::take(&mut state.cells).into_values().collect()
            } else {
                let mut woken: Vec<Arc<Cell>> = events
                    .iter()
                    .filter(|event| event.token() != INTERRUPT)
                    .filter_map(|event| state.cells.get(&(event.token().0 as u64)).cloned())
                    .collect();
                let later = state.deadlines.split_off(&(now_ms().saturating_add(1), 0));
                let due = std::mem::replace(&mut state.deadlines, later);
                woken.extend(due.iter().filter_map(|(_, id)| state.cells.get(id).cloned()));
                woken
            }
        };
        // Woken outside the lock: a resumed connection removes its own entries.
        woken.iter().for_each(Wake::wake_by_ref);
        if lot.stopped.load(Ordering::SeqCst) {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use ferrocore_broker::{Broker, BrokerConfig, Profile};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::connection::ConnectionSettings;

    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    /// A listener whose connections park after 20 ms idle; the context is kept for looking
    /// into the lot.
    async fn listener() -> (std::net::SocketAddr, Arc<TcpShared>) {
        let shutdown = CancellationToken::new();
        let settings = ConnectionSettings {
            park_after: Some(Duration::from_millis(20)),
            ..ConnectionSettings::default()
        };
        let ctx = Arc::new(TcpShared {
            shared: Shared {
                // The mqtt profile keeps short keep-alives as asked.
                broker: Broker::new(BrokerConfig::for_profile(Profile::Mqtt), None),
                shutdown: shutdown.clone(),
                settings,
            },
            lot: Some(Lot::start(shutdown).unwrap()),
            tracker: TaskTracker::new(),
            runtime: Handle::current(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = Arc::clone(&ctx);
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let driver = Driver::new(stream, Some(peer), &accepting.shared.broker, None);
                accepting.tracker.spawn(serve_parking(driver, Arc::clone(&accepting)));
            }
        });
        (addr, ctx)
    }

    /// CONNECT (MQTT 3.1.1, clean session) with a one-byte client id.
    fn connect(id: u8, keep_alive: u16) -> Vec<u8> {
        let [hi, lo] = keep_alive.to_be_bytes();
        vec![0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, hi, lo, 0, 1, id]
    }

    async fn client(addr: std::net::SocketAddr, id: u8, keep_alive: u16) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&connect(id, keep_alive)).await.unwrap();
        expect(&mut stream, &CONNACK).await;
        stream
    }

    async fn expect(stream: &mut TcpStream, bytes: &[u8]) {
        let mut got = vec![0; bytes.len()];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut got));
        read.await.expect("answer in time").expect("readable");
        assert_eq!(got, bytes);
    }

    async fn expect_closed(stream: &mut TcpStream) {
        let mut byte = [0; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte));
        assert_eq!(read.await.expect("closed in time").unwrap_or(0), 0);
    }

    fn parked(ctx: &TcpShared) -> usize {
        ctx.lot.as_ref().map_or(0, Lot::len)
    }

    async fn wait_parked(ctx: &TcpShared, count: usize) {
        for _ in 0..1000 {
            if parked(ctx) == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} parked, expected {count}", parked(ctx));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parked_connection_wakes_for_its_socket_and_for_deliveries() {
        let (addr, ctx) = listener().await;
        let mut subscriber = client(addr, b's', 60).await;
        subscriber.write_all(&[0x82, 6, 0, 1, 0, 1, b't', 0]).await.unwrap();
        expect(&mut subscriber, &[0x90, 3, 0, 1, 0]).await;
        wait_parked(&ctx, 1).await;

        // Bytes from the client: PINGREQ gets its PINGRESP, then the connection parks again.
        subscriber.write_all(&[0xC0, 0]).await.unwrap();
        expect(&mut subscriber, &[0xD0, 0]).await;
        wait_parked(&ctx, 1).await;

        // A delivery from the router.
        let mut publisher = client(addr, b'p', 60).await;
        let publish = [0x30, 5, 0, 1, b't', b'h', b'i'];
        publisher.write_all(&publish).await.unwrap();
        expect(&mut subscriber, &publish).await;
        wait_parked(&ctx, 2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parked_connection_is_closed_by_its_keep_alive_a_takeover_and_shutdown() {
        let (addr, ctx) = listener().await;
        let mut silent = client(addr, b'k', 1).await;
        let mut replaced = client(addr, b'r', 60).await;
        let mut last = client(addr, b'l', 60).await;
        wait_parked(&ctx, 3).await;

        // 1.5 times the keep-alive without a packet.
        expect_closed(&mut silent).await;
        // The same client id again.
        let _new = client(addr, b'r', 60).await;
        expect_closed(&mut replaced).await;

        ctx.shared.shutdown.cancel();
        expect_closed(&mut last).await;
        ctx.tracker.close();
        let stopped = tokio::time::timeout(Duration::from_secs(10), ctx.tracker.wait());
        stopped.await.expect("every connection ended, parked ones too");
        assert_eq!(parked(&ctx), 0);
    }
}
