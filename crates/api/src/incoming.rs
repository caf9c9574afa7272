//! Serving the API over connections accepted elsewhere, and who is at the other end.
//!
//! The gateway's HTTPS port terminates TLS itself (it must tell MQTT clients from HTTPS ones by
//! ALPN) and hands each HTTPS connection over a channel, with the device certificate the client
//! presented, if any; [`Incoming`] is that channel as an axum listener. Every listener reports a
//! [`Peer`] to handlers (axum's connect info): the address, and the device certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use ferrocore_gateway::{HttpsConnection, Registered};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// The other end of an API connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its address.
    pub addr: SocketAddr,
    /// The device certificate it presented in the TLS handshake: registered and usable, or
    /// why not. `None` without TLS or without a certificate.
    pub device: Option<Result<Arc<Registered>, String>>,
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Peer {
        Peer { addr: *stream.remote_addr(), device: None }
    }
}

/// HTTPS connections handed over a channel by the gateway.
#[derive(Debug)]
pub struct Incoming {
    connections: mpsc::Receiver<HttpsConnection>,
    local: SocketAddr,
}

impl Incoming {
    /// Connections from `connections`, reported as accepted on `local`.
    pub fn new(connections: mpsc::Receiver<HttpsConnection>, local: SocketAddr) -> Incoming {
        Incoming { connections, local }
    }
}

impl axum::serve::Listener for Incoming {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Peer) {
        match self.connections.recv().await {
            Some(connection) => {
                let peer = Peer { addr: connection.peer, device: connection.device };
                (connection.stream, peer)
            }
            // The sender is gone: no more connections; the graceful shutdown ends the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Peer> {
        Ok(Peer { addr: self.local, device: None })
    }
}
