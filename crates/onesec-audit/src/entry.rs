//! What one audit leaf says, and how it is framed on disk.
//!
//! `leaves.bin` is a sequence of records, back to back:
//!
//! ```text
//! offset  size  field
//! 0       4     payload length, u32 little-endian (at most MAX_ENTRY_BYTES)
//! 4       4     CRC32C of the payload, u32 little-endian
//! 8       len   payload: the entry as one line of JSON (UTF-8, no trailing newline)
//! ```
//!
//! The Merkle leaf is the payload: its leaf hash is `SHA-256(0x00 || payload)`. The CRC only
//! tells a torn write from a changed record; integrity comes from the tree and the signed
//! checkpoints.
//!
//! With encryption at rest on (a key ring installed, `onesec_keys::install`), the payload is
//! a **sealed entry**: the same JSON object with `actor` and `target` empty, `detail` cut to
//! the keys verification reads ([`clear_detail_keys`]), and a `sealed` member holding, as
//! hex, an `onesec_keys::seal_audit` envelope of `{"actor","target","detail"}` in full. The
//! leaf is still the payload bytes, so the log verifies without the key; reading who did
//! what to whom needs it ([`open_payload`]).

use onesec_keys::KeyRing;
use serde::{Deserialize, Serialize};

/// Largest payload accepted (a bigger length field is damage, not an entry).
pub const MAX_ENTRY_BYTES: u32 = 1 << 20;

/// Bytes before each payload.
pub const FRAME_HEADER: usize = 8;

/// One audited fact: an ingested batch, or an action by a person or by onesec itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When it happened (UTC ms).
    pub time_ms: i64,
    /// Who: a user name, `api` (an unauthenticated API caller), or `onesec` (the system).
    pub actor: String,
    /// What, as `area.verb`: `ingest.batch`, `incident.state`, `rules.load`, `export.ocsf`,
    /// `service.start`, `journal.recovered`...
    pub action: String,
    /// What it was done to (an incident id, a file, a rule folder); empty if nothing.
    #[serde(default)]
    pub target: String,
    /// Action-specific facts.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// The facts of an ingested batch, kept in [`Entry::detail`] for `ingest.batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch {
    /// Input it came by (`http`, `syslog-udp`, `replay`...).
    pub input: String,
    /// Declared or detected format.
    pub format: String,
    /// SHA-256 of the bytes as received (hex).
    pub raw_sha256: String,
    /// First and last journal sequence (event id) of the batch.
    pub first_id: u64,
    /// Last journal sequence of the batch.
    pub last_id: u64,
    /// RFC 9162 Merkle root over the batch's journal payloads in sequence order (hex): ties
    /// every stored event to this leaf (see `events_root`).
    pub events_root: String,
}

/// The member of a sealed entry that holds the sealed part (hex).
pub const SEALED_MEMBER: &str = "sealed";

/// The `detail` keys a sealed entry keeps in the clear: those `onesec audit verify` reads
/// without the key (the batch facts that tie journal events to the log; the event ids and
/// journal cut of a removal). Identifiers, hashes of identifiers and free text are sealed.
pub fn clear_detail_keys(action: &str) -> &'static [&'static str] {
    match action {
        "ingest.batch" | "journal.recovered" => &[
            "input",
            "format",
            "raw_sha256",
            "first_id",
            "last_id",
            "events_root",
        ],
        "retention.removed" | "privacy.erase" => &["removed_ids", "journal"],
        _ => &[],
    }
}

/// The sealed part of an entry.
#[derive(Serialize, Deserialize)]
struct Personal {
    actor: String,
    target: String,
    detail: serde_json::Value,
}

/// Why a stored payload could not be read as an entry.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not an entry at all.
    #[error("not an audit entry: {0}")]
    NotEntry(String),
    /// A sealed entry, and no key ring to open it.
    #[error("the entry is encrypted and no encryption key was given")]
    NoKey,
    /// A sealed entry the ring does not open.
    #[error("{0}")]
    Key(#[from] onesec_keys::KeyError),
}

