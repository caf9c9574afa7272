//! Parking: quiet plain-TCP connections kept without a task and without a reactor entry.
//!
//! Most connections of a fleet are quiet most of the time: a packet now and then, a delivery
//! now and then, a PINGREQ per keep-alive. Such a connection waits in its listener's [`Lot`]:
//! its socket in an epoll set of the lot's own, the rest of its state ([`Parts`], without
//! buffers) in a [`Cell`]: no task, no future, no timer and no readiness record of its own, a
//! few hundred bytes instead of a few kilobytes. What can give it work wakes the cell:
//!
//! - the socket becoming readable (or closed): the lot's epoll reports it;
//! - the router or a close request: the session's [`Link`] holds the cell's waker
//!   ([`Link::park`]);
//! - the keep-alive deadline or shutdown: the lot keeps each connection's deadline beside it,
//!   sweeps for what fell due whenever the earliest one passes (at most every
//!   [`SWEEP_INTERVAL_MS`]), and wakes everything at shutdown.
//!
//! A wake spawns a short task that does what the connection can do at once
//! ([`Driver::step_now`]: take what the router left, read what the socket holds, answer
//! without waiting) and puts it back in its cell, its socket still in the lot's set (which
//! reports edges): a PINGREQ, a SUBSCRIBE or a delivery costs no `epoll_ctl`. A connection
//! with work that must wait (output its socket does not take, a commit, a congested
//! subscriber, a stream of bytes) leaves the lot for tokio's reactor and a task of its own
//! ([`serve_parking`]), and comes back once it has idled for a while.
//!
//! A new connection starts the same way, on the accept loop ([`serve_accepted`]): the
//! listener defers `accept` until the client's first bytes are there, so its CONNECT is read
//! and answered, and the connection parked, before it ever has a task or a reactor entry.
//!
//! The cell's state says who has the connection: the cell itself, a task serving it (a wake
//! meanwhile is recorded, and the task looks again before it parks), or the reactor. So the
//! connection runs on at most one task. A parked connection keeps the listener's
//! [`TaskTracker`] waiting, as a running one does.
//!
//! [`Link`]: ferrocore_broker::Link
//! [`Link::park`]: ferrocore_broker::Link::park

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};
use std::time::Duration;

use ferrocore_broker::{CloseReason, now_ms};
use mio::unix::SourceFd;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::connection::{Driver, Parts, Shared, drive};

/// Bytes a quick step reads at most; a connection that sends more is busy, and goes to the
/// reactor.
const QUICK_READ: usize = 16 * 1024;

/// Quick steps in a row that find more work before a connection goes to the reactor.
const QUICK_ROUNDS: usize = 4;

/// A wake this soon after parking counts toward the busy streak.
const BUSY_GAP_MS: u32 = 10;

/// Wakes in a row, each within [`BUSY_GAP_MS`] of parking, that make a connection busy: it
/// goes on in the reactor, where waiting for its socket costs no hand-off between threads
/// and no task per packet. A client's first few packets after its CONNECT (subscriptions,
/// say) stay below it.
pub(crate) const BUSY_STREAK: u8 = 4;

/// What the plain-TCP connections of one listener share.
#[derive(Debug)]
pub(crate) struct TcpShared {
    pub shared: Shared,
    /// `None` when parking is off, or its epoll set could not be made.
    pub lot: Option<Lot>,
    pub tracker: TaskTracker,
    pub runtime: Handle,
    /// Early wakes in a row that make a parked connection busy ([`BUSY_STREAK`]).
    pub busy_streak: u8,
}

/// Serves a connection just accepted on a plain-TCP listener (its socket non-blocking and
/// outside the reactor): answered and parked at once when its CONNECT is there and nothing
/// else waits, on in the reactor otherwise.
pub(crate) fn serve_accepted(
    driver: Driver<std::net::TcpStream>,
    ctx: Arc<TcpShared>,
) -> impl Future<Output = ()> + Send {
    serve_quickly(driver, None, ctx)
}

