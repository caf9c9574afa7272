//! Accept loops: one task per listening socket, one tracked task per accepted connection.
//!
//! - [`serve_tcp`]: plain MQTT, for local development, under the configured local policy.
//! - [`serve_tls`]: MQTT over TLS with a client certificate (port 8883), or, with an HTTP
//!   hand-off, AWS's port 443: ALPN `x-amzn-mqtt-ca` gets MQTT, anything else is passed on as
//!   an HTTPS connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocore_broker::{Authorize, Broker};
use ferrocore_policy::{Arns, PolicyDocument};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::authorize::PolicyAuthorizer;
use crate::connection::{ConnectionSettings, Driver, Shared, serve_connection};
use crate::devices::{Devices, Registered};
use crate::park::{BUSY_STREAK, Lot, TcpShared, serve_accepted};
use crate::tls::ALPN_MQTT;

/// Connections waiting to be accepted (tokio's default for `TcpListener::bind`).
const LISTEN_BACKLOG: u32 = 1024;

/// How long the kernel may hold a new connection back from `accept` until its first bytes
/// arrive (TCP_DEFER_ACCEPT, seconds). Everything served here speaks first (MQTT's CONNECT, a
/// TLS ClientHello, an HTTP request), so a connection reaches the broker with work to do:
/// one wakeup and one read, and no task for a socket that never says anything. A silent
/// client is accepted all the same once this has passed (the kernel resends its SYN-ACK and
/// takes the answer), and the connect timeout runs from there.
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 1;

/// What every listener shares: the broker, the stop signal and the task tracker.
#[derive(Debug, Clone)]
pub struct Listeners {
    /// The broker connections attach to.
    pub broker: Broker,
    /// Cancelled to stop accepting and close every connection.
    pub shutdown: CancellationToken,
    /// Tracks every connection task, to wait for them at shutdown.
    pub tracker: TaskTracker,
    /// Per-connection settings.
    pub settings: ConnectionSettings,
    /// The plain listener's local policy; `None` allows everything without evaluating.
    pub local_policy: Option<(Arc<PolicyDocument>, Arns)>,
}

/// An HTTPS connection handed off by a TLS listener.
#[derive(Debug)]
pub struct HttpsConnection {
    /// The connection, its handshake done.
    pub stream: TlsStream<TcpStream>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client certificate it presented: registered and usable, or why not. `None`
    /// without one (SigV4 requests).
    pub device: Option<Result<Arc<Registered>, String>>,
}

/// What a TLS listener needs besides [`Listeners`].
#[derive(Clone)]
pub struct TlsListener {
    /// The TLS configuration (its ALPN list decides what clients may ask for).
    pub acceptor: TlsAcceptor,
    /// Device certificates, to authenticate MQTT clients.
    pub devices: Devices,
    /// Where connections that did not ask for MQTT go; `None` makes every connection MQTT.
    pub https: Option<mpsc::Sender<HttpsConnection>>,
}

/// Accepts plain-TCP MQTT connections on `listener` until shutdown.
///
/// A connection that idles gives up its task until it has work again ([`crate::park`]).
pub async fn serve_tcp(listener: TcpListener, listeners: Listeners) {
    let ctx = Arc::new(TcpShared {
        shared: Shared {
            broker: listeners.broker.clone(),
            shutdown: listeners.shutdown.clone(),
            settings: listeners.settings,
        },
        lot: listeners.settings.park_after.and_then(|_| {
            Lot::start(listeners.shutdown.clone())
                .inspect_err(|error| {
                    tracing::warn!(%error, "no parking lot; idle connections keep their tasks");
                })
                .ok()
        }),
        tracker: listeners.tracker.clone(),
        runtime: tokio::runtime::Handle::current(),
        busy_streak: BUSY_STREAK,
    });
    let local_policy = listeners.local_policy.clone();
    let shutdown = listeners.shutdown.clone();
    accept_loop(listener, shutdown, move |socket, peer| {
        let authorizer = local_policy.as_ref().map(|(policy, arns)| {
            let local = PolicyAuthorizer::local(Arc::clone(policy), arns.clone(), Some(peer));
            Box::new(local) as Box<dyn Authorize>
        });
        let driver = Driver::new(socket, Some(peer), &ctx.shared.broker, authorizer);
        ctx.tracker.spawn(serve_accepted(driver, Arc::clone(&ctx)));
    })
    .await;
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("https", &self.https.is_some()).finish_non_exhaustive()
    }
}

