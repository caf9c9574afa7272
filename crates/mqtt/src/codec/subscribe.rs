//! SUBSCRIBE (filters with subscription options) and SUBACK (one reason code per filter).

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{ProtocolVersion, QoS, RetainHandling, SubAck, Subscribe, SubscriptionOptions};
use crate::properties::{AckProperties, SubscribeProperties};
use crate::reason::ReasonCode;
use crate::topic::SharedFilter;

/// SUBACK reason codes of MQTT 5 (section 3.9.3).
const SUBACK_REASONS: &[u8] =
    &[0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
/// SUBACK return codes of MQTT 3.1.1 (section 3.9.3).
const SUBACK_RETURN_CODES_V311: &[u8] = &[0x00, 0x01, 0x02, 0x80];

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;

/// Decodes a SUBSCRIBE body.
pub(crate) fn decode_subscribe(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Subscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = match version {
        ProtocolVersion::V5 => properties::decode_subscribe(r)?,
        ProtocolVersion::V311 => SubscribeProperties::default(),
    };
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string()?;
        SharedFilter::parse(&filter).map_err(|_| DecodeError::InvalidTopicFilter)?;
        let options = decode_options(r.u8()?, version)?;
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters);
    }
    Ok(Subscribe { packet_id, filters, properties })
}

/// The subscription options byte: 3.1.1 has only the QoS in bits 0-1; MQTT 5 adds No Local,
/// Retain As Published and Retain Handling, leaving bits 6-7 reserved [MQTT-3.8.3-5].
fn decode_options(byte: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, DecodeError> {
    let invalid = DecodeError::InvalidSubscriptionOptions(byte);
    let reserved = match version {
        ProtocolVersion::V311 => 0b1111_1100,
        ProtocolVersion::V5 => 0b1100_0000,
    };
    if byte & reserved != 0 {
        return Err(invalid);
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(invalid)?;
    let retain_handling = match (byte >> RETAIN_HANDLING_SHIFT) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(invalid),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & NO_LOCAL != 0,
        retain_as_published: byte & RETAIN_AS_PUBLISHED != 0,
        retain_handling,
    })
}

/// Emits a SUBSCRIBE body; 3.1.1 keeps only the QoS of each options byte.
pub(crate) fn encode_subscribe<O: Out>(s: &Subscribe, version: ProtocolVersion, o: &mut O) {
    o.u16(s.packet_id);
    if version == ProtocolVersion::V5 {
        properties::encode(&s.properties, o);
    }
    for (filter, options) in &s.filters {
        o.string(filter);
        let mut byte = options.qos as u8;
        if version == ProtocolVersion::V5 {
            if options.no_local {
                byte |= NO_LOCAL;
            }
            if options.retain_as_published {
                byte |= RETAIN_AS_PUBLISHED;
            }
            byte |= (options.retain_handling as u8) << RETAIN_HANDLING_SHIFT;
        }
        o.u8(byte);
    }
}

/// Decodes a SUBACK body. 3.1.1's failure code 0x80 becomes Unspecified error.
pub(crate) fn decode_suback(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<SubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let (properties, allowed) = match version {
        ProtocolVersion::V5 => (properties::decode_ack(r)?, SUBACK_REASONS),
        ProtocolVersion::V311 => (AckProperties::default(), SUBACK_RETURN_CODES_V311),
    };
    let mut reasons = Vec::new();
    while !r.is_empty() {
        reasons.push(r.reason(allowed)?);
    }
    Ok(SubAck { packet_id, reasons, properties })
}

