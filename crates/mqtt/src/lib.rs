//! MQTT 3.1.1 and MQTT 5 packets for Ferrocore.
//!
//! This crate owns the wire format and nothing else: packet types ([`packet`]), their
//! properties ([`properties`]), reason codes ([`reason`]), an incremental [`Decoder`] that
//! reports "need more bytes" and checks the maximum packet size from the fixed header before
//! buffering, an encoder ([`encode`]), and validated topic names and filters ([`topic`]).
//!
//! It performs no I/O, spawns nothing and reads no clock: bytes in, packets out, and the other
//! way round. Every malformed input is a typed [`DecodeError`] that maps to exactly one MQTT 5
//! reason code ([`DecodeError::reason_code`]); no input makes it panic.
//!
//! One packet model serves both versions. Fields that exist only in MQTT 5 (properties, reason
//! codes on acknowledgements, AUTH) are ignored when encoding for 3.1.1 and left at their
//! defaults when decoding 3.1.1, so the broker routes between versions without conversions.

// Tests may unwrap: a panic there is a test failure with a backtrace, which is what we want.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod codec;
pub mod error;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod topic;

pub use codec::{Decoder, PublishTemplate, encode, encode_publish, encoded_len};
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::*;
pub use reason::ReasonCode;
pub use topic::{SharedFilter, TopicError, TopicFilter, TopicName};
