//! Opening a journal directory: scan, validate, repair a torn tail.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::{debug, error, info, warn};

use onesec_keys::{KeyId, KeyRing};

use crate::crypt::segment_key;
use crate::error::JournalError;
use crate::format::{
    HEADER_LEN, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, RecordHeader, TMP_SUFFIX,
    parse_segment_file_name, segment_file_name,
};
use crate::segment::{create_segment, read_header, replace_empty_segment, scan_records, sync_dir};

/// What [`crate::Journal::open`] found on disk and what it had to repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Number of segment files in the journal after recovery.
    pub segments: usize,
    /// Sequence of the oldest retained record (equals `last_sequence + 1` when no record is retained).
    pub first_sequence: u64,
    /// Sequence of the newest intact record, 0 if the journal holds none; the next append gets `last_sequence + 1`.
    pub last_sequence: u64,
    /// The torn or corrupt tail that was cut off the newest segment, if any.
    pub torn_tail: Option<TornTail>,
    /// Files deleted during recovery (unfinished `.seg.tmp` files, a newest segment with an unreadable header).
    pub removed_files: Vec<PathBuf>,
}

impl Recovery {
    /// Number of bytes dropped from the tail (0 if the journal was clean).
    pub fn torn_bytes_dropped(&self) -> u64 {
        self.torn_tail.as_ref().map_or(0, |t| t.bytes_dropped)
    }

    /// Whether recovery found the journal exactly as a clean shutdown leaves it.
    pub fn is_clean(&self) -> bool {
        self.torn_tail.is_none() && self.removed_files.is_empty()
    }
}

/// Description of a tail that recovery truncated away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment that was truncated (or removed, when its header was unreadable).
    pub segment: PathBuf,
    /// Byte offset at which the first invalid byte was found; the file now ends here.
    pub offset: u64,
    /// Number of bytes dropped.
    pub bytes_dropped: u64,
    /// Why the bytes at `offset` were rejected.
    pub reason: String,
    /// Intact records found *after* the damage. Zero for a genuine torn write; non-zero
    /// means damage inside the segment (e.g. bit rot) and the dropped bytes were preserved.
    pub intact_records_after: u64,
    /// Where the dropped bytes were copied to, when `intact_records_after > 0`.
    pub preserved_as: Option<PathBuf>,
}

/// Everything the writer needs to resume.
pub(crate) struct Recovered {
    pub(crate) segments: BTreeMap<u64, PathBuf>,
    pub(crate) active_file: File,
    pub(crate) active_path: PathBuf,
    pub(crate) active_len: u64,
    /// The key the active segment's header names.
    pub(crate) active_key: Option<KeyId>,
    pub(crate) next_seq: u64,
    pub(crate) report: Recovery,
}

struct Active {
    file: File,
    path: PathBuf,
    first: u64,
    len: u64,
    records: u64,
    key: Option<KeyId>,
}

