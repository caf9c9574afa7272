//! MQTT over WebSocket for tests: URLs presigned by the AWS SDK's own signer (`aws-sigv4`,
//! query parameters, service `iotdevicegateway`, as the AWS IoT Device SDKs sign them) and a
//! client that speaks MQTT packets with Ferrocore's codec over a tokio-tungstenite WebSocket,
//! on the plain API listener or, with TLS, the HTTPS listener.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use ferrocore_mqtt::{Decoder, Packet, ProtocolVersion};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::{ADMIN_KEY_ID, ADMIN_SECRET, QUIET, REGION, TestServer, WAIT};

/// How a URL is presigned.
#[derive(Debug, Clone)]
pub struct Presign {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret: String,
    /// A session token, appended after the signature (not signed), as the Device SDKs do.
    pub session_token: Option<String>,
    /// The signing time.
    pub time: SystemTime,
    /// `X-Amz-Expires`.
    pub expires: Duration,
    /// The signing name.
    pub service: String,
}

impl Default for Presign {
    fn default() -> Self {
        Presign {
            access_key_id: ADMIN_KEY_ID.to_owned(),
            secret: ADMIN_SECRET.to_owned(),
            session_token: None,
            time: SystemTime::now(),
            expires: Duration::from_secs(86_400),
            service: "iotdevicegateway".to_owned(),
        }
    }
}

/// `/mqtt?X-Amz-...`: the path and query of `GET /mqtt` on `authority` (the `Host` value),
/// presigned with `presign`.
pub fn presigned_path(authority: &str, presign: &Presign) -> String {
    use aws_sigv4::http_request::{
        SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let identity = aws_credential_types::Credentials::new(
        &presign.access_key_id,
        &presign.secret,
        presign.session_token.clone(),
        None,
        "ferrocore-testkit",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(presign.expires);
    settings.session_token_mode = SessionTokenMode::Exclude;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(&presign.service)
        .time(presign.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{authority}/mqtt");
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", authority)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = ::http::Request::builder().method("GET").uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request.uri().path_and_query().unwrap().to_string()
}

/// A byte stream a WebSocket runs over (TCP, or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An MQTT client over WebSocket.
pub struct WsClient {
    /// The WebSocket, for frames the helpers do not send.
    pub ws: WebSocketStream<Box<dyn Io>>,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
}

/// Opens a WebSocket to `server`'s plain API listener at `path` (and query), offering
/// `subprotocol`. A refusal comes back as the error (`tungstenite::Error::Http` holds the
/// response).
pub async fn connect(
    server: &TestServer,
    path: &str,
    subprotocol: Option<&str>,
) -> Result<WsClient, tungstenite::Error> {
    let authority = server.api_addr.to_string();
    let stream = TcpStream::connect(server.api_addr).await.unwrap();
    handshake(Box::new(stream), &format!("ws://{authority}{path}"), subprotocol).await
}

/// Opens a WebSocket over TLS to `server`'s HTTPS listener (as `localhost`).
pub async fn connect_tls(
    server: &TestServer,
    path: &str,
    subprotocol: Option<&str>,
) -> Result<WsClient, tungstenite::Error> {
    let config = crate::tls::client_config(&server.ca_pem(), None, &[b"http/1.1"]);
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
    let tcp = TcpStream::connect(server.https_addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let url = format!("wss://localhost:{}{path}", server.https_addr.port());
    handshake(Box::new(tls), &url, subprotocol).await
}

async fn handshake(
    stream: Box<dyn Io>,
    url: &str,
    subprotocol: Option<&str>,
) -> Result<WsClient, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    if let Some(protocol) = subprotocol {
        request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
    }
    let (ws, response) = tokio_tungstenite::client_async(request, stream).await?;
    if let Some(protocol) = subprotocol {
        assert_eq!(
            response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some(protocol),
            "the server answers with the subprotocol"
        );
    }
    Ok(WsClient {
        ws,
        decoder: Decoder::with_version(ProtocolVersion::V5, usize::MAX),
        buf: BytesMut::new(),
        version: ProtocolVersion::V5,
    })
}

impl TestServer {
    /// The path and query of `GET /mqtt` presigned with the admin key for the plain API
    /// listener.
    pub fn ws_path(&self) -> String {
        presigned_path(&self.api_addr.to_string(), &Presign::default())
    }

    /// An MQTT over WebSocket client of the plain API listener, with the admin key, that has
    /// connected with `version` and `client_id` (CONNACK success).
    pub async fn ws_connected(&self, version: ProtocolVersion, client_id: &str) -> WsClient {
        let mut client = connect(self, &self.ws_path(), Some("mqtt")).await.unwrap();
        client.connect_ok(version, client_id).await;
        client
    }
}

impl WsClient {
    /// Sends CONNECT (`version`, `client_id`, keep-alive 60, clean start) and panics unless
    /// the CONNACK reports success.
    pub async fn connect_ok(&mut self, version: ProtocolVersion, client_id: &str) {
        let connect = crate::RawClient::connect_packet(version, client_id, 60);
        match self.handshake(connect).await {
            Packet::ConnAck(connack) if connack.code == ferrocore_mqtt::ReasonCode::Success => {}
            other => panic!("CONNECT refused: {other:?}"),
        }
    }

    /// Sends CONNECT and returns the server's answer.
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

    /// The bytes of `packets`, encoded for this client's version.
    pub fn encode(&self, packets: &[Packet]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for packet in packets {
            ferrocore_mqtt::encode(packet, self.version, &mut out).unwrap();
        }
        out.to_vec()
    }

    /// Sends one packet in one binary frame.
    pub async fn send(&mut self, packet: &Packet) {
        let bytes = self.encode(std::slice::from_ref(packet));
        self.send_frame(&bytes).await;
    }

    /// Sends `bytes` in one binary frame (errors are ignored: the server may have closed).
    pub async fn send_frame(&mut self, bytes: &[u8]) {
        let _ = self.ws.send(Message::Binary(bytes.to_vec().into())).await;
    }

    /// The next packet, or `None` once the server closed. Panics after [`WAIT`].
    pub async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(WAIT, self.read_packet())
            .await
            .expect("timed out waiting for a packet")
    }

    /// The next packet if one arrives within [`QUIET`].
    pub async fn try_recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(QUIET, self.read_packet()).await.ok().flatten()
    }

    async fn read_packet(&mut self) -> Option<Packet> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(packet)) => return Some(packet),
                Ok(None) => {}
                Err(error) => panic!("server sent a malformed packet: {error}"),
            }
            match self.ws.next().await {
                Some(Ok(Message::Binary(data))) => self.buf.extend_from_slice(&data),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(text))) => panic!("server sent a text frame: {text}"),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            }
        }
    }
}
