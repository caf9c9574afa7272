//! The broker core of Ferrocore.
//!
//! It owns everything between a decoded packet and the packets to write back: sessions
//! ([`session`]), the subscription trie ([`trie`]), retained messages ([`retained`]), routing
//! and session lifecycle ([`broker`]), the per-connection protocol machine ([`connection`]),
//! AWS IoT Core's limits ([`config`], [`limits`]) and the handle through which services attach
//! ([`internal`]). Durable state goes to `ferrocore-store` as blobs laid out by [`persist`].
//!
//! It must not touch sockets, TLS or HTTP, and reads no clock except through
//! [`internal::now_ms`] for services: time is an argument. Authentication and authorization
//! are decided by the caller, through [`Authorize`].
//!
//! ```text
//! gateway task --packet--> Connection --publish--> Broker --trie--> SessionHandle (queue)
//!      ^                       |                      |                   |
//!      +----poll_transmit------+                      +-- Op --> Store    +--wake--> Link
//! ```

pub mod authorize;
pub mod broker;
pub mod close;
pub mod config;
pub mod connection;
pub mod events;
pub mod internal;
pub mod limits;
pub mod message;
pub mod persist;
pub mod retained;
pub mod session;
pub mod trie;

pub use authorize::{Authorize, ConnectAttributes};
pub use broker::{Broker, ClientInfo, DirectDelivery, PublishBatch, Published, Restored};
pub use close::CloseReason;
pub use config::{BrokerConfig, Profile};
pub use connection::{Connection, DelayedWill, Transmit};
pub use internal::{InternalClient, now_ms};
pub use message::{Delivery, Message};
pub use session::{Link, LinkDetails, PeerAddr, SessionHandle};
