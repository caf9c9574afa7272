//! A PUBLISH encoded once and written many times: the fan-out fast path.
//!
//! Deliveries of one message differ only in the first byte (QoS, DUP, RETAIN) and the packet
//! identifier, so the broker encodes the message once per protocol version and patches those
//! bytes into a copy for each subscriber.

use bytes::{Bytes, BytesMut};

use crate::codec::encode_publish;
use crate::codec::header::{publish_first_byte, remaining_length};
use crate::error::EncodeError;
use crate::packet::{ProtocolVersion, Publish, QoS};

/// A PUBLISH ready to be copied, with the offsets of its per-delivery fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishTemplate {
    bytes: Bytes,
    /// Where the packet identifier sits, for QoS 1 and 2 templates.
    packet_id_at: Option<usize>,
}

impl PublishTemplate {
    /// Encodes `publish` for `version`. Its DUP, RETAIN and packet identifier are placeholders;
    /// its QoS only matters as 0 (no packet identifier field) or not.
    pub fn new(
        publish: &Publish,
        version: ProtocolVersion,
    ) -> Result<PublishTemplate, EncodeError> {
        let mut out = BytesMut::new();
        encode_publish(publish, version, &mut out)?;
        // The packet identifier follows the fixed header and the topic string.
        let header = match remaining_length(&out) {
            Ok(Some((header, _))) => header,
            _ => 1, // unreachable for bytes encode_publish just wrote; write() stays in bounds
        };
        let packet_id_at =
            (publish.qos != QoS::AtMostOnce).then_some(header + 2 + publish.topic.len());
        Ok(PublishTemplate { bytes: out.freeze(), packet_id_at })
    }

    /// The encoded size.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the template is empty (never: a PUBLISH has a header).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends the packet with these flags and packet identifier. Returns `false`, writing
    /// nothing, if `qos` is 0 and the template has a packet identifier field or the other way
    /// round.
    pub fn write(
        &self,
        qos: QoS,
        dup: bool,
        retain: bool,
        packet_id: u16,
        out: &mut BytesMut,
    ) -> bool {
        if (qos != QoS::AtMostOnce) != self.packet_id_at.is_some() {
            return false;
        }
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        out[start] = publish_first_byte(qos, dup, retain);
        if let Some(at) = self.packet_id_at {
            out[start + at..start + at + 2].copy_from_slice(&packet_id.to_be_bytes());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::packet::Packet;
    use crate::properties::PublishProperties;

    fn publish(qos: QoS, dup: bool, retain: bool, packet_id: u16, payload: usize) -> Publish {
        Publish {
            dup,
            qos,
            retain,
            topic: "a/b/c".into(),
            packet_id,
            payload: Bytes::from(vec![7u8; payload]),
            properties: PublishProperties {
                content_type: Some("text/plain".into()),
                user_properties: vec![("k".into(), "v".into())],
                ..PublishProperties::default()
            },
        }
    }

    #[test]
    fn writes_the_same_bytes_as_encode() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            // Payload sizes around the one- and two-byte remaining-length boundary.
            for size in [0, 10, 100, 200, 20_000] {
                for (qos, dup, retain, id) in [
                    (QoS::AtMostOnce, false, false, 0),
                    (QoS::AtMostOnce, false, true, 0),
                    (QoS::AtLeastOnce, false, false, 1),
                    (QoS::AtLeastOnce, true, true, 0xBEEF),
                    (QoS::ExactlyOnce, true, false, 513),
                ] {
                    let placeholder = publish(qos, false, false, 1, size);
                    let template = PublishTemplate::new(&placeholder, version).unwrap();
                    let mut fast = BytesMut::new();
                    assert!(template.write(qos, dup, retain, id, &mut fast));
                    let mut slow = BytesMut::new();
                    encode(
                        &Packet::Publish(publish(qos, dup, retain, id, size)),
                        version,
                        &mut slow,
                    )
                    .unwrap();
                    assert_eq!(fast, slow, "{version:?} {size} {qos:?}");
                    assert_eq!(template.len(), slow.len());
                }
            }
        }
    }

    #[test]
    fn refuses_a_qos_the_template_has_no_room_for() {
        let qos0 = PublishTemplate::new(
            &publish(QoS::AtMostOnce, false, false, 0, 3),
            ProtocolVersion::V5,
        )
        .unwrap();
        let mut out = BytesMut::new();
        assert!(!qos0.write(QoS::AtLeastOnce, false, false, 1, &mut out));
        let qos1 = PublishTemplate::new(
            &publish(QoS::AtLeastOnce, false, false, 1, 3),
            ProtocolVersion::V5,
        )
        .unwrap();
        assert!(!qos1.write(QoS::AtMostOnce, false, false, 0, &mut out));
        assert!(out.is_empty());
    }
}