/// Accepts TLS connections on `listener` until shutdown: MQTT with a device certificate, or
/// HTTPS handed to `tls.https`.
pub async fn serve_tls(listener: TcpListener, tls: TlsListener, listeners: Listeners) {
    let shutdown = listeners.shutdown.clone();
    accept_loop(listener, shutdown, move |socket, peer| match TcpStream::from_std(socket) {
        Ok(stream) => {
            let serve = serve_tls_connection(stream, peer, tls.clone(), listeners.clone());
            listeners.tracker.spawn(serve);
        }
        Err(error) => tracing::warn!(%peer, %error, "could not take a connection into the reactor"),
    })
    .await;
}

/// Accepted connections taken per wakeup of the accept loop before it lets other tasks run.
const ACCEPT_BATCH: usize = 64;

/// Accepts connections until `shutdown` and hands each to `serve` as it comes: its socket
/// non-blocking, with TCP_NODELAY, and not (yet) in the reactor, so that a connection served
/// at once and parked never enters it.
pub(crate) async fn accept_loop<F>(listener: TcpListener, shutdown: CancellationToken, mut serve: F)
where
    F: FnMut(std::net::TcpStream, SocketAddr),
{
    let local = listener.local_addr().ok();
    let listener = listener.into_std().map(mio::net::TcpListener::from_std).and_then(|listener| {
        // SAFETY: the `mio` listener owns its socket and closes it only when dropped, which
        // happens when the `AsyncFd` that now owns it is dropped; until then `as_raw_fd`
        // returns that same open descriptor.
        #[allow(unsafe_code)]
        let registered = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) };
        registered.map_err(io::Error::from)
    });
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(?local, %error, "cannot wait for connections");
            return;
        }
    };
    // Whether accepted sockets come with TCP_NODELAY already, from a listener that has it
    // ([`bind`] sets it; Linux copies it to accepted sockets): one system call less each.
    let mut inherits_nodelay = None;
    loop {
        let mut ready = tokio::select! {
            ready = listener.readable() => match ready {
                Ok(ready) => ready,
                Err(error) => {
                    tracing::error!(?local, %error, "cannot wait for connections");
                    break;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let mut failed = false;
        let mut taken = 0;
        while taken < ACCEPT_BATCH && !shutdown.is_cancelled() {
            match ready.get_inner().accept() {
                Ok((stream, peer)) => {
                    taken += 1;
                    let stream = std::net::TcpStream::from(stream);
                    // Small packets must not wait for Nagle's algorithm: latency matters more
                    // than the few bytes it would save.
                    let inherited =
                        *inherits_nodelay.get_or_insert_with(|| stream.nodelay().unwrap_or(false));
                    if !inherited && let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
                    }
                    serve(stream, peer);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    break;
                }
                // A client that reset its connection before it was accepted: the next one.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(error) => {
                    // Running out of file descriptors must not end the listener; back off.
                    tracing::warn!(?local, %error, "accept failed");
                    failed = true;
                    break;
                }
            }
        }
        drop(ready);
        if failed {
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else if taken == ACCEPT_BATCH {
            tokio::task::yield_now().await;
        }
    }
    tracing::debug!(?local, "listener stopped");
}

async fn serve_tls_connection(stream: TcpStream, peer: SocketAddr, tls: TlsListener, l: Listeners) {
    let handshake = tokio::time::timeout(l.settings.connect_timeout, tls.acceptor.accept(stream));
    let stream = match handshake.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::info!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let session = stream.get_ref().1;
    let mqtt = session.alpn_protocol() == Some(ALPN_MQTT);
    let certificate = session.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
    if let Some(https) = &tls.https
        && !mqtt
    {
        // Not MQTT: the HTTPS server takes it (it stops when the server stops). A device
        // certificate authenticates its requests that carry no SigV4.
        let device = certificate.map(|der| tls.devices.identify(&der).map(Arc::new));
        let _ = https.send(HttpsConnection { stream, peer, device }).await;
        return;
    }
    let authorizer = tls.devices.authenticate(certificate.as_deref(), Some(peer));
    serve_connection(
        stream,
        Some(peer),
        l.broker,
        l.shutdown,
        l.settings,
        Some(Box::new(authorizer)),
    )
    .await;
}

/// Binds a TCP listener with TCP_NODELAY (for the sockets it accepts) and, on Linux,
/// TCP_DEFER_ACCEPT (a connection reaches `accept` with its first bytes, or after a second),
/// logging where it listens.
pub async fn bind(addr: SocketAddr, what: &str) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As tokio's `TcpListener::bind` does: a restarted server must not wait for the old
    // connections' TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    #[cfg(target_os = "linux")]
    if let Err(error) = defer_accept(&socket, DEFER_ACCEPT_SECS) {
        tracing::debug!(%addr, %error, "could not set TCP_DEFER_ACCEPT");
    }
    let listener = socket.listen(LISTEN_BACKLOG)?;
    tracing::info!(addr = %listener.local_addr()?, "{what} listening");
    Ok(listener)
}

