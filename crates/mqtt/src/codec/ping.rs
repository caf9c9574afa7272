//! PINGREQ and PINGRESP: a fixed header and nothing else in both versions.
//!
//! They have no body to decode or encode; the decoder's check that every byte of a packet is
//! read ([`DecodeError::TrailingBytes`](crate::DecodeError::TrailingBytes)) enforces the
//! remaining length of 0. This module holds their tests.

#[cfg(test)]
mod tests {
    use crate::codec::testutil::{assert_codec, decode_server, decode_with};
    use crate::error::DecodeError;
    use crate::packet::{Packet, ProtocolVersion};

    #[test]
    fn both_versions() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            assert_codec(&Packet::PingReq, version, &[0xC0, 0]);
            assert_codec(&Packet::PingResp, version, &[0xD0, 0]);
            assert_eq!(decode_with(version, &[0xC0, 1, 0]), Err(DecodeError::TrailingBytes));
            assert_eq!(
                decode_with(version, &[0xD2, 0]),
                Err(DecodeError::InvalidHeaderFlags { packet_type: 13, flags: 2 })
            );
        }
        assert_eq!(decode_server(&[0xC0, 0]), Err(DecodeError::UnexpectedPacket("PINGREQ")));
    }
}
