//! MQTT 5 properties on the wire: identifiers, one decoder per packet family that accepts
//! exactly the properties allowed there, and the matching encoders.
//!
//! A property that is unknown or not allowed in the packet is [`DecodeError::InvalidProperty`],
//! a second copy of a single-valued one is [`DecodeError::DuplicateProperty`], and a value
//! outside its range is [`DecodeError::InvalidPropertyValue`] [MQTT-2.2.2].

use bytes::Bytes;

use crate::codec::MAX_REMAINING_LENGTH;
use crate::codec::reader::Reader;
use crate::codec::writer::{Counter, Out};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, UserProperties, WillProperties,
};

/// Payload Format Indicator (byte, 0 or 1).
pub(crate) const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
/// Message Expiry Interval (four-byte integer).
pub(crate) const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
/// Content Type (string).
pub(crate) const CONTENT_TYPE: u8 = 0x03;
/// Response Topic (string).
pub(crate) const RESPONSE_TOPIC: u8 = 0x08;
/// Correlation Data (binary).
pub(crate) const CORRELATION_DATA: u8 = 0x09;
/// Subscription Identifier (variable byte integer, non-zero).
pub(crate) const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
/// Session Expiry Interval (four-byte integer).
pub(crate) const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
/// Assigned Client Identifier (string).
pub(crate) const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
/// Server Keep Alive (two-byte integer).
pub(crate) const SERVER_KEEP_ALIVE: u8 = 0x13;
/// Authentication Method (string).
pub(crate) const AUTHENTICATION_METHOD: u8 = 0x15;
/// Authentication Data (binary).
pub(crate) const AUTHENTICATION_DATA: u8 = 0x16;
/// Request Problem Information (byte, 0 or 1).
pub(crate) const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
/// Will Delay Interval (four-byte integer).
pub(crate) const WILL_DELAY_INTERVAL: u8 = 0x18;
/// Request Response Information (byte, 0 or 1).
pub(crate) const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
/// Response Information (string).
pub(crate) const RESPONSE_INFORMATION: u8 = 0x1A;
/// Server Reference (string).
pub(crate) const SERVER_REFERENCE: u8 = 0x1C;
/// Reason String (string).
pub(crate) const REASON_STRING: u8 = 0x1F;
/// Receive Maximum (two-byte integer, non-zero).
pub(crate) const RECEIVE_MAXIMUM: u8 = 0x21;
/// Topic Alias Maximum (two-byte integer).
pub(crate) const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
/// Topic Alias (two-byte integer, non-zero).
pub(crate) const TOPIC_ALIAS: u8 = 0x23;
/// Maximum QoS (byte, 0 or 1).
pub(crate) const MAXIMUM_QOS: u8 = 0x24;
/// Retain Available (byte, 0 or 1).
pub(crate) const RETAIN_AVAILABLE: u8 = 0x25;
/// User Property (string pair, may repeat).
pub(crate) const USER_PROPERTY: u8 = 0x26;
/// Maximum Packet Size (four-byte integer, non-zero).
pub(crate) const MAXIMUM_PACKET_SIZE: u8 = 0x27;
/// Wildcard Subscription Available (byte, 0 or 1).
pub(crate) const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
/// Subscription Identifier Available (byte, 0 or 1).
pub(crate) const SUBSCRIPTION_IDENTIFIERS_AVAILABLE: u8 = 0x29;
/// Shared Subscription Available (byte, 0 or 1).
pub(crate) const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;

// ---------------------------------------------------------------------------------------------
// Decoding

/// Stores a single-valued property, refusing a second copy.
fn once<T>(slot: &mut Option<T>, id: u8, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(value);
    Ok(())
}

/// Appends a property that may repeat.
fn push<T>(list: &mut Vec<T>, value: T) -> Result<(), DecodeError> {
    list.push(value);
    Ok(())
}

/// A byte property that must be 0 or 1.
fn read_bool(r: &mut Reader, id: u8) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

