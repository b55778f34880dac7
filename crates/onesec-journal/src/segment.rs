//! File-level helpers shared by recovery, the writer and readers.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{
    HEADER_LEN, RECORD_HEADER_LEN, RecordHeader, SegmentHeader, TMP_SUFFIX, decode_header,
    encode_header, segment_file_name, segment_path,
};
use onesec_keys::KeyId;

/// Buffer size used when scanning segments sequentially.
const SCAN_BUFFER: usize = 1 << 20;

/// Fsyncs a directory so that file creations, renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    let d = File::open(dir).map_err(|e| JournalError::io("open directory for fsync", dir, e))?;
    d.sync_all()
        .map_err(|e| JournalError::io("fsync directory", dir, e))
}

/// Creates the segment starting at `first_seq`: the header is written to a
/// temporary file, made durable (when `durable`), then renamed into place so a
/// `.seg` file never lacks its header. Returns the file positioned after the
/// header, ready for appending.
pub(crate) fn create_segment(
    dir: &Path,
    first_seq: u64,
    key: Option<KeyId>,
    durable: bool,
) -> Result<(File, PathBuf), JournalError> {
    let path = segment_path(dir, first_seq);
    if path.exists() {
        return Err(JournalError::corrupt(
            &path,
            0,
            format!(
                "refusing to create segment for sequence {first_seq}: a file with that name already exists"
            ),
        ));
    }
    write_segment(dir, first_seq, key, durable)
}

/// Replaces the newest segment, which holds no record, by an empty one sealed with `key`:
/// after a key change the journal must not append records of the new key to a segment whose
/// header names the old one. The rename replaces the file atomically, so a crash leaves
/// either header, never no segment (which would restart sequences at 1).
pub(crate) fn replace_empty_segment(
    dir: &Path,
    first_seq: u64,
    key: Option<KeyId>,
    durable: bool,
) -> Result<(File, PathBuf), JournalError> {
    write_segment(dir, first_seq, key, durable)
}

fn write_segment(
    dir: &Path,
    first_seq: u64,
    key: Option<KeyId>,
    durable: bool,
) -> Result<(File, PathBuf), JournalError> {
    let path = segment_path(dir, first_seq);
    // "<20 digits>.seg.tmp", i.e. the final name plus ".tmp" (see TMP_SUFFIX).
    let tmp = dir.join(format!("{}.tmp", segment_file_name(first_seq)));
    debug_assert!(tmp.to_string_lossy().ends_with(TMP_SUFFIX));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| JournalError::io("create segment", &tmp, e))?;
    f.write_all(&encode_header(first_seq, key))
        .map_err(|e| JournalError::io("write segment header", &tmp, e))?;
    if durable {
        f.sync_all()
            .map_err(|e| JournalError::io("fsync new segment", &tmp, e))?;
    }
    fs::rename(&tmp, &path).map_err(|e| JournalError::io("rename new segment into", &path, e))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok((f, path))
}

/// Reads and validates the header of `file` (of length `len`), returning what
/// it says, or the reason the header is unusable.
pub(crate) fn read_header(
    file: &mut File,
    path: &Path,
    len: u64,
) -> Result<Result<SegmentHeader, String>, JournalError> {
    let avail = len.min(HEADER_LEN as u64) as usize;
    let mut h = [0u8; HEADER_LEN];
    file.seek(SeekFrom::Start(0))
        .map_err(|e| JournalError::io("seek in segment", path, e))?;
    file.read_exact(&mut h[..avail])
        .map_err(|e| JournalError::io("read segment header", path, e))?;
    Ok(decode_header(&h[..avail]))
}

/// Result of validating the records of one segment.
pub(crate) struct Scan {
    /// Byte length of the intact prefix (header plus whole valid records).
    pub(crate) valid_len: u64,
    /// Number of intact records.
    pub(crate) records: u64,
    /// First damage found: byte offset and reason.
    pub(crate) damage: Option<(u64, String)>,
}

/// Validates records from the end of the header to `file_len`, expecting
/// consecutive sequences starting at `first_seq`. Stops at the first invalid
/// record; I/O failures are errors, invalid bytes are reported in `damage`.
pub(crate) fn scan_records(
    file: &mut File,
    path: &Path,
    file_len: u64,
    first_seq: u64,
) -> Result<Scan, JournalError> {
    let read_err = |e| JournalError::io("read segment", path, e);
    file.seek(SeekFrom::Start(HEADER_LEN as u64))
        .map_err(|e| JournalError::io("seek in segment", path, e))?;
    let mut r = BufReader::with_capacity(SCAN_BUFFER, file);
    let mut offset = HEADER_LEN as u64;
    let mut expected = first_seq;
    let mut records = 0u64;
    let mut payload = Vec::new();
    let mut damage = None;
    while offset < file_len {
        let remaining = file_len - offset;
        if remaining < RECORD_HEADER_LEN as u64 {
            damage = Some((
                offset,
                format!(
                    "torn record: only {remaining} bytes follow the last complete record, a record prefix needs {RECORD_HEADER_LEN}"
                ),
            ));
            break;
        }
        let mut hb = [0u8; RECORD_HEADER_LEN];
        r.read_exact(&mut hb).map_err(read_err)?;
        let h = RecordHeader::decode(&hb);
        if let Err(reason) = h.check_len() {
            damage = Some((offset, reason));
            break;
        }
        if h.total_len() > remaining {
            damage = Some((
                offset,
                format!(
                    "torn record: length field says {} payload bytes but only {} bytes remain in the file",
                    h.len,
                    remaining - RECORD_HEADER_LEN as u64
                ),
            ));
            break;
        }
        payload.resize(h.len as usize, 0);
        r.read_exact(&mut payload).map_err(read_err)?;
        if let Err(reason) = h.check(&payload, expected) {
            damage = Some((offset, reason));
            break;
        }
        offset += h.total_len();
        records += 1;
        match expected.checked_add(1) {
            Some(n) => expected = n,
            None => {
                if offset < file_len {
                    damage = Some((offset, "sequence space exhausted".to_owned()));
                }
                break;
            }
        }
    }
    Ok(Scan {
        valid_len: offset,
        records,
        damage,
    })
}
