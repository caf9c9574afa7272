//! AUTH (MQTT 5 only): a reason code and properties for enhanced authentication.

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::Auth;
use crate::properties::AuthProperties;
use crate::reason::ReasonCode;

/// AUTH reason codes (section 3.15.2.1): Success, Continue authentication, Re-authenticate.
const REASONS: &[u8] = &[0x00, 0x18, 0x19];

/// Decodes an AUTH body. An empty body is Success without properties [MQTT-3.15.2.1]; a reason
/// code alone is accepted too, as DISCONNECT allows it.
pub(crate) fn decode(r: &mut Reader) -> Result<Auth, DecodeError> {
    if r.is_empty() {
        return Ok(Auth { reason: ReasonCode::Success, properties: AuthProperties::default() });
    }
    let reason = r.reason(REASONS)?;
    let properties =
        if r.is_empty() { AuthProperties::default() } else { properties::decode_auth(r)? };
    Ok(Auth { reason, properties })
}

/// Emits an AUTH body: empty for Success without properties, else the reason code and the
/// property block (always present, since the specification omits it only together with the
/// reason code).
pub(crate) fn encode<O: Out>(a: &Auth, o: &mut O) {
    if a.reason == ReasonCode::Success && a.properties == AuthProperties::default() {
        return;
    }
    o.u8(a.reason.value());
    properties::encode(&a.properties, o);
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::codec::testutil::{assert_codec, decode_with};
    use crate::error::EncodeError;
    use crate::packet::{Packet, ProtocolVersion};

    const V5: ProtocolVersion = ProtocolVersion::V5;

    #[test]
    fn forms() {
        let success = Packet::Auth(Auth {
            reason: ReasonCode::Success,
            properties: AuthProperties::default(),
        });
        assert_codec(&success, V5, &[0xF0, 0]);
        assert_eq!(decode_with(V5, &[0xF0, 1, 0]), Ok(success.clone()));
        let cont = Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: AuthProperties {
                authentication_method: Some("SCRAM".into()),
                authentication_data: Some(Bytes::from_static(&[1, 2])),
                ..Default::default()
            },
        });
        #[rustfmt::skip]
        let bytes = [
            0xF0, 15, 0x18, 13,
            0x15, 0, 5, b'S', b'C', b'R', b'A', b'M',
            0x16, 0, 2, 1, 2,
        ];
        assert_codec(&cont, V5, &bytes);
        let reauth = Packet::Auth(Auth {
            reason: ReasonCode::ReAuthenticate,
            properties: AuthProperties::default(),
        });
        assert_codec(&reauth, V5, &[0xF0, 2, 0x19, 0]);
        assert_eq!(
            crate::codec::encoded_len(&success, ProtocolVersion::V311),
            Err(EncodeError::NotInVersion("AUTH"))
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(decode_with(V5, &[0xF0, 1, 0x01]), Err(DecodeError::InvalidReasonCode(1)));
        assert_eq!(decode_with(V5, &[0xF0, 2, 0x87, 0]), Err(DecodeError::InvalidReasonCode(0x87)));
        assert_eq!(
            decode_with(V5, &[0xF0, 4, 0x18, 2, 0x11, 0]),
            Err(DecodeError::InvalidProperty(0x11))
        );
        assert_eq!(
            decode_with(ProtocolVersion::V311, &[0xF0, 0]),
            Err(DecodeError::InvalidPacketType(15))
        );
    }
}