/// Emits a SUBACK body. 3.1.1 knows only the granted QoS values and 0x80 for any failure.
pub(crate) fn encode_suback<O: Out>(s: &SubAck, version: ProtocolVersion, o: &mut O) {
    o.u16(s.packet_id);
    match version {
        ProtocolVersion::V5 => {
            properties::encode(&s.properties, o);
            for reason in &s.reasons {
                o.u8(reason.value());
            }
        }
        ProtocolVersion::V311 => {
            for reason in &s.reasons {
                o.u8(match reason {
                    ReasonCode::Success => 0x00,
                    ReasonCode::GrantedQoS1 => 0x01,
                    ReasonCode::GrantedQoS2 => 0x02,
                    _ => 0x80,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::{assert_codec, decode_with, encode_bytes};
    use crate::packet::Packet;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    fn qos(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions { qos, ..Default::default() }
    }

    #[test]
    fn v311_subscribe_from_the_specification() {
        // The example of section 3.8.3.1 of 3.1.1: "a/b" at QoS 1 and "c/d" at QoS 2.
        #[rustfmt::skip]
        let bytes = [
            0x82, 14, 0, 10,
            0, 3, b'a', b'/', b'b', 1,
            0, 3, b'c', b'/', b'd', 2,
        ];
        let packet = Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                ("a/b".into(), qos(QoS::AtLeastOnce)),
                ("c/d".into(), qos(QoS::ExactlyOnce)),
            ],
            properties: SubscribeProperties::default(),
        });
        assert_codec(&packet, V311, &bytes);
    }

    #[test]
    fn v5_subscribe_with_options_and_identifier() {
        let options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        };
        let packet = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("$share/g/a/+".into(), options)],
            properties: SubscribeProperties {
                subscription_identifier: Some(5),
                ..Default::default()
            },
        });
        #[rustfmt::skip]
        let bytes = [
            0x82, 20, 0, 1, 2, 0x0B, 5,
            0, 12, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'a', b'/', 0x2B,
            0b0010_1101,
        ];
        assert_codec(&packet, V5, &bytes);
    }

    #[test]
    fn malformed_subscribe() {
        assert_eq!(decode_with(V311, &[0x82, 2, 0, 1]), Err(DecodeError::NoTopicFilters));
        assert_eq!(decode_with(V5, &[0x82, 3, 0, 1, 0]), Err(DecodeError::NoTopicFilters));
        assert_eq!(
            decode_with(V311, &[0x82, 6, 0, 0, 0, 1, b'a', 0]),
            Err(DecodeError::ZeroPacketId)
        );
        assert_eq!(
            decode_with(V311, &[0x82, 6, 0, 1, 0, 1, b'a', 3]),
            Err(DecodeError::InvalidSubscriptionOptions(3))
        );
        assert_eq!(
            decode_with(V311, &[0x82, 6, 0, 1, 0, 1, b'a', 0x04]),
            Err(DecodeError::InvalidSubscriptionOptions(0x04))
        );
        assert_eq!(
            decode_with(V5, &[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x40]),
            Err(DecodeError::InvalidSubscriptionOptions(0x40))
        );
        assert_eq!(
            decode_with(V5, &[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x30]),
            Err(DecodeError::InvalidSubscriptionOptions(0x30))
        );
        assert_eq!(
            decode_with(V311, &[0x82, 7, 0, 1, 0, 2, b'a', b'#', 0]),
            Err(DecodeError::InvalidTopicFilter)
        );
        assert_eq!(
            decode_with(V311, &[0x82, 5, 0, 1, 0, 0, 0]),
            Err(DecodeError::InvalidTopicFilter)
        );
        assert_eq!(
            decode_with(V5, &[0x82, 11, 0, 1, 0, 0, 7, b'$', b's', b'h', b'a', b'r', b'e']),
            Err(DecodeError::Truncated)
        );
        // A filter without its options byte.
        assert_eq!(decode_with(V311, &[0x82, 5, 0, 1, 0, 1, b'a']), Err(DecodeError::Truncated));
        assert_eq!(
            decode_with(V5, &[0x82, 8, 0, 1, 2, 0x0B, 0, 0, 1, b'a']),
            Err(DecodeError::InvalidPropertyValue(0x0B))
        );
    }

    #[test]
    fn suback_in_both_versions() {
        let packet = Packet::SubAck(SubAck {
            packet_id: 10,
            reasons: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
            properties: AckProperties::default(),
        });
        assert_codec(&packet, V311, &[0x90, 4, 0, 10, 0x01, 0x80]);
        assert_codec(&packet, V5, &[0x90, 5, 0, 10, 0, 0x01, 0x80]);
        let refused = Packet::SubAck(SubAck {
            packet_id: 10,
            reasons: vec![ReasonCode::NotAuthorized, ReasonCode::GrantedQoS2],
            properties: AckProperties::default(),
        });
        assert_eq!(encode_bytes(&refused, V311), [0x90, 4, 0, 10, 0x80, 0x02]);
        assert_codec(&refused, V5, &[0x90, 5, 0, 10, 0, 0x87, 0x02]);
        assert_eq!(
            decode_with(V311, &[0x90, 3, 0, 10, 0x87]),
            Err(DecodeError::InvalidReasonCode(0x87))
        );
        assert_eq!(
            decode_with(V5, &[0x90, 4, 0, 10, 0, 0x03]),
            Err(DecodeError::InvalidReasonCode(0x03))
        );
        assert_eq!(
            decode_with(V5, &[0x90, 4, 0, 10, 0, 0x10]),
            Err(DecodeError::InvalidReasonCode(0x10))
        );
    }
}