/// A byte property whose value must be at most `max`.
fn read_byte_max(r: &mut Reader, id: u8, max: u8) -> Result<u8, DecodeError> {
    let value = r.u8()?;
    if value > max { Err(DecodeError::InvalidPropertyValue(id)) } else { Ok(value) }
}

/// A two-byte property that must not be 0.
fn read_nonzero_u16(r: &mut Reader, id: u8) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue(id)),
        value => Ok(value),
    }
}

/// A four-byte property that must not be 0.
fn read_nonzero_u32(r: &mut Reader, id: u8) -> Result<u32, DecodeError> {
    match r.u32()? {
        0 => Err(DecodeError::InvalidPropertyValue(id)),
        value => Ok(value),
    }
}

/// A Subscription Identifier: a variable byte integer from 1 to 268,435,455.
fn read_subscription_identifier(r: &mut Reader) -> Result<u32, DecodeError> {
    match r.var()? {
        0 => Err(DecodeError::InvalidPropertyValue(SUBSCRIPTION_IDENTIFIER)),
        value => Ok(value),
    }
}

/// Runs `one` for each property in the block at the front of `r`, passing the block's cursor
/// and the property identifier. `one` reads the value or refuses the identifier.
fn each(
    r: &mut Reader,
    mut one: impl FnMut(&mut Reader, u8) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut block = r.properties()?;
    while !block.is_empty() {
        // Identifiers are variable byte integers, but every defined one is below 128; a byte
        // with the continuation bit cannot start a known identifier.
        let id = block.u8()?;
        one(&mut block, id)?;
    }
    Ok(())
}

