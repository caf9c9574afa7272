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
//! - the keep-alive deadline or shutdown: the lot keeps each connection's deadline beside it,
//!   sweeps for what fell due whenever the earliest one passes (at most every
//!   [`SWEEP_INTERVAL_MS`]), and wakes everything at shutdown.
//!
//! A wake takes the state out of the cell, so the connection runs on at most one task; later
//! wakes of the same cell find it empty and do nothing. The resumed task takes the socket out
//! of the lot and back into the reactor. A connection keeps the listener's [`TaskTracker`]
//! waiting while parked, as it does while it runs.
//!
//! [`Link`]: ferrocore_broker::Link
//! [`Link::park`]: ferrocore_broker::Link::park

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Its slot in the lot.
    slot: u32,
    parts: Parts,
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
    let Parked { socket, slot, parts, _tracked } = parked;
    if let Some(lot) = &ctx.lot {
        lot.remove(slot, socket.as_raw_fd());
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
    let cell = Arc::new(Cell { parked: Mutex::new(None), ctx: Arc::clone(ctx) });
    let waker = Waker::from(Arc::clone(&cell));
    // The cell stays locked until every registration is made, so that a wake arriving
    // meanwhile (from another thread) waits and then finds the connection in place.
    let mut place = cell.parked.lock();
    let fd = socket.as_raw_fd();
    let parked = place.insert(Parked { socket, slot: 0, parts, _tracked: ctx.tracker.token() });
    let registered = lot.insert(deadline, &cell, fd);
    match registered {
        Ok(slot) => parked.slot = slot,
        Err(ref error) => tracing::warn!(%error, "could not park an idle connection"),
    }
    let parked_ok = registered.is_ok() && link.park(&waker);
    if parked_ok && !ctx.shared.shutdown.is_cancelled() {
        return None;
    }
    // Work came first, or the lot may have woken everything already: run it now.
    link.unpark();
    let parked = place.take()?;
    if registered.is_ok() {
        lot.remove(parked.slot, fd);
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

/// One listener's parked connections: their sockets in an epoll set of the lot's own, and
/// their cells with their keep-alive deadlines in slots (a slot's number is its socket's token).
/// A thread of its own waits on the set, with a timeout at the earliest deadline, and wakes
/// what is ready or due.
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
}

impl std::fmt::Debug for LotInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LotInner").finish_non_exhaustive()
    }
}

struct LotState {
    /// Parked connections by slot; a freed slot is reused. 16 bytes a connection, where a map
    /// by token and an ordered set of deadlines took about 70.
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// No deadline in `slots` is earlier (`u64::MAX`: none). It may be earlier than every
    /// deadline left once a connection has gone; a sweep then finds nothing due and corrects it.
    earliest: u64,
    /// When the thread last swept for deadlines that fell due.
    swept: u64,
}

impl Default for LotState {
    fn default() -> Self {
        LotState { slots: Vec::new(), free: Vec::new(), earliest: u64::MAX, swept: 0 }
    }
}

/// A parked connection in the lot.
struct Slot {
    cell: Arc<Cell>,
    /// Its keep-alive deadline (ms since the epoch; `u64::MAX` for none).
    deadline: u64,
}

impl LotState {
    /// When the thread should next look at deadlines, if any is set.
    fn next_sweep(&self) -> Option<u64> {
        (self.earliest != u64::MAX)
            .then(|| self.earliest.max(self.swept.saturating_add(SWEEP_INTERVAL_MS)))
    }

    /// The cells whose deadline is at or before `now`, at most once per
    /// [`SWEEP_INTERVAL_MS`]; `earliest` becomes the first deadline not yet due. One pass over
    /// the slots, so that the lot keeps no ordered structure per connection.
    fn sweep(&mut self, now: u64, woken: &mut Vec<Arc<Cell>>) {
        if self.next_sweep().is_none_or(|at| now < at) {
            return;
        }
        self.swept = now;
        let mut earliest = u64::MAX;
        for slot in self.slots.iter().flatten() {
            if slot.deadline <= now {
                woken.push(Arc::clone(&slot.cell));
            } else {
                earliest = earliest.min(slot.deadline);
            }
        }
        self.earliest = earliest;
    }
}

