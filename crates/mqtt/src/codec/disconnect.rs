//! DISCONNECT: empty in 3.1.1; in MQTT 5 an optional reason code and optional properties.

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{Disconnect, ProtocolVersion};
use crate::reason::ReasonCode;

/// DISCONNECT reason codes of MQTT 5 (section 3.14.2.1).
const REASONS: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

/// Decodes a DISCONNECT body. An empty MQTT 5 body is Normal disconnection, and a reason code
/// alone means no properties [MQTT-3.14.2.1].
pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Disconnect, DecodeError> {
    if version == ProtocolVersion::V311 || r.is_empty() {
        return Ok(Disconnect::new(ReasonCode::Success));
    }
    let reason = r.reason(REASONS)?;
    let mut disconnect = Disconnect::new(reason);
    if !r.is_empty() {
        disconnect.properties = properties::decode_disconnect(r)?;
    }
    Ok(disconnect)
}

/// Emits a DISCONNECT body: empty for a normal disconnection without properties, otherwise
/// the reason code and a property block, even an empty one. The specification lets the
/// property length go when there are no properties, but widely used clients (rumqttc among
/// them) fail to read a DISCONNECT of remaining length 1, so it is never sent.
pub(crate) fn encode<O: Out>(d: &Disconnect, version: ProtocolVersion, o: &mut O) {
    if version == ProtocolVersion::V311 {
        return;
    }
    let p = &d.properties;
    let no_properties = p.session_expiry_interval.is_none()
        && p.reason_string.is_none()
        && p.server_reference.is_none()
        && p.user_properties.is_empty();
    if no_properties && d.reason == ReasonCode::Success {
        return;
    }
    o.u8(d.reason.value());
    properties::encode(p, o);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testutil::{assert_codec, decode_with, encode_bytes};
    use crate::packet::Packet;
    use crate::properties::DisconnectProperties;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    #[test]
    fn both_versions() {
        let normal = Packet::Disconnect(Disconnect::new(ReasonCode::Success));
        assert_codec(&normal, V311, &[0xE0, 0]);
        assert_codec(&normal, V5, &[0xE0, 0]);
        assert_eq!(decode_with(V5, &[0xE0, 1, 0]), Ok(normal.clone()));
        assert_eq!(decode_with(V5, &[0xE0, 2, 0, 0]), Ok(normal));
        let will = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWill));
        // Always with a property length, which some clients require; the short form decodes.
        assert_codec(&will, V5, &[0xE0, 2, 0x04, 0]);
        assert_eq!(decode_with(V5, &[0xE0, 1, 0x04]), Ok(will.clone()));
        assert_eq!(encode_bytes(&will, V311), [0xE0, 0]);
        let with_expiry = Packet::Disconnect(Disconnect {
            reason: ReasonCode::Success,
            properties: DisconnectProperties {
                session_expiry_interval: Some(0),
                ..Default::default()
            },
        });
        assert_codec(&with_expiry, V5, &[0xE0, 7, 0, 5, 0x11, 0, 0, 0, 0]);
    }

    #[test]
    fn malformed() {
        assert_eq!(decode_with(V311, &[0xE0, 1, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode_with(V5, &[0xE0, 1, 0x01]), Err(DecodeError::InvalidReasonCode(0x01)));
        assert_eq!(decode_with(V5, &[0xE0, 1, 0x84]), Err(DecodeError::InvalidReasonCode(0x84)));
        assert_eq!(
            decode_with(V5, &[0xE0, 3, 0x8E, 1, 0x27]),
            Err(DecodeError::InvalidProperty(0x27))
        );
        assert_eq!(
            decode_with(V5, &[0xE1, 0]),
            Err(DecodeError::InvalidHeaderFlags { packet_type: 14, flags: 1 })
        );
    }
}
