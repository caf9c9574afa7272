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

    /// The reason as a non-zero number, for keeping in an atomic; [`CloseReason::from_bits`]
    /// reads it back.
    pub(crate) fn to_bits(self) -> u16 {
        let (kind, code): (u8, u8) = match self {
            CloseReason::ClientDisconnect => (1, 0),
            CloseReason::ClientDisconnectWithWill => (2, 0),
            CloseReason::ConnectionLost => (3, 0),
            CloseReason::KeepAliveTimeout => (4, 0),
            CloseReason::TakenOver => (5, 0),
            CloseReason::ClientError(code) => (6, code.value()),
            CloseReason::Forbidden(code) => (7, code.value()),
            CloseReason::Throttled(code) => (8, code.value()),
            CloseReason::ServerShutdown => (9, 0),
            CloseReason::Administrative => (10, 0),
            CloseReason::AdministrativeWithoutWill => (11, 0),
            CloseReason::ServerError => (12, 0),
        };
        u16::from(kind) << 8 | u16::from(code)
    }

    /// Reads back [`CloseReason::to_bits`]; `None` for 0 (no reason) or anything else.
    pub(crate) fn from_bits(bits: u16) -> Option<CloseReason> {
        let [kind, code] = bits.to_be_bytes();
        let code = || ReasonCode::from_u8(code);
        Some(match kind {
            1 => CloseReason::ClientDisconnect,
            2 => CloseReason::ClientDisconnectWithWill,
            3 => CloseReason::ConnectionLost,
            4 => CloseReason::KeepAliveTimeout,
            5 => CloseReason::TakenOver,
            6 => CloseReason::ClientError(code()?),
            7 => CloseReason::Forbidden(code()?),
            8 => CloseReason::Throttled(code()?),
            9 => CloseReason::ServerShutdown,
            10 => CloseReason::Administrative,
            11 => CloseReason::AdministrativeWithoutWill,
            12 => CloseReason::ServerError,
            _ => return None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_survives_its_bits() {
        let mut reasons = vec![
            CloseReason::ClientDisconnect,
            CloseReason::ClientDisconnectWithWill,
            CloseReason::ConnectionLost,
            CloseReason::KeepAliveTimeout,
            CloseReason::TakenOver,
            CloseReason::ServerShutdown,
            CloseReason::Administrative,
            CloseReason::AdministrativeWithoutWill,
            CloseReason::ServerError,
        ];
        for code in (0..=u8::MAX).filter_map(ReasonCode::from_u8) {
            reasons.extend([
                CloseReason::ClientError(code),
                CloseReason::Forbidden(code),
                CloseReason::Throttled(code),
            ]);
        }
        for reason in reasons {
            assert_ne!(reason.to_bits(), 0);
            assert_eq!(CloseReason::from_bits(reason.to_bits()), Some(reason), "{reason:?}");
        }
        assert_eq!(CloseReason::from_bits(0), None);
        assert_eq!(CloseReason::from_bits(0xff00), None);
    }
}