/// Serves what `driver` can do at once and parks it ([`settle`]), or drives it on in the
/// reactor.
async fn serve_quickly(
    driver: Driver<std::net::TcpStream>,
    home: Option<Home>,
    ctx: Arc<TcpShared>,
) {
    // The reactor's future is large (the whole connection loop) and most connections never
    // need it: boxed, it is made only for those, and the task of one that parks at once is
    // small to make and to move.
    match settle(driver, home, &ctx) {
        Settled::Parked => {}
        Settled::Busy(driver) => Box::pin(in_reactor(driver, None, ctx)).await,
        Settled::Closing(driver, reason) => Box::pin(in_reactor(driver, Some(reason), ctx)).await,
    }
}

/// Drives a plain-TCP connection on its task until it closes, parking it whenever it idles.
pub(crate) async fn serve_parking(mut driver: Driver<TcpStream>, ctx: Arc<TcpShared>) {
    let park_after = ctx.shared.settings.park_after.filter(|_| ctx.lot.is_some());
    loop {
        let Some(idle) = drive(driver, &ctx.shared, park_after).await else { return };
        let Some(idle) = idle.map_stream(TcpStream::into_std, &ctx.shared) else { return };
        driver = match settle(idle, None, &ctx) {
            Settled::Parked => return,
            Settled::Busy(busy) => match into_reactor(busy, &ctx) {
                Some(driver) => driver,
                None => return,
            },
            Settled::Closing(closing, reason) => {
                if let Some(driver) = into_reactor(closing, &ctx) {
                    driver.close(reason, &ctx.shared).await;
                }
                return;
            }
        };
    }
}

/// Takes a connection into the reactor and drives it there, or closes it for `closing`.
async fn in_reactor(
    driver: Driver<std::net::TcpStream>,
    closing: Option<CloseReason>,
    ctx: Arc<TcpShared>,
) {
    let Some(driver) = into_reactor(driver, &ctx) else { return };
    match closing {
        Some(reason) => driver.close(reason, &ctx.shared).await,
        None => serve_parking(driver, ctx).await,
    }
}

/// Registers a connection's socket with the reactor; a socket it refuses loses the connection.
fn into_reactor(driver: Driver<std::net::TcpStream>, ctx: &TcpShared) -> Option<Driver<TcpStream>> {
    driver.map_stream(TcpStream::from_std, &ctx.shared)
}

/// A parked connection.
struct Parked {
    socket: std::net::TcpStream,
    /// Its slot in the lot.
    slot: u32,
    /// When it parked (milliseconds since the epoch, wrapping).
    since: u32,
    /// How many wakes in a row came within [`BUSY_GAP_MS`] of its parking.
    streak: u8,
    parts: Parts,
    /// Keeps the listener's tracker waiting for this connection.
    _tracked: TaskTrackerToken,
}

/// Who has a connection that has a cell.
enum State {
    /// The cell: it waits in the lot.
    Parked(Parked),
    /// A task serving it; `woken` records a wake that came meanwhile.
    Serving { woken: bool },
    /// The reactor, or nobody (it closed): its slot is given back, wakes do nothing.
    Left,
}

/// Where a parked connection waits; its waker is the cell itself.
struct Cell {
    state: Mutex<State>,
    ctx: Arc<TcpShared>,
}

impl Wake for Cell {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parked = {
            let mut state = self.state.lock();
            match std::mem::replace(&mut *state, State::Serving { woken: true }) {
                State::Parked(parked) => {
                    *state = State::Serving { woken: false };
                    parked
                }
                // Recorded (`woken`): the task looks again before it parks.
                State::Serving { .. } => return,
                State::Left => {
                    *state = State::Left;
                    return;
                }
            }
        };
        let ctx = &self.ctx;
        let task = ctx.tracker.track_future(serve_woken(Arc::clone(self), parked));
        // Wakes come from the lot's thread or from the router (any thread).
        ctx.runtime.spawn(task);
    }
}

