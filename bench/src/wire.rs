//! MQTT framing for the load generator.
//!
//! Control packets (CONNECT, SUBSCRIBE, DISCONNECT, CONNACK, SUBACK) go through the workspace
//! codec, `ferrocore_mqtt`. The hot path does not: a PUBLISH is encoded once by the codec into a
//! [`PublishTemplate`] and then copied into write batches with its packet identifier and payload
//! patched in place, and incoming frames are split with [`next_frame`] and read with
//! [`parse_publish`] and [`puback_id`] straight from the read buffer, without allocating.

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use ferrocore_mqtt::{
    Connect, ConnectProperties, Disconnect, Packet, ProtocolVersion, Publish, PublishProperties,
    QoS, ReasonCode, Subscribe, SubscribeProperties, SubscriptionOptions, encode,
};

/// Packet type of PUBLISH in the high nibble of the first byte.
pub(crate) const PUBLISH: u8 = 3;
/// Packet type of PUBACK.
pub(crate) const PUBACK: u8 = 4;

/// Encodes any packet with the codec into a fresh buffer.
pub(crate) fn encode_packet(packet: &Packet, version: ProtocolVersion) -> Result<BytesMut> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out).with_context(|| format!("encoding {}", packet.name()))?;
    Ok(out)
}

/// A CONNECT packet.
pub(crate) fn connect_packet(
    client_id: &str,
    clean_start: bool,
    keep_alive: u16,
    version: ProtocolVersion,
) -> Result<BytesMut> {
    let mut properties = ConnectProperties::default();
    if version == ProtocolVersion::V5 {
        // Let the broker fill our socket: we acknowledge every batch we read.
        properties.receive_maximum = Some(u16::MAX);
        if !clean_start {
            // MQTT 5 keeps a session only with an expiry interval.
            properties.session_expiry_interval = Some(3600);
        }
    }
    let connect = Connect {
        protocol: version,
        clean_start,
        keep_alive,
        client_id: client_id.to_owned(),
        will: None,
        username: None,
        password: None,
        properties,
    };
    encode_packet(&Packet::Connect(Box::new(connect)), version)
}

/// A SUBSCRIBE packet for one filter.
pub(crate) fn subscribe_packet(
    packet_id: u16,
    filter: &str,
    qos: QoS,
    version: ProtocolVersion,
) -> Result<BytesMut> {
    let subscribe = Subscribe {
        packet_id,
        filters: vec![(filter.to_owned(), SubscriptionOptions { qos, ..Default::default() })],
        properties: SubscribeProperties::default(),
    };
    encode_packet(&Packet::Subscribe(subscribe), version)
}

/// A normal DISCONNECT.
pub(crate) fn disconnect_packet(version: ProtocolVersion) -> Result<BytesMut> {
    encode_packet(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)), version)
}

/// Appends a successful PUBACK for `packet_id`. The two-byte form is valid in both versions
/// (MQTT 5 omits the reason code when it is Success).
pub(crate) fn push_puback(out: &mut Vec<u8>, packet_id: u16) {
    let [hi, lo] = packet_id.to_be_bytes();
    out.extend_from_slice(&[PUBACK << 4, 2, hi, lo]);
}

/// A PUBLISH encoded once, copied many times.
#[derive(Debug, Clone)]
pub(crate) struct PublishTemplate {
    bytes: Vec<u8>,
    /// Where the packet identifier sits (QoS 1 and 2 only).
    packet_id_at: Option<usize>,
    /// Where the payload starts.
    payload_at: usize,
}

impl PublishTemplate {
    /// Encodes a PUBLISH of `payload_len` zero bytes (at least 16, room for a timestamp and
    /// a sequence number) to `topic`.
    pub(crate) fn new(
        topic: &str,
        qos: QoS,
        payload_len: usize,
        version: ProtocolVersion,
    ) -> Result<PublishTemplate> {
        let publish = Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.to_owned(),
            packet_id: if qos == QoS::AtMostOnce { 0 } else { 1 },
            payload: Bytes::from(vec![0u8; payload_len]),
            properties: PublishProperties::default(),
        };
        let bytes = encode_packet(&Packet::Publish(publish), version)?.to_vec();
        let payload_at = bytes.len() - payload_len;
        let (_, header_len, _) = next_frame(&bytes)?.context("template is one whole frame")?;
        let packet_id_at = (qos != QoS::AtMostOnce).then_some(header_len + 2 + topic.len());
        Ok(PublishTemplate { bytes, packet_id_at, payload_at })
    }

    /// The encoded size of one packet.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is a QoS 0 packet (no packet identifier).
    pub(crate) fn is_qos0(&self) -> bool {
        self.packet_id_at.is_none()
    }

    /// Where the payload starts in one packet.
    pub(crate) fn payload_offset(&self) -> usize {
        self.payload_at
    }

    /// The payload length.
    pub(crate) fn payload_len(&self) -> usize {
        self.bytes.len() - self.payload_at
    }

    /// Appends one copy with `packet_id` (ignored at QoS 0) and the payload starting with
    /// `stamp` (little endian; at most the payload length is written).
    pub(crate) fn push(&self, out: &mut Vec<u8>, packet_id: u16, stamp: &[u8]) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        if let Some(at) = self.packet_id_at {
            out[start + at..start + at + 2].copy_from_slice(&packet_id.to_be_bytes());
        }
        let n = stamp.len().min(self.payload_len());
        let p = start + self.payload_at;
        out[p..p + n].copy_from_slice(&stamp[..n]);
    }
}

