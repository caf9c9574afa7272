//! The wire codec: an incremental [`Decoder`] and [`encode`].
//!
//! The fixed header lives in `header`, the primitive readers and writers in `reader` and
//! `writer`, MQTT 5 properties in `properties`, and each packet family in its own module.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod header;
mod ping;
mod properties;
mod publish;
mod reader;
mod subscribe;
mod template;
mod unsubscribe;
mod writer;

#[cfg(test)]
mod testutil;

use bytes::BytesMut;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{Packet, ProtocolVersion, Publish};
use header::{
    AUTH, CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC,
    PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
};
use reader::Reader;
pub use template::PublishTemplate;
use writer::{Counter, Out, var_len};

/// Largest remaining length the four-byte variable integer can express.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// An incremental decoder for one connection's byte stream.
///
/// Feed it the connection's read buffer; it returns `Ok(None)` until a whole packet is
/// buffered. The maximum packet size is checked against the fixed header before the rest of the
/// packet is waited for, so an oversize packet is refused without buffering it.
///
/// A server-side decoder starts without a version and accepts only CONNECT, which fixes the
/// version for the rest of the stream. A client-side decoder is made with the version known.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_packet_size: usize,
    version: Option<ProtocolVersion>,
}

impl Decoder {
    /// A server-side decoder: the first packet must be CONNECT.
    pub fn new(max_packet_size: usize) -> Decoder {
        Decoder { max_packet_size, version: None }
    }

    /// A decoder for a stream whose version is already known (a client's).
    pub fn with_version(version: ProtocolVersion, max_packet_size: usize) -> Decoder {
        Decoder { max_packet_size, version: Some(version) }
    }

    /// The version fixed by CONNECT, if any yet.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The maximum packet size (fixed header included) this decoder accepts.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Changes the maximum packet size for packets not yet started.
    pub fn set_max_packet_size(&mut self, max: usize) {
        self.max_packet_size = max;
    }

    /// Decodes one packet from the front of `buf`, removing its bytes.
    ///
    /// Returns `Ok(None)` and leaves `buf` alone while the packet is incomplete. Binary fields
    /// and the PUBLISH payload of the returned packet share `buf`'s allocation. After an error
    /// the stream cannot be resynchronised: the connection must be closed.
    ///
    /// The first CONNECT decoded by a server-side decoder fixes the version; a later CONNECT
    /// is decoded and returned like any packet (by its own protocol level), and the broker
    /// treats it as the protocol error it is.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        header::check_first_byte(first, self.version)?;
        let Some((header_len, remaining)) = header::remaining_length(buf)? else {
            return Ok(None);
        };
        let size = header_len + remaining;
        if size > self.max_packet_size {
            return Err(DecodeError::PacketTooLarge { size, max: self.max_packet_size });
        }
        if buf.len() < size {
            return Ok(None);
        }
        let frame = buf.split_to(size).freeze();
        let mut r = Reader::new(frame.slice(header_len..));
        let packet = self.decode_body(first, &mut r)?;
        r.finish()?;
        Ok(Some(packet))
    }

    /// Decodes the body of a packet whose first byte `first` has been checked.
    fn decode_body(&mut self, first: u8, r: &mut Reader) -> Result<Packet, DecodeError> {
        let packet_type = first >> 4;
        if packet_type == CONNECT {
            let connect = connect::decode(r)?;
            self.version.get_or_insert(connect.protocol);
            return Ok(Packet::Connect(Box::new(connect)));
        }
        // check_first_byte lets nothing but CONNECT through before the version is known.
        let version =
            self.version.ok_or(DecodeError::UnexpectedPacket(header::type_name(packet_type)))?;
        Ok(match packet_type {
            CONNACK => Packet::ConnAck(connack::decode(r, version)?),
            PUBLISH => Packet::Publish(publish::decode(first & 0x0F, r, version)?),
            PUBACK => Packet::PubAck(ack::decode(packet_type, r, version)?),
            PUBREC => Packet::PubRec(ack::decode(packet_type, r, version)?),
            PUBREL => Packet::PubRel(ack::decode(packet_type, r, version)?),
            PUBCOMP => Packet::PubComp(ack::decode(packet_type, r, version)?),
            SUBSCRIBE => Packet::Subscribe(subscribe::decode_subscribe(r, version)?),
            SUBACK => Packet::SubAck(subscribe::decode_suback(r, version)?),
            UNSUBSCRIBE => Packet::Unsubscribe(unsubscribe::decode_unsubscribe(r, version)?),
            UNSUBACK => Packet::UnsubAck(unsubscribe::decode_unsuback(r, version)?),
            PINGREQ => Packet::PingReq,
            PINGRESP => Packet::PingResp,
            DISCONNECT => Packet::Disconnect(disconnect::decode(r, version)?),
            AUTH => Packet::Auth(auth::decode(r)?),
            other => return Err(DecodeError::InvalidPacketType(other)),
        })
    }
}

