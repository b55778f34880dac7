//! Sequential reading of durable records across segments.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onesec_keys::{KeyId, KeyRing};

use crate::crypt::{open_payload, segment_key};
use crate::error::JournalError;
use crate::format::{HEADER_LEN, RECORD_HEADER_LEN, RecordHeader, decode_header};
use crate::notify::Subscription;
use crate::{Shared, lock};

const READ_BUFFER: usize = 256 << 10;

struct Cursor {
    path: PathBuf,
    /// First sequence of the segment `path` holds (its file name).
    segment: u64,
    file: BufReader<File>,
    /// Byte offset of the next record in `path`.
    offset: u64,
    /// The key the segment's header names (`None`: plain).
    key: Option<KeyId>,
}

/// Iterates `(sequence, payload)` over durable records, across segments.
///
/// The iterator is *resumable*: when it has caught up with the last durable
/// record it returns `None`, and a later call returns records appended
/// since. Use [`JournalReader::next_timeout`] or
/// [`JournalReader::next_async`] to wait for new records instead of polling.
/// After an error the reader stays at the same sequence, so the call can be
/// retried.
pub struct JournalReader {
    shared: Arc<Shared>,
    next_seq: u64,
    cursor: Option<Cursor>,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("dir", &self.shared.dir)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl JournalReader {
    pub(crate) fn new(shared: Arc<Shared>, from_seq: u64) -> Self {
        JournalReader {
            shared,
            next_seq: from_seq,
            cursor: None,
        }
    }

    /// Sequence of the record the next successful read returns.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Reads the next durable record, or `Ok(None)` when caught up.
    pub fn try_next(&mut self) -> Result<Option<(u64, Vec<u8>)>, JournalError> {
        Ok(self
            .try_next_located()?
            .map(|(seq, payload, _)| (seq, payload)))
    }

    /// Like [`JournalReader::try_next`], with where the record lies, so that it can be read
    /// again later without a scan ([`read_at`]).
    pub fn try_next_located(&mut self) -> Result<Option<(u64, Vec<u8>, Position)>, JournalError> {
        if self.next_seq > self.shared.durable.get() {
            return Ok(None);
        }
        match self.read_record() {
            Ok(rec) => {
                self.next_seq += 1;
                Ok(Some(rec))
            }
            Err(e) => {
                self.cursor = None;
                Err(e)
            }
        }
    }

    /// Returns the next record, waiting up to `timeout` for one to become durable; `None` on timeout or when the journal has closed.
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<(u64, Vec<u8>), JournalError>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.try_next() {
                Ok(Some(rec)) => return Some(Ok(rec)),
                Err(e) => return Some(Err(e)),
                Ok(None) => {}
            }
            let durable = self.shared.durable.wait_beyond(self.next_seq - 1, deadline);
            if durable < self.next_seq {
                // Timed out or the writer stopped.
                return None;
            }
        }
    }

    /// Returns the next record, awaiting until one becomes durable; `None` once the journal has closed and everything was read.
    ///
    /// The file reads themselves are short blocking reads of already-written data.
    pub async fn next_async(&mut self) -> Option<Result<(u64, Vec<u8>), JournalError>> {
        let sub = Subscription::new(self.shared.durable.clone());
        loop {
            match self.try_next() {
                Ok(Some(rec)) => return Some(Ok(rec)),
                Err(e) => return Some(Err(e)),
                Ok(None) => {}
            }
            let durable = sub.changed(self.next_seq - 1).await;
            if durable < self.next_seq {
                return None;
            }
        }
    }

    /// Reads the record `self.next_seq`, which is known to be durable.
    fn read_record(&mut self) -> Result<(u64, Vec<u8>, Position), JournalError> {
        let seq = self.next_seq;
        loop {
            let cursor = match &mut self.cursor {
                Some(c) => c,
                None => self.cursor.insert(self.open_at(seq)?),
            };
            let mut hb = [0u8; RECORD_HEADER_LEN];
            let n = read_full(&mut cursor.file, &mut hb)
                .map_err(|e| JournalError::io("read segment", &cursor.path, e))?;
            if n == 0 {
                // End of this segment: the record must start the next one.
                let (next, first_available) = {
                    let segs = lock(&self.shared.segments);
                    (segs.get(&seq).cloned(), segs.keys().next().copied())
                };
                match (next, first_available) {
                    (Some(path), _) => {
                        self.cursor = Some(open_segment(path, seq, &self.shared, seq)?);
                        continue;
                    }
                    (None, Some(first_available)) if first_available > seq => {
                        // Retention removed the segment we were about to enter.
                        return Err(JournalError::SequenceUnavailable {
                            requested: seq,
                            first_available,
                        });
                    }
                    (None, _) => {
                        return Err(JournalError::corrupt(
                            &cursor.path,
                            cursor.offset,
                            format!(
                                "segment ends before durable sequence {seq} and no segment starts with it"
                            ),
                        ));
                    }
                }
            }
            if n < RECORD_HEADER_LEN {
                return Err(JournalError::corrupt(
                    &cursor.path,
                    cursor.offset,
                    format!(
                        "durable record {seq} is cut short: only {n} bytes of its prefix exist"
                    ),
                ));
            }
            let (h, stored) =
                read_checked_payload(&mut cursor.file, &cursor.path, cursor.offset, &hb, seq)?;
            let key = segment_key(self.shared.keys.as_deref(), &cursor.path, cursor.key)?;
            let payload = open_payload(key, &cursor.path, cursor.offset, seq, stored)?;
            let position = Position {
                segment: cursor.segment,
                offset: cursor.offset,
            };
            cursor.offset += h.total_len();
            return Ok((seq, payload, position));
        }
    }

    /// Opens the segment containing `seq` and positions before that record.
    fn open_at(&self, seq: u64) -> Result<Cursor, JournalError> {
        let (first, path) = {
            let segs = lock(&self.shared.segments);
            let first_available = segs.keys().next().copied().unwrap_or(seq);
            match segs.range(..=seq).next_back() {
                Some((first, path)) => (*first, path.clone()),
                None => {
                    return Err(JournalError::SequenceUnavailable {
                        requested: seq,
                        first_available,
                    });
                }
            }
        };
        let mut cursor = open_segment(path, first, &self.shared, seq)?;
        // Skip records before `seq` by their length fields.
        loop {
            let mut hb = [0u8; RECORD_HEADER_LEN];
            let n = read_full(&mut cursor.file, &mut hb)
                .map_err(|e| JournalError::io("read segment", &cursor.path, e))?;
            if n < RECORD_HEADER_LEN {
                return Err(JournalError::corrupt(
                    &cursor.path,
                    cursor.offset,
                    format!("segment ends before durable sequence {seq}"),
                ));
            }
            let h = RecordHeader::decode(&hb);
            h.check_len()
                .map_err(|r| JournalError::corrupt(&cursor.path, cursor.offset, r))?;
            if h.seq == seq {
                cursor
                    .file
                    .seek_relative(-(RECORD_HEADER_LEN as i64))
                    .map_err(|e| JournalError::io("seek in segment", &cursor.path, e))?;
                return Ok(cursor);
            }
            if h.seq > seq {
                return Err(JournalError::corrupt(
                    &cursor.path,
                    cursor.offset,
                    format!("found sequence {} while looking for {seq}", h.seq),
                ));
            }
            cursor
                .file
                .seek_relative(i64::from(h.len))
                .map_err(|e| JournalError::io("seek in segment", &cursor.path, e))?;
            cursor.offset += h.total_len();
        }
    }
}

