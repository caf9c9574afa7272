//! PUBLISH: topic name, packet identifier, properties and the zero-copy payload.

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{ProtocolVersion, Publish, QoS};
use crate::properties::PublishProperties;

/// Decodes a PUBLISH body; `flags` is the low nibble of the fixed header, already checked.
pub(crate) fn decode(
    flags: u8,
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
    let topic = r.string()?;
    // [MQTT-3.3.2-2]; U+0000 was refused with the string.
    if topic.contains(['+', '#']) {
        return Err(DecodeError::InvalidTopicName);
    }
    let packet_id = if qos == QoS::AtMostOnce { 0 } else { r.packet_id()? };
    let properties = match version {
        ProtocolVersion::V5 => properties::decode_publish(r)?,
        ProtocolVersion::V311 => PublishProperties::default(),
    };
    // Only an MQTT 5 PUBLISH whose Topic Alias stands for the topic may leave it empty
    // [MQTT-3.3.2-1], [MQTT-3.3.2.3.4].
    if topic.is_empty() && properties.topic_alias.is_none() {
        return Err(DecodeError::InvalidTopicName);
    }
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        payload: r.rest(),
        properties,
    })
}

/// Emits a PUBLISH body (the flags are in the fixed header). The packet identifier is written
/// only for QoS 1 and 2.
pub(crate) fn encode<O: Out>(p: &Publish, version: ProtocolVersion, o: &mut O) {
    o.string(&p.topic);
    if p.qos != QoS::AtMostOnce {
        o.u16(p.packet_id);
    }
    if version == ProtocolVersion::V5 {
        properties::encode(&p.properties, o);
    }
    o.raw(&p.payload);
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::Decoder;
    use crate::codec::testutil::{assert_codec, decode_with};
    use crate::packet::Packet;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    fn publish(qos: QoS, packet_id: u16, topic: &str, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id,
            payload: Bytes::from_static(payload),
            properties: PublishProperties::default(),
        }
    }

    #[test]
    fn qos0_and_qos1_in_both_versions() {
        let p = Packet::Publish(publish(QoS::AtMostOnce, 0, "a/b", b"hi"));
        assert_codec(&p, V311, &[0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']);
        assert_codec(&p, V5, &[0x30, 8, 0, 3, b'a', b'/', b'b', 0, b'h', b'i']);
        let mut q1 = publish(QoS::AtLeastOnce, 10, "t", b"");
        q1.dup = true;
        q1.retain = true;
        let p = Packet::Publish(q1);
        assert_codec(&p, V311, &[0x3B, 5, 0, 1, b't', 0, 10]);
        assert_codec(&p, V5, &[0x3B, 6, 0, 1, b't', 0, 10, 0]);
    }

    #[test]
    fn v5_topic_alias_allows_an_empty_topic() {
        let mut p = publish(QoS::ExactlyOnce, 0x1234, "", b"x");
        p.properties.topic_alias = Some(3);
        p.properties.subscription_identifiers = vec![1, 200];
        let bytes = [0x34, 14, 0, 0, 0x12, 0x34, 8, 0x23, 0, 3, 0x0B, 1, 0x0B, 0xC8, 0x01, b'x'];
        assert_codec(&Packet::Publish(p), V5, &bytes);
        assert_eq!(decode_with(V5, &[0x30, 3, 0, 0, 0]), Err(DecodeError::InvalidTopicName));
        assert_eq!(decode_with(V311, &[0x30, 2, 0, 0]), Err(DecodeError::InvalidTopicName));
    }

    #[test]
    fn malformed_publish() {
        assert_eq!(decode_with(V311, &[0x36, 3, 0, 1, b'a']), Err(DecodeError::InvalidQoS));
        assert_eq!(
            decode_with(V5, &[0x38, 4, 0, 1, b'a', 0]),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 3, flags: 8 })
        );
        assert_eq!(decode_with(V311, &[0x32, 5, 0, 1, b'a', 0, 0]), Err(DecodeError::ZeroPacketId));
        assert_eq!(
            decode_with(V5, &[0x30, 5, 0, 3, b'a', b'/', b'+']),
            Err(DecodeError::InvalidTopicName)
        );
        assert_eq!(decode_with(V311, &[0x30, 3, 0, 1, b'#']), Err(DecodeError::InvalidTopicName));
        assert_eq!(decode_with(V311, &[0x30, 3, 0, 1, 0xFE]), Err(DecodeError::InvalidUtf8));
        assert_eq!(decode_with(V311, &[0x30, 3, 0, 2, b'a']), Err(DecodeError::Truncated));
        assert_eq!(decode_with(V5, &[0x32, 5, 0, 1, b'a', 0, 1]), Err(DecodeError::Truncated));
        // A property length beyond the packet.
        assert_eq!(decode_with(V5, &[0x30, 5, 0, 1, b'a', 9, 0]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_with(V5, &[0x30, 7, 0, 1, b'a', 3, 0x21, 0, 1]),
            Err(DecodeError::InvalidProperty(0x21))
        );
        assert_eq!(
            decode_with(V5, &[0x30, 8, 0, 1, b'a', 4, 0x02, 0, 0, 0]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn payload_is_a_slice_of_the_read_buffer() {
        let mut buf = BytesMut::from(&[0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i', 0xC0, 0][..]);
        let payload_addr = buf[7..].as_ptr();
        let mut decoder = Decoder::with_version(V311, 1024);
        let Ok(Some(Packet::Publish(p))) = decoder.decode(&mut buf) else {
            panic!("expected a PUBLISH");
        };
        assert_eq!(p.payload.as_ptr(), payload_addr);
        assert_eq!(&buf[..], &[0xC0, 0]);
        assert_eq!(decoder.decode(&mut buf), Ok(Some(Packet::PingReq)));
    }
}
