//! Encoding primitives: the [`Out`] sink that either counts or writes.
//!
//! Each packet family lists its fields once, generically over [`Out`]. The encoder first runs
//! that listing with a [`Counter`], which sums the length and checks every field against the
//! wire limits, then reserves the exact size once and runs it again with the output
//! [`BytesMut`]. Writing therefore never fails and never allocates beyond that reservation.

use bytes::{BufMut, BytesMut};

use crate::codec::MAX_REMAINING_LENGTH;
use crate::error::EncodeError;

/// Where encoded fields go: a [`Counter`] or a [`BytesMut`].
pub(crate) trait Out {
    /// A one-byte integer.
    fn u8(&mut self, v: u8);
    /// A big-endian two-byte integer.
    fn u16(&mut self, v: u16);
    /// A big-endian four-byte integer.
    fn u32(&mut self, v: u32);
    /// A variable byte integer (at most [`MAX_REMAINING_LENGTH`]).
    fn var(&mut self, v: usize);
    /// Bytes with a two-byte length prefix (binary data or a UTF-8 string).
    fn binary(&mut self, b: &[u8]);
    /// Bytes without a prefix (the PUBLISH payload).
    fn raw(&mut self, b: &[u8]);
    /// Reports a value that cannot be encoded. Only the counting pass acts on it.
    fn fail(&mut self, error: EncodeError);

    /// A UTF-8 string with its two-byte length prefix.
    fn string(&mut self, s: &str) {
        self.binary(s.as_bytes());
    }
}

/// The counting pass: the encoded length, and the first field that cannot be encoded.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    len: usize,
    error: Option<EncodeError>,
}

impl Counter {
    /// The length counted so far, ignoring any error.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The length counted, or the first error met.
    pub(crate) fn finish(self) -> Result<usize, EncodeError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.len),
        }
    }
}

impl Out for Counter {
    fn u8(&mut self, _: u8) {
        self.len += 1;
    }

    fn u16(&mut self, _: u16) {
        self.len += 2;
    }

    fn u32(&mut self, _: u32) {
        self.len += 4;
    }

    fn var(&mut self, v: usize) {
        if v > MAX_REMAINING_LENGTH {
            self.fail(EncodeError::PacketTooLarge { size: v, max: MAX_REMAINING_LENGTH });
        }
        self.len += var_len(v);
    }

    fn binary(&mut self, b: &[u8]) {
        if b.len() > usize::from(u16::MAX) {
            self.fail(EncodeError::FieldTooLong);
        }
        self.len += 2 + b.len();
    }

    fn raw(&mut self, b: &[u8]) {
        self.len += b.len();
    }

    fn fail(&mut self, error: EncodeError) {
        self.error.get_or_insert(error);
    }
}

impl Out for BytesMut {
    fn u8(&mut self, v: u8) {
        self.put_u8(v);
    }

    fn u16(&mut self, v: u16) {
        self.put_u16(v);
    }

    fn u32(&mut self, v: u32) {
        self.put_u32(v);
    }

    fn var(&mut self, mut v: usize) {
        loop {
            // Truncation is the point: the low seven bits of what is left.
            let byte = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.put_u8(byte);
                return;
            }
            self.put_u8(byte | 0x80);
        }
    }

    fn binary(&mut self, b: &[u8]) {
        // The counting pass has refused anything longer, so this does not truncate.
        self.put_u16(b.len() as u16);
        self.put_slice(b);
    }

    fn raw(&mut self, b: &[u8]) {
        self.put_slice(b);
    }

    fn fail(&mut self, _: EncodeError) {
        // The counting pass, which always runs first, has already reported it.
    }
}

/// The number of bytes of the variable byte integer `v`.
pub(crate) fn var_len(v: usize) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_byte_integers_match_the_specification_table() {
        let cases: [(usize, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for (value, bytes) in cases {
            let mut out = BytesMut::new();
            out.var(value);
            assert_eq!(&out[..], bytes, "{value}");
            assert_eq!(var_len(value), bytes.len(), "{value}");
        }
    }

    #[test]
    fn counter_refuses_long_fields_and_huge_integers() {
        let mut c = Counter::default();
        c.string("abc");
        assert_eq!(c.len(), 5);
        c.binary(&vec![0; 65_536]);
        c.var(MAX_REMAINING_LENGTH + 1);
        assert_eq!(c.finish(), Err(EncodeError::FieldTooLong));
    }
}