impl Entry {
    /// The payload bytes (the Merkle leaf) in the clear.
    pub fn to_payload(&self) -> Vec<u8> {
        // Serialising plain strings, numbers and a JSON value cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The payload bytes as stored: sealed with `ring`'s current key when there is a ring,
    /// in the clear otherwise.
    pub fn to_stored_payload(&self, ring: Option<&KeyRing>) -> Result<Vec<u8>, PayloadError> {
        let Some(ring) = ring else {
            return Ok(self.to_payload());
        };
        let personal = Personal {
            actor: self.actor.clone(),
            target: self.target.clone(),
            detail: self.detail.clone(),
        };
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&personal).unwrap_or_default());
        let sealed = onesec_keys::seal_audit(ring, &plain)?;
        let mut clear = serde_json::Map::new();
        for key in clear_detail_keys(&self.action) {
            if let Some(value) = self.detail.get(*key) {
                clear.insert((*key).to_owned(), value.clone());
            }
        }
        let stored = serde_json::json!({
            "time_ms": self.time_ms,
            "actor": "",
            "action": self.action,
            "target": "",
            "detail": clear,
            SEALED_MEMBER: hex::encode(sealed),
        });
        Ok(serde_json::to_vec(&stored).unwrap_or_default())
    }

    /// The batch facts, for `ingest.batch` entries and `journal.recovered` ones (journaled
    /// events a crash left without an entry, recorded on the next start).
    pub fn ingest_batch(&self) -> Option<IngestBatch> {
        if self.action != "ingest.batch" && self.action != "journal.recovered" {
            return None;
        }
        serde_json::from_value(self.detail.clone()).ok()
    }
}

/// Whether a stored payload is a sealed entry.
pub fn is_sealed_payload(payload: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|v| {
        v.get(SEALED_MEMBER)
            .is_some_and(serde_json::Value::is_string)
    })
}

/// The key a sealed payload was sealed with (`None`: a clear entry, or not an entry).
pub fn sealed_key(payload: &[u8]) -> Option<onesec_keys::KeyId> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let bytes = hex::decode(value.get(SEALED_MEMBER)?.as_str()?.get(..24)?).ok()?;
    if !onesec_keys::is_sealed_file(&bytes) {
        return None;
    }
    Some(onesec_keys::KeyId(u32::from_le_bytes([
        bytes[8], bytes[9], bytes[10], bytes[11],
    ])))
}

/// The entry a stored payload holds: a clear entry as it is, a sealed one opened with
/// `ring`. Without a ring a sealed entry is [`PayloadError::NoKey`]; parsing it as an
/// [`Entry`] directly gives what is in the clear (time, action, the clear detail keys).
pub fn open_payload(payload: &[u8], ring: Option<&KeyRing>) -> Result<Entry, PayloadError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| PayloadError::NotEntry(e.to_string()))?;
    let sealed = match value.as_object_mut().and_then(|o| o.remove(SEALED_MEMBER)) {
        None => {
            return serde_json::from_value(value)
                .map_err(|e| PayloadError::NotEntry(e.to_string()));
        }
        Some(serde_json::Value::String(sealed)) => sealed,
        Some(_) => return Err(PayloadError::NotEntry("`sealed` is not a string".into())),
    };
    let mut entry: Entry =
        serde_json::from_value(value).map_err(|e| PayloadError::NotEntry(e.to_string()))?;
    let ring = ring.ok_or(PayloadError::NoKey)?;
    let bytes = hex::decode(&sealed)
        .map_err(|_| PayloadError::NotEntry("`sealed` is not hexadecimal".into()))?;
    let what = format!("audit entry {} at {}", entry.action, entry.time_ms);
    let plain = zeroize::Zeroizing::new(onesec_keys::open_audit(ring, &bytes, &what)?);
    let personal: Personal =
        serde_json::from_slice(&plain).map_err(|e| PayloadError::NotEntry(e.to_string()))?;
    entry.actor = personal.actor;
    entry.target = personal.target;
    entry.detail = personal.detail;
    Ok(entry)
}

/// Frames a payload for `leaves.bin`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One framed record read back, or why the bytes at `offset` are not one.
#[derive(Debug, Clone, PartialEq)]
pub enum Framed<'a> {
    /// A complete record with a matching CRC.
    Record {
        /// The payload.
        payload: &'a [u8],
        /// Bytes the record takes.
        len: usize,
    },
    /// The file ends inside this record (a torn write, or a truncation).
    Incomplete,
    /// The record is damaged.
    Damaged(String),
}

