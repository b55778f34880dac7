//! Key rotation for sealed segments: re-seal every record with the current key, in place.
//!
//! A sealed payload is as long under any key (nonce and tag are of fixed size), so every
//! record keeps its byte offset and the store's positions stay valid. Plain segments cannot
//! be sealed that way (each record would grow by the seal's overhead) and are left as they
//! are. Runs on a closed journal (it takes the lock itself), so no writer appends meanwhile.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use onesec_keys::{KeyId, KeyRing, NonceSource};
use tracing::info;

use crate::crypt::open_payload;
use crate::error::JournalError;
use crate::format::{
    HEADER_LEN, RECORD_HEADER_LEN, RecordHeader, decode_header, encode_header,
    encode_sealed_record, segment_file_name,
};
use crate::recovery::recover;
use crate::segment::sync_dir;
use crate::{FsyncPolicy, JournalConfig, acquire_lock};

/// What [`reseal_segments`] did.
#[derive(Debug, Default)]
pub struct Resealed {
    /// Segments re-sealed with the current key, with the key they had.
    pub resealed: Vec<(PathBuf, Option<KeyId>)>,
    /// Plain segments left as they are (their records stay in the clear until retention
    /// removes them).
    pub plain_kept: Vec<PathBuf>,
}

/// Re-seals, with the ring's current key, every segment of the journal in `cfg.dir` sealed
/// with another key of the ring, the newest one included. Takes the journal's lock for the
/// whole run (so it fails with [`JournalError::Locked`] while onesec runs) and recovers the
/// journal first, as an open would (a torn tail is cut, an empty newest segment re-headed).
pub fn reseal_dir(cfg: JournalConfig) -> Result<Resealed, JournalError> {
    let Some(ring) = cfg.keys.clone() else {
        return Err(JournalError::InvalidConfig(
            "re-sealing segments needs a key ring".to_owned(),
        ));
    };
    let dir = cfg.dir;
    fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
    let _lock = acquire_lock(&dir)?;
    let durable = cfg.fsync != FsyncPolicy::Never;
    let recovered = recover(&dir, durable, Some(&ring))?;
    let segments: Vec<(u64, PathBuf)> = recovered.segments.into_iter().collect();
    // The active file handle is not written through: the segment is replaced by rename.
    drop(recovered.active_file);
    let mut done = Resealed::default();
    for (first, path) in segments {
        let bytes = fs::read(&path).map_err(|e| JournalError::io("read segment", &path, e))?;
        let header = decode_header(&bytes).map_err(|r| JournalError::corrupt(&path, 0, r))?;
        match header.key {
            None => done.plain_kept.push(path),
            Some(id) if id == ring.current_id() => {}
            Some(id) => {
                let resealed = reseal(&ring, &path, first, id, &bytes)?;
                replace(&dir, &path, first, &resealed, durable)?;
                info!(segment = %path.display(), from = %id, to = %ring.current_id(), "journal segment re-sealed");
                done.resealed.push((path, Some(id)));
            }
        }
    }
    Ok(done)
}

fn reseal(
    ring: &KeyRing,
    path: &Path,
    first: u64,
    old: KeyId,
    bytes: &[u8],
) -> Result<Vec<u8>, JournalError> {
    let old_key = ring
        .journal_key(old, "")
        .map_err(|_| JournalError::KeyUnavailable {
            segment: path.to_owned(),
            key: old,
            why: format!("which the key ring lacks (it holds {})", ring.ids_text()),
        })?;
    let new_key = ring.journal_current();
    let sealer = new_key.sealer(NonceSource::new()?);
    let mut out = encode_header(first, Some(new_key.id())).to_vec();
    let mut offset = HEADER_LEN;
    let mut seq = first;
    while offset < bytes.len() {
        let prefix: &[u8; RECORD_HEADER_LEN] = bytes
            .get(offset..offset + RECORD_HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| JournalError::corrupt(path, offset as u64, "record prefix cut short"))?;
        let record = RecordHeader::decode(prefix);
        record
            .check_len()
            .map_err(|r| JournalError::corrupt(path, offset as u64, r))?;
        let start = offset + RECORD_HEADER_LEN;
        let stored = bytes
            .get(start..start + record.len as usize)
            .ok_or_else(|| JournalError::corrupt(path, offset as u64, "payload cut short"))?;
        record
            .check(stored, seq)
            .map_err(|r| JournalError::corrupt(path, offset as u64, r))?;
        let plain = open_payload(Some(old_key), path, offset as u64, seq, stored.to_vec())?;
        encode_sealed_record(&mut out, seq, &plain, &sealer)?;
        offset = start + record.len as usize;
        seq += 1;
    }
    debug_assert_eq!(out.len(), bytes.len(), "re-sealing keeps every offset");
    Ok(out)
}

/// Writes `bytes` as the segment's new content: a temporary file (which recovery deletes if
/// a crash interrupts) renamed over the old one.
fn replace(
    dir: &Path,
    path: &Path,
    first: u64,
    bytes: &[u8],
    durable: bool,
) -> Result<(), JournalError> {
    let tmp = dir.join(format!("{}.tmp", segment_file_name(first)));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| JournalError::io("create", &tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| JournalError::io("write", &tmp, e))?;
    if durable {
        file.sync_all()
            .map_err(|e| JournalError::io("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, path)
        .map_err(|e| JournalError::io("rename re-sealed segment into", path, e))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}
