//! Serving the API over connections accepted elsewhere: the gateway's HTTPS port terminates
//! TLS itself (it must tell MQTT clients from HTTPS ones by ALPN) and hands each HTTPS
//! connection over a channel. [`Incoming`] is that channel as an axum listener.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Connections handed over a channel, with their peer addresses.
#[derive(Debug)]
pub struct Incoming<S> {
    connections: mpsc::Receiver<(S, SocketAddr)>,
    local: SocketAddr,
}

impl<S> Incoming<S> {
    /// Connections from `connections`, reported as accepted on `local`.
    pub fn new(connections: mpsc::Receiver<(S, SocketAddr)>, local: SocketAddr) -> Incoming<S> {
        Incoming { connections, local }
    }
}

impl<S> axum::serve::Listener for Incoming<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = S;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (S, SocketAddr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The sender is gone: no more connections; the graceful shutdown ends the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
