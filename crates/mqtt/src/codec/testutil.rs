//! Helpers shared by the codec's unit tests.

use bytes::BytesMut;

use crate::codec::{Decoder, encode, encoded_len};
use crate::error::DecodeError;
use crate::packet::{Packet, ProtocolVersion};

/// Decodes `bytes`, which must hold exactly one packet (or fail), with `decoder`.
fn decode_all(mut decoder: Decoder, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    match decoder.decode(&mut buf)? {
        Some(packet) => {
            assert!(buf.is_empty(), "{} bytes left after {packet:?}", buf.len());
            Ok(packet)
        }
        None => panic!("incomplete packet {bytes:02x?}"),
    }
}

/// Decodes one packet with a client-side decoder of `version`.
pub(crate) fn decode_with(version: ProtocolVersion, bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_all(Decoder::with_version(version, usize::MAX), bytes)
}

/// Decodes one packet with a fresh server-side decoder.
pub(crate) fn decode_server(bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_all(Decoder::new(usize::MAX), bytes)
}

/// Encodes `packet`, panicking on an encode error.
pub(crate) fn encode_bytes(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    if let Err(e) = encode(packet, version, &mut out) {
        panic!("cannot encode {packet:?}: {e}");
    }
    assert_eq!(encoded_len(packet, version), Ok(out.len()), "encoded_len of {packet:?}");
    out.to_vec()
}

/// Asserts that `packet` encodes to exactly `bytes` and that `bytes` decode to `packet`.
pub(crate) fn assert_codec(packet: &Packet, version: ProtocolVersion, bytes: &[u8]) {
    assert_eq!(encode_bytes(packet, version), bytes, "encoding {packet:?}");
    assert_eq!(decode_with(version, bytes).as_ref(), Ok(packet), "decoding {bytes:02x?}");
}