impl Iterator for JournalReader {
    type Item = Result<(u64, Vec<u8>), JournalError>;

    /// Next durable record; `None` when caught up (calling again later may yield more).
    fn next(&mut self) -> Option<Self::Item> {
        self.try_next().transpose()
    }
}

/// Opens a segment for reading and validates its header.
fn open_segment(
    path: PathBuf,
    first: u64,
    shared: &Shared,
    wanted: u64,
) -> Result<Cursor, JournalError> {
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Removed by retention while we were looking it up.
            let first_available = lock(&shared.segments)
                .keys()
                .next()
                .copied()
                .unwrap_or(wanted);
            return Err(JournalError::SequenceUnavailable {
                requested: wanted,
                first_available,
            });
        }
        Err(e) => return Err(JournalError::io("open segment", &path, e)),
    };
    let mut file = BufReader::with_capacity(READ_BUFFER, file);
    let mut h = [0u8; HEADER_LEN];
    let n = read_full(&mut file, &mut h)
        .map_err(|e| JournalError::io("read segment header", &path, e))?;
    let header = decode_header(&h[..n]).map_err(|r| JournalError::corrupt(&path, 0, r))?;
    let header_first = header.first_seq;
    if header_first != first {
        return Err(JournalError::corrupt(
            &path,
            16,
            format!("header says the segment starts at sequence {header_first}, expected {first}"),
        ));
    }
    Ok(Cursor {
        path,
        segment: first,
        file,
        offset: HEADER_LEN as u64,
        key: header.key,
    })
}