/// The next whole frame at the front of `buf`: `(first byte, fixed header length, total
/// length)`, or `None` while it is incomplete.
pub(crate) fn next_frame(buf: &[u8]) -> Result<Option<(u8, usize, usize)>> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    let mut shift = 0;
    for i in 1..=4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        remaining |= usize::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            let total = i + 1 + remaining;
            return Ok((buf.len() >= total).then_some((first, i + 1, total)));
        }
        shift += 7;
    }
    bail!("malformed remaining length")
}

/// What the hot path needs from an incoming PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublishView<'a> {
    /// QoS of the delivery (0, 1 or 2).
    pub(crate) qos: u8,
    /// Packet identifier, 0 at QoS 0.
    pub(crate) packet_id: u16,
    /// The topic name bytes.
    pub(crate) topic: &'a [u8],
    /// The application payload.
    pub(crate) payload: &'a [u8],
}

/// Reads a PUBLISH body (`first` is its first byte) without copying.
pub(crate) fn parse_publish(
    first: u8,
    body: &[u8],
    version: ProtocolVersion,
) -> Result<PublishView<'_>> {
    let qos = (first >> 1) & 3;
    let short = || anyhow::anyhow!("short PUBLISH");
    let topic_len = usize::from(u16::from_be_bytes([
        *body.first().ok_or_else(short)?,
        *body.get(1).ok_or_else(short)?,
    ]));
    let mut at = 2 + topic_len;
    let topic = body.get(2..at).ok_or_else(short)?;
    let mut packet_id = 0;
    if qos > 0 {
        let id = body.get(at..at + 2).ok_or_else(short)?;
        packet_id = u16::from_be_bytes([id[0], id[1]]);
        at += 2;
    }
    if version == ProtocolVersion::V5 {
        let (len, used) = var_int(body.get(at..).ok_or_else(short)?)?;
        at += used + len;
    }
    let payload = body.get(at..).ok_or_else(short)?;
    Ok(PublishView { qos, packet_id, topic, payload })
}

/// The packet identifier of a PUBACK body, and whether it reports success (an MQTT 5 reason
/// code below 0x80, or none).
pub(crate) fn puback_id(body: &[u8]) -> Result<(u16, bool)> {
    match body {
        [hi, lo] => Ok((u16::from_be_bytes([*hi, *lo]), true)),
        [hi, lo, reason, ..] => Ok((u16::from_be_bytes([*hi, *lo]), *reason < 0x80)),
        _ => bail!("short PUBACK"),
    }
}

/// A variable byte integer: `(value, bytes used)`.
fn var_int(buf: &[u8]) -> Result<(usize, usize)> {
    let mut value = 0usize;
    for (i, b) in buf.iter().take(4).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    bail!("malformed variable byte integer")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ferrocore_mqtt::{Decoder, PubAck};

    use super::*;

    fn decode_one(bytes: &[u8], version: ProtocolVersion) -> Packet {
        let mut buf = BytesMut::from(bytes);
        let packet = Decoder::with_version(version, usize::MAX).decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        packet
    }

    #[test]
    fn template_patches_packet_id_and_payload_for_both_versions() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let t = PublishTemplate::new("bench/p2p/7", QoS::AtLeastOnce, 64, version).unwrap();
            let mut out = Vec::new();
            t.push(&mut out, 513, &42u64.to_le_bytes());
            t.push(&mut out, 514, &43u64.to_le_bytes());
            assert_eq!(out.len(), 2 * t.len());
            let Packet::Publish(p) = decode_one(&out[..t.len()], version) else { panic!() };
            assert_eq!((p.packet_id, p.topic.as_str(), p.payload.len()), (513, "bench/p2p/7", 64));
            assert_eq!(&p.payload[..8], &42u64.to_le_bytes());

            // The hot-path parser agrees with the codec.
            let (first, hl, total) = next_frame(&out[t.len()..]).unwrap().unwrap();
            assert_eq!(total, t.len());
            let view = parse_publish(first, &out[t.len() + hl..t.len() + total], version).unwrap();
            assert_eq!((view.qos, view.packet_id, view.topic), (1, 514, &b"bench/p2p/7"[..]));
            assert_eq!(&view.payload[..8], &43u64.to_le_bytes());
        }
    }

    #[test]
    fn qos0_template_has_no_packet_id() {
        let t = PublishTemplate::new("a/b", QoS::AtMostOnce, 16, ProtocolVersion::V311).unwrap();
        assert_eq!(t.len(), 2 + 2 + 3 + 16);
        let mut out = Vec::new();
        t.push(&mut out, 9, &[1, 2]);
        let Packet::Publish(p) = decode_one(&out, ProtocolVersion::V311) else { panic!() };
        assert_eq!((p.packet_id, &p.payload[..3]), (0, &[1u8, 2, 0][..]));
    }

    #[test]
    fn frames_split_incomplete_and_long_lengths() {
        assert_eq!(next_frame(&[]).unwrap(), None);
        assert_eq!(next_frame(&[0x30]).unwrap(), None);
        assert_eq!(next_frame(&[0x30, 0x80]).unwrap(), None);
        // 200 bytes of remaining length take two bytes.
        let mut long = vec![0x30, 0xC8, 0x01];
        long.resize(3 + 199, 0);
        assert_eq!(next_frame(&long).unwrap(), None);
        long.push(0);
        assert_eq!(next_frame(&long).unwrap(), Some((0x30, 3, 203)));
        assert!(next_frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0]).is_err());
    }

    #[test]
    fn puback_is_read_in_both_forms() {
        let mut out = Vec::new();
        push_puback(&mut out, 777);
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            assert_eq!(decode_one(&out, version), Packet::PubAck(PubAck::success(777)));
        }
        assert_eq!(puback_id(&out[2..]).unwrap(), (777, true));
        assert_eq!(puback_id(&[0, 5, 0x97, 0]).unwrap(), (5, false));
        assert!(puback_id(&[1]).is_err());
    }
}
