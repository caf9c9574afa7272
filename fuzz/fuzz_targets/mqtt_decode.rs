//! Feeds arbitrary bytes to a server-side decoder and to 3.1.1 and MQTT 5 client-side
//! decoders. Decoding must never panic, and every packet that decodes must re-encode and
//! decode to an equal packet.

#![no_main]

use bytes::BytesMut;
use ferrocore_mqtt::{Decoder, Packet, ProtocolVersion, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoders = [
        Decoder::new(1 << 20),
        Decoder::with_version(ProtocolVersion::V311, 1 << 20),
        Decoder::with_version(ProtocolVersion::V5, 1 << 20),
    ];
    for decoder in decoders {
        run(decoder, data);
    }
});

fn run(mut decoder: Decoder, data: &[u8]) {
    let mut buf = BytesMut::from(data);
    // Each packet takes at least two bytes, so a decoder that keeps returning packets without
    // consuming input would trip this bound instead of hanging.
    for _ in 0..=data.len() / 2 {
        match decoder.decode(&mut buf) {
            Ok(Some(packet)) => round_trip(&decoder, &packet),
            Ok(None) | Err(_) => return,
        }
    }
    panic!("decoder returned more packets than the input can hold");
}

fn round_trip(decoder: &Decoder, packet: &Packet) {
    // A CONNECT is decoded by its own protocol level; everything else by the stream's.
    let version = match (packet, decoder.version()) {
        (Packet::Connect(connect), _) => connect.protocol,
        (_, Some(version)) => version,
        (_, None) => panic!("{} decoded before CONNECT", packet.name()),
    };
    let mut encoded = BytesMut::new();
    if let Err(e) = encode(packet, version, &mut encoded) {
        panic!("cannot re-encode {packet:?}: {e}");
    }
    let mut fresh = Decoder::with_version(version, usize::MAX);
    match fresh.decode(&mut encoded) {
        Ok(Some(again)) => assert_eq!(&again, packet, "re-decoded packet differs"),
        other => panic!("re-encoded {packet:?} decoded as {other:?}"),
    }
    assert!(encoded.is_empty(), "re-encoding left {} bytes", encoded.len());
}
