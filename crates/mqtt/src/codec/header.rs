//! The fixed header: packet type numbers, flag rules, and the remaining length.
//!
//! Everything here is decided from the first few bytes of a packet, so the decoder refuses a
//! bad packet before waiting for (and buffering) its body.

use crate::error::DecodeError;
use crate::packet::{Packet, ProtocolVersion, QoS};

/// CONNECT packet type.
pub(crate) const CONNECT: u8 = 1;
/// CONNACK packet type.
pub(crate) const CONNACK: u8 = 2;
/// PUBLISH packet type.
pub(crate) const PUBLISH: u8 = 3;
/// PUBACK packet type.
pub(crate) const PUBACK: u8 = 4;
/// PUBREC packet type.
pub(crate) const PUBREC: u8 = 5;
/// PUBREL packet type.
pub(crate) const PUBREL: u8 = 6;
/// PUBCOMP packet type.
pub(crate) const PUBCOMP: u8 = 7;
/// SUBSCRIBE packet type.
pub(crate) const SUBSCRIBE: u8 = 8;
/// SUBACK packet type.
pub(crate) const SUBACK: u8 = 9;
/// UNSUBSCRIBE packet type.
pub(crate) const UNSUBSCRIBE: u8 = 10;
/// UNSUBACK packet type.
pub(crate) const UNSUBACK: u8 = 11;
/// PINGREQ packet type.
pub(crate) const PINGREQ: u8 = 12;
/// PINGRESP packet type.
pub(crate) const PINGRESP: u8 = 13;
/// DISCONNECT packet type.
pub(crate) const DISCONNECT: u8 = 14;
/// AUTH packet type (MQTT 5 only).
pub(crate) const AUTH: u8 = 15;

/// The specification's name of a packet type, for [`DecodeError::UnexpectedPacket`].
pub(crate) fn type_name(packet_type: u8) -> &'static str {
    match packet_type {
        CONNECT => "CONNECT",
        CONNACK => "CONNACK",
        PUBLISH => "PUBLISH",
        PUBACK => "PUBACK",
        PUBREC => "PUBREC",
        PUBREL => "PUBREL",
        PUBCOMP => "PUBCOMP",
        SUBSCRIBE => "SUBSCRIBE",
        SUBACK => "SUBACK",
        UNSUBSCRIBE => "UNSUBSCRIBE",
        UNSUBACK => "UNSUBACK",
        PINGREQ => "PINGREQ",
        PINGRESP => "PINGRESP",
        DISCONNECT => "DISCONNECT",
        AUTH => "AUTH",
        _ => "reserved",
    }
}

/// Checks the first byte of a packet: a known type that the stream's state allows, and the
/// flags the specification prescribes for it [MQTT-2.1.3-1].
pub(crate) fn check_first_byte(
    byte: u8,
    version: Option<ProtocolVersion>,
) -> Result<(), DecodeError> {
    let packet_type = byte >> 4;
    let flags = byte & 0x0F;
    match (packet_type, version) {
        (0, _) => return Err(DecodeError::InvalidPacketType(0)),
        // A server learns the version from CONNECT, so nothing else may come first.
        (CONNECT, None) => {}
        (_, None) => return Err(DecodeError::UnexpectedPacket(type_name(packet_type))),
        (AUTH, Some(ProtocolVersion::V311)) => return Err(DecodeError::InvalidPacketType(AUTH)),
        _ => {}
    }
    let valid = match packet_type {
        PUBLISH => return check_publish_flags(flags, version),
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => flags == 0b0010,
        _ => flags == 0,
    };
    if valid { Ok(()) } else { Err(DecodeError::InvalidHeaderFlags { packet_type, flags }) }
}

/// PUBLISH flags: QoS 3 is refused, and so (in MQTT 5) is DUP on a QoS 0 message
/// [MQTT-3.3.1-2]. 3.1.1 has the same rule but many 3.1.1 clients break it harmlessly, so it is
/// tolerated there.
fn check_publish_flags(flags: u8, version: Option<ProtocolVersion>) -> Result<(), DecodeError> {
    let qos = (flags >> 1) & 0b11;
    if qos == 3 {
        return Err(DecodeError::InvalidQoS);
    }
    if qos == 0 && flags & 0b1000 != 0 && version == Some(ProtocolVersion::V5) {
        return Err(DecodeError::InvalidHeaderFlags { packet_type: PUBLISH, flags });
    }
    Ok(())
}

