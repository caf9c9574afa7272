//! How the broker's durable state is laid out as bytes for the store.
//!
//! A stored message is its MQTT 5 PUBLISH packet behind a small header (format version,
//! delivery QoS and RETAIN, expiry, publisher, subscription identifiers), so that everything a
//! message carries survives a restart with no second schema. Session state and subscription
//! options are a few fixed fields. Each blob starts with a format version byte.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrocore_mqtt::{
    Decoder, Packet, ProtocolVersion, Publish, QoS, RetainHandling, SubscriptionOptions, TopicName,
};

use crate::message::{Delivery, Message};
use crate::session::Subscription;

const FORMAT: u8 = 1;

/// Why a stored blob could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt stored {what}: {detail}")]
pub struct CorruptBlob {
    what: &'static str,
    detail: String,
}

fn corrupt(what: &'static str, detail: impl ToString) -> CorruptBlob {
    CorruptBlob { what, detail: detail.to_string() }
}

/// Serializes a delivery for [`ferrocore_store::Op::PutMessage`].
pub fn encode_delivery(delivery: &Delivery) -> Bytes {
    let message = &delivery.message;
    let publish = Publish {
        dup: false,
        qos: message.qos,
        retain: message.retain,
        topic: message.topic.as_str().to_owned(),
        packet_id: if message.qos == QoS::AtMostOnce { 0 } else { 1 },
        payload: message.payload.clone(),
        properties: message.properties.clone(),
    };
    // Client identifiers are MQTT strings, so they fit a u16 length; anything longer is
    // stored as no publisher rather than cut inside a character.
    let publisher = message.publisher.as_deref().filter(|p| p.len() <= usize::from(u16::MAX));
    let publisher = publisher.unwrap_or("").as_bytes();
    let ids = &delivery.subscription_ids;
    let ids = &ids[..ids.len().min(usize::from(u16::MAX))];
    let packet = Packet::Publish(publish);
    // One allocation of the exact size: this runs for every message queued durably.
    let header = 1 + 1 + 1 + 8 + 2 + publisher.len() + 2 + 4 * ids.len();
    let body = ferrocore_mqtt::encoded_len(&packet, ProtocolVersion::V5).unwrap_or(0);
    let mut out = BytesMut::with_capacity(header + body);
    out.put_u8(FORMAT);
    out.put_u8(delivery.qos as u8);
    out.put_u8(u8::from(delivery.retain));
    out.put_u64(message.expires_at_ms.unwrap_or(0));
    out.put_u16(publisher.len() as u16);
    out.put_slice(publisher);
    out.put_u16(ids.len() as u16);
    for id in ids {
        out.put_u32(*id);
    }
    // Encoding a message that was decoded from the wire cannot exceed the limits; if it ever
    // did, the header alone is stored and decoding reports the blob as corrupt.
    if let Err(error) = ferrocore_mqtt::encode(&packet, ProtocolVersion::V5, &mut out) {
        tracing::error!(%error, "could not encode a message for the store");
    }
    out.freeze()
}

/// Reads back a delivery stored by [`encode_delivery`] under sequence number `seq`.
pub fn decode_delivery(seq: u64, mut blob: Bytes) -> Result<Delivery, CorruptBlob> {
    const WHAT: &str = "message";
    if blob.remaining() < 13 || blob.get_u8() != FORMAT {
        return Err(corrupt(WHAT, "unknown format"));
    }
    let qos = QoS::from_u8(blob.get_u8()).ok_or_else(|| corrupt(WHAT, "qos"))?;
    let retain = blob.get_u8() != 0;
    let expires_at = blob.get_u64();
    let publisher_len = usize::from(blob.get_u16());
    if blob.remaining() < publisher_len + 2 {
        return Err(corrupt(WHAT, "truncated"));
    }
    let publisher = std::str::from_utf8(&blob.split_to(publisher_len))
        .map_err(|e| corrupt(WHAT, e))?
        .to_owned();
    let ids = usize::from(blob.get_u16());
    if blob.remaining() < ids * 4 {
        return Err(corrupt(WHAT, "truncated"));
    }
    let subscription_ids = (0..ids).map(|_| blob.get_u32()).collect();
    let mut buf = BytesMut::from(&blob[..]);
    let mut decoder = Decoder::with_version(ProtocolVersion::V5, usize::MAX);
    let publish = match decoder.decode(&mut buf) {
        Ok(Some(Packet::Publish(publish))) => publish,
        Ok(_) => return Err(corrupt(WHAT, "not a PUBLISH")),
        Err(e) => return Err(corrupt(WHAT, e)),
    };
    let topic = TopicName::new(&publish.topic).map_err(|e| corrupt(WHAT, e))?;
    let message = Message {
        topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        properties: publish.properties,
        publisher: (!publisher.is_empty()).then(|| Arc::from(publisher)),
        // Not stored: only the rules engine reads them, and it sees messages live.
        principal: None,
        source_ip: None,
        expires_at_ms: (expires_at != 0).then_some(expires_at),
        templates: Default::default(),
    };
    Ok(Delivery { message: Arc::new(message), qos, retain, subscription_ids, seq: Some(seq) })
}

