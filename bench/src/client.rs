//! One benchmark client connection: connect (optionally from a chosen source address, and
//! optionally over TLS with a client certificate), CONNECT/CONNACK, SUBSCRIBE/SUBACK, buffered
//! reads and DISCONNECT.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{Buf, BytesMut};
use ferrocore_mqtt::{Decoder, Packet, ProtocolVersion, QoS, ReasonCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::wire;

/// How long a handshake step may take before the run is failed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Read buffer size of the clients that move messages: large, so one read drains many packets.
pub(crate) const BIG_READ_BUFFER: usize = 256 * 1024;

/// Where to connect and how to speak.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The broker's address.
    pub(crate) addr: SocketAddr,
    /// The MQTT version every client uses.
    pub(crate) version: ProtocolVersion,
    /// Keep-alive sent in CONNECT, in seconds.
    pub(crate) keep_alive: u16,
    /// TLS, if the broker's listener speaks it.
    pub(crate) tls: Option<Tls>,
}

/// A TLS client configuration: the CA to trust and the client certificate to present.
#[derive(Clone)]
pub(crate) struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

impl Tls {
    /// Trusts the PEM certificates in `ca`, presents `cert`/`key` if given, and checks the
    /// server's certificate against `server_name`.
    pub(crate) fn load(
        ca: &Path,
        client: Option<(&Path, &Path)>,
        server_name: &str,
    ) -> Result<Tls> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(ca).with_context(|| format!("{}", ca.display()))?
        {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .with_context(|| format!("{}", cert.display()))?
                    .collect::<Result<Vec<_>, _>>()?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("{}", key.display()))?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        let server_name = ServerName::try_from(server_name.to_owned())
            .with_context(|| format!("{server_name} is not a server name"))?;
        Ok(Tls { connector: TlsConnector::from(Arc::new(config)), server_name })
    }
}

/// The read half of a connection (TCP or TLS).
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection (TCP or TLS).
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A connected MQTT client, split for concurrent reading and writing.
pub(crate) struct Client {
    /// The read half.
    pub(crate) reader: Reader,
    /// The write half.
    pub(crate) writer: Writer,
    /// Bytes read but not yet consumed.
    pub(crate) rbuf: BytesMut,
    /// The protocol version in use.
    pub(crate) version: ProtocolVersion,
    /// The CONNACK's Session Present flag.
    pub(crate) session_present: bool,
    /// The broker's Receive Maximum (MQTT 5 CONNACK), if it sent one.
    pub(crate) receive_maximum: Option<u16>,
    buffer_size: usize,
    decoder: Decoder,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("version", &self.version).finish_non_exhaustive()
    }
}

impl Client {
    /// Connects, sends CONNECT and waits for a successful CONNACK.
    pub(crate) async fn connect(
        target: &Target,
        client_id: &str,
        clean_start: bool,
        bind: Option<IpAddr>,
        buffer_size: usize,
    ) -> Result<Client> {
        let socket = match target.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(ip) = bind {
            socket.set_reuseaddr(true)?;
            socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding to {ip}"))?;
        }
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.connect(target.addr))
            .await
            .context("TCP connect timed out")?
            .with_context(|| format!("connecting to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let (reader, writer): (Reader, Writer) = match &target.tls {
            Some(tls) => {
                let handshake = tls.connector.connect(tls.server_name.clone(), stream);
                let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                    .await
                    .context("TLS handshake timed out")?
                    .context("TLS handshake")?;
                let (reader, writer) = tokio::io::split(stream);
                (Box::new(reader), Box::new(writer))
            }
            None => {
                let (reader, writer) = stream.into_split();
                (Box::new(reader), Box::new(writer))
            }
        };
        let mut client = Client {
            reader,
            writer,
            rbuf: BytesMut::with_capacity(buffer_size),
            version: target.version,
            session_present: false,
            receive_maximum: None,
            buffer_size,
            decoder: Decoder::with_version(target.version, usize::MAX),
        };
        let connect =
            wire::connect_packet(client_id, clean_start, target.keep_alive, target.version)?;
        client.writer.write_all(&connect).await?;
        match client.control().await.context("waiting for CONNACK")? {
            Packet::ConnAck(ack) if ack.code == ReasonCode::Success => {
                client.session_present = ack.session_present;
                client.receive_maximum = ack.properties.receive_maximum;
                Ok(client)
            }
            Packet::ConnAck(ack) => bail!("CONNACK refused {client_id}: {:?}", ack.code),
            other => bail!("expected CONNACK, got {}", other.name()),
        }
    }

    /// Subscribes to `filter` and checks that the SUBACK grants at least `qos`.
    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<()> {
        let packet = wire::subscribe_packet(1, filter, qos, self.version)?;
        self.writer.write_all(&packet).await?;
        match self.control().await.context("waiting for SUBACK")? {
            Packet::SubAck(ack) => {
                let granted = match ack.reasons.first() {
                    Some(ReasonCode::Success) => QoS::AtMostOnce,
                    Some(ReasonCode::GrantedQoS1) => QoS::AtLeastOnce,
                    Some(ReasonCode::GrantedQoS2) => QoS::ExactlyOnce,
                    other => bail!("SUBACK refused {filter}: {other:?}"),
                };
                if granted < qos {
                    bail!("SUBACK granted {granted:?} for {filter}, asked {qos:?}");
                }
                Ok(())
            }
            other => bail!("expected SUBACK, got {}", other.name()),
        }
    }

    /// Reads once into the buffer; fails if the broker closed the connection.
    pub(crate) async fn read(&mut self) -> Result<usize> {
        if self.rbuf.capacity() - self.rbuf.len() < self.buffer_size / 4 {
            self.rbuf.reserve(self.buffer_size);
        }
        let n = self.reader.read_buf(&mut self.rbuf).await.context("reading from the broker")?;
        if n == 0 {
            bail!("the broker closed the connection");
        }
        Ok(n)
    }

    /// Reads until one whole packet is buffered and decodes it with the codec (handshakes
    /// only: the hot paths parse frames themselves).
    async fn control(&mut self) -> Result<Packet> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            loop {
                if let Some(packet) = self.decoder.decode(&mut self.rbuf)? {
                    return Ok(packet);
                }
                self.read().await?;
            }
        })
        .await
        .context("handshake timed out")?
    }

    /// Drops any buffered bytes (the caller consumed them).
    pub(crate) fn consume(&mut self, n: usize) {
        self.rbuf.advance(n);
    }

    /// Sends DISCONNECT and closes the write side.
    pub(crate) async fn disconnect(mut self) -> Result<()> {
        let packet = wire::disconnect_packet(self.version)?;
        self.writer.write_all(&packet).await?;
        self.writer.shutdown().await?;
        Ok(())
    }

    /// Sends DISCONNECT and waits (briefly) for the broker to close, so that the broker's side
    /// of the connection, not ours, is left in TIME_WAIT.
    pub(crate) async fn disconnect_and_wait(mut self, wait: Duration) -> Result<()> {
        let packet = wire::disconnect_packet(self.version)?;
        self.writer.write_all(&packet).await?;
        let _ = tokio::time::timeout(wait, async {
            let mut sink = [0u8; 256];
            while matches!(self.reader.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        Ok(())
    }
}
