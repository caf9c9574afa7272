//! The device gateway: listeners and the task that drives one MQTT connection.
//!
//! A connection task owns its socket, a [`ferrocore_mqtt::Decoder`] and a
//! [`ferrocore_broker::Connection`]; it only shuttles bytes, wake-ups, timers and store
//! commits between them, and every decision stays in the broker crate. Listeners accept
//! sockets and spawn connection tasks on a [`TaskTracker`] so that a graceful stop can wait for
//! every session to be closed cleanly. A plain-TCP connection that idles gives up its task and
//! waits parked (`park`): its socket in an epoll set of the listener's own, its state without
//! buffers, until the socket, the router or a deadline gives it work.
//!
//! MQTT over WebSocket ([`websocket`]) runs the same connection task over a byte-stream view of
//! the WebSocket that the HTTP API upgraded.
//!
//! Devices on the TLS listeners authenticate with their certificate ([`devices`]) and are
//! authorized by IoT policies ([`authorize`]); the plain listener uses a local policy.
//!
//! It must not make protocol decisions, and it does not parse anything but MQTT framing.

pub mod authorize;
pub mod connection;
pub mod devices;
pub mod listener;
mod park;
pub mod tls;
pub mod websocket;

pub use authorize::PolicyAuthorizer;
pub use connection::{ConnectionSettings, serve_connection};
pub use devices::{Devices, Registered};
pub use listener::{HttpsConnection, Listeners, TlsListener, serve_tcp, serve_tls};
pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;