/// CONNECT properties.
pub(crate) fn decode_connect(r: &mut Reader) -> Result<ConnectProperties, DecodeError> {
    let mut p = ConnectProperties::default();
    each(r, |b, id| match id {
        SESSION_EXPIRY_INTERVAL => once(&mut p.session_expiry_interval, id, b.u32()?),
        RECEIVE_MAXIMUM => once(&mut p.receive_maximum, id, read_nonzero_u16(b, id)?),
        MAXIMUM_PACKET_SIZE => once(&mut p.maximum_packet_size, id, read_nonzero_u32(b, id)?),
        TOPIC_ALIAS_MAXIMUM => once(&mut p.topic_alias_maximum, id, b.u16()?),
        REQUEST_RESPONSE_INFORMATION => {
            once(&mut p.request_response_information, id, read_bool(b, id)?)
        }
        REQUEST_PROBLEM_INFORMATION => {
            once(&mut p.request_problem_information, id, read_bool(b, id)?)
        }
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        AUTHENTICATION_METHOD => once(&mut p.authentication_method, id, b.string()?),
        AUTHENTICATION_DATA => once(&mut p.authentication_data, id, b.binary()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// Will properties.
pub(crate) fn decode_will(r: &mut Reader) -> Result<WillProperties, DecodeError> {
    let mut p = WillProperties::default();
    each(r, |b, id| match id {
        WILL_DELAY_INTERVAL => once(&mut p.will_delay_interval, id, b.u32()?),
        PAYLOAD_FORMAT_INDICATOR => {
            once(&mut p.payload_format_indicator, id, read_byte_max(b, id, 1)?)
        }
        MESSAGE_EXPIRY_INTERVAL => once(&mut p.message_expiry_interval, id, b.u32()?),
        CONTENT_TYPE => once(&mut p.content_type, id, b.string()?),
        RESPONSE_TOPIC => once(&mut p.response_topic, id, b.string()?),
        CORRELATION_DATA => once(&mut p.correlation_data, id, b.binary()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// CONNACK properties.
pub(crate) fn decode_connack(r: &mut Reader) -> Result<ConnAckProperties, DecodeError> {
    let mut p = ConnAckProperties::default();
    each(r, |b, id| match id {
        SESSION_EXPIRY_INTERVAL => once(&mut p.session_expiry_interval, id, b.u32()?),
        RECEIVE_MAXIMUM => once(&mut p.receive_maximum, id, read_nonzero_u16(b, id)?),
        MAXIMUM_QOS => once(&mut p.maximum_qos, id, read_byte_max(b, id, 1)?),
        RETAIN_AVAILABLE => once(&mut p.retain_available, id, read_bool(b, id)?),
        MAXIMUM_PACKET_SIZE => once(&mut p.maximum_packet_size, id, read_nonzero_u32(b, id)?),
        ASSIGNED_CLIENT_IDENTIFIER => once(&mut p.assigned_client_identifier, id, b.string()?),
        TOPIC_ALIAS_MAXIMUM => once(&mut p.topic_alias_maximum, id, b.u16()?),
        REASON_STRING => once(&mut p.reason_string, id, b.string()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        WILDCARD_SUBSCRIPTION_AVAILABLE => {
            once(&mut p.wildcard_subscription_available, id, read_bool(b, id)?)
        }
        SUBSCRIPTION_IDENTIFIERS_AVAILABLE => {
            once(&mut p.subscription_identifiers_available, id, read_bool(b, id)?)
        }
        SHARED_SUBSCRIPTION_AVAILABLE => {
            once(&mut p.shared_subscription_available, id, read_bool(b, id)?)
        }
        SERVER_KEEP_ALIVE => once(&mut p.server_keep_alive, id, b.u16()?),
        RESPONSE_INFORMATION => once(&mut p.response_information, id, b.string()?),
        SERVER_REFERENCE => once(&mut p.server_reference, id, b.string()?),
        AUTHENTICATION_METHOD => once(&mut p.authentication_method, id, b.string()?),
        AUTHENTICATION_DATA => once(&mut p.authentication_data, id, b.binary()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// PUBLISH properties. Subscription Identifier may repeat here (one per matching
/// subscription, server to client).
pub(crate) fn decode_publish(r: &mut Reader) -> Result<PublishProperties, DecodeError> {
    let mut p = PublishProperties::default();
    each(r, |b, id| match id {
        PAYLOAD_FORMAT_INDICATOR => {
            once(&mut p.payload_format_indicator, id, read_byte_max(b, id, 1)?)
        }
        MESSAGE_EXPIRY_INTERVAL => once(&mut p.message_expiry_interval, id, b.u32()?),
        TOPIC_ALIAS => once(&mut p.topic_alias, id, read_nonzero_u16(b, id)?),
        RESPONSE_TOPIC => once(&mut p.response_topic, id, b.string()?),
        CORRELATION_DATA => once(&mut p.correlation_data, id, b.binary()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        SUBSCRIPTION_IDENTIFIER => {
            push(&mut p.subscription_identifiers, read_subscription_identifier(b)?)
        }
        CONTENT_TYPE => once(&mut p.content_type, id, b.string()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
pub(crate) fn decode_ack(r: &mut Reader) -> Result<AckProperties, DecodeError> {
    let mut p = AckProperties::default();
    each(r, |b, id| match id {
        REASON_STRING => once(&mut p.reason_string, id, b.string()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// SUBSCRIBE properties.
pub(crate) fn decode_subscribe(r: &mut Reader) -> Result<SubscribeProperties, DecodeError> {
    let mut p = SubscribeProperties::default();
    each(r, |b, id| match id {
        SUBSCRIPTION_IDENTIFIER => {
            once(&mut p.subscription_identifier, id, read_subscription_identifier(b)?)
        }
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// UNSUBSCRIBE properties.
pub(crate) fn decode_unsubscribe(r: &mut Reader) -> Result<UnsubscribeProperties, DecodeError> {
    let mut p = UnsubscribeProperties::default();
    each(r, |b, id| match id {
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// DISCONNECT properties.
pub(crate) fn decode_disconnect(r: &mut Reader) -> Result<DisconnectProperties, DecodeError> {
    let mut p = DisconnectProperties::default();
    each(r, |b, id| match id {
        SESSION_EXPIRY_INTERVAL => once(&mut p.session_expiry_interval, id, b.u32()?),
        REASON_STRING => once(&mut p.reason_string, id, b.string()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        SERVER_REFERENCE => once(&mut p.server_reference, id, b.string()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

/// AUTH properties.
pub(crate) fn decode_auth(r: &mut Reader) -> Result<AuthProperties, DecodeError> {
    let mut p = AuthProperties::default();
    each(r, |b, id| match id {
        AUTHENTICATION_METHOD => once(&mut p.authentication_method, id, b.string()?),
        AUTHENTICATION_DATA => once(&mut p.authentication_data, id, b.binary()?),
        REASON_STRING => once(&mut p.reason_string, id, b.string()?),
        USER_PROPERTY => push(&mut p.user_properties, b.string_pair()?),
        _ => Err(DecodeError::InvalidProperty(id)),
    })?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// A property struct that can list its properties into an [`Out`].
pub(crate) trait Props {
    /// Emits every property that is set, each as identifier and value.
    fn visit<O: Out>(&self, o: &mut O);
}

/// Emits a property block: its length, then the properties. The length is counted with a
/// separate pass so that nothing is buffered.
pub(crate) fn encode<O: Out, P: Props>(props: &P, o: &mut O) {
    let mut counter = Counter::default();
    props.visit(&mut counter);
    o.var(counter.len());
    // When `o` is itself a counter this pass reports the errors the inner count met.
    props.visit(o);
}

fn put_u8<O: Out>(o: &mut O, id: u8, value: Option<u8>) {
    if let Some(value) = value {
        o.u8(id);
        o.u8(value);
    }
}

fn put_bool<O: Out>(o: &mut O, id: u8, value: Option<bool>) {
    put_u8(o, id, value.map(u8::from));
}

fn put_u16<O: Out>(o: &mut O, id: u8, value: Option<u16>) {
    if let Some(value) = value {
        o.u8(id);
        o.u16(value);
    }
}

fn put_u32<O: Out>(o: &mut O, id: u8, value: Option<u32>) {
    if let Some(value) = value {
        o.u8(id);
        o.u32(value);
    }
}

fn put_string<O: Out>(o: &mut O, id: u8, value: Option<&String>) {
    if let Some(value) = value {
        o.u8(id);
        o.string(value);
    }
}

fn put_binary<O: Out>(o: &mut O, id: u8, value: Option<&Bytes>) {
    if let Some(value) = value {
        o.u8(id);
        o.binary(value);
    }
}

fn put_users<O: Out>(o: &mut O, users: &UserProperties) {
    for (name, value) in users {
        o.u8(USER_PROPERTY);
        o.string(name);
        o.string(value);
    }
}

fn put_subscription_identifier<O: Out>(o: &mut O, value: u32) {
    let value = value as usize;
    if value == 0 || value > MAX_REMAINING_LENGTH {
        o.fail(EncodeError::InvalidPropertyValue(SUBSCRIPTION_IDENTIFIER));
    }
    o.u8(SUBSCRIPTION_IDENTIFIER);
    o.var(value.min(MAX_REMAINING_LENGTH));
}

impl Props for ConnectProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_u32(o, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_u16(o, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u32(o, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_u16(o, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_bool(o, REQUEST_RESPONSE_INFORMATION, self.request_response_information);
        put_bool(o, REQUEST_PROBLEM_INFORMATION, self.request_problem_information);
        put_string(o, AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        put_binary(o, AUTHENTICATION_DATA, self.authentication_data.as_ref());
        put_users(o, &self.user_properties);
    }
}

impl Props for WillProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_u32(o, WILL_DELAY_INTERVAL, self.will_delay_interval);
        put_u8(o, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(o, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        put_string(o, CONTENT_TYPE, self.content_type.as_ref());
        put_string(o, RESPONSE_TOPIC, self.response_topic.as_ref());
        put_binary(o, CORRELATION_DATA, self.correlation_data.as_ref());
        put_users(o, &self.user_properties);
    }
}

impl Props for ConnAckProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_u32(o, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_u16(o, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u8(o, MAXIMUM_QOS, self.maximum_qos);
        put_bool(o, RETAIN_AVAILABLE, self.retain_available);
        put_u32(o, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_string(o, ASSIGNED_CLIENT_IDENTIFIER, self.assigned_client_identifier.as_ref());
        put_u16(o, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_string(o, REASON_STRING, self.reason_string.as_ref());
        put_bool(o, WILDCARD_SUBSCRIPTION_AVAILABLE, self.wildcard_subscription_available);
        put_bool(o, SUBSCRIPTION_IDENTIFIERS_AVAILABLE, self.subscription_identifiers_available);
        put_bool(o, SHARED_SUBSCRIPTION_AVAILABLE, self.shared_subscription_available);
        put_u16(o, SERVER_KEEP_ALIVE, self.server_keep_alive);
        put_string(o, RESPONSE_INFORMATION, self.response_information.as_ref());
        put_string(o, SERVER_REFERENCE, self.server_reference.as_ref());
        put_string(o, AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        put_binary(o, AUTHENTICATION_DATA, self.authentication_data.as_ref());
        put_users(o, &self.user_properties);
    }
}

impl Props for PublishProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_u8(o, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(o, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        put_u16(o, TOPIC_ALIAS, self.topic_alias);
        put_string(o, RESPONSE_TOPIC, self.response_topic.as_ref());
        put_binary(o, CORRELATION_DATA, self.correlation_data.as_ref());
        put_string(o, CONTENT_TYPE, self.content_type.as_ref());
        for id in &self.subscription_identifiers {
            put_subscription_identifier(o, *id);
        }
        put_users(o, &self.user_properties);
    }
}

impl Props for AckProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_string(o, REASON_STRING, self.reason_string.as_ref());
        put_users(o, &self.user_properties);
    }
}

impl Props for SubscribeProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        if let Some(id) = self.subscription_identifier {
            put_subscription_identifier(o, id);
        }
        put_users(o, &self.user_properties);
    }
}

impl Props for UnsubscribeProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_users(o, &self.user_properties);
    }
}

impl Props for DisconnectProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_u32(o, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_string(o, REASON_STRING, self.reason_string.as_ref());
        put_string(o, SERVER_REFERENCE, self.server_reference.as_ref());
        put_users(o, &self.user_properties);
    }
}

impl Props for AuthProperties {
    fn visit<O: Out>(&self, o: &mut O) {
        put_string(o, AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        put_binary(o, AUTHENTICATION_DATA, self.authentication_data.as_ref());
        put_string(o, REASON_STRING, self.reason_string.as_ref());
        put_users(o, &self.user_properties);
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    fn block(bytes: &[u8]) -> Reader {
        let mut v = vec![bytes.len() as u8];
        v.extend_from_slice(bytes);
        Reader::new(Bytes::from(v))
    }

    fn encoded<P: Props>(p: &P) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(p, &mut out);
        out.to_vec()
    }

    #[test]
    fn connect_properties_decode_and_encode() {
        let bytes = [
            0x11, 0, 0, 0, 60, // session expiry 60
            0x21, 0, 10, // receive maximum 10
            0x26, 0, 1, b'k', 0, 1, b'v', // user property k=v
            0x26, 0, 1, b'k', 0, 1, b'w', // user property may repeat
        ];
        let p = decode_connect(&mut block(&bytes)).unwrap_or_default();
        assert_eq!(p.session_expiry_interval, Some(60));
        assert_eq!(p.receive_maximum, Some(10));
        assert_eq!(p.user_properties.len(), 2);
        let mut expected = vec![bytes.len() as u8];
        expected.extend_from_slice(&bytes);
        assert_eq!(encoded(&p), expected);
    }

    #[test]
    fn property_errors() {
        let cases: [(&[u8], DecodeError); 10] = [
            (&[0x23, 0, 1], DecodeError::InvalidProperty(0x23)),
            (&[0x7F], DecodeError::InvalidProperty(0x7F)),
            (&[0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2], DecodeError::DuplicateProperty(0x11)),
            (&[0x21, 0, 0], DecodeError::InvalidPropertyValue(0x21)),
            (&[0x27, 0, 0, 0, 0], DecodeError::InvalidPropertyValue(0x27)),
            (&[0x17, 2], DecodeError::InvalidPropertyValue(0x17)),
            (&[0x19, 7], DecodeError::InvalidPropertyValue(0x19)),
            (&[0x15, 0, 2, b'a'], DecodeError::Truncated),
            (&[0x15, 0, 1, 0xC0], DecodeError::InvalidUtf8),
            (&[0x11, 0, 0], DecodeError::Truncated),
        ];
        for (bytes, error) in cases {
            assert_eq!(decode_connect(&mut block(bytes)), Err(error), "{bytes:?}");
        }
        // The block claims more bytes than the packet holds.
        let mut r = Reader::new(Bytes::from_static(&[9, 0x11, 0, 0]));
        assert_eq!(decode_connect(&mut r), Err(DecodeError::Truncated));
    }

    #[test]
    fn value_ranges_per_family() {
        assert_eq!(
            decode_connack(&mut block(&[0x24, 2])),
            Err(DecodeError::InvalidPropertyValue(0x24))
        );
        assert_eq!(decode_connack(&mut block(&[0x24, 1])).map(|p| p.maximum_qos), Ok(Some(1)));
        assert_eq!(
            decode_connack(&mut block(&[0x2A, 2])),
            Err(DecodeError::InvalidPropertyValue(0x2A))
        );
        assert_eq!(
            decode_publish(&mut block(&[0x23, 0, 0])),
            Err(DecodeError::InvalidPropertyValue(0x23))
        );
        assert_eq!(
            decode_publish(&mut block(&[0x01, 2])),
            Err(DecodeError::InvalidPropertyValue(0x01))
        );
        assert_eq!(
            decode_publish(&mut block(&[0x0B, 0])),
            Err(DecodeError::InvalidPropertyValue(0x0B))
        );
        assert_eq!(
            decode_subscribe(&mut block(&[0x0B, 1, 0x0B, 2])),
            Err(DecodeError::DuplicateProperty(0x0B))
        );
        assert_eq!(
            decode_publish(&mut block(&[0x0B, 0x80, 0x01, 0x0B, 2]))
                .map(|p| p.subscription_identifiers),
            Ok(vec![128, 2])
        );
        assert_eq!(
            decode_ack(&mut block(&[0x1F, 0, 0, 0x1F, 0, 0])),
            Err(DecodeError::DuplicateProperty(0x1F))
        );
        assert_eq!(
            decode_ack(&mut block(&[0x11, 0, 0, 0, 0])),
            Err(DecodeError::InvalidProperty(0x11))
        );
        assert_eq!(
            decode_unsubscribe(&mut block(&[0x1F, 0, 0])),
            Err(DecodeError::InvalidProperty(0x1F))
        );
        assert_eq!(
            decode_disconnect(&mut block(&[0x15, 0, 0])),
            Err(DecodeError::InvalidProperty(0x15))
        );
        assert_eq!(
            decode_auth(&mut block(&[0x11, 0, 0, 0, 0])),
            Err(DecodeError::InvalidProperty(0x11))
        );
        assert_eq!(
            decode_will(&mut block(&[0x11, 0, 0, 0, 0])),
            Err(DecodeError::InvalidProperty(0x11))
        );
    }

    #[test]
    fn subscription_identifier_out_of_range_is_an_encode_error() {
        let p = SubscribeProperties { subscription_identifier: Some(0), ..Default::default() };
        let mut c = Counter::default();
        encode(&p, &mut c);
        assert_eq!(c.finish(), Err(EncodeError::InvalidPropertyValue(0x0B)));
        let p = PublishProperties { subscription_identifiers: vec![1 << 28], ..Default::default() };
        let mut c = Counter::default();
        encode(&p, &mut c);
        assert_eq!(c.finish(), Err(EncodeError::InvalidPropertyValue(0x0B)));
    }
}
