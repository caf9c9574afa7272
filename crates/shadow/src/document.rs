//! The shadow as a state machine over stored records: [`apply_update`], [`get`] and
//! [`delete`] take what is stored plus the request and `now` (epoch seconds) and return the
//! next stored value and the payloads to publish. No I/O, no clock.
//!
//! Payload shapes follow "Device Shadow service documents"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html>):
//! - get/accepted: `{state{desired?,reported?,delta?}, metadata{desired?,reported?}, version,
//!   timestamp, clientToken?}`, sections present only when non-empty;
//! - update/accepted: the request's sections as sent (with `null`s) and their metadata,
//!   the new version, timestamp, clientToken?;
//! - update/delta: `{state: <delta>, metadata: <its desired timestamps>, version, timestamp,
//!   clientToken?}`;
//! - update/documents: `{previous{state,metadata,version} | null, current{..}, timestamp,
//!   clientToken?}` (`previous` is `null` when the update created the shadow, as AWS sends:
//!   e.g. the nRF Cloud fixture `{"previous":null,"current":{"state":{"desired":..`);
//! - delete/accepted: `{version, timestamp, clientToken?}`.
//!
//! Versions start at 1 and grow by one per accepted update. A deleted shadow keeps its
//! counter: "If you create a device shadow document that has the same name as one that was
//! deleted within the past 48 hours, the version number of the new device shadow document
//! will follow that of the deleted one" ("Interacting with shadows",
//! <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-data-flow.html>); after
//! 48 hours numbering starts over.
//!
//! Keys inside `state` and `metadata` come out in serde_json's map order (sorted): the crate
//! does not turn on `preserve_order`, which would change map order for every crate of the
//! build. JSON object order carries no meaning for clients; the top-level members do follow
//! AWS's order.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::delta::delta;
use crate::error::ShadowError;
use crate::merge::{SectionPatch, merge_section};
use crate::metadata::{rebuild, restrict, stamp_patch};
use crate::name::ShadowId;
use crate::request::{MAX_STATE_BYTES, UpdateRequest, json_len, parse_token_only, parse_update};

/// How long a deleted shadow's version counter is kept, in seconds (48 hours).
pub const DELETED_VERSION_KEPT_SECS: u64 = 48 * 3600;

/// One section (`desired` or `reported`) of a live shadow: its state and the matching
/// metadata. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The state values.
    pub state: Map<String, Value>,
    /// The metadata tree mirroring `state`, with `{"timestamp"}` leaves.
    pub metadata: Map<String, Value>,
}

/// A live shadow.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowRecord {
    /// The desired section, if any.
    pub desired: Option<Section>,
    /// The reported section, if any.
    pub reported: Option<Section>,
    /// The version, from 1.
    pub version: u64,
}

/// What is stored under one shadow name.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Nothing, ever (or a deletion older than the counter's retention).
    Absent,
    /// Deleted at `deleted_at` (epoch seconds) at `version`.
    Deleted {
        /// The version the shadow had.
        version: u64,
        /// When it was deleted.
        deleted_at: u64,
    },
    /// A live shadow.
    Live(ShadowRecord),
}

impl Stored {
    /// The live shadow, if any.
    pub fn live(&self) -> Option<&ShadowRecord> {
        match self {
            Stored::Live(record) => Some(record),
            _ => None,
        }
    }

    /// The version an update's `version` must match, and that the next update increments:
    /// the live version, a recently deleted shadow's version, or 0.
    pub fn base_version(&self, now: u64) -> u64 {
        match self {
            Stored::Absent => 0,
            Stored::Deleted { version, deleted_at } => {
                if now.saturating_sub(*deleted_at) <= DELETED_VERSION_KEPT_SECS {
                    *version
                } else {
                    0
                }
            }
            Stored::Live(record) => record.version,
        }
    }
}

/// The result of an accepted update.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOutcome {
    /// The record to store.
    pub record: ShadowRecord,
    /// The `/update/accepted` payload (also the REST response body).
    pub accepted: Vec<u8>,
    /// The `/update/delta` payload, when the request wrote `desired` and a delta remains.
    pub delta: Option<Vec<u8>>,
    /// The `/update/documents` payload.
    pub documents: Vec<u8>,
    /// The request's client token.
    pub client_token: Option<String>,
}