/// Where a record lies: the segment (named by its first sequence) and the byte offset of the
/// record's prefix within the segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// First sequence of the segment holding the record.
    pub segment: u64,
    /// Byte offset of the record within the segment file.
    pub offset: u64,
}

/// Reads `count` consecutive records starting with sequence `first` at `position`, without a
/// [`crate::Journal`] handle and without taking its lock, so another process (an offline
/// command, a reader of the store) can read records a running writer made durable. Every
/// record's length, CRC and sequence are checked; a record that is missing or damaged is an
/// error naming the file and offset.
///
/// Encrypted segments are opened with the process's key ring (`onesec_keys::installed`);
/// [`read_at_with`] takes one explicitly.
pub fn read_at(
    dir: &std::path::Path,
    position: Position,
    first: u64,
    count: usize,
) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    read_at_with(
        onesec_keys::installed().as_deref(),
        dir,
        position,
        first,
        count,
    )
}

/// [`read_at`] with the key ring `keys` for encrypted segments.
pub fn read_at_with(
    keys: Option<&KeyRing>,
    dir: &std::path::Path,
    position: Position,
    first: u64,
    count: usize,
) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    let path = crate::format::segment_path(dir, position.segment);
    let file = File::open(&path).map_err(|e| JournalError::io("open segment", &path, e))?;
    let mut file = BufReader::with_capacity(READ_BUFFER.min(count.max(1) * 2048), file);
    let mut h = [0u8; HEADER_LEN];
    let n = read_full(&mut file, &mut h)
        .map_err(|e| JournalError::io("read segment header", &path, e))?;
    let header = decode_header(&h[..n]).map_err(|r| JournalError::corrupt(&path, 0, r))?;
    let header_first = header.first_seq;
    let key = segment_key(keys, &path, header.key)?;
    if header_first != position.segment {
        return Err(JournalError::corrupt(
            &path,
            16,
            format!(
                "header says the segment starts at sequence {header_first}, expected {}",
                position.segment
            ),
        ));
    }
    if position.offset < HEADER_LEN as u64 {
        return Err(JournalError::corrupt(
            &path,
            position.offset,
            "a record cannot start inside the segment header".to_owned(),
        ));
    }
    file.seek_relative((position.offset - HEADER_LEN as u64) as i64)
        .map_err(|e| JournalError::io("seek in segment", &path, e))?;
    let mut offset = position.offset;
    let mut records = Vec::with_capacity(count);
    for seq in (first..).take(count) {
        let mut hb = [0u8; RECORD_HEADER_LEN];
        let n = read_full(&mut file, &mut hb)
            .map_err(|e| JournalError::io("read segment", &path, e))?;
        if n < RECORD_HEADER_LEN {
            return Err(JournalError::corrupt(
                &path,
                offset,
                format!("record {seq} is missing: the segment ends here"),
            ));
        }
        let (header, stored) = read_checked_payload(&mut file, &path, offset, &hb, seq)?;
        records.push((seq, open_payload(key, &path, offset, seq, stored)?));
        offset += header.total_len();
    }
    Ok(records)
}

/// Reads the payload of the record whose 16-byte prefix `prefix` was just read at `offset` of
/// `path`, and checks its length field, CRC and sequence (`seq` expected).
fn read_checked_payload(
    file: &mut impl Read,
    path: &std::path::Path,
    offset: u64,
    prefix: &[u8; RECORD_HEADER_LEN],
    seq: u64,
) -> Result<(RecordHeader, Vec<u8>), JournalError> {
    let header = RecordHeader::decode(prefix);
    header
        .check_len()
        .map_err(|r| JournalError::corrupt(path, offset, r))?;
    let mut payload = vec![0u8; header.len as usize];
    file.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            JournalError::corrupt(
                path,
                offset,
                format!(
                    "durable record {seq} is cut short: its payload runs past the end of the file"
                ),
            )
        } else {
            JournalError::io("read segment", path, e)
        }
    })?;
    header
        .check(&payload, seq)
        .map_err(|r| JournalError::corrupt(path, offset, r))?;
    Ok((header, payload))
}

/// Reads until `buf` is full or end of file; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