/// Scans `dir`, validates every segment, truncates a torn tail of the newest
/// one, and returns the state to resume appending from. `durable` says
/// whether repairs must be fsynced (false only for `FsyncPolicy::Never`).
///
/// With `keys`, every encrypted segment's key must be in the ring (checked here, so a
/// missing or wrong key stops the open before anything is read or written); a newest segment
/// without records whose header names another key than the ring's current one (or none) is
/// re-headed, so the writer appends to it.
pub(crate) fn recover(
    dir: &Path,
    durable: bool,
    keys: Option<&KeyRing>,
) -> Result<Recovered, JournalError> {
    let wanted = keys.map(KeyRing::current_id);
    let mut removed_files = Vec::new();
    let mut names: Vec<(u64, PathBuf)> = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("list directory", dir, e))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            debug!(path = %path.display(), "ignoring non-UTF-8 file name in journal directory");
            continue;
        };
        if name.ends_with(TMP_SUFFIX) {
            // A segment whose creation never completed: it never held records.
            fs::remove_file(&path)
                .map_err(|e| JournalError::io("remove unfinished segment", &path, e))?;
            warn!(path = %path.display(), "removed unfinished segment file");
            removed_files.push(path);
            continue;
        }
        match parse_segment_file_name(name) {
            Some(0) => {
                return Err(JournalError::corrupt(
                    &path,
                    0,
                    "segment file name says first sequence 0, but sequences start at 1",
                ));
            }
            Some(seq) => names.push((seq, path)),
            None => {
                debug!(path = %path.display(), "ignoring non-segment file in journal directory")
            }
        }
    }
    names.sort();

    let mut segments = BTreeMap::new();
    let mut torn_tail = None;
    // First sequence the next segment must start with.
    let mut expected_next: Option<u64> = None;
    let mut active = None;
    let count = names.len();

    for (i, (name_seq, path)) in names.into_iter().enumerate() {
        if let Some(expected) = expected_next
            && name_seq != expected
        {
            return Err(JournalError::corrupt(
                &path,
                0,
                format!(
                    "segment starts at sequence {name_seq} but the previous segment ends at sequence {}: a segment is missing or two overlap",
                    expected - 1
                ),
            ));
        }
        let is_last = i + 1 == count;
        if !is_last {
            let mut file =
                File::open(&path).map_err(|e| JournalError::io("open segment", &path, e))?;
            let len = file_len(&file, &path)?;
            let header = read_header(&mut file, &path, len)?
                .map_err(|reason| JournalError::corrupt(&path, 0, reason))?;
            let first = header.first_seq;
            check_name(&path, name_seq, first)?;
            segment_key(keys, &path, header.key)?;
            let scan = scan_records(&mut file, &path, len, first)?;
            if let Some((offset, reason)) = scan.damage {
                return Err(JournalError::corrupt(
                    &path,
                    offset,
                    format!(
                        "{reason} (this is not the newest segment, so this cannot be a torn write and acknowledged records would be lost)"
                    ),
                ));
            }
            expected_next = Some(first + scan.records);
            segments.insert(first, path);
            continue;
        }

        // The newest segment: a torn tail here is expected after a crash.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| JournalError::io("open segment", &path, e))?;
        let len = file_len(&file, &path)?;
        match read_header(&mut file, &path, len)? {
            Ok(header) => {
                let first = header.first_seq;
                check_name(&path, name_seq, first)?;
                segment_key(keys, &path, header.key)?;
                let scan = scan_records(&mut file, &path, len, first)?;
                if let Some((offset, reason)) = scan.damage {
                    let dropped = len - offset;
                    let next_seq = first + scan.records;
                    let intact_records_after =
                        count_intact_after(&mut file, &path, offset, len, next_seq)?;
                    let preserved_as = if intact_records_after > 0 {
                        error!(
                            segment = %path.display(),
                            offset,
                            bytes_dropped = dropped,
                            intact_records_after,
                            %reason,
                            "newest journal segment is damaged before intact records: this is not a torn write; \
                             truncating to keep the journal appendable and preserving the dropped bytes"
                        );
                        Some(preserve_tail(dir, &mut file, &path, offset, durable)?)
                    } else {
                        warn!(
                            segment = %path.display(),
                            offset,
                            bytes_dropped = dropped,
                            %reason,
                            "truncating torn tail of newest journal segment"
                        );
                        None
                    };
                    file.set_len(offset)
                        .map_err(|e| JournalError::io("truncate torn tail of", &path, e))?;
                    if durable {
                        file.sync_all()
                            .map_err(|e| JournalError::io("fsync truncated segment", &path, e))?;
                    }
                    torn_tail = Some(TornTail {
                        segment: path.clone(),
                        offset,
                        bytes_dropped: dropped,
                        reason,
                        intact_records_after,
                        preserved_as,
                    });
                }
                file.seek(SeekFrom::Start(scan.valid_len))
                    .map_err(|e| JournalError::io("seek in segment", &path, e))?;
                segments.insert(first, path.clone());
                let mut resumed = Active {
                    file,
                    path,
                    first,
                    len: scan.valid_len,
                    records: scan.records,
                    key: header.key,
                };
                if resumed.records == 0 && resumed.key != wanted {
                    let (file, path) = replace_empty_segment(dir, first, wanted, durable)?;
                    info!(segment = %path.display(), "journal: empty newest segment re-headed for the current key");
                    resumed.file = file;
                    resumed.key = wanted;
                }
                active = Some(resumed);
            }
            Err(reason) => {
                // Segments are created via rename of a fully written header, so
                // an unreadable header means an interrupted creation (possible
                // when the OS reorders writes) or media damage. The former
                // cannot have acknowledged records; make sure of that.
                if len > HEADER_LEN as u64 {
                    let scan = scan_records(&mut file, &path, len, name_seq)?;
                    if scan.records > 0 {
                        return Err(JournalError::corrupt(
                            &path,
                            0,
                            format!(
                                "{reason}; yet {} intact records follow the header, refusing to discard them",
                                scan.records
                            ),
                        ));
                    }
                }
                drop(file);
                fs::remove_file(&path)
                    .map_err(|e| JournalError::io("remove headerless segment", &path, e))?;
                warn!(segment = %path.display(), %reason, "removed newest segment with unreadable header");
                torn_tail = Some(TornTail {
                    segment: path.clone(),
                    offset: 0,
                    bytes_dropped: len,
                    reason: format!("unreadable header, segment removed: {reason}"),
                    intact_records_after: 0,
                    preserved_as: None,
                });
                removed_files.push(path);
                let first = expected_next.unwrap_or(name_seq);
                let (file, path) = create_segment(dir, first, wanted, durable)?;
                segments.insert(first, path.clone());
                active = Some(Active {
                    file,
                    path,
                    first,
                    len: HEADER_LEN as u64,
                    records: 0,
                    key: wanted,
                });
            }
        }
    }

    let active = match active {
        Some(a) => a,
        None => {
            let (file, path) = create_segment(dir, 1, wanted, durable)?;
            info!(dir = %dir.display(), "created new journal");
            segments.insert(1, path.clone());
            Active {
                file,
                path,
                first: 1,
                len: HEADER_LEN as u64,
                records: 0,
                key: wanted,
            }
        }
    };
    if durable && (torn_tail.is_some() || !removed_files.is_empty()) {
        sync_dir(dir)?;
    }

    let next_seq = active.first + active.records;
    let first_sequence = segments.keys().next().copied().unwrap_or(next_seq);
    let report = Recovery {
        segments: segments.len(),
        first_sequence,
        last_sequence: next_seq - 1,
        torn_tail,
        removed_files,
    };
    Ok(Recovered {
        segments,
        active_file: active.file,
        active_path: active.path,
        active_len: active.len,
        active_key: active.key,
        next_seq,
        report,
    })
}