/// Applies an update request to what is stored.
///
/// `/update/delta` is produced when the request wrote `desired` and the resulting delta is
/// not empty: AWS publishes it "when it accepts a change for the device's shadow, and the
/// request state document contains different values for desired and reported states"
/// ("Device Shadow MQTT topics"). Reported-only updates do not re-announce an old delta
/// (our reading; unverified).
pub fn apply_update(
    current: &Stored,
    request: &[u8],
    now: u64,
) -> Result<UpdateOutcome, ShadowError> {
    let request = parse_update(request)?;
    update_parsed(current, request, now)
}

fn update_parsed(
    current: &Stored,
    request: UpdateRequest,
    now: u64,
) -> Result<UpdateOutcome, ShadowError> {
    let token = request.client_token.clone();
    let base = current.base_version(now);
    if request.version.is_some_and(|expected| expected != base) {
        return Err(ShadowError::version_conflict().with_token(token));
    }
    let previous = current.live();
    let desired = next_section(previous.and_then(|p| p.desired.as_ref()), &request.desired, now);
    let reported = next_section(previous.and_then(|p| p.reported.as_ref()), &request.reported, now);
    let size = desired.as_ref().map_or(0, |s| json_len(&s.state))
        + reported.as_ref().map_or(0, |s| json_len(&s.state));
    if size > MAX_STATE_BYTES {
        return Err(ShadowError::too_large().with_token(token));
    }
    let version = base.saturating_add(1);
    let record = ShadowRecord { desired, reported, version };

    let mut accepted_meta = Map::new();
    for (name, patch) in [("desired", &request.desired), ("reported", &request.reported)] {
        if let Some(meta) = stamp_patch(patch, now) {
            accepted_meta.insert(name.to_owned(), meta);
        }
    }
    let accepted = to_json(&Partial {
        state: &request.state,
        metadata: &accepted_meta,
        version,
        timestamp: now,
        client_token: token.as_deref(),
    });

    let delta = match (&request.desired, &record.desired) {
        (SectionPatch::Absent, _) | (_, None) => None,
        (_, Some(desired)) => {
            let state = delta(&desired.state, record.reported.as_ref().map(|r| &r.state));
            (!state.is_empty()).then(|| {
                let metadata = restrict(&state, &desired.metadata);
                to_json(&Partial {
                    state: &state,
                    metadata: &metadata,
                    version,
                    timestamp: now,
                    client_token: token.as_deref(),
                })
            })
        }
    };

    let documents = to_json(&Documents {
        previous: previous.map(Snapshot::of),
        current: Snapshot::of(&record),
        timestamp: now,
        client_token: token.as_deref(),
    });
    Ok(UpdateOutcome { record, accepted, delta, documents, client_token: token })
}

fn next_section(stored: Option<&Section>, patch: &SectionPatch, now: u64) -> Option<Section> {
    let state = merge_section(stored.map(|s| &s.state), patch)?;
    let written = match patch {
        SectionPatch::Merge(map) => Some(map),
        _ => None,
    };
    let metadata = rebuild(&state, stored.map(|s| &s.metadata), written, now);
    Some(Section { state, metadata })
}

/// Answers a get request: the full document (`/get/accepted`), or 404.
pub fn get(
    current: &Stored,
    request: &[u8],
    now: u64,
    id: &ShadowId,
) -> Result<Vec<u8>, ShadowError> {
    let token = parse_token_only(request)?;
    let Some(record) = current.live() else {
        return Err(ShadowError::not_found(id).with_token(token));
    };
    let delta_state = match &record.desired {
        Some(desired) => delta(&desired.state, record.reported.as_ref().map(|r| &r.state)),
        None => Map::new(),
    };
    let view = StateView::of(record, (!delta_state.is_empty()).then_some(&delta_state));
    Ok(to_json(&Full {
        state: view,
        metadata: MetadataView::of(record),
        version: record.version,
        timestamp: now,
        client_token: token.as_deref(),
    }))
}

