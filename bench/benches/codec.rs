//! Criterion benchmarks of the MQTT codec: encode and decode of PUBLISH (64-byte payload),
//! CONNECT, SUBSCRIBE and PUBACK, for MQTT 3.1.1 and MQTT 5.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ferrocore_mqtt::{
    Connect, ConnectProperties, Decoder, Packet, ProtocolVersion, PubAck, Publish,
    PublishProperties, QoS, Subscribe, SubscribeProperties, SubscriptionOptions, encode,
};

fn packets(version: ProtocolVersion) -> Vec<(&'static str, Packet)> {
    let mut publish_props = PublishProperties::default();
    let mut connect_props = ConnectProperties::default();
    if version == ProtocolVersion::V5 {
        publish_props.message_expiry_interval = Some(60);
        connect_props.session_expiry_interval = Some(3600);
        connect_props.receive_maximum = Some(100);
    }
    vec![
        (
            "publish64",
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: "sensors/building-7/floor-3/room-12/temperature".to_owned(),
                packet_id: 4242,
                payload: Bytes::from(vec![0x5A; 64]),
                properties: publish_props,
            }),
        ),
        (
            "connect",
            Packet::Connect(Box::new(Connect {
                protocol: version,
                clean_start: true,
                keep_alive: 60,
                client_id: "device-0123456789abcdef".to_owned(),
                will: None,
                username: Some("user".to_owned()),
                password: Some(Bytes::from_static(b"secret-password")),
                properties: connect_props,
            })),
        ),
        (
            "subscribe",
            Packet::Subscribe(Subscribe {
                packet_id: 7,
                filters: vec![
                    (
                        "sensors/+/floor-3/#".to_owned(),
                        SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() },
                    ),
                    ("commands/device-0123456789abcdef".to_owned(), SubscriptionOptions::default()),
                ],
                properties: SubscribeProperties::default(),
            }),
        ),
        ("puback", Packet::PubAck(PubAck::success(4242))),
    ]
}

fn codec(c: &mut Criterion) {
    for (vname, version) in [("v3", ProtocolVersion::V311), ("v5", ProtocolVersion::V5)] {
        let mut group = c.benchmark_group(format!("codec/{vname}"));
        for (name, packet) in packets(version) {
            let mut wire = BytesMut::new();
            encode(&packet, version, &mut wire).unwrap();
            let wire = wire.freeze();
            group.throughput(Throughput::Bytes(wire.len() as u64));

            let mut out = BytesMut::with_capacity(4096);
            group.bench_function(format!("encode/{name}"), |b| {
                b.iter(|| {
                    out.clear();
                    encode(black_box(&packet), version, &mut out).unwrap();
                    black_box(out.len())
                })
            });

            // The server decodes CONNECT without knowing the version yet.
            let decoder = match packet {
                Packet::Connect(_) => Decoder::new(usize::MAX),
                _ => Decoder::with_version(version, usize::MAX),
            };
            group.bench_function(format!("decode/{name}"), |b| {
                b.iter_batched_ref(
                    || (decoder.clone(), BytesMut::from(&wire[..])),
                    |(decoder, buf)| black_box(decoder.decode(buf).unwrap().unwrap()),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