fn file_len(file: &File, path: &Path) -> Result<u64, JournalError> {
    Ok(file
        .metadata()
        .map_err(|e| JournalError::io("stat segment", path, e))?
        .len())
}

fn check_name(path: &Path, name_seq: u64, header_seq: u64) -> Result<(), JournalError> {
    if name_seq == header_seq {
        Ok(())
    } else {
        Err(JournalError::corrupt(
            path,
            16,
            format!(
                "header says the segment starts at sequence {header_seq} but the file name says {name_seq}"
            ),
        ))
    }
}

/// Upper bound of the damaged region searched for intact records.
const RESYNC_LIMIT: u64 = 2 * MAX_PAYLOAD_LEN as u64;

/// Counts CRC-valid records with plausible sequences (at or after
/// `next_seq`) that follow the damage at `from`. A torn write leaves none; a
/// corrupted byte in the middle of the segment leaves the records after it.
fn count_intact_after(
    file: &mut File,
    path: &Path,
    from: u64,
    len: u64,
    next_seq: u64,
) -> Result<u64, JournalError> {
    let end = len.min(from.saturating_add(RESYNC_LIMIT));
    let mut region = Vec::new();
    file.seek(SeekFrom::Start(from))
        .map_err(|e| JournalError::io("seek in segment", path, e))?;
    Read::by_ref(file)
        .take(end - from)
        .read_to_end(&mut region)
        .map_err(|e| JournalError::io("read segment", path, e))?;
    // Every record takes at least RECORD_HEADER_LEN bytes, which bounds how
    // far sequences can have advanced within the region.
    let max_seq = next_seq.saturating_add(region.len() as u64 / RECORD_HEADER_LEN as u64 + 1);
    let mut count = 0;
    let mut i = 1;
    while i + RECORD_HEADER_LEN <= region.len() {
        let mut hb = [0u8; RECORD_HEADER_LEN];
        hb.copy_from_slice(&region[i..i + RECORD_HEADER_LEN]);
        let h = RecordHeader::decode(&hb);
        let plausible = h.seq >= next_seq
            && h.seq <= max_seq
            && h.check_len().is_ok()
            && i + RECORD_HEADER_LEN + h.len as usize <= region.len();
        if plausible {
            let payload = &region[i + RECORD_HEADER_LEN..i + RECORD_HEADER_LEN + h.len as usize];
            if h.check(payload, h.seq).is_ok() {
                count += 1;
                i += RECORD_HEADER_LEN + h.len as usize;
                continue;
            }
        }
        i += 1;
    }
    Ok(count)
}

/// Copies the bytes from `from` to the end of `segment` into a side file
/// (`<segment>.damaged-<offset>`) before they are truncated away.
fn preserve_tail(
    dir: &Path,
    file: &mut File,
    segment: &Path,
    from: u64,
    durable: bool,
) -> Result<PathBuf, JournalError> {
    let name = segment
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| segment_file_name(0));
    let out_path = dir.join(format!("{name}.damaged-{from}"));
    let mut out = File::create(&out_path)
        .map_err(|e| JournalError::io("create damaged-tail copy", &out_path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| JournalError::io("seek in segment", segment, e))?;
    io::copy(file, &mut out).map_err(|e| JournalError::io("copy damaged tail to", &out_path, e))?;
    out.flush()
        .map_err(|e| JournalError::io("write damaged-tail copy", &out_path, e))?;
    if durable {
        out.sync_all()
            .map_err(|e| JournalError::io("fsync damaged-tail copy", &out_path, e))?;
    }
    Ok(out_path)
}