/// Sets TCP_DEFER_ACCEPT on a socket about to listen.
#[cfg(target_os = "linux")]
fn defer_accept(socket: &TcpSocket, seconds: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is the open socket `socket` owns for the whole call; the option value points
    // to a live `c_int` and `len` is its size, which is what TCP_DEFER_ACCEPT reads; the call
    // writes nothing.
    #[allow(unsafe_code)]
    let done = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const seconds).cast(),
            len,
        )
    };
    if done == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_connection_is_accepted_with_its_first_bytes_or_once_the_deferral_passes() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), "test").await.unwrap();
        let addr = listener.local_addr().unwrap();

        // Connected (the handshake is done on the client's side) but silent: held back.
        let silent = TcpStream::connect(addr).await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(early.is_err(), "a silent connection was accepted at once");

        // A client that speaks is accepted with its bytes already there.
        let mut talker = TcpStream::connect(addr).await.unwrap();
        talker.write_all(&[0x10, 0]).await.unwrap();
        let (mut accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, talker.local_addr().unwrap());
        let mut first = [0; 2];
        accepted.read_exact(&mut first).await.unwrap();
        assert_eq!(first, [0x10, 0]);

        // The silent one still reaches the broker (whose connect timeout then closes it).
        let late = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
        let (_, peer) = late.expect("accepted after the deferral").unwrap();
        assert_eq!(peer, silent.local_addr().unwrap());
    }

    async fn expect(stream: &mut TcpStream, bytes: &[u8]) {
        let mut got = vec![0; bytes.len()];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut got));
        read.await.expect("answer in time").expect("readable");
        assert_eq!(got, bytes);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_plain_listener_serves_with_parking_on_and_off() {
        use ferrocore_broker::{BrokerConfig, Profile};
        for park_after in [Some(Duration::from_millis(20)), None] {
            let listeners = Listeners {
                broker: Broker::new(BrokerConfig::for_profile(Profile::Mqtt), None),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                settings: ConnectionSettings { park_after, ..ConnectionSettings::default() },
                local_policy: None,
            };
            let listener = bind("127.0.0.1:0".parse().unwrap(), "test").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(serve_tcp(listener, listeners.clone()));
            let connect = |id: u8| [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, id];
            let mut subscriber = TcpStream::connect(addr).await.unwrap();
            subscriber.write_all(&connect(b's')).await.unwrap();
            expect(&mut subscriber, &[0x20, 2, 0, 0]).await;
            subscriber.write_all(&[0x82, 6, 0, 1, 0, 1, b't', 0]).await.unwrap();
            expect(&mut subscriber, &[0x90, 3, 0, 1, 0]).await;
            let mut publisher = TcpStream::connect(addr).await.unwrap();
            publisher.write_all(&connect(b'p')).await.unwrap();
            expect(&mut publisher, &[0x20, 2, 0, 0]).await;
            let publish = [0x30, 5, 0, 1, b't', b'h', b'i'];
            publisher.write_all(&publish).await.unwrap();
            expect(&mut subscriber, &publish).await;
            // Shutdown closes both, parked or not.
            listeners.shutdown.cancel();
            listeners.tracker.close();
            let stopped = tokio::time::timeout(Duration::from_secs(10), listeners.tracker.wait());
            stopped.await.expect("every connection ended");
            let mut rest = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(10), subscriber.read_to_end(&mut rest));
            closed.await.expect("closed in time").unwrap();
        }
    }
}