/// Reads the remaining length after the first byte of `buf`: `Ok(None)` while more bytes are
/// needed, else the length of the fixed header and the remaining length.
pub(crate) fn remaining_length(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((2 + i, value)));
        }
    }
    Err(DecodeError::MalformedRemainingLength)
}

/// The first byte of a PUBLISH with these flags.
pub(crate) fn publish_first_byte(qos: QoS, dup: bool, retain: bool) -> u8 {
    PUBLISH << 4 | u8::from(dup) << 3 | (qos as u8) << 1 | u8::from(retain)
}

/// The first byte of `packet`: its type and flags.
pub(crate) fn first_byte(packet: &Packet) -> u8 {
    let (packet_type, flags) = match packet {
        Packet::Connect(_) => (CONNECT, 0),
        Packet::ConnAck(_) => (CONNACK, 0),
        Packet::Publish(p) => return publish_first_byte(p.qos, p.dup, p.retain),
        Packet::PubAck(_) => (PUBACK, 0),
        Packet::PubRec(_) => (PUBREC, 0),
        Packet::PubRel(_) => (PUBREL, 0b0010),
        Packet::PubComp(_) => (PUBCOMP, 0),
        Packet::Subscribe(_) => (SUBSCRIBE, 0b0010),
        Packet::SubAck(_) => (SUBACK, 0),
        Packet::Unsubscribe(_) => (UNSUBSCRIBE, 0b0010),
        Packet::UnsubAck(_) => (UNSUBACK, 0),
        Packet::PingReq => (PINGREQ, 0),
        Packet::PingResp => (PINGRESP, 0),
        Packet::Disconnect(_) => (DISCONNECT, 0),
        Packet::Auth(_) => (AUTH, 0),
    };
    packet_type << 4 | flags
}

#[cfg(test)]
mod tests {
    use super::*;

    const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);
    const V311: Option<ProtocolVersion> = Some(ProtocolVersion::V311);

    #[test]
    fn remaining_length_needs_more_bytes_or_fails_after_four() {
        assert_eq!(remaining_length(&[0x30]), Ok(None));
        assert_eq!(remaining_length(&[0x30, 0x80]), Ok(None));
        assert_eq!(remaining_length(&[0x30, 0x80, 0x80, 0x80]), Ok(None));
        assert_eq!(remaining_length(&[0x30, 0x05]), Ok(Some((2, 5))));
        assert_eq!(remaining_length(&[0x30, 0xC1, 0x02]), Ok(Some((3, 321))));
        assert_eq!(remaining_length(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]), Ok(Some((5, 268_435_455))));
        assert_eq!(
            remaining_length(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::MalformedRemainingLength)
        );
    }

    #[test]
    fn first_byte_rules() {
        assert_eq!(check_first_byte(0x00, V5), Err(DecodeError::InvalidPacketType(0)));
        assert_eq!(check_first_byte(0xF0, V311), Err(DecodeError::InvalidPacketType(15)));
        assert_eq!(check_first_byte(0xF0, V5), Ok(()));
        assert_eq!(check_first_byte(0x30, None), Err(DecodeError::UnexpectedPacket("PUBLISH")));
        assert_eq!(check_first_byte(0x10, None), Ok(()));
        assert_eq!(
            check_first_byte(0x11, None),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 1, flags: 1 })
        );
        assert_eq!(check_first_byte(0x62, V5), Ok(()));
        assert_eq!(
            check_first_byte(0x60, V5),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 6, flags: 0 })
        );
        assert_eq!(
            check_first_byte(0x80, V311),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 8, flags: 0 })
        );
        assert_eq!(
            check_first_byte(0xA3, V311),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 10, flags: 3 })
        );
        assert_eq!(
            check_first_byte(0xC1, V311),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 12, flags: 1 })
        );
        assert_eq!(check_first_byte(0x36, V5), Err(DecodeError::InvalidQoS));
        assert_eq!(
            check_first_byte(0x38, V5),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 3, flags: 8 })
        );
        assert_eq!(check_first_byte(0x38, V311), Ok(()));
        assert_eq!(check_first_byte(0x3D, V5), Ok(()));
    }
}
