//! MQTT 5 reason codes, and their mapping onto MQTT 3.1.1 return codes.

/// An MQTT 5 reason code. Several codes share a value (0x00 is Success, Normal
/// disconnection and Granted QoS 0); the variant names the meaning used by Ferrocore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    /// 0x00 Success / Normal disconnection / Granted QoS 0.
    Success,
    /// 0x01 Granted QoS 1.
    GrantedQoS1,
    /// 0x02 Granted QoS 2.
    GrantedQoS2,
    /// 0x04 Disconnect with Will Message.
    DisconnectWithWill,
    /// 0x10 No matching subscribers.
    NoMatchingSubscribers,
    /// 0x11 No subscription existed.
    NoSubscriptionExisted,
    /// 0x18 Continue authentication.
    ContinueAuthentication,
    /// 0x19 Re-authenticate.
    ReAuthenticate,
    /// 0x80 Unspecified error.
    UnspecifiedError,
    /// 0x81 Malformed Packet.
    MalformedPacket,
    /// 0x82 Protocol Error.
    ProtocolError,
    /// 0x83 Implementation specific error.
    ImplementationSpecificError,
    /// 0x84 Unsupported Protocol Version.
    UnsupportedProtocolVersion,
    /// 0x85 Client Identifier not valid.
    ClientIdentifierNotValid,
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword,
    /// 0x87 Not authorized.
    NotAuthorized,
    /// 0x88 Server unavailable.
    ServerUnavailable,
    /// 0x89 Server busy.
    ServerBusy,
    /// 0x8A Banned.
    Banned,
    /// 0x8B Server shutting down.
    ServerShuttingDown,
    /// 0x8C Bad authentication method.
    BadAuthenticationMethod,
    /// 0x8D Keep Alive timeout.
    KeepAliveTimeout,
    /// 0x8E Session taken over.
    SessionTakenOver,
    /// 0x8F Topic Filter invalid.
    TopicFilterInvalid,
    /// 0x90 Topic Name invalid.
    TopicNameInvalid,
    /// 0x91 Packet Identifier in use.
    PacketIdentifierInUse,
    /// 0x92 Packet Identifier not found.
    PacketIdentifierNotFound,
    /// 0x93 Receive Maximum exceeded.
    ReceiveMaximumExceeded,
    /// 0x94 Topic Alias invalid.
    TopicAliasInvalid,
    /// 0x95 Packet too large.
    PacketTooLarge,
    /// 0x96 Message rate too high.
    MessageRateTooHigh,
    /// 0x97 Quota exceeded.
    QuotaExceeded,
    /// 0x98 Administrative action.
    AdministrativeAction,
    /// 0x99 Payload format invalid.
    PayloadFormatInvalid,
    /// 0x9A Retain not supported.
    RetainNotSupported,
    /// 0x9B QoS not supported.
    QoSNotSupported,
    /// 0x9C Use another server.
    UseAnotherServer,
    /// 0x9D Server moved.
    ServerMoved,
    /// 0x9E Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported,
    /// 0x9F Connection rate exceeded.
    ConnectionRateExceeded,
    /// 0xA0 Maximum connect time.
    MaximumConnectTime,
    /// 0xA1 Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported,
    /// 0xA2 Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported,
}

