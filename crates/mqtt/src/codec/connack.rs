//! CONNACK: acknowledge flags, the reason (3.1.1 return) code and properties.

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{ConnAck, ProtocolVersion};
use crate::properties::ConnAckProperties;
use crate::reason::ReasonCode;

/// The CONNACK reason codes of the MQTT 5 table in section 3.2.2.2.
const REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];

/// Decodes a CONNACK body.
pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<ConnAck, DecodeError> {
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidConnAckFlags(flags));
    }
    let session_present = flags & 1 != 0;
    if version == ProtocolVersion::V311 {
        let rc = r.u8()?;
        let code = ReasonCode::from_connack_return_code_v311(rc)
            .ok_or(DecodeError::InvalidReasonCode(rc))?;
        return Ok(ConnAck { session_present, code, properties: ConnAckProperties::default() });
    }
    let code = r.reason(REASONS)?;
    let properties = properties::decode_connack(r)?;
    Ok(ConnAck { session_present, code, properties })
}

/// Emits a CONNACK body. 3.1.1 carries the return code that matches the reason.
pub(crate) fn encode<O: Out>(c: &ConnAck, version: ProtocolVersion, o: &mut O) {
    o.u8(u8::from(c.session_present));
    match version {
        ProtocolVersion::V311 => o.u8(c.code.connack_return_code_v311()),
        ProtocolVersion::V5 => {
            o.u8(c.code.value());
            properties::encode(&c.properties, o);
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

    fn connack(session_present: bool, code: ReasonCode) -> Packet {
        Packet::ConnAck(ConnAck { session_present, code, properties: ConnAckProperties::default() })
    }

    #[test]
    fn v311_return_codes() {
        assert_codec(&connack(true, ReasonCode::Success), V311, &[0x20, 0x02, 0x01, 0x00]);
        assert_codec(&connack(false, ReasonCode::NotAuthorized), V311, &[0x20, 0x02, 0x00, 0x05]);
        // MQTT 5 reasons without a 3.1.1 twin go out as the closest return code.
        assert_eq!(
            encode_bytes(&connack(false, ReasonCode::Banned), V311),
            [0x20, 0x02, 0x00, 0x05]
        );
        assert_eq!(
            encode_bytes(&connack(false, ReasonCode::QuotaExceeded), V311),
            [0x20, 0x02, 0x00, 0x03]
        );
        assert_eq!(decode_with(V311, &[0x20, 2, 0, 6]), Err(DecodeError::InvalidReasonCode(6)));
        assert_eq!(decode_with(V311, &[0x20, 2, 2, 0]), Err(DecodeError::InvalidConnAckFlags(2)));
        assert_eq!(decode_with(V311, &[0x20, 3, 0, 0, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode_with(V311, &[0x20, 1, 0]), Err(DecodeError::Truncated));
    }

    #[test]
    fn v5_reason_and_properties() {
        assert_codec(&connack(false, ReasonCode::Success), V5, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        let packet = Packet::ConnAck(ConnAck {
            session_present: false,
            code: ReasonCode::Success,
            properties: ConnAckProperties {
                receive_maximum: Some(20),
                maximum_qos: Some(1),
                assigned_client_identifier: Some("id".into()),
                ..Default::default()
            },
        });
        #[rustfmt::skip]
        let bytes = [
            0x20, 0x0D, 0x00, 0x00,
            0x0A, 0x21, 0x00, 0x14, 0x24, 0x01, 0x12, 0x00, 0x02, b'i', b'd',
        ];
        assert_codec(&packet, V5, &bytes);
        assert_codec(&connack(false, ReasonCode::Banned), V5, &[0x20, 3, 0, 0x8A, 0]);
        // 0x8B (server shutting down) is a DISCONNECT reason, not a CONNACK one.
        assert_eq!(
            decode_with(V5, &[0x20, 3, 0, 0x8B, 0]),
            Err(DecodeError::InvalidReasonCode(0x8B))
        );
        assert_eq!(decode_with(V5, &[0x20, 2, 0, 0]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_with(V5, &[0x20, 5, 0, 0, 2, 0x24, 2]),
            Err(DecodeError::InvalidPropertyValue(0x24))
        );
    }
}