/// Serializes a retained message for [`ferrocore_store::Op::PutRetained`].
pub fn encode_retained(message: &Arc<Message>) -> Bytes {
    let delivery = Delivery {
        message: Arc::clone(message),
        qos: message.qos,
        retain: true,
        subscription_ids: Vec::new(),
        seq: None,
    };
    encode_delivery(&delivery)
}

/// Reads back a retained message.
pub fn decode_retained(blob: Bytes) -> Result<Arc<Message>, CorruptBlob> {
    decode_delivery(0, blob).map(|d| d.message)
}

/// What is stored about a session besides its subscriptions and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSession {
    /// Protocol version of its last connection.
    pub protocol: ProtocolVersion,
    /// Session expiry interval in seconds.
    pub expiry_interval: u32,
    /// When it was last disconnected (0: it was connected when last written).
    pub disconnected_at_ms: u64,
}

/// Serializes session state.
pub fn encode_session(session: &StoredSession) -> Bytes {
    let mut out = BytesMut::with_capacity(14);
    out.put_u8(FORMAT);
    out.put_u8(session.protocol.level());
    out.put_u32(session.expiry_interval);
    out.put_u64(session.disconnected_at_ms);
    out.freeze()
}

/// Reads back session state.
pub fn decode_session(mut blob: Bytes) -> Result<StoredSession, CorruptBlob> {
    if blob.remaining() != 14 || blob.get_u8() != FORMAT {
        return Err(corrupt("session", "unknown format"));
    }
    let protocol = match blob.get_u8() {
        4 => ProtocolVersion::V311,
        5 => ProtocolVersion::V5,
        other => return Err(corrupt("session", format!("protocol level {other}"))),
    };
    Ok(StoredSession {
        protocol,
        expiry_interval: blob.get_u32(),
        disconnected_at_ms: blob.get_u64(),
    })
}

/// Serializes a subscription's options and identifier.
pub fn encode_subscription(subscription: &Subscription) -> Bytes {
    let o = subscription.options;
    let flags = o.qos as u8
        | u8::from(o.no_local) << 2
        | u8::from(o.retain_as_published) << 3
        | (o.retain_handling as u8) << 4;
    let mut out = BytesMut::with_capacity(6);
    out.put_u8(FORMAT);
    out.put_u8(flags);
    out.put_u32(subscription.id.unwrap_or(0));
    out.freeze()
}

/// Reads back a subscription.
pub fn decode_subscription(mut blob: Bytes) -> Result<Subscription, CorruptBlob> {
    if blob.remaining() != 6 || blob.get_u8() != FORMAT {
        return Err(corrupt("subscription", "unknown format"));
    }
    let flags = blob.get_u8();
    let id = blob.get_u32();
    let qos = QoS::from_u8(flags & 3).ok_or_else(|| corrupt("subscription", "qos"))?;
    let retain_handling = match (flags >> 4) & 3 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        _ => RetainHandling::DoNotSend,
    };
    Ok(Subscription {
        options: SubscriptionOptions {
            qos,
            no_local: flags & 4 != 0,
            retain_as_published: flags & 8 != 0,
            retain_handling,
        },
        id: (id != 0).then_some(id),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_round_trip() {
        let mut message = Message::new(
            TopicName::new("a/b").unwrap(),
            Bytes::from_static(b"payload"),
            QoS::AtLeastOnce,
            false,
        );
        message.properties.user_properties.push(("k".into(), "v".into()));
        message.properties.content_type = Some("text/plain".into());
        message.publisher = Some(Arc::from("pub-1"));
        message.expires_at_ms = Some(123_456);
        let delivery = Delivery {
            message: Arc::new(message),
            qos: QoS::AtLeastOnce,
            retain: true,
            subscription_ids: vec![7, 9],
            seq: Some(42),
        };
        let back = decode_delivery(42, encode_delivery(&delivery)).unwrap();
        assert_eq!(back, delivery);
    }

    #[test]
    fn sessions_and_subscriptions_round_trip() {
        let s = StoredSession {
            protocol: ProtocolVersion::V5,
            expiry_interval: 3600,
            disconnected_at_ms: 99,
        };
        assert_eq!(decode_session(encode_session(&s)).unwrap(), s);
        let sub = Subscription {
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            },
            id: Some(12),
        };
        assert_eq!(decode_subscription(encode_subscription(&sub)).unwrap(), sub);
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        assert!(decode_delivery(1, Bytes::from_static(b"\x01\x00")).is_err());
        assert!(decode_session(Bytes::from_static(b"\x09")).is_err());
        assert!(decode_subscription(Bytes::new()).is_err());
    }
}
