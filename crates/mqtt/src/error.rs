//! Decode and encode errors. Each decode error maps to exactly one MQTT 5 reason code.

use crate::reason::ReasonCode;

/// Why bytes could not be decoded into a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The remaining-length field uses more than four bytes or is otherwise invalid.
    #[error("malformed remaining length [MQTT-1.5.5]")]
    MalformedRemainingLength,
    /// The packet announces more bytes than the maximum packet size allows.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge {
        /// Total size of the packet as announced by its fixed header.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The packet type nibble is 0 or otherwise unknown.
    #[error("invalid packet type {0}")]
    InvalidPacketType(u8),
    /// Reserved fixed-header flags hold a value the specification forbids.
    #[error("invalid fixed header flags {flags:#x} for packet type {packet_type}")]
    InvalidHeaderFlags {
        /// The packet type nibble.
        packet_type: u8,
        /// The flags nibble.
        flags: u8,
    },
    /// The packet ended before a field it announced.
    #[error("packet truncated inside a field")]
    Truncated,
    /// Bytes left over after the last field of a packet.
    #[error("unexpected trailing bytes in packet")]
    TrailingBytes,
    /// A string is not valid UTF-8 or contains a forbidden code point [MQTT-1.5.4].
    #[error("invalid UTF-8 string [MQTT-1.5.4]")]
    InvalidUtf8,
    /// The protocol name is not `MQTT`.
    #[error("invalid protocol name")]
    InvalidProtocolName,
    /// The protocol level is not 4 (3.1.1) or 5.
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// CONNECT flags are invalid (reserved bit, will flags without will, password without user
    /// name in 3.1.1).
    #[error("invalid CONNECT flags {0:#x} [MQTT-3.1.2-3]")]
    InvalidConnectFlags(u8),
    /// CONNACK acknowledge flags with a reserved bit (7 to 1) set [MQTT-3.2.2-1].
    #[error("invalid CONNACK acknowledge flags {0:#x}")]
    InvalidConnAckFlags(u8),
    /// A QoS value of 3.
    #[error("invalid QoS 3")]
    InvalidQoS,
    /// A packet that needs a non-zero packet identifier has 0.
    #[error("packet identifier 0 is not allowed [MQTT-2.3.1-1]")]
    ZeroPacketId,
    /// SUBSCRIBE or UNSUBSCRIBE without any filter.
    #[error("SUBSCRIBE or UNSUBSCRIBE without a topic filter [MQTT-3.8.3-3]")]
    NoTopicFilters,
    /// The options byte of a subscription has reserved bits set or retain handling 3.
    #[error("invalid subscription options {0:#x}")]
    InvalidSubscriptionOptions(u8),
    /// A PUBLISH topic name holds a wildcard or is otherwise invalid.
    #[error("invalid topic name")]
    InvalidTopicName,
    /// A topic filter is invalid.
    #[error("invalid topic filter")]
    InvalidTopicFilter,
    /// A reason code byte that the specification does not define for this packet.
    #[error("invalid reason code {0:#x}")]
    InvalidReasonCode(u8),
    /// A property identifier that is unknown or not allowed in this packet.
    #[error("property {0:#x} not allowed here")]
    InvalidProperty(u8),
    /// A property that may appear once appears twice.
    #[error("duplicate property {0:#x}")]
    DuplicateProperty(u8),
    /// A property value outside its allowed range (a zero receive maximum, a zero
    /// subscription identifier, a boolean other than 0 or 1, ...).
    #[error("invalid value for property {0:#x}")]
    InvalidPropertyValue(u8),
    /// The first packet of a connection is not CONNECT, or a CONNECT arrives later, or a
    /// packet only a server sends arrives from a client.
    #[error("unexpected {0} packet")]
    UnexpectedPacket(&'static str),
}

impl DecodeError {
    /// The MQTT 5 reason code a server sends (in CONNACK or DISCONNECT) for this error.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            DecodeError::UnsupportedProtocolVersion(_) | DecodeError::InvalidProtocolName => {
                ReasonCode::UnsupportedProtocolVersion
            }
            DecodeError::InvalidTopicName => ReasonCode::TopicNameInvalid,
            DecodeError::InvalidTopicFilter => ReasonCode::TopicFilterInvalid,
            // Topic Alias 0 is "Topic Alias invalid" [MQTT-3.3.2-8], not a generic protocol error.
            DecodeError::InvalidPropertyValue(0x23) => ReasonCode::TopicAliasInvalid,
            DecodeError::UnexpectedPacket(_)
            | DecodeError::DuplicateProperty(_)
            | DecodeError::InvalidPropertyValue(_)
            | DecodeError::InvalidProperty(_) => ReasonCode::ProtocolError,
            DecodeError::MalformedRemainingLength
            | DecodeError::InvalidPacketType(_)
            | DecodeError::InvalidHeaderFlags { .. }
            | DecodeError::Truncated
            | DecodeError::TrailingBytes
            | DecodeError::InvalidUtf8
            | DecodeError::InvalidConnectFlags(_)
            | DecodeError::InvalidConnAckFlags(_)
            | DecodeError::InvalidQoS
            | DecodeError::ZeroPacketId
            | DecodeError::NoTopicFilters
            | DecodeError::InvalidSubscriptionOptions(_)
            | DecodeError::InvalidReasonCode(_) => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded packet would exceed the limit the peer set (or 268,435,455 bytes).
    #[error("packet of {size} bytes exceeds the peer's maximum of {max}")]
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A string or binary field is longer than 65,535 bytes.
    #[error("field longer than 65535 bytes")]
    FieldTooLong,
    /// A property value that cannot be put on the wire: a Subscription Identifier of 0 or one
    /// above 268,435,455, which a variable byte integer cannot hold.
    #[error("invalid value for property {0:#x}")]
    InvalidPropertyValue(u8),
    /// The packet does not exist in the protocol version asked for (AUTH in 3.1.1).
    #[error("{0} does not exist in MQTT 3.1.1")]
    NotInVersion(&'static str),
}
