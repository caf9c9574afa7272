//! The decoder never panics and never loops, whatever bytes it is fed: random byte strings and
//! mutations (bit flips, overwrites, truncations, insertions, deletions) of valid encodings go
//! through a server-side decoder and 3.1.1 and MQTT 5 client-side decoders. Whatever does
//! decode must also re-encode and decode to the same packet.
//!
//! The RNG is seeded, so a failure reproduces.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use ferrocore_mqtt::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Decoder, Disconnect, DisconnectProperties, Packet, ProtocolVersion, PubAck, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeProperties,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, Will, WillProperties,
    encode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const RANDOM_INPUTS: usize = 4_000;
const MUTATIONS: usize = 6_000;

/// One valid packet of every type, with most optional fields set, so mutations reach deep.
fn samples(version: ProtocolVersion) -> Vec<Packet> {
    let user = vec![("k".to_owned(), "v".to_owned())];
    let ack = AckProperties { reason_string: Some("why".into()), user_properties: user.clone() };
    let mut packets = vec![
        Packet::Connect(Box::new(Connect {
            protocol: version,
            clean_start: true,
            keep_alive: 60,
            client_id: "client-1".into(),
            will: Some(Will {
                topic: "last/will".into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: WillProperties {
                    will_delay_interval: Some(5),
                    payload_format_indicator: Some(1),
                    content_type: Some("text/plain".into()),
                    user_properties: user.clone(),
                    ..Default::default()
                },
            }),
            username: Some("user".into()),
            password: Some(Bytes::from_static(b"secret")),
            properties: ConnectProperties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(10),
                maximum_packet_size: Some(65_536),
                topic_alias_maximum: Some(8),
                request_problem_information: Some(true),
                user_properties: user.clone(),
                ..Default::default()
            },
        })),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: ReasonCode::Success,
            properties: ConnAckProperties {
                receive_maximum: Some(100),
                maximum_qos: Some(1),
                retain_available: Some(true),
                assigned_client_identifier: Some("auto-1".into()),
                server_keep_alive: Some(30),
                shared_subscription_available: Some(true),
                user_properties: user.clone(),
                ..Default::default()
            },
        }),
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "sensors/room-1/temp".into(),
            packet_id: 42,
            payload: Bytes::from_static(b"{\"t\":21.5}"),
            properties: PublishProperties {
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(60),
                topic_alias: Some(3),
                response_topic: Some("reply/here".into()),
                correlation_data: Some(Bytes::from_static(&[1, 2, 3])),
                user_properties: user.clone(),
                subscription_identifiers: vec![1, 300],
                content_type: Some("application/json".into()),
            },
        }),
        Packet::PubAck(PubAck {
            packet_id: 1,
            reason: ReasonCode::NoMatchingSubscribers,
            properties: ack.clone(),
        }),
        Packet::PubRec(PubAck::success(2)),
        Packet::PubRel(PubAck {
            packet_id: 3,
            reason: ReasonCode::PacketIdentifierNotFound,
            properties: AckProperties::default(),
        }),
        Packet::PubComp(PubAck {
            packet_id: 4,
            reason: ReasonCode::Success,
            properties: ack.clone(),
        }),
        Packet::Subscribe(Subscribe {
            packet_id: 5,
            filters: vec![
                (
                    "a/+/c".into(),
                    SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() },
                ),
                (
                    "$share/group/x/#".into(),
                    SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: false,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                ),
            ],
            properties: SubscribeProperties {
                subscription_identifier: Some(7),
                user_properties: user.clone(),
            },
        }),
        Packet::SubAck(SubAck {
            packet_id: 5,
            reasons: vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ],
            properties: ack.clone(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 6,
            filters: vec!["a/+/c".into(), "#".into()],
            properties: UnsubscribeProperties { user_properties: user.clone() },
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 6,
            reasons: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
            properties: ack,
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::DisconnectWithWill,
            properties: DisconnectProperties {
                session_expiry_interval: Some(0),
                reason_string: Some("bye".into()),
                user_properties: user.clone(),
                server_reference: None,
            },
        }),
    ];
    if version == V5 {
        packets.push(Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: AuthProperties {
                authentication_method: Some("SCRAM-SHA-256".into()),
                authentication_data: Some(Bytes::from_static(b"nonce")),
                reason_string: None,
                user_properties: user,
            },
        }));
    }
    packets
}

