//! Accept loops: one task per listening socket, one tracked task per accepted connection.

use std::net::SocketAddr;

use ferrocore_broker::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connection::{ConnectionSettings, serve_connection};

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
}

/// Accepts plain-TCP MQTT connections on `listener` until shutdown.
pub async fn serve_tcp(listener: TcpListener, listeners: Listeners) {
    let local = listener.local_addr().ok();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = listeners.shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Small packets must not wait for Nagle's algorithm: latency matters more
                // than the few bytes it would save.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
                }
                let l = listeners.clone();
                listeners.tracker.spawn(async move {
                    serve_connection(stream, Some(peer), l.broker, l.shutdown, l.settings).await;
                });
            }
            Err(error) => {
                // Running out of file descriptors must not end the listener; back off a little.
                tracing::warn!(?local, %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    tracing::debug!(?local, "listener stopped");
}

/// Binds a TCP listener, logging where it listens.
pub async fn bind(addr: SocketAddr, what: &str) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "{what} listening");
    Ok(listener)
}
