//! rumqttc clients (MQTT 3.1.1 and 5) driven by a background task.
//!
//! The task polls the event loop and forwards every incoming packet to a channel; when the
//! connection fails it forwards the error and stops, so tests see disconnects instead of
//! silent reconnects.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::{QUIET, WAIT};

/// What the background task reports.
#[derive(Debug)]
pub enum Seen<P> {
    /// An incoming packet.
    Packet(P),
    /// The connection ended with this error.
    Closed(String),
}

/// Aborts a task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

macro_rules! client {
    ($name:ident, $module:ident, $packet:ty, $publish:ty) => {
        /// A connected rumqttc client.
        pub struct $name {
            /// The client handle (publish, subscribe, ...).
            pub client: $module::AsyncClient,
            /// Incoming packets after CONNACK.
            pub events: mpsc::UnboundedReceiver<Seen<$packet>>,
            /// The CONNACK.
            pub connack: $packet,
            /// The event loop task; aborted on drop, which closes the socket at once
            /// without DISCONNECT, as a lost connection does.
            pub task: AbortOnDrop,
        }

        impl $name {
            /// Connects and waits for CONNACK; panics if the connection fails.
            pub async fn connect(options: $module::MqttOptions) -> $name {
                let (client, mut events, task) = Self::start(options);
                match tokio::time::timeout(WAIT, events.recv()).await {
                    Ok(Some(Seen::Packet(connack))) => $name { client, events, connack, task },
                    other => panic!("connect failed: {other:?}"),
                }
            }

            /// Starts a client without waiting: the first event is the CONNACK or the error.
            pub fn start(
                options: $module::MqttOptions,
            ) -> ($module::AsyncClient, mpsc::UnboundedReceiver<Seen<$packet>>, AbortOnDrop) {
                let (client, mut eventloop) = $module::AsyncClient::new(options, 1000);
                let (tx, rx) = mpsc::unbounded_channel();
                let task = tokio::spawn(async move {
                    loop {
                        match eventloop.poll().await {
                            Ok($module::Event::Incoming(packet)) => {
                                if tx.send(Seen::Packet(packet)).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                let _ = tx.send(Seen::Closed(error.to_string()));
                                return;
                            }
                        }
                    }
                });
                (client, rx, AbortOnDrop(task))
            }

            /// The next incoming packet of any kind; panics on timeout.
            pub async fn next(&mut self) -> Seen<$packet> {
                tokio::time::timeout(WAIT, self.events.recv())
                    .await
                    .expect("timed out waiting for an event")
                    .expect("event task ended")
            }

            /// The next PUBLISH, skipping acknowledgements; panics on timeout or close.
            pub async fn publish(&mut self) -> $publish {
                loop {
                    match self.next().await {
                        Seen::Packet(p) => {
                            if let Some(publish) = Self::as_publish(p) {
                                return publish;
                            }
                        }
                        Seen::Closed(e) => panic!("connection closed while waiting: {e}"),
                    }
                }
            }

            /// Asserts no PUBLISH arrives within `QUIET`.
            pub async fn no_publish(&mut self) {
                let deadline = tokio::time::Instant::now() + QUIET;
                while let Ok(Some(seen)) =
                    tokio::time::timeout_at(deadline, self.events.recv()).await
                {
                    if let Seen::Packet(p) = seen {
                        if let Some(publish) = Self::as_publish(p) {
                            panic!("unexpected publish: {publish:?}");
                        }
                    }
                }
            }

            /// Waits for the connection to end; returns the packets seen before and the error.
            pub async fn closed(&mut self) -> (Vec<$packet>, String) {
                let mut seen = Vec::new();
                loop {
                    match self.next().await {
                        Seen::Packet(p) => seen.push(p),
                        Seen::Closed(e) => return (seen, e),
                    }
                }
            }

            /// Waits up to `duration` and reports whether the connection is still open.
            pub async fn still_open(&mut self, duration: Duration) -> bool {
                let deadline = tokio::time::Instant::now() + duration;
                loop {
                    match tokio::time::timeout_at(deadline, self.events.recv()).await {
                        Err(_) => return true,
                        Ok(Some(Seen::Packet(_))) => {}
                        Ok(_) => return false,
                    }
                }
            }
        }
    };
}

use rumqttc as v4;
use rumqttc::v5;

client!(V4, v4, rumqttc::Packet, rumqttc::Publish);
client!(V5, v5, v5::mqttbytes::v5::Packet, v5::mqttbytes::v5::Publish);

impl V4 {
    fn as_publish(packet: rumqttc::Packet) -> Option<rumqttc::Publish> {
        match packet {
            rumqttc::Packet::Publish(p) => Some(p),
            _ => None,
        }
    }

    /// Waits for the SUBACK and returns its return codes.
    pub async fn suback(&mut self) -> Vec<rumqttc::SubscribeReasonCode> {
        loop {
            match self.next().await {
                Seen::Packet(rumqttc::Packet::SubAck(ack)) => return ack.return_codes,
                Seen::Packet(_) => {}
                Seen::Closed(e) => panic!("closed while waiting for SUBACK: {e}"),
            }
        }
    }

    /// Subscribes and waits for the SUBACK.
    pub async fn subscribe(&mut self, filter: &str, qos: rumqttc::QoS) {
        self.client.subscribe(filter, qos).await.unwrap();
        self.suback().await;
    }
}

impl V5 {
    fn as_publish(packet: v5::mqttbytes::v5::Packet) -> Option<v5::mqttbytes::v5::Publish> {
        match packet {
            v5::mqttbytes::v5::Packet::Publish(p) => Some(p),
            _ => None,
        }
    }

    /// Waits for the SUBACK and returns its reason codes.
    pub async fn suback(&mut self) -> Vec<v5::mqttbytes::v5::SubscribeReasonCode> {
        loop {
            match self.next().await {
                Seen::Packet(v5::mqttbytes::v5::Packet::SubAck(ack)) => return ack.return_codes,
                Seen::Packet(_) => {}
                Seen::Closed(e) => panic!("closed while waiting for SUBACK: {e}"),
            }
        }
    }

    /// Subscribes and waits for the SUBACK.
    pub async fn subscribe(&mut self, filter: &str, qos: v5::mqttbytes::QoS) {
        self.client.subscribe(filter, qos).await.unwrap();
        self.suback().await;
    }
}