/// Serves a woken connection: at once and back into its cell, or on in the reactor.
async fn serve_woken(cell: Arc<Cell>, parked: Parked) {
    let Parked { socket, slot, since, streak, parts, _tracked } = parked;
    let soon = (now_ms() as u32).wrapping_sub(since) < BUSY_GAP_MS;
    let streak = if soon { streak.saturating_add(1) } else { 0 };
    let ctx = Arc::clone(&cell.ctx);
    let home = Home { cell, slot, streak };
    serve_quickly(Driver::from_parts(socket, parts), Some(home), ctx).await;
}

/// The cell and lot slot a woken connection has, and its streak of early wakes.
struct Home {
    cell: Arc<Cell>,
    slot: u32,
    streak: u8,
}

/// How [`settle`] left a connection.
enum Settled {
    /// In its cell, its socket in the lot.
    Parked,
    /// Out of the lot with work that must wait: for the reactor.
    Busy(Driver<std::net::TcpStream>),
    /// Out of the lot, to be closed for the reason.
    Closing(Driver<std::net::TcpStream>, CloseReason),
}

/// Does what `driver` can do at once and parks it: in `home` when it comes from there (its
/// socket is still in the lot), else in a new cell and slot. A connection with work that must
/// wait, or that keeps finding more, leaves the lot instead.
fn settle(
    mut driver: Driver<std::net::TcpStream>,
    mut home: Option<Home>,
    ctx: &Arc<TcpShared>,
) -> Settled {
    let Some(lot) = ctx.lot.as_ref() else { return Settled::Busy(driver) };
    let fd = driver.stream().as_raw_fd();
    let mut closing = None;
    for _ in 0..QUICK_ROUNDS {
        if ctx.shared.shutdown.is_cancelled() {
            // The reactor's task closes it for the shutdown.
            break;
        }
        match driver.step_now(QUICK_READ) {
            Ok(true) => {}
            Ok(false) => break,
            Err(reason) => {
                closing = Some(reason);
                break;
            }
        }
        if home.as_ref().is_some_and(|home| home.streak >= ctx.busy_streak) {
            break;
        }
        let Some(link) = driver.connection.link() else { break };
        let deadline = driver.connection.poll_timeout().unwrap_or(u64::MAX);
        let Home { cell, slot, streak } = match home.take() {
            Some(home) => {
                lot.set_deadline(home.slot, deadline);
                home
            }
            None => {
                let state = Mutex::new(State::Serving { woken: false });
                let cell = Arc::new(Cell { state, ctx: Arc::clone(ctx) });
                match lot.insert(deadline, &cell, fd) {
                    Ok(slot) => Home { cell, slot, streak: 0 },
                    Err(error) => {
                        tracing::warn!(%error, "could not park an idle connection");
                        break;
                    }
                }
            }
        };
        // Before the cell is locked: the router wakes the cell with the session locked, so
        // nothing may lock the session with the cell locked.
        driver.connection.shrink();
        // A wake racing with this is not lost: the link refuses the waker when work is
        // pending, the cell records a wake while it is being served, and the cell is locked
        // from the look at both until the connection is in it. A shutdown after the look
        // finds the connection in the lot and wakes it.
        let waiting = link.park(&Waker::from(Arc::clone(&cell)));
        let mut state = cell.state.lock();
        let woken = matches!(*state, State::Serving { woken: true });
        if waiting && !woken && !ctx.shared.shutdown.is_cancelled() {
            let (socket, parts) = driver.into_parts();
            let tracked = ctx.tracker.token();
            let since = now_ms() as u32;
            let parked = Parked { socket, slot, since, streak, parts, _tracked: tracked };
            *state = State::Parked(parked);
            return Settled::Parked;
        }
        // Work came first: another round.
        *state = State::Serving { woken: false };
        drop(state);
        link.unpark();
        home = Some(Home { cell, slot, streak });
    }
    if let Some(Home { cell, slot, .. }) = home {
        *cell.state.lock() = State::Left;
        lot.remove(slot, fd);
    }
    if let Some(link) = driver.connection.link() {
        link.unpark();
    }
    match closing {
        Some(reason) => Settled::Closing(driver, reason),
        None => Settled::Busy(driver),
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
    /// How many times a socket was added to the set.
    #[cfg(test)]
    registrations: std::sync::atomic::AtomicUsize,
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
            #[cfg(test)]
            registrations: Default::default(),
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
        #[cfg(test)]
        self.inner.registrations.fetch_add(1, Ordering::Relaxed);
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

    /// Moves the keep-alive deadline of the connection in `slot`, which stays parked.
    fn set_deadline(&self, slot: u32, deadline: u64) {
        let sooner = {
            let mut state = self.inner.state.lock();
            // Empty after shutdown, which emptied every slot at once.
            if let Some(Some(entry)) = state.slots.get_mut(slot as usize) {
                entry.deadline = deadline;
            }
            let sooner = deadline < state.earliest;
            if sooner {
                state.earliest = deadline;
            }
            sooner
        };
        if sooner && let Err(error) = self.inner.interrupt.wake() {
            tracing::warn!(%error, "could not reach the parking lot's thread");
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

    /// How many times a socket was added to the lot's set.
    #[cfg(test)]
    pub(crate) fn registrations(&self) -> usize {
        self.inner.registrations.load(Ordering::Relaxed)
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
    use tokio::net::TcpStream;

    use super::*;
    use crate::connection::ConnectionSettings;

    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    /// A listener whose connections park after 20 ms idle; the context is kept for looking
    /// into the lot.
    async fn listener() -> (std::net::SocketAddr, Arc<TcpShared>) {
        listener_with(BUSY_STREAK).await
    }

    /// The same, with connections made busy by `busy_streak` early wakes in a row.
    async fn listener_with(busy_streak: u8) -> (std::net::SocketAddr, Arc<TcpShared>) {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
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
            lot: Some(Lot::start(stop).unwrap()),
            tracker: TaskTracker::new(),
            runtime: Handle::current(),
            busy_streak,
        });
        let listener = crate::listener::bind("127.0.0.1:0".parse().unwrap(), "test").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = Arc::clone(&ctx);
        let serve = move |socket, peer| {
            let driver = Driver::new(socket, Some(peer), &accepting.shared.broker, None);
            accepting.tracker.spawn(serve_accepted(driver, Arc::clone(&accepting)));
        };
        tokio::spawn(crate::listener::accept_loop(listener, shutdown, serve));
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

    fn registrations(ctx: &TcpShared) -> usize {
        ctx.lot.as_ref().map_or(0, Lot::registrations)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_connection_is_served_in_the_lot_from_its_connect_on() {
        let (addr, ctx) = listener().await;
        // Answered on the accept loop and parked at once: in the lot before the CONNACK is
        // read.
        let mut subscriber = client(addr, b's', 60).await;
        assert_eq!(parked(&ctx), 1);
        subscriber.write_all(&[0x82, 6, 0, 1, 0, 1, b't', 0]).await.unwrap();
        expect(&mut subscriber, &[0x90, 3, 0, 1, 0]).await;
        subscriber.write_all(&[0xC0, 0]).await.unwrap();
        expect(&mut subscriber, &[0xD0, 0]).await;
        let mut publisher = client(addr, b'p', 60).await;
        let publish = [0x30, 5, 0, 1, b't', b'h', b'i'];
        publisher.write_all(&publish).await.unwrap();
        expect(&mut subscriber, &publish).await;
        wait_parked(&ctx, 2).await;
        // A SUBSCRIBE, a PINGREQ, a PUBLISH and a delivery later, each socket was added to the
        // lot's set once: every wake was served in place.
        assert_eq!(registrations(&ctx), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_with_more_than_a_quick_read_goes_to_the_reactor_and_comes_back() {
        let (addr, ctx) = listener().await;
        let mut busy = client(addr, b'b', 60).await;
        assert_eq!(registrations(&ctx), 1);
        // More PINGREQs in one go than a quick step reads.
        let pings = QUICK_READ;
        busy.write_all(&[0xC0, 0].repeat(pings)).await.unwrap();
        expect(&mut busy, &[0xD0, 0].repeat(pings)).await;
        // It left the lot for the reactor, idled there, and parked again.
        for _ in 0..1000 {
            if registrations(&ctx) == 2 && parked(&ctx) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!((registrations(&ctx), parked(&ctx)), (2, 1));
        busy.write_all(&[0xC0, 0]).await.unwrap();
        expect(&mut busy, &[0xD0, 0]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connect_that_comes_in_pieces_is_finished_in_the_reactor() {
        let (addr, ctx) = listener().await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let connect = connect(b'c', 60);
        // Accepted with its first bytes, which are not a whole CONNECT.
        stream.write_all(&connect[..5]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(parked(&ctx), 0);
        stream.write_all(&connect[5..]).await.unwrap();
        expect(&mut stream, &CONNACK).await;
        wait_parked(&ctx, 1).await;
        stream.write_all(&[0xC0, 0]).await.unwrap();
        expect(&mut stream, &[0xD0, 0]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_woken_again_and_again_goes_to_the_reactor() {
        let (addr, ctx) = listener().await;
        let mut chatty = client(addr, b'c', 60).await;
        // Ping-pongs a few milliseconds apart at most: a streak of early wakes (one gap
        // longer than that only starts the streak again).
        for _ in 0..50 {
            chatty.write_all(&[0xC0, 0]).await.unwrap();
            expect(&mut chatty, &[0xD0, 0]).await;
            if registrations(&ctx) == 2 {
                break;
            }
        }
        // It went to the reactor, and is parked again once it has idled there.
        for _ in 0..1000 {
            if registrations(&ctx) == 2 && parked(&ctx) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!((registrations(&ctx), parked(&ctx)), (2, 1));
    }

    #[tokio::test]
    async fn the_task_of_a_connection_served_at_once_is_small() {
        let (_, ctx) = listener().await;
        let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(local.local_addr().unwrap()).unwrap();
        let (socket, peer) = local.accept().unwrap();
        let driver = Driver::new(socket, Some(peer), &ctx.shared.broker, None);
        // Its future holds the connection (twice: as it came, and as the quick step leaves
        // it), not the reactor's connection loop (over 3 KiB): that one is boxed, made only
        // for a connection that goes there.
        let task = serve_accepted(driver, Arc::clone(&ctx));
        assert!(size_of_val(&task) < 1024, "{} bytes", size_of_val(&task));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_racing_with_parking_all_arrive() {
        // Subscribers park and are woken by the router over and over while one publisher
        // sends as fast as it can: every wake must find its connection, and no lock taken
        // by a wake (the session's, then the cell's) may be taken the other way round by a
        // parking connection.
        // A deadlock stops the runtime's threads, and with them the test's own timeouts.
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if finished.recv_timeout(Duration::from_secs(60)).is_err() {
                eprintln!("deliveries_racing_with_parking_all_arrive: stuck for a minute");
                std::process::abort();
            }
        });
        // Never busy: every delivery wakes a parked subscriber.
        let (addr, _ctx) = listener_with(u8::MAX).await;
        let mut subscribers = Vec::new();
        for id in 0..8u8 {
            let mut subscriber = client(addr, b'a' + id, 60).await;
            subscriber.write_all(&[0x82, 6, 0, 1, 0, 1, b't', 0]).await.unwrap();
            expect(&mut subscriber, &[0x90, 3, 0, 1, 0]).await;
            subscribers.push(subscriber);
        }
        let mut publisher = client(addr, b'p', 60).await;
        let publish = [0x30, 5, 0, 1, b't', b'h', b'i'];
        let count = 5_000;
        let readers: Vec<_> = subscribers
            .into_iter()
            .map(|mut subscriber| {
                tokio::spawn(async move {
                    let mut got = vec![0; publish.len() * count];
                    let read = subscriber.read_exact(&mut got);
                    tokio::time::timeout(Duration::from_secs(20), read).await
                })
            })
            .collect();
        for chunk in publish.repeat(count).chunks(publish.len() * 50) {
            publisher.write_all(chunk).await.unwrap();
            tokio::task::yield_now().await;
        }
        for reader in readers {
            let read = reader.await.unwrap();
            read.expect("every delivery in time").expect("readable");
        }
        let _ = done.send(());
    }
}
