//! The detection snapshot: the detection thread's whole state (Sigma engine, incident grouper,
//! the entities gathered per alert) with the journal sequence it
//! covers, so that a restart replays only the journal records after it instead of the whole
//! journal.
//!
//! # File `detection.snapshot` in the data folder, version 1
//!
//! All integers little-endian; `bytes` = `u64` length + that many bytes.
//!
//! ```text
//! header   magic "OSDETSNP" (8 bytes), version u32 = 1, payload length u64
//! payload  upto u64          last journal sequence the state covers
//!          manual_seq i64    last operation by hand (merge, split) the grouper has applied
//!          window_ms i64, open_min bytes (UTF-8)   the grouper's settings
//!          engine bytes      Engine::snapshot (its own format, CRC and rule fingerprint)
//!          grouper bytes     Grouper::save_state (JSON)
//!          facts bytes       entities gathered per alert id (JSON)
//! trailer  CRC-32C (Castagnoli) u32 of every byte before it
//! ```
//!
//! It is written by the detection thread after a stored chunk (every
//! `[detection] snapshot_every_events` events or `snapshot_every` of wall time) and at a clean
//! stop, always as a whole: temporary file, fsync, rename, fsync of the folder. A snapshot that
//! cannot be used (damaged, another version, other rules or settings, ahead of the store or of
//! the journal) is logged with why and detection rebuilds its state from the whole journal as
//! without one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The file name in the data folder.
pub(crate) const FILE: &str = "detection.snapshot";

const MAGIC: &[u8; 8] = b"OSDETSNP";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8;

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetectionSnapshot {
    /// Last journal sequence the state covers.
    pub upto: u64,
    /// Last operation by hand applied to the grouper (store sequence).
    pub manual_seq: i64,
    /// The grouper's window.
    pub window_ms: i64,
    /// The grouper's lowest opening severity.
    pub open_min: String,
    /// `Engine::snapshot`.
    pub engine: Vec<u8>,
    /// `Grouper::save_state`.
    pub grouper: Vec<u8>,
    /// Entities per alert (JSON).
    pub facts: Vec<u8>,
}

/// Why a snapshot file was not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotFileError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a detection snapshot.
    #[error("not a detection snapshot (bad magic)")]
    BadMagic,
    /// Another format version.
    #[error("detection snapshot version {0} is not supported (this build reads {VERSION})")]
    Version(u32),
    /// Damaged or cut short.
    #[error("detection snapshot damaged: {0}")]
    Damaged(String),
}

impl DetectionSnapshot {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(
            64 + self.engine.len() + self.grouper.len() + self.facts.len() + self.open_min.len(),
        );
        payload.extend_from_slice(&self.upto.to_le_bytes());
        payload.extend_from_slice(&self.manual_seq.to_le_bytes());
        payload.extend_from_slice(&self.window_ms.to_le_bytes());
        put_bytes(&mut payload, self.open_min.as_bytes());
        put_bytes(&mut payload, &self.engine);
        put_bytes(&mut payload, &self.grouper);
        put_bytes(&mut payload, &self.facts);
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the file's bytes, checking magic, version, length and checksum.
    pub fn decode(bytes: &[u8]) -> Result<DetectionSnapshot, SnapshotFileError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(SnapshotFileError::BadMagic);
        }
        if bytes.len() < HEADER_LEN + 4 {
            return Err(SnapshotFileError::Damaged("shorter than its header".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != VERSION {
            return Err(SnapshotFileError::Version(version));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
        let expected = (HEADER_LEN as u64)
            .checked_add(len)
            .and_then(|n| n.checked_add(4));
        if expected != Some(bytes.len() as u64) {
            return Err(SnapshotFileError::Damaged(format!(
                "{} bytes, the header announces a payload of {len}",
                bytes.len()
            )));
        }
        let body = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[body..].try_into().unwrap_or_default());
        let computed = crc32c::crc32c(&bytes[..body]);
        if stored != computed {
            return Err(SnapshotFileError::Damaged(format!(
                "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
            )));
        }
        let mut r = Reader {
            bytes: &bytes[HEADER_LEN..body],
            at: 0,
        };
        let snapshot = DetectionSnapshot {
            upto: r.u64()?,
            manual_seq: r.u64()? as i64,
            window_ms: r.u64()? as i64,
            open_min: String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| SnapshotFileError::Damaged("open_min is not UTF-8".into()))?,
            engine: r.bytes()?.to_vec(),
            grouper: r.bytes()?.to_vec(),
            facts: r.bytes()?.to_vec(),
        };
        if r.at != r.bytes.len() {
            return Err(SnapshotFileError::Damaged("bytes after the facts".into()));
        }
        Ok(snapshot)
    }

    /// Writes the snapshot to `path` as a whole: temporary file, fsync, rename, fsync of the
    /// folder.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotFileError> {
        let io = |source| SnapshotFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let tmp = path.with_extension("snapshot.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&self.encode()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            // The rename is durable once the folder is.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    /// Reads `path`; `Ok(None)` when there is no snapshot.
    pub fn read(path: &Path) -> Result<Option<DetectionSnapshot>, SnapshotFileError> {
        match std::fs::read(path) {
            Ok(bytes) => DetectionSnapshot::decode(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SnapshotFileError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Bounds-checked reader of the payload.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], SnapshotFileError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| SnapshotFileError::Damaged(format!("cut short at byte {}", self.at)))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64, SnapshotFileError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn bytes(&mut self) -> Result<&'a [u8], SnapshotFileError> {
        let n = self.u64()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DetectionSnapshot {
        DetectionSnapshot {
            upto: 42,
            manual_seq: 3,
            window_ms: 1_800_000,
            open_min: "medium".into(),
            engine: vec![1, 2, 3],
            grouper: b"{}".to_vec(),
            facts: b"{\"a\":1}".to_vec(),
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let bytes = sample().encode();
        assert_eq!(DetectionSnapshot::decode(&bytes).unwrap(), sample());
        for cut in [0, 7, 19, bytes.len() - 1] {
            assert!(
                DetectionSnapshot::decode(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        for at in [12, 25, bytes.len() - 6] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(DetectionSnapshot::decode(&bad).is_err(), "flip at {at}");
        }
        let mut other = bytes.clone();
        other[8] = 9;
        assert!(matches!(
            DetectionSnapshot::decode(&other),
            Err(SnapshotFileError::Version(9))
        ));
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert!(DetectionSnapshot::read(&path).unwrap().is_none());
        sample().write(&path).unwrap();
        assert_eq!(DetectionSnapshot::read(&path).unwrap(), Some(sample()));
        assert!(!path.with_extension("snapshot.tmp").exists());
    }
}