/// Every reason code with its value, the single table both directions read.
const TABLE: &[(ReasonCode, u8)] = &[
    (ReasonCode::Success, 0x00),
    (ReasonCode::GrantedQoS1, 0x01),
    (ReasonCode::GrantedQoS2, 0x02),
    (ReasonCode::DisconnectWithWill, 0x04),
    (ReasonCode::NoMatchingSubscribers, 0x10),
    (ReasonCode::NoSubscriptionExisted, 0x11),
    (ReasonCode::ContinueAuthentication, 0x18),
    (ReasonCode::ReAuthenticate, 0x19),
    (ReasonCode::UnspecifiedError, 0x80),
    (ReasonCode::MalformedPacket, 0x81),
    (ReasonCode::ProtocolError, 0x82),
    (ReasonCode::ImplementationSpecificError, 0x83),
    (ReasonCode::UnsupportedProtocolVersion, 0x84),
    (ReasonCode::ClientIdentifierNotValid, 0x85),
    (ReasonCode::BadUserNameOrPassword, 0x86),
    (ReasonCode::NotAuthorized, 0x87),
    (ReasonCode::ServerUnavailable, 0x88),
    (ReasonCode::ServerBusy, 0x89),
    (ReasonCode::Banned, 0x8A),
    (ReasonCode::ServerShuttingDown, 0x8B),
    (ReasonCode::BadAuthenticationMethod, 0x8C),
    (ReasonCode::KeepAliveTimeout, 0x8D),
    (ReasonCode::SessionTakenOver, 0x8E),
    (ReasonCode::TopicFilterInvalid, 0x8F),
    (ReasonCode::TopicNameInvalid, 0x90),
    (ReasonCode::PacketIdentifierInUse, 0x91),
    (ReasonCode::PacketIdentifierNotFound, 0x92),
    (ReasonCode::ReceiveMaximumExceeded, 0x93),
    (ReasonCode::TopicAliasInvalid, 0x94),
    (ReasonCode::PacketTooLarge, 0x95),
    (ReasonCode::MessageRateTooHigh, 0x96),
    (ReasonCode::QuotaExceeded, 0x97),
    (ReasonCode::AdministrativeAction, 0x98),
    (ReasonCode::PayloadFormatInvalid, 0x99),
    (ReasonCode::RetainNotSupported, 0x9A),
    (ReasonCode::QoSNotSupported, 0x9B),
    (ReasonCode::UseAnotherServer, 0x9C),
    (ReasonCode::ServerMoved, 0x9D),
    (ReasonCode::SharedSubscriptionsNotSupported, 0x9E),
    (ReasonCode::ConnectionRateExceeded, 0x9F),
    (ReasonCode::MaximumConnectTime, 0xA0),
    (ReasonCode::SubscriptionIdentifiersNotSupported, 0xA1),
    (ReasonCode::WildcardSubscriptionsNotSupported, 0xA2),
];

impl ReasonCode {
    /// The wire value.
    pub fn value(self) -> u8 {
        TABLE.iter().find(|(code, _)| *code == self).map_or(0x80, |(_, value)| *value)
    }

    /// The reason code with this wire value, if it is one the specification defines.
    pub fn from_u8(value: u8) -> Option<ReasonCode> {
        TABLE.iter().find(|(_, v)| *v == value).map(|(code, _)| *code)
    }

    /// Whether this code reports a failure (0x80 and above).
    pub fn is_error(self) -> bool {
        self.value() >= 0x80
    }

    /// The MQTT 3.1.1 CONNACK return code that carries the same meaning.
    pub fn connack_return_code_v311(self) -> u8 {
        match self {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => 4,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 5,
            _ => 3,
        }
    }

    /// The reason code carried by an MQTT 3.1.1 CONNACK return code.
    pub fn from_connack_return_code_v311(code: u8) -> Option<ReasonCode> {
        Some(match code {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            _ => return None,
        })
    }

    /// The SUBACK reason that grants `qos`.
    pub fn granted(qos: crate::QoS) -> ReasonCode {
        match qos {
            crate::QoS::AtMostOnce => ReasonCode::Success,
            crate::QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
            crate::QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_has_no_duplicate_codes_or_values() {
        let codes: HashSet<_> = TABLE.iter().map(|(c, _)| *c).collect();
        let values: HashSet<_> = TABLE.iter().map(|(_, v)| *v).collect();
        assert_eq!(codes.len(), TABLE.len());
        assert_eq!(values.len(), TABLE.len());
    }

    #[test]
    fn values_round_trip() {
        for (code, value) in TABLE {
            assert_eq!(code.value(), *value);
            assert_eq!(ReasonCode::from_u8(*value), Some(*code));
        }
        assert_eq!(ReasonCode::from_u8(0x03), None);
    }

    #[test]
    fn v311_connack_codes_map_both_ways() {
        for rc in 0..=5u8 {
            let code = ReasonCode::from_connack_return_code_v311(rc);
            assert_eq!(code.map(ReasonCode::connack_return_code_v311), Some(rc));
        }
        assert_eq!(ReasonCode::from_connack_return_code_v311(6), None);
    }
}