/// Answers a delete request: what to store next (the deleted marker keeping the version) and
/// the `/delete/accepted` payload, or 404.
pub fn delete(
    current: &Stored,
    request: &[u8],
    now: u64,
    id: &ShadowId,
) -> Result<(Stored, Vec<u8>), ShadowError> {
    let token = parse_token_only(request)?;
    let Some(record) = current.live() else {
        return Err(ShadowError::not_found(id).with_token(token));
    };
    let payload = to_json(&Deleted {
        version: record.version,
        timestamp: now,
        client_token: token.as_deref(),
    });
    Ok((Stored::Deleted { version: record.version, deleted_at: now }, payload))
}

impl ShadowRecord {
    /// The record as stored: `{"state":{..},"metadata":{..}}` (the version is kept apart).
    pub fn to_stored_json(&self) -> String {
        let body =
            StoredBody { state: StateView::of(self, None), metadata: MetadataView::of(self) };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// Reads a record written by [`ShadowRecord::to_stored_json`]; `None` if it is not one.
    pub fn from_stored_json(json: &str, version: u64) -> Option<ShadowRecord> {
        let Value::Object(mut body) = serde_json::from_str(json).ok()? else { return None };
        let mut state = take_object(&mut body, "state")?;
        let mut metadata = take_object(&mut body, "metadata")?;
        let mut section = |name: &str| -> Option<Option<Section>> {
            match (take_object(&mut state, name), take_object(&mut metadata, name)) {
                (None, _) => Some(None),
                (Some(state), meta) => {
                    Some(Some(Section { state, metadata: meta.unwrap_or_default() }))
                }
            }
        };
        let desired = section("desired")?;
        let reported = section("reported")?;
        Some(ShadowRecord { desired, reported, version })
    }
}

fn take_object(map: &mut Map<String, Value>, key: &str) -> Option<Map<String, Value>> {
    match map.remove(key) {
        Some(Value::Object(object)) => Some(object),
        _ => None,
    }
}

fn to_json(body: &impl Serialize) -> Vec<u8> {
    // Our payload structs hold only maps, strings and integers: serializing cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

#[derive(Serialize)]
struct StoredBody<'a> {
    state: StateView<'a>,
    metadata: MetadataView<'a>,
}

#[derive(Serialize)]
struct StateView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    desired: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<&'a Map<String, Value>>,
}

impl<'a> StateView<'a> {
    fn of(record: &'a ShadowRecord, delta: Option<&'a Map<String, Value>>) -> StateView<'a> {
        StateView {
            desired: record.desired.as_ref().map(|s| &s.state),
            reported: record.reported.as_ref().map(|s| &s.state),
            delta,
        }
    }
}

#[derive(Serialize)]
struct MetadataView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    desired: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported: Option<&'a Map<String, Value>>,
}

impl<'a> MetadataView<'a> {
    fn of(record: &'a ShadowRecord) -> MetadataView<'a> {
        MetadataView {
            desired: record.desired.as_ref().map(|s| &s.metadata),
            reported: record.reported.as_ref().map(|s| &s.metadata),
        }
    }
}

#[derive(Serialize)]
struct Full<'a> {
    state: StateView<'a>,
    metadata: MetadataView<'a>,
    version: u64,
    timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
}

/// The shape shared by `/update/accepted` (what the request changed) and `/update/delta`
/// (what desired still differs by).
#[derive(Serialize)]
struct Partial<'a> {
    state: &'a Map<String, Value>,
    metadata: &'a Map<String, Value>,
    version: u64,
    timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    state: StateView<'a>,
    metadata: MetadataView<'a>,
    version: u64,
}

impl<'a> Snapshot<'a> {
    fn of(record: &'a ShadowRecord) -> Snapshot<'a> {
        Snapshot {
            state: StateView::of(record, None),
            metadata: MetadataView::of(record),
            version: record.version,
        }
    }
}

#[derive(Serialize)]
struct Documents<'a> {
    previous: Option<Snapshot<'a>>,
    current: Snapshot<'a>,
    timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
}

#[derive(Serialize)]
struct Deleted<'a> {
    version: u64,
    timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
}
