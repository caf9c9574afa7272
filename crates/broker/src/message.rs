//! A message as the broker routes it: published once, shared by every subscriber.

use std::sync::Arc;

use bytes::Bytes;
use ferrocore_mqtt::{Publish, PublishProperties, QoS, TopicName};

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
    /// When it expires, in milliseconds since the Unix epoch, from Message Expiry Interval.
    pub expires_at_ms: Option<u64>,
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
            expires_at_ms: None,
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
