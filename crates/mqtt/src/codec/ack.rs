//! PUBACK, PUBREC, PUBREL and PUBCOMP: a packet identifier, then (MQTT 5) an optional reason
//! code and optional properties.

use crate::codec::header::{PUBACK, PUBCOMP, PUBREC, PUBREL};
use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{ProtocolVersion, PubAck};
use crate::properties::AckProperties;
use crate::reason::ReasonCode;

/// PUBACK and PUBREC reason codes (sections 3.4.2.1 and 3.5.2.1).
const PUBACK_REASONS: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// PUBREL and PUBCOMP reason codes (sections 3.6.2.1 and 3.7.2.1).
const PUBREL_REASONS: &[u8] = &[0x00, 0x92];

/// Decodes the body of the acknowledgement with type `packet_type`.
///
/// In MQTT 5 a remaining length of 2 means Success without properties, and 3 means a reason
/// code without properties [MQTT-3.4.2.1].
pub(crate) fn decode(
    packet_type: u8,
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<PubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    if version == ProtocolVersion::V311 || r.is_empty() {
        return Ok(PubAck::success(packet_id));
    }
    let allowed = match packet_type {
        PUBACK | PUBREC => PUBACK_REASONS,
        PUBREL | PUBCOMP => PUBREL_REASONS,
        _ => return Err(DecodeError::InvalidPacketType(packet_type)),
    };
    let reason = r.reason(allowed)?;
    let properties =
        if r.is_empty() { AckProperties::default() } else { properties::decode_ack(r)? };
    Ok(PubAck { packet_id, reason, properties })
}

/// Emits an acknowledgement body, in MQTT 5 in the shortest form that carries it.
pub(crate) fn encode<O: Out>(a: &PubAck, version: ProtocolVersion, o: &mut O) {
    o.u16(a.packet_id);
    if version == ProtocolVersion::V5 {
        encode_reason_and_properties(a.reason, &a.properties, o);
    }
}

/// The MQTT 5 tail shared by the acknowledgements: nothing for Success without properties,
/// the reason alone without properties, else both.
fn encode_reason_and_properties<O: Out>(reason: ReasonCode, p: &AckProperties, o: &mut O) {
    let no_properties = p.reason_string.is_none() && p.user_properties.is_empty();
    if no_properties && reason == ReasonCode::Success {
        return;
    }
    o.u8(reason.value());
    if !no_properties {
        properties::encode(p, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::{assert_codec, decode_with, encode_bytes};
    use crate::packet::Packet;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    #[test]
    fn v311_forms() {
        assert_codec(&Packet::PubAck(PubAck::success(1)), V311, &[0x40, 2, 0, 1]);
        assert_codec(&Packet::PubRec(PubAck::success(0x0102)), V311, &[0x50, 2, 1, 2]);
        assert_codec(&Packet::PubRel(PubAck::success(7)), V311, &[0x62, 2, 0, 7]);
        assert_codec(&Packet::PubComp(PubAck::success(7)), V311, &[0x70, 2, 0, 7]);
        // MQTT 5 fields are dropped.
        let failed = PubAck { reason: ReasonCode::QuotaExceeded, ..PubAck::success(7) };
        assert_eq!(encode_bytes(&Packet::PubAck(failed), V311), [0x40, 2, 0, 7]);
        assert_eq!(decode_with(V311, &[0x40, 3, 0, 7, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode_with(V311, &[0x40, 1, 0]), Err(DecodeError::Truncated));
        assert_eq!(decode_with(V311, &[0x40, 2, 0, 0]), Err(DecodeError::ZeroPacketId));
        assert_eq!(
            decode_with(V311, &[0x60, 2, 0, 1]),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 6, flags: 0 })
        );
    }

    #[test]
    fn v5_short_and_long_forms() {
        assert_codec(&Packet::PubAck(PubAck::success(1)), V5, &[0x40, 2, 0, 1]);
        // Remaining length 3 and 4 with Success decode to the same packet.
        assert_eq!(decode_with(V5, &[0x40, 3, 0, 1, 0]), Ok(Packet::PubAck(PubAck::success(1))));
        assert_eq!(decode_with(V5, &[0x40, 4, 0, 1, 0, 0]), Ok(Packet::PubAck(PubAck::success(1))));
        let no_match = PubAck { reason: ReasonCode::NoMatchingSubscribers, ..PubAck::success(1) };
        assert_codec(&Packet::PubAck(no_match), V5, &[0x40, 3, 0, 1, 0x10]);
        let not_found =
            PubAck { reason: ReasonCode::PacketIdentifierNotFound, ..PubAck::success(9) };
        assert_codec(&Packet::PubRel(not_found.clone()), V5, &[0x62, 3, 0, 9, 0x92]);
        assert_codec(&Packet::PubComp(not_found), V5, &[0x70, 3, 0, 9, 0x92]);
        let with_reason_string = PubAck {
            packet_id: 2,
            reason: ReasonCode::Success,
            properties: AckProperties { reason_string: Some("ok".into()), ..Default::default() },
        };
        assert_codec(
            &Packet::PubRec(with_reason_string),
            V5,
            &[0x50, 9, 0, 2, 0, 5, 0x1F, 0, 2, b'o', b'k'],
        );
    }

    #[test]
    fn v5_reason_codes_per_packet() {
        assert_eq!(
            decode_with(V5, &[0x40, 3, 0, 1, 0x92]),
            Err(DecodeError::InvalidReasonCode(0x92))
        );
        assert_eq!(
            decode_with(V5, &[0x50, 3, 0, 1, 0x81]),
            Err(DecodeError::InvalidReasonCode(0x81))
        );
        assert_eq!(
            decode_with(V5, &[0x62, 3, 0, 1, 0x10]),
            Err(DecodeError::InvalidReasonCode(0x10))
        );
        assert_eq!(
            decode_with(V5, &[0x70, 3, 0, 1, 0x80]),
            Err(DecodeError::InvalidReasonCode(0x80))
        );
        assert_eq!(
            decode_with(V5, &[0x40, 3, 0, 1, 0x03]),
            Err(DecodeError::InvalidReasonCode(0x03))
        );
        assert_eq!(
            decode_with(V5, &[0x40, 7, 0, 1, 0, 3, 0x26, 0, 0]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_with(V5, &[0x40, 8, 0, 1, 0, 3, 0x1F, 0, 0, 0xEE]),
            Err(DecodeError::TrailingBytes)
        );
        assert_eq!(
            decode_with(V5, &[0x40, 7, 0, 1, 0, 3, 0x23, 0, 1]),
            Err(DecodeError::InvalidProperty(0x23))
        );
    }
}