/// Appends the encoding of `packet` for `version` to `out`.
///
/// MQTT 5 fields are left out for 3.1.1. CONNECT is encoded with `version`'s protocol level,
/// whatever its `protocol` field says. The exact size is reserved in `out` once, up front.
/// On error nothing is appended.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let remaining = remaining_length(packet, version)?;
    out.reserve(1 + var_len(remaining) + remaining);
    out.u8(header::first_byte(packet));
    out.var(remaining);
    encode_body(packet, version, out);
    Ok(())
}

/// Appends the encoding of one PUBLISH, as [`encode`] does for `Packet::Publish`, without
/// needing the packet enum around it.
pub fn encode_publish(
    publish: &Publish,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let mut counter = Counter::default();
    publish::encode(publish, version, &mut counter);
    let remaining = counter.finish()?;
    out.reserve(1 + var_len(remaining) + remaining);
    out.u8(header::publish_first_byte(publish.qos, publish.dup, publish.retain));
    out.var(remaining);
    publish::encode(publish, version, out);
    Ok(())
}

/// The number of bytes [`encode`] would append.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let remaining = remaining_length(packet, version)?;
    Ok(1 + var_len(remaining) + remaining)
}

/// The remaining length of `packet`, after checking that every field can be encoded.
fn remaining_length(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if matches!(packet, Packet::Auth(_)) && version == ProtocolVersion::V311 {
        return Err(EncodeError::NotInVersion("AUTH"));
    }
    let mut counter = Counter::default();
    encode_body(packet, version, &mut counter);
    let remaining = counter.finish()?;
    if remaining > MAX_REMAINING_LENGTH {
        // Both numbers are remaining lengths, so they compare like with like.
        return Err(EncodeError::PacketTooLarge { size: remaining, max: MAX_REMAINING_LENGTH });
    }
    Ok(remaining)
}

