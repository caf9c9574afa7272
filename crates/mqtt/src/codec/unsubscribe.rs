//! UNSUBSCRIBE (a list of filters) and UNSUBACK (MQTT 5: one reason code per filter).

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{ProtocolVersion, UnsubAck, Unsubscribe};
use crate::properties::{AckProperties, UnsubscribeProperties};
use crate::topic::SharedFilter;

/// UNSUBACK reason codes of MQTT 5 (section 3.11.3).
const UNSUBACK_REASONS: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];

/// Decodes an UNSUBSCRIBE body.
pub(crate) fn decode_unsubscribe(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Unsubscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = match version {
        ProtocolVersion::V5 => properties::decode_unsubscribe(r)?,
        ProtocolVersion::V311 => UnsubscribeProperties::default(),
    };
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string()?;
        SharedFilter::parse(&filter).map_err(|_| DecodeError::InvalidTopicFilter)?;
        filters.push(filter);
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters);
    }
    Ok(Unsubscribe { packet_id, filters, properties })
}

/// Emits an UNSUBSCRIBE body.
pub(crate) fn encode_unsubscribe<O: Out>(u: &Unsubscribe, version: ProtocolVersion, o: &mut O) {
    o.u16(u.packet_id);
    if version == ProtocolVersion::V5 {
        properties::encode(&u.properties, o);
    }
    for filter in &u.filters {
        o.string(filter);
    }
}

/// Decodes an UNSUBACK body; 3.1.1 carries only the packet identifier.
pub(crate) fn decode_unsuback(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<UnsubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    if version == ProtocolVersion::V311 {
        return Ok(UnsubAck {
            packet_id,
            reasons: Vec::new(),
            properties: AckProperties::default(),
        });
    }
    let properties = properties::decode_ack(r)?;
    let mut reasons = Vec::new();
    while !r.is_empty() {
        reasons.push(r.reason(UNSUBACK_REASONS)?);
    }
    Ok(UnsubAck { packet_id, reasons, properties })
}

/// Emits an UNSUBACK body.
pub(crate) fn encode_unsuback<O: Out>(u: &UnsubAck, version: ProtocolVersion, o: &mut O) {
    o.u16(u.packet_id);
    if version == ProtocolVersion::V5 {
        properties::encode(&u.properties, o);
        for reason in &u.reasons {
            o.u8(reason.value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::{assert_codec, decode_with, encode_bytes};
    use crate::packet::Packet;
    use crate::reason::ReasonCode;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    #[test]
    fn unsubscribe_in_both_versions() {
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: 0x0A0B,
            filters: vec!["a/b".into(), "c/#".into()],
            properties: UnsubscribeProperties::default(),
        });
        #[rustfmt::skip]
        let v311 = [0xA2, 12, 0x0A, 0x0B, 0, 3, b'a', b'/', b'b', 0, 3, b'c', b'/', b'#'];
        assert_codec(&packet, V311, &v311);
        #[rustfmt::skip]
        let v5 = [0xA2, 13, 0x0A, 0x0B, 0, 0, 3, b'a', b'/', b'b', 0, 3, b'c', b'/', b'#'];
        assert_codec(&packet, V5, &v5);
    }

    #[test]
    fn malformed_unsubscribe() {
        assert_eq!(decode_with(V311, &[0xA2, 2, 0, 1]), Err(DecodeError::NoTopicFilters));
        assert_eq!(decode_with(V5, &[0xA2, 3, 0, 1, 0]), Err(DecodeError::NoTopicFilters));
        assert_eq!(decode_with(V311, &[0xA2, 5, 0, 0, 0, 1, b'a']), Err(DecodeError::ZeroPacketId));
        assert_eq!(
            decode_with(V311, &[0xA2, 6, 0, 1, 0, 2, b'+', b'a']),
            Err(DecodeError::InvalidTopicFilter)
        );
        assert_eq!(
            decode_with(V5, &[0xA2, 8, 0, 1, 3, 0x1F, 0, 0, 0, 0]),
            Err(DecodeError::InvalidProperty(0x1F))
        );
        assert_eq!(
            decode_with(V311, &[0xA0, 5, 0, 1, 0, 1, b'a']),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 10, flags: 0 })
        );
    }

    #[test]
    fn unsuback_in_both_versions() {
        let v311 = Packet::UnsubAck(UnsubAck {
            packet_id: 5,
            reasons: Vec::new(),
            properties: AckProperties::default(),
        });
        assert_codec(&v311, V311, &[0xB0, 2, 0, 5]);
        let v5 = Packet::UnsubAck(UnsubAck {
            packet_id: 5,
            reasons: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
            properties: AckProperties::default(),
        });
        assert_codec(&v5, V5, &[0xB0, 5, 0, 5, 0, 0x00, 0x11]);
        // 3.1.1 carries no reasons.
        assert_eq!(encode_bytes(&v5, V311), [0xB0, 2, 0, 5]);
        assert_eq!(decode_with(V311, &[0xB0, 3, 0, 5, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(
            decode_with(V5, &[0xB0, 4, 0, 5, 0, 0x01]),
            Err(DecodeError::InvalidReasonCode(0x01))
        );
    }
}
