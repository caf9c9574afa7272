//! A client that writes exact packets or bytes and reads packets back, using Ferrocore's codec.

use std::net::SocketAddr;

use bytes::BytesMut;
use ferrocore_mqtt::{Connect, ConnectProperties, Decoder, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{QUIET, WAIT};

/// A raw MQTT client.
pub struct RawClient {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl RawClient {
    /// Opens a TCP connection.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            decoder: Decoder::with_version(ProtocolVersion::V5, usize::MAX),
            buf: BytesMut::new(),
            version: ProtocolVersion::V5,
        }
    }

    /// A CONNECT packet with the given version, client id and keep-alive.
    pub fn connect_packet(version: ProtocolVersion, client_id: &str, keep_alive: u16) -> Packet {
        Packet::Connect(Box::new(Connect {
            protocol: version,
            clean_start: true,
            keep_alive,
            client_id: client_id.to_owned(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }))
    }

    /// Sends CONNECT and returns the server's answer (normally CONNACK).
    pub async fn handshake(&mut self, connect: Packet) -> Packet {
        if let Packet::Connect(c) = &connect {
            self.set_version(c.protocol);
        }
        self.send(&connect).await;
        self.recv().await.expect("no answer to CONNECT")
    }

    /// Encodes packets for and decodes packets from `version`.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.decoder = Decoder::with_version(version, usize::MAX);
    }

    /// Sends one packet.
    pub async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        ferrocore_mqtt::encode(packet, self.version, &mut out).unwrap();
        self.send_bytes(&out).await;
    }

    /// Sends arbitrary bytes (the server may already have closed; errors are ignored).
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet, or `None` if the server closed the connection. Panics after [`WAIT`].
    pub async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(WAIT, self.read_packet())
            .await
            .expect("timed out waiting for a packet")
    }

    /// The next packet if one arrives within [`QUIET`].
    pub async fn try_recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(QUIET, self.read_packet()).await.ok().flatten()
    }

    /// Reads until the server closes, returning every packet it sent first.
    pub async fn until_closed(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        while let Some(packet) = self.recv().await {
            packets.push(packet);
        }
        packets
    }

    async fn read_packet(&mut self) -> Option<Packet> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(packet)) => return Some(packet),
                Ok(None) => {}
                Err(error) => panic!("server sent a malformed packet: {error}"),
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// Packet builders and a connected constructor, for tests that send exact packets.
impl RawClient {
    /// Opens a TCP connection, sends CONNECT (`version`, `client_id`, keep-alive 60, clean
    /// start) and panics unless the CONNACK reports success. Returns the client and the CONNACK.
    pub async fn connected(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> (RawClient, ferrocore_mqtt::ConnAck) {
        let mut client = RawClient::connect(addr).await;
        match client.handshake(RawClient::connect_packet(version, client_id, 60)).await {
            Packet::ConnAck(connack) if connack.code == ferrocore_mqtt::ReasonCode::Success => {
                (client, connack)
            }
            other => panic!("CONNECT refused: {other:?}"),
        }
    }

    /// A PUBLISH without properties, not retained, not a duplicate.
    pub fn publish_packet(
        topic: &str,
        qos: ferrocore_mqtt::QoS,
        packet_id: u16,
        payload: impl Into<bytes::Bytes>,
    ) -> Packet {
        Packet::Publish(ferrocore_mqtt::Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.to_owned(),
            packet_id,
            payload: payload.into(),
            properties: ferrocore_mqtt::PublishProperties::default(),
        })
    }

    /// A SUBSCRIBE without properties; each filter with default options but its QoS.
    pub fn subscribe_packet(packet_id: u16, filters: &[(&str, ferrocore_mqtt::QoS)]) -> Packet {
        Packet::Subscribe(ferrocore_mqtt::Subscribe {
            packet_id,
            filters: filters
                .iter()
                .map(|(filter, qos)| {
                    let options =
                        ferrocore_mqtt::SubscriptionOptions { qos: *qos, ..Default::default() };
                    ((*filter).to_owned(), options)
                })
                .collect(),
            properties: ferrocore_mqtt::SubscribeProperties::default(),
        })
    }
}