/// Reads the record at the start of `bytes`.
pub fn read_frame(bytes: &[u8]) -> Framed<'_> {
    let Some(header) = bytes.get(..FRAME_HEADER) else {
        return Framed::Incomplete;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_ENTRY_BYTES {
        return Framed::Damaged(format!("length field {len} exceeds {MAX_ENTRY_BYTES}"));
    }
    let end = FRAME_HEADER + len as usize;
    let Some(payload) = bytes.get(FRAME_HEADER..end) else {
        return Framed::Incomplete;
    };
    if crc32c::crc32c(payload) != crc {
        return Framed::Damaged("payload checksum mismatch".into());
    }
    Framed::Record { payload, len: end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_told_from_a_torn_tail() {
        let entry = Entry {
            time_ms: 1,
            actor: "onesec".into(),
            action: "service.start".into(),
            target: String::new(),
            detail: serde_json::json!({"version": "0.1.0"}),
        };
        let mut bytes = Vec::new();
        frame(&entry.to_payload(), &mut bytes);
        let Framed::Record { payload, len } = read_frame(&bytes) else {
            panic!("a framed entry reads back");
        };
        assert_eq!(len, bytes.len());
        assert_eq!(serde_json::from_slice::<Entry>(payload).unwrap(), entry);
        assert_eq!(read_frame(&bytes[..bytes.len() - 1]), Framed::Incomplete);
        let mut flipped = bytes.clone();
        flipped[12] ^= 0x01;
        assert!(matches!(read_frame(&flipped), Framed::Damaged(_)));
    }

    #[test]
    fn sealed_entries_keep_only_what_verification_reads_in_the_clear() {
        let ring = KeyRing::parse(
            "3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f61",
            "test",
        )
        .unwrap();
        let lookup = Entry {
            time_ms: 5,
            actor: "amartin".into(),
            action: "privacy.lookup".into(),
            target: "p001".into(),
            detail: serde_json::json!({"reason": "badge 4711 of Alice Martin"}),
        };
        let stored = lookup.to_stored_payload(Some(&ring)).unwrap();
        let text = String::from_utf8(stored.clone()).unwrap();
        for secret in ["amartin", "p001", "4711", "Alice", "reason"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(is_sealed_payload(&stored));
        assert_eq!(sealed_key(&stored), Some(ring.current_id()));
        assert_eq!(sealed_key(&lookup.to_payload()), None);
        assert_eq!(open_payload(&stored, Some(&ring)).unwrap(), lookup);
        assert!(matches!(
            open_payload(&stored, None),
            Err(PayloadError::NoKey)
        ));
        let clear: Entry = serde_json::from_slice(&stored).unwrap();
        assert_eq!(
            (clear.time_ms, clear.action.as_str()),
            (5, "privacy.lookup")
        );

        let batch = Entry {
            time_ms: 6,
            actor: "token:feeder".into(),
            action: "ingest.batch".into(),
            target: String::new(),
            detail: serde_json::json!({"input": "http", "format": "json", "raw_sha256": "ab",
                "first_id": 1, "last_id": 3, "events_root": "cd", "client": "10.0.0.7"}),
        };
        let stored = batch.to_stored_payload(Some(&ring)).unwrap();
        let clear: Entry = serde_json::from_slice(&stored).unwrap();
        let facts = clear
            .ingest_batch()
            .expect("batch facts readable without the key");
        assert_eq!((facts.first_id, facts.last_id), (1, 3));
        assert!(clear.detail.get("client").is_none());
        assert!(clear.actor.is_empty());
        assert_eq!(open_payload(&stored, Some(&ring)).unwrap(), batch);
        // A changed sealed part does not open.
        let mut value: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        let mut hexed = value["sealed"].as_str().unwrap().to_owned();
        let last = if hexed.ends_with('0') { "1" } else { "0" };
        hexed.replace_range(hexed.len() - 1.., last);
        value["sealed"] = serde_json::Value::String(hexed);
        let changed = serde_json::to_vec(&value).unwrap();
        assert!(matches!(
            open_payload(&changed, Some(&ring)),
            Err(PayloadError::Key(_))
        ));
        // Without a ring the payload is the clear entry, byte for byte as before.
        assert_eq!(batch.to_stored_payload(None).unwrap(), batch.to_payload());
    }
}
