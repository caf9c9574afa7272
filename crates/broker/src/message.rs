//! A message as the broker routes it: published once, shared by every subscriber.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use ferrocore_mqtt::{
    EncodeError, Packet, ProtocolVersion, Publish, PublishProperties, PublishTemplate, QoS,
    TopicName,
};

/// An application message. Routed as `Arc<Message>`: the payload is never copied per
/// subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic it was published to.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// Whether it was published with RETAIN.
    pub retain: bool,
    /// MQTT 5 properties passed through to subscribers (no topic alias, no subscription
    /// identifiers: those belong to one delivery).
    pub properties: PublishProperties,
    /// The publishing client, for No Local; `None` for messages from internal services.
    pub publisher: Option<Arc<str>>,
    /// Who the publisher authenticated as (a certificate id, an access key id), when known:
    /// the rules engine's `principal()`.
    pub principal: Option<Arc<str>>,
    /// The publisher's IP address, when it came over the network: the rules engine's
    /// `sourceip()`.
    pub source_ip: Option<std::net::IpAddr>,
    /// When it expires, in milliseconds since the Unix epoch, from Message Expiry Interval.
    pub expires_at_ms: Option<u64>,
    /// The message encoded once per protocol version and QoS class, filled on first use.
    pub templates: Templates,
}

/// Encoded PUBLISH templates of one message: MQTT 3.1.1 and 5, without and with a packet
/// identifier. Not part of the message's identity: clones start empty, and equality ignores
/// them.
///
/// The four slots live in a box made when the message is first encoded, so that a message
/// that waits in queues before anyone reads it (an offline session's) carries 16 bytes for
/// them rather than 224.
#[derive(Default)]
pub struct Templates(OnceLock<Box<[OnceLock<Option<PublishTemplate>>; 4]>>);

impl Templates {
    /// The template of `slot`, made by `make` the first time.
    fn get_or_init(
        &self,
        slot: usize,
        make: impl FnOnce() -> Option<PublishTemplate>,
    ) -> Option<&PublishTemplate> {
        let slots = self.0.get_or_init(Box::default);
        slots.get(slot)?.get_or_init(make).as_ref()
    }
}

impl Clone for Templates {
    fn clone(&self) -> Templates {
        Templates::default()
    }
}

impl PartialEq for Templates {
    fn eq(&self, _: &Templates) -> bool {
        true
    }
}

impl Eq for Templates {}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Message {
    /// A message with no properties, publisher or expiry.
    pub fn new(topic: TopicName, payload: Bytes, qos: QoS, retain: bool) -> Message {
        Message {
            topic,
            payload,
            qos,
            retain,
            properties: PublishProperties::default(),
            publisher: None,
            principal: None,
            source_ip: None,
            expires_at_ms: None,
            templates: Templates::default(),
        }
    }

    /// Whether the message has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The Message Expiry Interval left at `now_ms`, rounded up, as MQTT 5 forwards it.
    pub fn remaining_expiry(&self, now_ms: u64) -> Option<u32> {
        self.expires_at_ms
            .map(|at| u32::try_from(at.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(u32::MAX))
    }
}

/// One message on its way to one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The shared message.
    pub message: Arc<Message>,
    /// The QoS of this delivery: the lower of the message's and the subscription's.
    pub qos: QoS,
    /// RETAIN flag of this delivery.
    pub retain: bool,
    /// Subscription identifiers of the matching subscriptions (MQTT 5).
    pub subscription_ids: Vec<u32>,
    /// Sequence number under which the delivery is stored, for persistent sessions.
    pub seq: Option<u64>,
}

impl Delivery {
    /// The shared template for this delivery's version and QoS class, if the delivery can use
    /// one: MQTT 3.1.1 always (it carries no properties), MQTT 5 when no per-delivery property
    /// (subscription identifiers, a message expiry counting down) differs from the message's.
    fn template(&self, version: ProtocolVersion) -> Option<&PublishTemplate> {
        let message = &self.message;
        let v5 = version == ProtocolVersion::V5;
        if v5 && (!self.subscription_ids.is_empty() || message.expires_at_ms.is_some()) {
            return None;
        }
        let acked = self.qos != QoS::AtMostOnce;
        let slot = usize::from(v5) * 2 + usize::from(acked);
        message.templates.get_or_init(slot, || {
            let placeholder = Publish {
                dup: false,
                qos: if acked { QoS::AtLeastOnce } else { QoS::AtMostOnce },
                retain: false,
                topic: message.topic.as_str().to_owned(),
                packet_id: 1,
                payload: message.payload.clone(),
                properties: message.properties.clone(),
            };
            PublishTemplate::new(&placeholder, version).ok()
        })
    }

    /// Appends this delivery's PUBLISH for `version`, from the message's shared template when
    /// it can.
    pub fn encode(
        &self,
        packet_id: u16,
        dup: bool,
        version: ProtocolVersion,
        now_ms: u64,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if let Some(template) = self.template(version)
            && template.write(self.qos, dup, self.retain, packet_id, out)
        {
            return Ok(());
        }
        ferrocore_mqtt::encode_publish(&self.to_publish(packet_id, dup, now_ms), version, out)
    }

    /// The size of this delivery's PUBLISH for `version`.
    pub fn encoded_len(&self, version: ProtocolVersion, now_ms: u64) -> Result<usize, EncodeError> {
        match self.template(version) {
            Some(template) => Ok(template.len()),
            None => ferrocore_mqtt::encoded_len(
                &Packet::Publish(self.to_publish(1, false, now_ms)),
                version,
            ),
        }
    }

    /// The PUBLISH packet for this delivery, with `packet_id` (0 for QoS 0) and DUP.
    pub fn to_publish(&self, packet_id: u16, dup: bool, now_ms: u64) -> Publish {
        let message = &self.message;
        let mut properties = message.properties.clone();
        properties.subscription_identifiers.clone_from(&self.subscription_ids);
        properties.message_expiry_interval = message.remaining_expiry(now_ms);
        Publish {
            dup,
            qos: self.qos,
            retain: self.retain,
            topic: message.topic.as_str().to_owned(),
            packet_id,
            payload: message.payload.clone(),
            properties,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn template_slots_are_made_only_when_a_message_is_first_encoded() {
        let topic = TopicName::new("a/b").unwrap();
        let message = Message::new(topic, Bytes::from_static(b"hi"), QoS::AtLeastOnce, false);
        // A message waiting in a queue pays one pointer for its templates.
        assert!(size_of::<Templates>() <= 16, "{} bytes", size_of::<Templates>());
        assert!(message.templates.0.get().is_none());

        let delivery = Delivery {
            message: Arc::new(message),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: Vec::new(),
            seq: None,
        };
        let mut first = BytesMut::new();
        delivery.encode(7, false, ProtocolVersion::V311, 0, &mut first).unwrap();
        assert!(delivery.message.templates.0.get().is_some());
        let mut again = BytesMut::new();
        delivery.encode(7, false, ProtocolVersion::V311, 0, &mut again).unwrap();
        assert_eq!(first, again);
        let expected = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b".into(),
            packet_id: 7,
            payload: Bytes::from_static(b"hi"),
            properties: PublishProperties::default(),
        };
        let mut direct = BytesMut::new();
        ferrocore_mqtt::encode_publish(&expected, ProtocolVersion::V311, &mut direct).unwrap();
        assert_eq!(first, direct);
    }
}
