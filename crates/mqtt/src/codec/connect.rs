//! CONNECT: protocol name and level, connect flags, keep-alive, properties and payload.

use crate::codec::properties;
use crate::codec::reader::Reader;
use crate::codec::writer::Out;
use crate::error::DecodeError;
use crate::packet::{Connect, ProtocolVersion, QoS, Will};
use crate::properties::{ConnectProperties, WillProperties};
use crate::topic::TopicName;

const RESERVED: u8 = 0b0000_0001;
const CLEAN_START: u8 = 0b0000_0010;
const WILL: u8 = 0b0000_0100;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_QOS_MASK: u8 = 0b0001_1000;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD: u8 = 0b0100_0000;
const USERNAME: u8 = 0b1000_0000;

/// Decodes a CONNECT body. The protocol level inside it decides the version, whatever the
/// stream's version is.
pub(crate) fn decode(r: &mut Reader) -> Result<Connect, DecodeError> {
    // Read the name as raw bytes: anything but "MQTT" (including invalid UTF-8, or the
    // "MQIsdp" of MQTT 3.1) is the wrong protocol rather than a malformed string.
    if &r.binary()?[..] != b"MQTT" {
        return Err(DecodeError::InvalidProtocolName);
    }
    let protocol = match r.u8()? {
        4 => ProtocolVersion::V311,
        5 => ProtocolVersion::V5,
        level => return Err(DecodeError::UnsupportedProtocolVersion(level)),
    };
    let flags = r.u8()?;
    check_flags(flags, protocol)?;
    let keep_alive = r.u16()?;
    let v5 = protocol == ProtocolVersion::V5;
    let properties = if v5 { properties::decode_connect(r)? } else { ConnectProperties::default() };
    let client_id = r.string()?;
    let will = if flags & WILL != 0 {
        let properties = if v5 { properties::decode_will(r)? } else { WillProperties::default() };
        let topic = r.string()?;
        TopicName::new(&topic).map_err(|_| DecodeError::InvalidTopicName)?;
        Some(Will {
            topic,
            payload: r.binary()?,
            // check_flags refused QoS 3.
            qos: QoS::from_u8((flags & WILL_QOS_MASK) >> WILL_QOS_SHIFT)
                .ok_or(DecodeError::InvalidConnectFlags(flags))?,
            retain: flags & WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    let username = if flags & USERNAME != 0 { Some(r.string()?) } else { None };
    let password = if flags & PASSWORD != 0 { Some(r.binary()?) } else { None };
    Ok(Connect {
        protocol,
        clean_start: flags & CLEAN_START != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

/// The connect flag rules of [MQTT-3.1.2-3] (reserved bit), [MQTT-3.1.2-11..15] (will QoS and
/// retain only with a will, QoS 3 never) and, in 3.1.1 only, [MQTT-3.1.2-22] (a password
/// needs a user name; MQTT 5 dropped that rule).
fn check_flags(flags: u8, protocol: ProtocolVersion) -> Result<(), DecodeError> {
    let will_qos = (flags & WILL_QOS_MASK) >> WILL_QOS_SHIFT;
    let invalid = flags & RESERVED != 0
        || will_qos == 3
        || (flags & WILL == 0 && (will_qos != 0 || flags & WILL_RETAIN != 0))
        || (protocol == ProtocolVersion::V311 && flags & PASSWORD != 0 && flags & USERNAME == 0);
    if invalid { Err(DecodeError::InvalidConnectFlags(flags)) } else { Ok(()) }
}

/// Emits a CONNECT body for `version` (which sets the protocol level byte).
pub(crate) fn encode<O: Out>(c: &Connect, version: ProtocolVersion, o: &mut O) {
    let v5 = version == ProtocolVersion::V5;
    let mut flags = 0;
    if c.clean_start {
        flags |= CLEAN_START;
    }
    if let Some(will) = &c.will {
        flags |= WILL | ((will.qos as u8) << WILL_QOS_SHIFT);
        if will.retain {
            flags |= WILL_RETAIN;
        }
    }
    if c.username.is_some() {
        flags |= USERNAME;
    }
    if c.password.is_some() {
        flags |= PASSWORD;
    }
    o.string("MQTT");
    o.u8(version.level());
    o.u8(flags);
    o.u16(c.keep_alive);
    if v5 {
        properties::encode(&c.properties, o);
    }
    o.string(&c.client_id);
    if let Some(will) = &c.will {
        if v5 {
            properties::encode(&will.properties, o);
        }
        o.string(&will.topic);
        o.binary(&will.payload);
    }
    if let Some(username) = &c.username {
        o.string(username);
    }
    if let Some(password) = &c.password {
        o.binary(password);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::codec::testutil::{assert_codec, decode_server, decode_with};
    use crate::packet::Packet;

    fn minimal(protocol: ProtocolVersion) -> Connect {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: "abc".into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    #[test]
    fn v311_minimal() {
        let bytes =
            [0x10, 0x0F, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 3, b'a', b'b', b'c'];
        let packet = Packet::Connect(Box::new(minimal(ProtocolVersion::V311)));
        assert_codec(&packet, ProtocolVersion::V311, &bytes);
        assert_eq!(decode_server(&bytes), Ok(packet));
    }

    #[test]
    fn v5_minimal() {
        let bytes =
            [0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, 3, b'a', b'b', b'c'];
        let packet = Packet::Connect(Box::new(minimal(ProtocolVersion::V5)));
        assert_codec(&packet, ProtocolVersion::V5, &bytes);
        assert_eq!(decode_server(&bytes), Ok(packet));
    }

    #[test]
    fn v5_with_will_credentials_and_properties() {
        #[rustfmt::skip]
        let bytes = [
            0x10, 0x26,
            0, 4, b'M', b'Q', b'T', b'T', 5,
            0b1110_1100, // user name, password, will retain, will QoS 1, will
            0, 10,
            5, 0x11, 0, 0, 0x0E, 0x10, // session expiry 3600
            0, 1, b'c',
            2, 0x01, 1, // will: payload format UTF-8
            0, 3, b'a', b'/', b'b',
            0, 2, b'h', b'i',
            0, 1, b'u',
            0, 2, 0xFF, 0x00,
        ];
        let mut c = minimal(ProtocolVersion::V5);
        c.clean_start = false;
        c.keep_alive = 10;
        c.client_id = "c".into();
        c.properties.session_expiry_interval = Some(3600);
        c.will = Some(Will {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"hi"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: WillProperties { payload_format_indicator: Some(1), ..Default::default() },
        });
        c.username = Some("u".into());
        c.password = Some(Bytes::from_static(&[0xFF, 0x00]));
        assert_codec(&Packet::Connect(Box::new(c)), ProtocolVersion::V5, &bytes);
    }

    #[test]
    fn v311_will_and_credentials() {
        #[rustfmt::skip]
        let bytes = [
            0x10, 0x1D,
            0, 4, b'M', b'Q', b'T', b'T', 4,
            0b1101_0110, // user name, password, will QoS 2, will, clean session
            0, 0,
            0, 0, // empty client identifier
            0, 1, b't',
            0, 0, // empty will payload
            0, 4, b'u', b's', b'e', b'r',
            0, 4, b'p', b'a', b's', b's',
        ];
        let mut c = minimal(ProtocolVersion::V311);
        c.keep_alive = 0;
        c.client_id = String::new();
        c.will = Some(Will {
            topic: "t".into(),
            payload: Bytes::new(),
            qos: QoS::ExactlyOnce,
            retain: false,
            properties: WillProperties::default(),
        });
        c.username = Some("user".into());
        c.password = Some(Bytes::from_static(b"pass"));
        assert_codec(&Packet::Connect(Box::new(c)), ProtocolVersion::V311, &bytes);
    }

    fn with_flags(level: u8, flags: u8) -> Vec<u8> {
        let mut v = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', level, flags, 0, 0];
        if level == 5 {
            v.push(0);
        }
        v.extend_from_slice(&[0, 1, b'c']);
        v[1] = (v.len() - 2) as u8;
        v
    }

    #[test]
    fn bad_flags_name_and_level() {
        let flag_error = |level, flags| {
            assert_eq!(
                decode_server(&with_flags(level, flags)),
                Err(DecodeError::InvalidConnectFlags(flags)),
                "level {level} flags {flags:#x}"
            );
        };
        flag_error(4, 0x03); // reserved bit
        flag_error(5, 0x01);
        flag_error(5, 0b0001_1100); // will QoS 3
        flag_error(4, 0b0000_1000); // will QoS without will
        flag_error(5, 0b0010_0000); // will retain without will
        flag_error(4, 0b0100_0000); // 3.1.1 password without user name
        // MQTT 5 allows a password without a user name, so decoding goes on to the
        // (missing) password.
        assert_eq!(decode_server(&with_flags(5, 0b0100_0000)), Err(DecodeError::Truncated));

        assert_eq!(
            decode_server(&with_flags(3, 0)),
            Err(DecodeError::UnsupportedProtocolVersion(3))
        );
        assert_eq!(
            decode_server(&with_flags(6, 0)),
            Err(DecodeError::UnsupportedProtocolVersion(6))
        );
        let mut bad_name = with_flags(4, 2);
        bad_name[7] = b't';
        assert_eq!(decode_server(&bad_name), Err(DecodeError::InvalidProtocolName));
        let mqisdp = [0x10, 0x0C, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 0];
        assert_eq!(decode_server(&mqisdp), Err(DecodeError::InvalidProtocolName));
    }

    #[test]
    fn bad_will_topic_client_id_and_trailing_bytes() {
        let will_wild = [
            0x10, 0x14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x06, 0, 0, 0, 1, b'c', 0, 1, b'#', 0, 0,
            0, 0,
        ];
        assert_eq!(decode_server(&will_wild), Err(DecodeError::InvalidTopicName));
        let nul_id = [0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 0, 0, 1, 0];
        assert_eq!(decode_server(&nul_id), Err(DecodeError::InvalidUtf8));
        let mut trailing = with_flags(4, 2);
        trailing.push(0xAA);
        trailing[1] += 1;
        assert_eq!(decode_server(&trailing), Err(DecodeError::TrailingBytes));
        let unknown_property =
            [0x10, 0x11, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 0, 3, 0x23, 0, 1, 0, 1, b'c'];
        assert_eq!(decode_server(&unknown_property), Err(DecodeError::InvalidProperty(0x23)));
    }

    #[test]
    fn a_client_side_decoder_reads_connect_by_its_own_level() {
        let bytes = with_flags(5, 2);
        let decoded = decode_with(ProtocolVersion::V311, &bytes);
        assert!(matches!(decoded, Ok(Packet::Connect(c)) if c.protocol == ProtocolVersion::V5));
    }
}
