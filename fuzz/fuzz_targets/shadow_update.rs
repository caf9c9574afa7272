//! Feeds arbitrary bytes to the Device Shadow core as an update request, against no shadow,
//! a deleted one and a live one, and as get and delete payloads. Nothing may panic; an
//! accepted update must produce valid JSON payloads, the next version, and a state within
//! AWS's 8 KB limit whose metadata can be stored and read back.

#![no_main]

use ferrocore_shadow::request::{MAX_STATE_BYTES, json_len};
use ferrocore_shadow::{ShadowId, ShadowRecord, Stored, apply_update, delete, get};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let seed = br#"{"state":{"desired":{"a":{"b":1},"l":[1,2]},"reported":{"a":{"b":2}}}}"#;
    let live = match apply_update(&Stored::Absent, seed, NOW) {
        Ok(outcome) => outcome.record,
        Err(error) => panic!("the seed update was rejected: {error}"),
    };
    let id = ShadowId { thing: "thing".to_owned(), shadow: Some("fuzz".to_owned()) };
    let currents =
        [Stored::Absent, Stored::Deleted { version: 9, deleted_at: NOW }, Stored::Live(live)];
    for current in &currents {
        if let Ok(outcome) = apply_update(current, data, NOW + 1) {
            let record = &outcome.record;
            assert_eq!(record.version, current.base_version(NOW + 1) + 1);
            let size: usize = [&record.desired, &record.reported]
                .into_iter()
                .flatten()
                .map(|section| json_len(&section.state))
                .sum();
            assert!(size <= MAX_STATE_BYTES, "stored state of {size} bytes");
            for payload in
                [Some(&outcome.accepted), outcome.delta.as_ref(), Some(&outcome.documents)]
                    .into_iter()
                    .flatten()
            {
                if let Err(error) = serde_json::from_slice::<serde_json::Value>(payload) {
                    panic!("payload is not JSON: {error}");
                }
            }
            let stored = record.to_stored_json();
            assert_eq!(
                ShadowRecord::from_stored_json(&stored, record.version).as_ref(),
                Some(record)
            );
        }
        let _ = get(current, data, NOW, &id);
        let _ = delete(current, data, NOW, &id);
    }
});
