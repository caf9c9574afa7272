//! The connect floor: a server that does the least any MQTT broker must do for a new
//! connection, as a reference for the `conns` scenario on the same machine.
//!
//! One thread, one epoll set: it accepts, reads the CONNECT (the listener defers `accept`
//! until the client's first bytes are there, as Ferrocore's does), answers with a fixed
//! successful CONNACK (3.1.1 or 5, by the CONNECT's protocol level), and waits for the socket;
//! the next bytes or the peer's close end the connection. No session, no client identifier,
//! no authorization, no logging, no allocation per connection beyond its slot. A broker's
//! connect rate over this one's, measured with the same generator, says how much of the
//! machine's per-connection cost (the kernel's accept, read, write, and the generator's own
//! share of two cores) is left for the broker to save.
//!
//! Usage: `ferrocore-connect-floor [PORT]` (default 0: any free port). Listens on 127.0.0.1
//! only, prints `connect floor listening on ADDR`, and runs until killed.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// The listener's token; connections count up from 0.
const LISTENER: Token = Token(usize::MAX);

/// CONNACK, session not present, accepted: MQTT 3.1.1 and MQTT 5 (no properties).
const CONNACK_311: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
const CONNACK_5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(error)) => {
            eprintln!("ferrocore-connect-floor: bad port: {error}");
            return ExitCode::from(2);
        }
    };
    match serve(SocketAddr::from(([127, 0, 0, 1], port))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrocore-connect-floor: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A connection: waiting for its CONNECT, or answered and waiting for its end.
struct Conn {
    stream: TcpStream,
    answered: bool,
}

fn serve(addr: SocketAddr) -> io::Result<()> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    #[cfg(target_os = "linux")]
    defer_accept(&std_listener)?;
    let mut listener = TcpListener::from_std(std_listener);
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("connect floor listening on {}", listener.local_addr()?);
    io::stdout().flush()?;

    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        if let Err(error) = poll.poll(&mut events, None) {
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    let stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                        Err(error) => {
                            eprintln!("ferrocore-connect-floor: accept: {error}");
                            break;
                        }
                    };
                    let slot = free.pop().unwrap_or_else(|| {
                        conns.push(None);
                        conns.len() - 1
                    });
                    let mut conn = Conn { stream, answered: false };
                    // The CONNECT is usually there already; if not, the socket's readiness
                    // brings it.
                    if step(&mut conn, &mut buf) && register(&poll, &mut conn, slot) {
                        conns[slot] = Some(conn);
                    } else {
                        free.push(slot);
                    }
                }
            } else {
                let slot = event.token().0;
                let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) else { continue };
                if !step(conn, &mut buf) {
                    if let Some(mut conn) = conns[slot].take() {
                        let _ = poll.registry().deregister(&mut conn.stream);
                    }
                    free.push(slot);
                }
            }
        }
    }
}

/// Reads what the socket holds and answers a CONNECT; `false` when the connection is over
/// (closed, an error, or any bytes after the CONNECT, such as DISCONNECT).
fn step(conn: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(_) if conn.answered => return false,
            Ok(n) => {
                let connack: &[u8] =
                    if protocol_level(&buf[..n]) == Some(5) { &CONNACK_5 } else { &CONNACK_311 };
                if conn.stream.write_all(connack).is_err() {
                    return false;
                }
                conn.answered = true;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return true,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn register(poll: &Poll, conn: &mut Conn, slot: usize) -> bool {
    poll.registry().register(&mut conn.stream, Token(slot), Interest::READABLE).is_ok()
}

/// The protocol level of a CONNECT at the start of `bytes`: after the fixed header (a type
/// byte and a 1-4 byte remaining length) and the protocol name ("MQTT", length-prefixed).
fn protocol_level(bytes: &[u8]) -> Option<u8> {
    let length_bytes = bytes.iter().skip(1).take(4).position(|b| b & 0x80 == 0)? + 1;
    bytes.get(1 + length_bytes + 6).copied()
}

/// TCP_DEFER_ACCEPT (one second), as Ferrocore's listeners set it.
#[cfg(target_os = "linux")]
fn defer_accept(listener: &std::net::TcpListener) -> io::Result<()> {
    let seconds: libc::c_int = 1;
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the descriptor is the open socket `listener` owns for the whole call; the option
    // value points to a live `c_int` and `len` is its size, which is what TCP_DEFER_ACCEPT
    // reads; the call writes nothing.
    #[allow(unsafe_code)]
    let done = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(listener),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const seconds).cast(),
            len,
        )
    };
    if done == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_level_is_read_after_the_fixed_header_and_the_name() {
        let v311 = [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'a'];
        assert_eq!(protocol_level(&v311), Some(4));
        let mut v5 = vec![0x10, 0x80, 0x01, 0, 4, b'M', b'Q', b'T', b'T', 5];
        v5.resize(131, 0);
        assert_eq!(protocol_level(&v5), Some(5), "two-byte remaining length");
        assert_eq!(protocol_level(&[0x10]), None);
    }
}
