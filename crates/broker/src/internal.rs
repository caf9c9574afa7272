//! The internal-client handle: how services inside the process (shadow, jobs, rules) attach
//! to the broker. They subscribe and publish like a client, without a network connection,
//! codec or keep-alive, and receive deliveries from an in-memory queue.

use std::sync::Arc;

use ferrocore_mqtt::{QoS, SharedFilter, SubscriptionOptions, TopicError};

use crate::broker::{Broker, Published};
use crate::message::{Delivery, Message};
use crate::session::{Link, SessionHandle, Subscription};

/// A service's attachment to the broker. Dropping it removes its subscriptions.
#[derive(Debug)]
pub struct InternalClient {
    broker: Broker,
    session: Arc<SessionHandle>,
    link: Arc<Link>,
}

impl InternalClient {
    /// Attaches a service named `name` (used in logs and as its publisher identity).
    pub fn new(broker: &Broker, name: &str) -> InternalClient {
        let (session, link) = broker.internal_session(name);
        InternalClient { broker: broker.clone(), session, link }
    }

    /// Subscribes to `filter` (a `$share/` filter is allowed). Messages arrive at most at
    /// `qos`, and reach [`InternalClient::recv`] however they were published.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<(), TopicError> {
        let parsed = SharedFilter::parse(filter)?;
        let options = SubscriptionOptions { qos, ..SubscriptionOptions::default() };
        let subscription = Subscription { options, id: None };
        self.broker.subscribe(
            &self.session,
            vec![(filter.to_owned(), parsed, subscription)],
            now_ms(),
        );
        Ok(())
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, filter: &str) -> bool {
        self.broker
            .unsubscribe(&self.session, &[filter.to_owned()])
            .first()
            .copied()
            .unwrap_or(false)
    }

    /// Publishes a message as this service.
    pub fn publish(&self, message: Message) -> Published {
        self.broker.publish(message, now_ms())
    }

    /// The next delivery, if one is waiting.
    pub fn try_recv(&self) -> Option<Delivery> {
        let mut state = self.session.lock();
        let next = state.pop_queued();
        if next.is_none() {
            // Drained, under the session lock: the next enqueue notifies again (see
            // `Link::wake`), and a notification sent before `recv` waits is kept.
            self.link.clear_wake();
        }
        next
    }

    /// Waits for the next delivery.
    pub async fn recv(&self) -> Delivery {
        loop {
            if let Some(delivery) = self.try_recv() {
                return delivery;
            }
            self.link.notified().await;
        }
    }
}

impl Drop for InternalClient {
    fn drop(&mut self) {
        self.broker.drop_internal_session(&self.session);
    }
}

/// Milliseconds since the Unix epoch, for callers that have no clock of their own.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use bytes::Bytes;
    use ferrocore_mqtt::TopicName;

    #[tokio::test]
    async fn services_publish_and_receive_through_the_broker() {
        let broker = Broker::new(BrokerConfig::default(), None);
        let shadow = InternalClient::new(&broker, "shadow");
        shadow.subscribe("$aws/things/+/shadow/#", QoS::AtLeastOnce).unwrap();
        let app = InternalClient::new(&broker, "app");
        let message = Message::new(
            TopicName::new("$aws/things/t1/shadow/update").unwrap(),
            Bytes::from_static(b"{}"),
            QoS::AtLeastOnce,
            false,
        );
        assert_eq!(app.publish(message.clone()).matched, 1);
        let delivery = shadow.recv().await;
        assert_eq!(delivery.message.topic.as_str(), "$aws/things/t1/shadow/update");
        assert!(shadow.try_recv().is_none());
        // Later deliveries wake the receiver too, one after another.
        for _ in 0..3 {
            let waiting = tokio::time::timeout(std::time::Duration::from_secs(5), shadow.recv());
            app.publish(message.clone());
            assert!(waiting.await.is_ok(), "a later delivery wakes recv");
        }
        drop(shadow);
        assert_eq!(broker.subscription_count(), 0);
    }
}