/// The finest the lot's keep-alive deadlines are kept: a connection past its deadline is woken
/// (and closed) at most this much late. MQTT gives a client one and a half keep-alives.
const SWEEP_INTERVAL_MS: u64 = 100;

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

    /// Puts `cell` in a slot with its `deadline` and registers its socket `fd` for
    /// readability under the slot's number. Returns the slot.
    fn insert(&self, deadline: u64, cell: &Arc<Cell>, fd: RawFd) -> io::Result<u32> {
        let (slot, sooner) = {
            let mut state = self.inner.state.lock();
            let entry = Some(Slot { cell: Arc::clone(cell), deadline });
            let slot = match state.free.pop() {
                Some(slot) => {
                    state.slots[slot as usize] = entry;
                    slot
                }
                None => {
                    let slot = u32::try_from(state.slots.len())
                        .map_err(|_| io::Error::other("the parking lot is full"))?;
                    state.slots.push(entry);
                    slot
                }
            };
            let sooner = deadline < state.earliest;
            if sooner {
                state.earliest = deadline;
            }
            (slot, sooner)
        };
        let token = mio::Token(slot as usize);
        let mut registered =
            self.inner.registry.register(&mut SourceFd(&fd), token, mio::Interest::READABLE);
        if registered.is_ok() && sooner {
            registered = self.inner.interrupt.wake();
        }
        match registered {
            Ok(()) => Ok(slot),
            Err(error) => {
                self.remove(slot, fd);
                Err(error)
            }
        }
    }

    /// Takes the connection in `slot`, whose socket is `fd`, out of the lot.
    fn remove(&self, slot: u32, fd: RawFd) {
        if let Err(error) = self.inner.registry.deregister(&mut SourceFd(&fd)) {
            tracing::debug!(%error, "parked socket was not registered");
        }
        let mut state = self.inner.state.lock();
        // Empty after shutdown, which emptied every slot at once.
        if state.slots.get_mut(slot as usize).and_then(Option::take).is_some() {
            state.free.push(slot);
        }
    }

    /// How many slots there are, taken or free.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.inner.state.lock().slots.len()
    }

    /// How many connections are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let state = self.inner.state.lock();
        state.slots.len() - state.free.len()
    }
}

/// The lot's thread.
fn run_lot(lot: &LotInner, mut poll: mio::Poll) {
    let mut events = mio::Events::with_capacity(EVENTS);
    loop {
        let next = lot.state.lock().next_sweep();
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
                let all = std::mem::take(&mut *state);
                all.slots.into_iter().flatten().map(|slot| slot.cell).collect()
            } else {
                // A token whose connection left and whose slot was taken again wakes the new
                // one for nothing: it finds no bytes and parks again.
                let mut woken: Vec<Arc<Cell>> = events
                    .iter()
                    .filter(|event| event.token() != INTERRUPT)
                    .filter_map(|event| state.slots.get(event.token().0)?.as_ref())
                    .map(|slot| Arc::clone(&slot.cell))
                    .collect();
                state.sweep(now_ms(), &mut woken);
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

    #[test]
    fn a_parked_connection_fits_mimallocs_224_byte_class() {
        // What a parked connection keeps is one `Arc<Cell>`: two counters and the cell. 224
        // bytes is one of mimalloc's size classes; the next is 256.
        let allocated = 2 * size_of::<usize>() + size_of::<Cell>();
        assert!(allocated <= 224, "a parked connection takes {allocated} bytes");
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slots_of_connections_that_left_are_taken_again() {
        let (addr, ctx) = listener().await;
        let mut first = Vec::new();
        for id in [b'a', b'b', b'c'] {
            first.push(client(addr, id, 60).await);
        }
        wait_parked(&ctx, 3).await;
        // Two leave (DISCONNECT wakes them; they close and give their slots back).
        for stream in &mut first[..2] {
            stream.write_all(&[0xE0, 0]).await.unwrap();
            expect_closed(stream).await;
        }
        wait_parked(&ctx, 1).await;
        let mut second = Vec::new();
        for id in [b'd', b'e'] {
            second.push(client(addr, id, 60).await);
        }
        wait_parked(&ctx, 3).await;
        assert_eq!(ctx.lot.as_ref().unwrap().slots(), 3, "no new slots while old ones are free");
        // Each slot's socket still wakes its own connection.
        for stream in second.iter_mut().chain(&mut first[2..]) {
            stream.write_all(&[0xC0, 0]).await.unwrap();
            expect(stream, &[0xD0, 0]).await;
        }
    }
}