/// Valid encodings to mutate: each packet alone, and the whole set as one stream that starts
/// with CONNECT (what a server-side decoder sees).
fn corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    for version in [V311, V5] {
        let mut stream = BytesMut::new();
        for packet in samples(version) {
            let mut one = BytesMut::new();
            encode(&packet, version, &mut one).unwrap();
            corpus.push(one.to_vec());
            stream.extend_from_slice(&one);
        }
        corpus.push(stream.to_vec());
    }
    corpus
}

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = bytes.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                bytes[i] = rng.random();
            }
            2 => bytes.truncate(rng.random_range(0..=len)),
            3 => {
                let at = rng.random_range(0..=len);
                let extra: Vec<u8> = (0..rng.random_range(1..8)).map(|_| rng.random()).collect();
                bytes.splice(at..at, extra);
            }
            4 if len > 0 => {
                let from = rng.random_range(0..len);
                let to = rng.random_range(from..=len.min(from + 8));
                bytes.drain(from..to);
            }
            // Interesting values where lengths and flags live.
            _ if len > 0 => {
                let i = rng.random_range(0..len.min(16));
                bytes[i] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x02, 0x26][rng.random_range(0..7)];
            }
            _ => {}
        }
    }
    bytes
}

/// What the inputs led to, to check that the test reaches both decoded packets and errors.
#[derive(Debug, Default)]
struct Stats {
    packets: usize,
    errors: usize,
}

/// Feeds `input` to `decoder` in two reads split at `cut`, decoding until it needs more bytes
/// or fails. Every packet decoded must round-trip through the encoder.
fn drive(mut decoder: Decoder, input: &[u8], cut: usize, stats: &mut Stats) {
    let mut buf = BytesMut::from(&input[..cut]);
    let mut decoded = 0;
    for chunk in [&input[cut..], &[][..]] {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(packet)) => {
                    decoded += 1;
                    stats.packets += 1;
                    // Every packet is at least two bytes, so this bounds the loop.
                    assert!(decoded * 2 <= input.len(), "more packets than bytes: {input:02x?}");
                    check_round_trip(&decoder, &packet);
                }
                Ok(None) => break,
                Err(_) => {
                    stats.errors += 1;
                    return;
                }
            }
        }
        buf.extend_from_slice(chunk);
    }
}

fn check_round_trip(decoder: &Decoder, packet: &Packet) {
    let version = match packet {
        Packet::Connect(c) => c.protocol,
        _ => decoder.version().unwrap(),
    };
    let mut buf = BytesMut::new();
    encode(packet, version, &mut buf).unwrap();
    let again = Decoder::with_version(version, usize::MAX).decode(&mut buf);
    assert_eq!(again.as_ref(), Ok(&Some(packet.clone())), "re-decoding {packet:?}");
    assert!(buf.is_empty());
}

fn decoders(rng: &mut StdRng) -> [Decoder; 3] {
    // Sometimes a small limit, to reach the size check with mutated lengths.
    let max = if rng.random_bool(0.2) { rng.random_range(2..64) } else { 1 << 20 };
    [Decoder::new(max), Decoder::with_version(V311, max), Decoder::with_version(V5, max)]
}

fn feed(rng: &mut StdRng, input: &[u8], stats: &mut Stats) {
    let cut = rng.random_range(0..=input.len());
    for decoder in decoders(rng) {
        drive(decoder, input, cut, stats);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6d71_7474);
    let mut stats = Stats::default();
    for _ in 0..RANDOM_INPUTS {
        let len = rng.random_range(0..96);
        let mut input: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Half the time start with a plausible fixed header, so the body decoders are reached
        // rather than the first-byte check.
        if rng.random_bool(0.5) && len >= 2 {
            let packet_type = rng.random_range(1..=15u8);
            let flags = match packet_type {
                3 => rng.random_range(0..16) & 0b1011,
                6 | 8 | 10 => 0b0010,
                _ => 0,
            };
            input[0] = packet_type << 4 | flags;
            input[1] = (len - 2) as u8;
        }
        feed(&mut rng, &input, &mut stats);
    }
    // Random bytes rarely form a valid packet; a few do (PINGREQ, acknowledgements).
    assert!(stats.packets > 0 && stats.errors > 1_000, "{stats:?}");
}

#[test]
fn mutated_packets_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x3131_3500);
    let corpus = corpus();
    let mut stats = Stats::default();
    for _ in 0..MUTATIONS {
        let original = &corpus[rng.random_range(0..corpus.len())];
        let input = mutate(&mut rng, original);
        feed(&mut rng, &input, &mut stats);
    }
    assert!(stats.packets > 1_000 && stats.errors > 1_000, "{stats:?}");
}

#[test]
fn unmutated_corpus_decodes_completely() {
    // The baseline for the mutations: both valid streams decode whole with a server decoder.
    let corpus = corpus();
    let v311_stream = &corpus[corpus.len() / 2 - 1];
    let v5_stream = &corpus[corpus.len() - 1];
    for (stream, count) in [(v311_stream, 14), (v5_stream, 15)] {
        let mut decoder = Decoder::new(usize::MAX);
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0;
        while let Some(packet) = decoder.decode(&mut buf).unwrap() {
            check_round_trip(&decoder, &packet);
            n += 1;
        }
        assert_eq!(n, count);
        assert!(buf.is_empty());
    }
}
