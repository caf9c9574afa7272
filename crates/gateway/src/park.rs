//! Parking: an idle plain-TCP connection without a task.
//!
//! A connection task that has been idle for a while (nothing buffered either way, nothing to
//! wait for but the client, the router, its keep-alive or shutdown) ends, and its
//! [`Driver`] is kept in a [`Cell`] instead: no task, no future, no timer of its own. What
//! can give it work wakes the cell, which spawns a task to drive it again:
//!
//! - the socket becoming readable (or closed): the reactor wakes the cell's waker, which the
//!   socket's readiness registration holds;
//! - the router or a close request: the session's [`Link`] holds the waker
//!   ([`Link::park`]);
//! - the keep-alive deadline or shutdown: the listener's [`Lot`] holds the waker in a map
//!   ordered by deadline, with one task that wakes what falls due, and everything at shutdown.
//!
//! A wake takes the driver out of the cell, so the connection runs on at most one task; later
//! wakes of the same cell find it empty and do nothing. A connection keeps the listener's
//! [`TaskTracker`] waiting while parked, as it does while it runs.
//!
//! [`Link`]: ferrocore_broker::Link
//! [`Link::park`]: ferrocore_broker::Link::park

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use ferrocore_broker::now_ms;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::connection::{Driver, Shared, drive};

/// What the plain-TCP connections of one listener share.
#[derive(Debug)]
pub(crate) struct TcpShared {
    pub shared: Shared,
    pub lot: Lot,
    pub tracker: TaskTracker,
    pub runtime: Handle,
}

/// Drives a plain-TCP connection until it closes, parking it whenever it idles.
pub(crate) async fn serve_parking(mut driver: Driver<TcpStream>, ctx: Arc<TcpShared>) {
    let park_after = ctx.shared.settings.park_after;
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
    driver: Driver<TcpStream>,
    /// Its entry in the lot.
    key: LotKey,
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
        // Wakes come from the reactor, the router (any thread) or the lot.
        ctx.runtime.spawn(task);
    }
}

async fn resume(parked: Parked, ctx: Arc<TcpShared>) {
    let Parked { driver, key, _tracked } = parked;
    ctx.lot.remove(key);
    if let Some(link) = driver.connection.link() {
        link.unpark();
    }
    serve_parking(driver, ctx).await;
}

/// Parks `driver`, or hands it back when it has work already (bytes to read, a wake from the
/// router, a close request, shutdown).
fn park(driver: Driver<TcpStream>, ctx: &Arc<TcpShared>) -> Option<Driver<TcpStream>> {
    let Some(link) = driver.connection.link() else { return Some(driver) };
    let deadline = driver.connection.poll_timeout().unwrap_or(u64::MAX);
    let key = ctx.lot.key(deadline);
    let cell = Arc::new(Cell { parked: Mutex::new(None), ctx: Arc::clone(ctx) });
    let waker = Waker::from(Arc::clone(&cell));
    // The cell stays locked until every registration is made, so that a wake arriving
    // meanwhile (from another thread) waits and then finds the connection in place.
    let mut slot = cell.parked.lock();
    let parked = slot.insert(Parked { driver, key, _tracked: ctx.tracker.token() });
    let readable = parked.driver.stream.poll_read_ready(&mut Context::from_waker(&waker));
    if readable.is_ready() || !link.park(&waker) {
        return slot.take().map(|parked| parked.driver);
    }
    ctx.lot.insert(key, waker);
    if ctx.shared.shutdown.is_cancelled() {
        // The lot may have woken everything already.
        link.unpark();
        ctx.lot.remove(key);
        return slot.take().map(|parked| parked.driver);
    }
    None
}

/// A lot entry: the deadline (ms since the epoch) and a unique number.
type LotKey = (u64, u64);

/// The wakers of one listener's parked connections, by keep-alive deadline.
#[derive(Debug, Clone)]
pub(crate) struct Lot {
    inner: Arc<LotInner>,
}

#[derive(Debug, Default)]
struct LotInner {
    waiting: Mutex<BTreeMap<LotKey, Waker>>,
    next: AtomicU64,
    /// Told when a new earliest deadline arrives.
    sooner: Notify,
}

impl Lot {
    /// A lot whose task runs until `shutdown`, then wakes every connection in it.
    pub(crate) fn start(shutdown: CancellationToken) -> Lot {
        let lot = Lot { inner: Arc::default() };
        tokio::spawn(run_lot(Arc::clone(&lot.inner), shutdown));
        lot
    }

    fn key(&self, deadline_ms: u64) -> LotKey {
        (deadline_ms, self.inner.next.fetch_add(1, Ordering::Relaxed))
    }

    fn insert(&self, key: LotKey, waker: Waker) {
        let mut waiting = self.inner.waiting.lock();
        waiting.insert(key, waker);
        let first = waiting.first_key_value().is_some_and(|(first, _)| *first == key);
        drop(waiting);
        if first && key.0 != u64::MAX {
            self.inner.sooner.notify_one();
        }
    }

    fn remove(&self, key: LotKey) {
        self.inner.waiting.lock().remove(&key);
    }

    /// How many connections are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.waiting.lock().len()
    }
}

async fn run_lot(lot: Arc<LotInner>, shutdown: CancellationToken) {
    loop {
        let next = lot.waiting.lock().first_key_value().map(|(key, _)| key.0);
        let due_in = next.filter(|ms| *ms != u64::MAX).map(|ms| ms.saturating_sub(now_ms()));
        let sleep = tokio::time::sleep(Duration::from_millis(due_in.unwrap_or(0)));
        let due = tokio::select! {
            () = shutdown.cancelled() => {
                let all = std::mem::take(&mut *lot.waiting.lock());
                all.into_values().for_each(Waker::wake);
                return;
            }
            () = lot.sooner.notified() => continue,
            () = sleep, if due_in.is_some() => {
                let mut waiting = lot.waiting.lock();
                let later = waiting.split_off(&(now_ms().saturating_add(1), 0));
                std::mem::replace(&mut *waiting, later)
            }
        };
        // Woken outside the lock: a woken connection removes its entry itself.
        due.into_values().for_each(Waker::wake);
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
            lot: Lot::start(shutdown),
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

    async fn wait_parked(ctx: &TcpShared, count: usize) {
        for _ in 0..1000 {
            if ctx.lot.len() == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} parked, expected {count}", ctx.lot.len());
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
        assert_eq!(ctx.lot.len(), 0);
    }
}
