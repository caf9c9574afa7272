//! The authorization hook of a connection: the broker asks, the caller decides.
//!
//! A [`Connection`](crate::Connection) with an [`Authorize`] asks it before each MQTT action
//! (AWS IoT Core's `iot:Connect`, `iot:Publish` and `iot:RetainPublish`, `iot:Subscribe`,
//! `iot:Receive`) and applies AWS's answer to a refusal: CONNACK "not authorized", PUBACK
//! 0x87 (MQTT 5) or a disconnect (3.1.1), SUBACK 0x87/0x80 per filter, and a delivery that is
//! silently not sent. How the decision is made (IoT policies, caching) is the implementor's
//! business; the broker only knows the questions. A connection without one allows everything.

use std::fmt::Debug;
use std::sync::Arc;

use crate::session::Link;

/// Decides the MQTT actions of one connection. Methods take `&mut self` so that an
/// implementation can cache its decisions.
pub trait Authorize: Send + Debug {
    /// `iot:Connect` with client identifier `client_id`. Asked once, before the session is
    /// attached; later questions concern the same client identifier.
    fn connect(&mut self, client_id: &str, attributes: ConnectAttributes) -> bool;
    /// `iot:Publish` on `topic`, and also `iot:RetainPublish` when `retain` is set (for a
    /// PUBLISH or a will).
    fn publish(&mut self, topic: &str, retain: bool) -> bool;
    /// `iot:Subscribe` on the topic filter `filter`, as the client sent it (a shared
    /// subscription keeps its `$share/{group}/` prefix).
    fn subscribe(&mut self, filter: &str) -> bool;
    /// `iot:Receive` of a message published on `topic`.
    fn receive(&mut self, topic: &str) -> bool;
    /// Who the connection authenticated as (a certificate id, say), for lifecycle events.
    fn principal(&self) -> &str;
    /// Called once the session is attached, with the link that closes the connection: an
    /// authorizer whose grounds can go away (a revoked certificate) keeps it to kick the
    /// connection then.
    fn attached(&mut self, _link: &Arc<Link>) {}
}

/// What a CONNECT asks for beyond connecting: AWS's `iot:ConnectAttributes` condition values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectAttributes {
    /// A persistent session (`PersistentConnect`): 3.1.1 clean session 0, or MQTT 5 with a
    /// session expiry interval.
    pub persistent: bool,
    /// A will message (`LastWill`).
    pub last_will: bool,
}

