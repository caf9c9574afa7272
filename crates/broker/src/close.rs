//! Why a connection ends: the lifecycle reason AWS reports, whether the will is sent, and the
//! reason code an MQTT 5 client is told.

use ferrocore_mqtt::ReasonCode;

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DISCONNECT (normal disconnection): no will.
    ClientDisconnect,
    /// The client sent DISCONNECT with reason 0x04: the will is sent.
    ClientDisconnectWithWill,
    /// The network connection ended without DISCONNECT.
    ConnectionLost,
    /// Nothing was received for 1.5 times the keep-alive.
    KeepAliveTimeout,
    /// Another connection with the same client identifier took the session.
    TakenOver,
    /// The client broke the protocol or a limit; the code says how.
    ClientError(ReasonCode),
    /// The client did something it is not allowed to.
    Forbidden(ReasonCode),
    /// The client exceeded a rate or quota.
    Throttled(ReasonCode),
    /// The server is shutting down.
    ServerShutdown,
    /// An operator disconnected the client.
    Administrative,
    /// An operator disconnected the client and asked for its will not to be sent
    /// (DeleteConnection with `preventWillMessage`).
    AdministrativeWithoutWill,
    /// The server failed (a store write failed, say).
    ServerError,
}

impl CloseReason {
    /// The `disconnectReason` of AWS lifecycle events.
    pub fn lifecycle_name(self) -> &'static str {
        match self {
            CloseReason::ClientDisconnect | CloseReason::ClientDisconnectWithWill => {
                "CLIENT_INITIATED_DISCONNECT"
            }
            CloseReason::ConnectionLost => "CONNECTION_LOST",
            CloseReason::KeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            CloseReason::TakenOver => "DUPLICATE_CLIENTID",
            CloseReason::ClientError(_) => "CLIENT_ERROR",
            CloseReason::Forbidden(_) => "FORBIDDEN_ACCESS",
            CloseReason::Throttled(_) => "THROTTLED",
            CloseReason::ServerShutdown => "SERVER_INITIATED_DISCONNECT",
            CloseReason::Administrative | CloseReason::AdministrativeWithoutWill => {
                "API_INITIATED_DISCONNECT"
            }
            CloseReason::ServerError => "SERVER_ERROR",
        }
    }

    /// Whether the will message is published (AWS: every non-graceful disconnect).
    pub fn sends_will(self) -> bool {
        !matches!(self, CloseReason::ClientDisconnect | CloseReason::AdministrativeWithoutWill)
    }

    /// The reason code of the DISCONNECT sent to an MQTT 5 client, if the server sends one.
    pub fn disconnect_code(self) -> Option<ReasonCode> {
        match self {
            CloseReason::ClientDisconnect
            | CloseReason::ClientDisconnectWithWill
            | CloseReason::ConnectionLost => None,
            CloseReason::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
            CloseReason::TakenOver => Some(ReasonCode::SessionTakenOver),
            CloseReason::ClientError(code)
            | CloseReason::Forbidden(code)
            | CloseReason::Throttled(code) => Some(code),
            CloseReason::ServerShutdown => Some(ReasonCode::ServerShuttingDown),
            CloseReason::Administrative | CloseReason::AdministrativeWithoutWill => {
                Some(ReasonCode::AdministrativeAction)
            }
            CloseReason::ServerError => Some(ReasonCode::ImplementationSpecificError),
        }
    }
}
