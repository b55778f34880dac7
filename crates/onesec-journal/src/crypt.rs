//! Encrypted segments: which key opens a segment, and opening a record's sealed payload.
//!
//! Sealing happens in the writer (`writer.rs`, one nonce source per writer); recovery needs
//! no key (lengths and CRCs cover the sealed bytes), so a torn tail is found and cut exactly
//! as in a plain segment.

use std::path::Path;

use onesec_keys::{KeyId, KeyRing, RecordKey};

use crate::error::JournalError;
use crate::format::open_sealed_payload;

/// The key that opens a segment whose header names `key`: none for a plain segment, the
/// ring's key of that id otherwise, or why it cannot be had.
pub(crate) fn segment_key<'r>(
    ring: Option<&'r KeyRing>,
    segment: &Path,
    key: Option<KeyId>,
) -> Result<Option<&'r RecordKey>, JournalError> {
    let Some(id) = key else { return Ok(None) };
    let unavailable = |why: String| JournalError::KeyUnavailable {
        segment: segment.to_owned(),
        key: id,
        why,
    };
    let ring = ring.ok_or_else(|| unavailable("but no encryption key was given".to_owned()))?;
    ring.journal_key(id, "").map(Some).map_err(|_| {
        unavailable(format!(
            "which the key ring lacks (it holds {})",
            ring.ids_text()
        ))
    })
}

/// The plaintext of record `seq` whose stored payload is `stored` (already CRC-checked).
pub(crate) fn open_payload(
    key: Option<&RecordKey>,
    segment: &Path,
    offset: u64,
    seq: u64,
    stored: Vec<u8>,
) -> Result<Vec<u8>, JournalError> {
    let Some(key) = key else { return Ok(stored) };
    open_sealed_payload(key, seq, &stored).ok_or_else(|| JournalError::Undecryptable {
        segment: segment.to_owned(),
        offset,
        sequence: seq,
        key: key.id(),
    })
}
