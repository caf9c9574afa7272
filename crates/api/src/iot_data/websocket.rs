//! MQTT over WebSocket: `GET /mqtt` with `Upgrade: websocket` and subprotocol `mqtt`, as AWS
//! IoT Core serves it on its data endpoint (`wss://{endpoint}/mqtt`).
//!
//! The request was authenticated before it got here (a SigV4 presigned URL for
//! `iotdevicegateway`, see [`crate::sigv4`]): a bad or missing signature was answered 403 and
//! never upgraded. The upgraded WebSocket becomes a byte stream
//! ([`ferrocore_gateway::websocket::WsStream`]) driven by the gateway's own connection task,
//! so sessions, limits, lifecycle events and the broker are the same as over TCP.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, extract::ws::rejection::WebSocketUpgradeRejection};
use ferrocore_auth::Principal;
use ferrocore_broker::Authorize;
use ferrocore_gateway::PolicyAuthorizer;
use ferrocore_gateway::websocket::{Frame, SUBPROTOCOL, WsStream};
use ferrocore_policy::Arns;
use futures_util::{Sink, Stream};

use crate::ApiState;
use crate::error::{ApiError, ErrorCode};
use crate::incoming::Peer;

/// `GET /mqtt`: upgrades to a WebSocket carrying MQTT.
pub(super) async fn upgrade(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    peer: Option<Extension<ConnectInfo<Peer>>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(peer))| peer.addr);
    let Some(listeners) = state.mqtt_listeners().cloned() else {
        return ApiError::new(ErrorCode::UnknownOperation, "MQTT over WebSocket is not enabled")
            .into_response();
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            tracing::info!(?peer, %rejection, "GET /mqtt without a WebSocket upgrade");
            return rejection.into_response();
        }
    };
    if !asks_for_mqtt(&headers) {
        // AWS documents only the `mqtt` subprotocol; a client that does not ask for it would
        // not understand what it gets.
        tracing::info!(?peer, "MQTT over WebSocket refused: no `mqtt` subprotocol");
        return ApiError::invalid("The WebSocket subprotocol must be 'mqtt'").into_response();
    }
    let authorizer = match authorizer_for(&state, &principal, peer) {
        Ok(authorizer) => authorizer,
        Err(error) => return error.into_response(),
    };
    let max_packet = listeners.broker.config().max_packet_size();
    tracing::debug!(?peer, "MQTT over WebSocket upgrade");
    upgrade
        .protocols([SUBPROTOCOL])
        // A frame may carry several packets, but no frame needs to be much larger than one.
        .max_message_size(max_packet.saturating_mul(2).max(64 * 1024))
        .on_failed_upgrade(move |error| {
            tracing::info!(?peer, %error, "MQTT over WebSocket upgrade failed");
        })
        .on_upgrade(move |socket| {
            let stream = WsStream::new(AxumFrames(socket));
            let task = ferrocore_gateway::serve_connection(
                stream,
                peer,
                listeners.broker,
                listeners.shutdown,
                listeners.settings,
                authorizer,
            );
            // Tracked, so that a graceful stop waits for these sessions to close too.
            listeners.tracker.track_future(task)
        })
}

/// Whether the client offered the `mqtt` subprotocol (`Sec-WebSocket-Protocol` is a list).
fn asks_for_mqtt(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// What decides the connection's MQTT actions: a key given an IoT policy is held to it (as a
/// device is to its certificate's); other keys may do what the data plane allows them, all of
/// it (no authorizer). Device certificates use MQTT over TLS, not this route.
fn authorizer_for(
    state: &ApiState,
    principal: &Principal,
    peer: Option<SocketAddr>,
) -> Result<Option<Box<dyn Authorize>>, ApiError> {
    let refused = |why: String| {
        tracing::warn!(why, "MQTT over WebSocket refused");
        Err(ApiError::new(ErrorCode::Forbidden, why))
    };
    match principal {
        Principal::AccessKey { policy: None, .. } => Ok(None),
        Principal::AccessKey { id, policy: Some(policy), .. } => {
            let registry = state.registry();
            let Ok(policies) = registry.policies_by_name(std::slice::from_ref(policy)) else {
                return refused(format!("The policy {policy} of access key {id} does not exist"));
            };
            let documents = policies.into_iter().map(|p| p.document).collect();
            let arns = Arns::new(&registry.arns().region, &registry.arns().account);
            let authorizer = PolicyAuthorizer::fixed(id.clone(), documents, arns, peer, true);
            Ok(Some(Box::new(authorizer)))
        }
        _ => refused("Only access keys may connect over MQTT over WebSocket".to_owned()),
    }
}

/// axum's WebSocket as a stream and sink of [`Frame`]s.
struct AxumFrames(WebSocket);

impl Stream for AxumFrames {
    type Item = Result<Frame, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = ready!(Pin::new(&mut self.0).poll_next(cx));
        Poll::Ready(next.map(|message| {
            message.map_err(io::Error::other).map(|message| match message {
                Message::Binary(data) => Frame::Binary(data),
                Message::Text(_) => Frame::Text,
                Message::Ping(_) | Message::Pong(_) => Frame::Control,
                Message::Close(_) => Frame::Close,
            })
        }))
    }
}

impl Sink<Frame> for AxumFrames {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_ready(cx).map_err(io::Error::other)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> io::Result<()> {
        let message = match frame {
            Frame::Binary(data) => Message::Binary(data),
            Frame::Close => Message::Close(None),
            // The gateway writes MQTT bytes only.
            Frame::Text | Frame::Control => return Ok(()),
        };
        Pin::new(&mut self.0).start_send(message).map_err(io::Error::other)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx).map_err(io::Error::other)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx).map_err(io::Error::other)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_mqtt_subprotocol_is_found_in_the_offered_list() {
        let mut headers = HeaderMap::new();
        assert!(!asks_for_mqtt(&headers));
        headers.insert("sec-websocket-protocol", "wamp, mqtt".parse().unwrap());
        assert!(asks_for_mqtt(&headers));
        headers.insert("sec-websocket-protocol", "mqttv3.1".parse().unwrap());
        assert!(!asks_for_mqtt(&headers));
    }
}
