//! The device gateway: listeners and the task that drives one MQTT connection.
//!
//! A connection task owns its socket, a [`ferrocore_mqtt::Decoder`] and a
//! [`ferrocore_broker::Connection`]; it only shuttles bytes, wake-ups, timers and store
//! commits between them, and every decision stays in the broker crate. Listeners accept
//! sockets and spawn connection tasks on a [`TaskTracker`] so that a graceful stop can wait for
//! every session to be closed cleanly.
//!
//! It must not make protocol decisions, and it does not parse anything but MQTT framing.

pub mod connection;
pub mod listener;

pub use connection::{ConnectionSettings, serve_connection};
pub use listener::{Listeners, serve_tcp};
pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;
