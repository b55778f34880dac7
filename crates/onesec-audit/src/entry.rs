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

impl Entry {
    /// The payload bytes (the Merkle leaf).
    pub fn to_payload(&self) -> Vec<u8> {
        // Serialising plain strings, numbers and a JSON value cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
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
}