impl ConnectAttributes {
    /// AWS's names of the attributes present.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.persistent {
            names.push("PersistentConnect");
        }
        if self.last_will {
            names.push("LastWill");
        }
        names
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use ferrocore_mqtt::{
        Connect, ConnectProperties, Packet, ProtocolVersion, Publish, PublishProperties, QoS,
        ReasonCode, Subscribe, SubscribeProperties, SubscriptionOptions,
    };

    use super::*;
    use crate::{Broker, BrokerConfig, CloseReason, Connection, Transmit};

    /// Allows what is not listed as denied, and records every question.
    #[derive(Debug, Default)]
    struct Rules {
        deny: Vec<String>,
        asked: Arc<parking_lot::Mutex<Vec<String>>>,
    }

    impl Rules {
        fn answer(&mut self, question: String) -> bool {
            let allowed = !self.deny.contains(&question);
            self.asked.lock().push(question);
            allowed
        }
    }

    impl Authorize for Rules {
        fn connect(&mut self, client_id: &str, attributes: ConnectAttributes) -> bool {
            self.answer(format!("connect {client_id} {:?}", attributes.names()))
        }
        fn publish(&mut self, topic: &str, retain: bool) -> bool {
            self.answer(format!("publish {topic} {retain}"))
        }
        fn subscribe(&mut self, filter: &str) -> bool {
            self.answer(format!("subscribe {filter}"))
        }
        fn receive(&mut self, topic: &str) -> bool {
            self.answer(format!("receive {topic}"))
        }
        fn principal(&self) -> &str {
            "cert-1"
        }
    }

    fn connect(protocol: ProtocolVersion, client_id: &str) -> Packet {
        Packet::Connect(Box::new(Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.to_owned(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }))
    }

    fn publish(topic: &str, qos: QoS, retain: bool, packet_id: u16) -> Packet {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain,
            topic: topic.to_owned(),
            packet_id,
            payload: Bytes::from_static(b"x"),
            properties: PublishProperties::default(),
        })
    }

    fn subscribe(filters: &[&str]) -> Packet {
        let options = SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() };
        Packet::Subscribe(Subscribe {
            packet_id: 7,
            filters: filters.iter().map(|f| ((*f).to_owned(), options)).collect(),
            properties: SubscribeProperties::default(),
        })
    }

    fn packets(connection: &mut Connection) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(transmit) = connection.poll_transmit() {
            match transmit {
                Transmit::Packet(packet) | Transmit::AfterCommit(_, packet) => out.push(*packet),
                Transmit::PubAck(id) => {
                    out.push(Packet::PubAck(ferrocore_mqtt::PubAck::success(id)))
                }
                Transmit::Publish { delivery, .. } => {
                    out.push(publish(delivery.message.topic.as_str(), delivery.qos, false, 0))
                }
            }
        }
        out
    }

    fn client(broker: &Broker, protocol: ProtocolVersion, id: &str, deny: &[&str]) -> Connection {
        let mut connection = Connection::new(broker.clone());
        connection.set_authorizer(Box::new(Rules {
            deny: deny.iter().map(|d| (*d).to_owned()).collect(),
            ..Rules::default()
        }));
        connection.handle_packet(connect(protocol, id), 1).unwrap();
        connection
    }

    fn broker() -> Broker {
        Broker::new(BrokerConfig::default(), None)
    }

    #[test]
    fn denied_connect_is_refused_with_not_authorized() {
        let broker = broker();
        let mut connection = Connection::new(broker.clone());
        connection.set_authorizer(Box::new(Rules {
            deny: vec!["connect c1 []".to_owned()],
            ..Rules::default()
        }));
        let step = connection.handle_packet(connect(ProtocolVersion::V5, "c1"), 1);
        assert!(step.is_err());
        let out = packets(&mut connection);
        assert!(
            matches!(&out[..], [Packet::ConnAck(ack)] if ack.code == ReasonCode::NotAuthorized)
        );
        // The session was never attached.
        assert_eq!(broker.connected_count(), 0);
    }

    #[test]
    fn denied_publish_gets_puback_0x87_in_v5_and_a_disconnect_in_v311() {
        let broker = broker();
        let mut v5 = client(&broker, ProtocolVersion::V5, "p5", &["publish a/b false"]);
        packets(&mut v5);
        v5.handle_packet(publish("a/b", QoS::AtLeastOnce, false, 3), 2).unwrap();
        let out = packets(&mut v5);
        assert!(
            matches!(&out[..], [Packet::PubAck(ack)] if ack.packet_id == 3 && ack.reason == ReasonCode::NotAuthorized),
            "{out:?}"
        );
        let mut v3 = client(&broker, ProtocolVersion::V311, "p3", &["publish a/b false"]);
        packets(&mut v3);
        let step = v3.handle_packet(publish("a/b", QoS::AtLeastOnce, false, 3), 2);
        assert_eq!(step, Err(CloseReason::Forbidden(ReasonCode::NotAuthorized)));
    }

    #[test]
    fn retained_publish_asks_with_retain() {
        let broker = broker();
        let mut v5 = client(&broker, ProtocolVersion::V5, "r", &["publish a/b true"]);
        packets(&mut v5);
        v5.handle_packet(publish("a/b", QoS::AtLeastOnce, true, 4), 2).unwrap();
        let out = packets(&mut v5);
        assert!(
            matches!(&out[..], [Packet::PubAck(ack)] if ack.reason == ReasonCode::NotAuthorized)
        );
        assert!(broker.retained("a/b").is_none());
        v5.handle_packet(publish("a/b", QoS::AtLeastOnce, false, 5), 3).unwrap();
        let out = packets(&mut v5);
        assert!(matches!(&out[..], [Packet::PubAck(ack)] if ack.reason == ReasonCode::Success));
    }

    #[test]
    fn denied_filters_get_not_authorized_one_by_one() {
        let broker = broker();
        let mut c = client(&broker, ProtocolVersion::V5, "s", &["subscribe b/#"]);
        packets(&mut c);
        c.handle_packet(subscribe(&["a/+", "b/#"]), 2).unwrap();
        let out = packets(&mut c);
        let [Packet::SubAck(ack)] = &out[..] else { panic!("{out:?}") };
        assert_eq!(ack.reasons, vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized]);
        assert_eq!(broker.subscription_count(), 1);
    }

    #[test]
    fn denied_receive_is_silently_not_delivered() {
        let broker = Broker::new(BrokerConfig { max_inflight: 1, ..BrokerConfig::default() }, None);
        let mut sub = client(&broker, ProtocolVersion::V5, "sub", &["receive a/secret"]);
        packets(&mut sub);
        sub.handle_packet(subscribe(&["a/#"]), 2).unwrap();
        packets(&mut sub);
        let mut publisher = client(&broker, ProtocolVersion::V5, "pub", &[]);
        packets(&mut publisher);
        publisher.handle_packet(publish("a/secret", QoS::AtLeastOnce, false, 1), 3).unwrap();
        publisher.handle_packet(publish("a/open", QoS::AtLeastOnce, false, 2), 3).unwrap();
        sub.handle_wakeup(4).unwrap();
        let out = packets(&mut sub);
        let topics: Vec<&str> = out
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p.topic.as_str()),
                _ => None,
            })
            .collect();
        // With one in-flight slot, "a/open" is sent only if the refused QoS 1 delivery gave
        // its slot back.
        assert_eq!(topics, vec!["a/open"]);
    }

    #[test]
    fn will_needs_publish_and_connect_reports_attributes() {
        let broker = broker();
        let asked = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut connection = Connection::new(broker.clone());
        connection.set_authorizer(Box::new(Rules {
            deny: vec!["publish will/t true".to_owned()],
            asked: asked.clone(),
        }));
        let Packet::Connect(mut packet) = connect(ProtocolVersion::V311, "w") else {
            unreachable!()
        };
        packet.clean_start = false;
        packet.will = Some(ferrocore_mqtt::Will {
            topic: "will/t".to_owned(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Default::default(),
        });
        assert!(connection.handle_packet(Packet::Connect(packet), 1).is_err());
        let out = packets(&mut connection);
        assert!(
            matches!(&out[..], [Packet::ConnAck(ack)] if ack.code == ReasonCode::NotAuthorized)
        );
        assert_eq!(
            asked.lock().clone(),
            vec![
                "connect w [\"PersistentConnect\", \"LastWill\"]".to_owned(),
                "publish will/t true".to_owned()
            ]
        );
    }
}