/// Emits everything after the fixed header.
fn encode_body<O: Out>(packet: &Packet, version: ProtocolVersion, o: &mut O) {
    match packet {
        Packet::Connect(c) => connect::encode(c, version, o),
        Packet::ConnAck(c) => connack::encode(c, version, o),
        Packet::Publish(p) => publish::encode(p, version, o),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            ack::encode(a, version, o);
        }
        Packet::Subscribe(s) => subscribe::encode_subscribe(s, version, o),
        Packet::SubAck(s) => subscribe::encode_suback(s, version, o),
        Packet::Unsubscribe(u) => unsubscribe::encode_unsubscribe(u, version, o),
        Packet::UnsubAck(u) => unsubscribe::encode_unsuback(u, version, o),
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => disconnect::encode(d, version, o),
        Packet::Auth(a) => auth::encode(a, o),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::packet::{Connect, Publish, QoS};
    use crate::properties::{ConnectProperties, PublishProperties};
    use crate::reason::ReasonCode;
    use testutil::encode_bytes;

    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    fn connect(protocol: ProtocolVersion) -> Packet {
        Packet::Connect(Box::new(Connect {
            protocol,
            clean_start: true,
            keep_alive: 30,
            client_id: "c1".into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }))
    }

    fn publish(payload: Bytes) -> Packet {
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "t".into(),
            packet_id: 1,
            payload,
            properties: PublishProperties::default(),
        })
    }

    #[test]
    fn server_decoder_needs_connect_first_and_learns_the_version() {
        let mut d = Decoder::new(1024);
        let mut buf = BytesMut::from(&[0x30, 3, 0, 1, b'a'][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::UnexpectedPacket("PUBLISH")));
        let mut d = Decoder::new(1024);
        let mut buf = BytesMut::from(&[0xF0, 0][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::UnexpectedPacket("AUTH")));

        for version in [V311, V5] {
            let mut d = Decoder::new(1024);
            let mut buf = BytesMut::from(&encode_bytes(&connect(version), version)[..]);
            buf.extend_from_slice(&encode_bytes(&Packet::PingReq, version));
            // A second CONNECT (here of the other version) is decoded, not refused.
            let other = if version == V5 { V311 } else { V5 };
            buf.extend_from_slice(&encode_bytes(&connect(other), other));
            assert_eq!(d.decode(&mut buf), Ok(Some(connect(version))));
            assert_eq!(d.version(), Some(version));
            assert_eq!(d.decode(&mut buf), Ok(Some(Packet::PingReq)));
            assert_eq!(d.decode(&mut buf), Ok(Some(connect(other))));
            assert_eq!(d.version(), Some(version));
            assert_eq!(d.decode(&mut buf), Ok(None));
        }
        // AUTH after a 3.1.1 CONNECT.
        let mut d = Decoder::new(1024);
        let mut buf = BytesMut::from(&encode_bytes(&connect(V311), V311)[..]);
        buf.extend_from_slice(&[0xF0, 0]);
        assert!(matches!(d.decode(&mut buf), Ok(Some(Packet::Connect(_)))));
        assert_eq!(d.decode(&mut buf), Err(DecodeError::InvalidPacketType(15)));
    }

    #[test]
    fn a_failed_connect_does_not_fix_the_version() {
        let mut d = Decoder::new(1024);
        let mut buf = BytesMut::from(&[0x10, 7, 0, 4, b'M', b'Q', b'T', b'T', 9][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::UnsupportedProtocolVersion(9)));
        assert_eq!(d.version(), None);
    }

    #[test]
    fn size_is_checked_from_the_fixed_header() {
        let mut d = Decoder::with_version(V311, 100);
        // Remaining length 200 needs two bytes: 2 + 1 + 200 = 203 > 100, refused with only the
        // header buffered.
        let mut buf = BytesMut::from(&[0x30, 0xC8, 0x01][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::PacketTooLarge { size: 203, max: 100 }));
        let mut d = Decoder::with_version(V311, 100);
        let mut buf = BytesMut::from(&[0x30, 98][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        let mut buf = BytesMut::from(&[0x30, 99][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::PacketTooLarge { size: 101, max: 100 }));
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF][..]);
        assert_eq!(d.decode(&mut buf), Err(DecodeError::MalformedRemainingLength));
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        d.set_max_packet_size(usize::MAX);
        assert_eq!(d.max_packet_size(), usize::MAX);
    }

    #[test]
    fn one_byte_at_a_time() {
        let packet = publish(Bytes::from_static(b"payload"));
        let bytes = encode_bytes(&packet, V5);
        let mut d = Decoder::with_version(V5, 1024);
        let mut buf = BytesMut::new();
        for (i, byte) in bytes.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let decoded = d.decode(&mut buf);
            if i + 1 < bytes.len() {
                assert_eq!(decoded, Ok(None), "after {} bytes", i + 1);
            } else {
                assert_eq!(decoded, Ok(Some(packet.clone())));
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn encode_limits() {
        let long = "x".repeat(65_536);
        let mut p = publish(Bytes::new());
        if let Packet::Publish(publish) = &mut p {
            publish.topic = long.clone();
        }
        let mut out = BytesMut::new();
        assert_eq!(encode(&p, V311, &mut out), Err(EncodeError::FieldTooLong));
        assert!(out.is_empty());
        let big = publish(Bytes::from(vec![0u8; MAX_REMAINING_LENGTH]));
        assert_eq!(
            encoded_len(&big, V311),
            Err(EncodeError::PacketTooLarge {
                size: MAX_REMAINING_LENGTH + 5,
                max: MAX_REMAINING_LENGTH
            })
        );
        // The largest payload that fits: topic (3) and packet id (2) use the rest.
        let largest = publish(Bytes::from(vec![0u8; MAX_REMAINING_LENGTH - 5]));
        assert_eq!(encoded_len(&largest, V311), Ok(1 + 4 + MAX_REMAINING_LENGTH));
        let mut long_user = ConnectProperties::default();
        long_user.user_properties.push(("k".into(), long));
        let mut c = connect(V5);
        if let Packet::Connect(c) = &mut c {
            c.properties = long_user;
        }
        assert_eq!(encoded_len(&c, V5), Err(EncodeError::FieldTooLong));
        // The 3.1.1 encoding drops the properties, so the long value does not matter there.
        assert!(encoded_len(&c, V311).is_ok());
    }

    #[test]
    fn every_decode_error_maps_to_a_malformed_or_protocol_reason() {
        let errors = [
            DecodeError::Truncated,
            DecodeError::InvalidConnAckFlags(2),
            DecodeError::InvalidProperty(0x23),
        ];
        assert_eq!(
            errors.map(DecodeError::reason_code),
            [ReasonCode::MalformedPacket, ReasonCode::MalformedPacket, ReasonCode::ProtocolError,]
        );
    }
}
