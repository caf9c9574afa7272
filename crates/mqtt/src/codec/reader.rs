//! The decoding cursor: reads MQTT data types from one packet's body without ever panicking.
//!
//! Every read that runs past the end of the packet is [`DecodeError::Truncated`]. Binary fields
//! and the PUBLISH payload are returned as slices of the packet's [`Bytes`], so they share the
//! connection's read buffer instead of being copied.

use bytes::{Buf, Bytes};

use crate::error::DecodeError;
use crate::reason::ReasonCode;

/// A cursor over the body of one packet (everything after the fixed header).
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    /// A cursor over `buf`.
    pub(crate) fn new(buf: Bytes) -> Reader {
        Reader { buf }
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte has been read.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() { Ok(()) } else { Err(DecodeError::TrailingBytes) }
    }

    /// Fails with [`DecodeError::Truncated`] unless at least `n` bytes are left.
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() >= n { Ok(()) } else { Err(DecodeError::Truncated) }
    }

    /// A one-byte integer.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    /// A big-endian two-byte integer.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    /// A big-endian four-byte integer.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// A variable byte integer of at most four bytes [MQTT-1.5.5].
    pub(crate) fn var(&mut self) -> Result<u32, DecodeError> {
        let mut value = 0u32;
        for shift in [0, 7, 14, 21] {
            let byte = self.u8()?;
            value |= u32::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::MalformedRemainingLength)
    }

    /// The next `n` bytes, shared with the packet buffer.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Every byte left (the PUBLISH payload).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary data: a two-byte length and that many bytes.
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 encoded string. Invalid UTF-8 and U+0000 are refused [MQTT-1.5.4-1,2]; Rust's
    /// UTF-8 check already refuses the surrogates U+D800..U+DFFF.
    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let raw = self.binary()?;
        let s = std::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8)?;
        if s.contains('\0') {
            return Err(DecodeError::InvalidUtf8);
        }
        Ok(s.to_owned())
    }

    /// A UTF-8 string pair (a User Property).
    pub(crate) fn string_pair(&mut self) -> Result<(String, String), DecodeError> {
        Ok((self.string()?, self.string()?))
    }

    /// A packet identifier, which must not be 0 [MQTT-2.2.1-3].
    pub(crate) fn packet_id(&mut self) -> Result<u16, DecodeError> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// A reason code byte that must be one of `allowed` (the values the specification lists
    /// for the packet being decoded).
    pub(crate) fn reason(&mut self, allowed: &[u8]) -> Result<ReasonCode, DecodeError> {
        let byte = self.u8()?;
        if !allowed.contains(&byte) {
            return Err(DecodeError::InvalidReasonCode(byte));
        }
        ReasonCode::from_u8(byte).ok_or(DecodeError::InvalidReasonCode(byte))
    }

    /// The property block of an MQTT 5 packet: its length, then a cursor over exactly that many
    /// bytes. A length beyond the end of the packet is [`DecodeError::Truncated`].
    pub(crate) fn properties(&mut self) -> Result<Reader, DecodeError> {
        let len = self.var()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        Ok(Reader::new(self.take(len)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(bytes))
    }

    #[test]
    fn reads_past_the_end_are_truncated() {
        assert_eq!(reader(&[]).u8(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[1]).u16(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[1, 2, 3]).u32(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[0, 3, b'a', b'b']).string(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[0x80, 0x80]).var(), Err(DecodeError::Truncated));
        assert_eq!(reader(&[5, 1, 2]).properties().map(|_| ()), Err(DecodeError::Truncated));
    }

    #[test]
    fn variable_byte_integers_follow_the_specification_table() {
        assert_eq!(reader(&[0x00]).var(), Ok(0));
        assert_eq!(reader(&[0x7F]).var(), Ok(127));
        assert_eq!(reader(&[0x80, 0x01]).var(), Ok(128));
        assert_eq!(reader(&[0xFF, 0x7F]).var(), Ok(16_383));
        assert_eq!(reader(&[0x80, 0x80, 0x01]).var(), Ok(16_384));
        assert_eq!(reader(&[0xFF, 0xFF, 0xFF, 0x7F]).var(), Ok(268_435_455));
        assert_eq!(
            reader(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).var(),
            Err(DecodeError::MalformedRemainingLength)
        );
    }

    #[test]
    fn strings_refuse_invalid_utf8_and_nul() {
        assert_eq!(reader(&[0, 2, b'h', b'i']).string().as_deref(), Ok("hi"));
        assert_eq!(reader(&[0, 1, 0xFF]).string(), Err(DecodeError::InvalidUtf8));
        assert_eq!(reader(&[0, 1, 0x00]).string(), Err(DecodeError::InvalidUtf8));
        // U+D800 encoded as if it were a scalar value (CESU-style) is not UTF-8.
        assert_eq!(reader(&[0, 3, 0xED, 0xA0, 0x80]).string(), Err(DecodeError::InvalidUtf8));
    }

    #[test]
    fn binary_is_a_slice_of_the_packet() {
        let packet = Bytes::from_static(&[0, 2, 7, 8, 9]);
        let mut r = Reader::new(packet.clone());
        let data = r.binary().unwrap_or_default();
        assert_eq!(&data[..], &[7, 8]);
        assert_eq!(data.as_ptr(), packet[2..].as_ptr());
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
    }
}
