//! The audit folder and the log that appends to it.
//!
//! ```text
//! <audit>/
//!   leaves.bin          framed entries (see `entry`), the Merkle leaves in order
//!   checkpoints.jsonl   signed checkpoints, one JSON line each, sizes non-decreasing
//!   signing.key         Ed25519 seed (hex, mode 0600); absent from exported bundles
//!   signing.pub         public key (hex)
//! ```
//!
//! Durability: entries are written as they come and fsynced at each checkpoint, before the
//! checkpoint itself is written; a crash can lose at most the entries after the last
//! checkpoint, and a record cut by the crash is removed on the next open (and kept aside as
//! `leaves.bin.torn-<offset>`).

use crate::checkpoint::{self, Checkpoint};
use crate::entry::{self, Entry, Framed};
use crate::error::AuditError;
use crate::merkle::{self, Frontier, Hash};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The leaves file.
pub const LEAVES_FILE: &str = "leaves.bin";
/// The checkpoints file.
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";

/// Where checkpoints are also sent, so a log rebuilt with a stolen key is still caught.
#[derive(Debug, Clone, Default)]
pub struct Witness {
    /// Append each checkpoint as a JSON line to this file (outside the data folder).
    pub file: Option<PathBuf>,
    /// POST each checkpoint as JSON to this URL.
    pub url: Option<String>,
}

/// What the leaves file holds, read once.
pub(crate) struct Scan {
    /// Leaf hashes of the complete, undamaged records before the first problem.
    pub leaves: Vec<Hash>,
    /// Byte offset of each of those records.
    pub offsets: Vec<u64>,
    /// Where reading stopped and why (`None`: the file ended cleanly).
    pub stop: Option<(u64, ScanStop)>,
}

/// Why a scan stopped early.
pub(crate) enum ScanStop {
    Incomplete,
    Damaged(String),
}

pub(crate) fn scan(bytes: &[u8]) -> Scan {
    let mut scan = Scan {
        leaves: Vec::new(),
        offsets: Vec::new(),
        stop: None,
    };
    let mut at = 0usize;
    while at < bytes.len() {
        match entry::read_frame(&bytes[at..]) {
            Framed::Record { payload, len } => {
                scan.leaves.push(merkle::leaf_hash(payload));
                scan.offsets.push(at as u64);
                at += len;
            }
            Framed::Incomplete => {
                scan.stop = Some((at as u64, ScanStop::Incomplete));
                break;
            }
            Framed::Damaged(reason) => {
                scan.stop = Some((at as u64, ScanStop::Damaged(reason)));
                break;
            }
        }
    }
    scan
}

/// Reads `checkpoints.jsonl`; a line that is not a checkpoint is reported with its number.
pub(crate) fn read_checkpoints(dir: &Path) -> Result<Vec<Result<Checkpoint, String>>, AuditError> {
    let path = dir.join(CHECKPOINTS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AuditError::io("read", &path)(e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(|e| e.to_string()))
        .collect())
}

/// The append side of the audit log. One per audit folder (the pipeline holds it behind a
/// mutex).
pub struct AuditLog {
    dir: PathBuf,
    file: File,
    leaves: Vec<Hash>,
    frontier: Frontier,
    key: SigningKey,
    last: Option<Checkpoint>,
    witness: Witness,
    unsynced: bool,
}

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenReport {
    /// Leaves in the log.
    pub leaves: u64,
    /// Bytes of an incomplete last record that were cut (a crash during a write).
    pub torn_bytes: u64,
    /// The highest event id an ingested-batch entry covers (0: none), found from the end of
    /// the log, so the caller can cover journaled events a crash left without an entry.
    pub covered_upto: u64,
}

impl AuditLog {
    /// Opens (creating) the audit folder. Refuses a log whose records are damaged or that
    /// no longer matches its last checkpoint.
    pub fn open(dir: &Path, witness: Witness) -> Result<(AuditLog, OpenReport), AuditError> {
        fs::create_dir_all(dir).map_err(AuditError::io("create", dir))?;
        let key = checkpoint::load_or_create_key(dir)?;
        let path = dir.join(LEAVES_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(AuditError::io("read", &path)(e)),
        };
        let scan = scan(&bytes);
        let mut report = OpenReport {
            leaves: scan.leaves.len() as u64,
            torn_bytes: 0,
            covered_upto: last_covered_event(&bytes, &scan.offsets),
        };
        match &scan.stop {
            None => {}
            Some((offset, ScanStop::Incomplete)) => {
                report.torn_bytes = cut_torn_tail(&path, &bytes, *offset)?;
            }
            Some((offset, ScanStop::Damaged(reason))) => {
                return Err(tampered(
                    dir,
                    format!("leaf {} (byte {offset})", scan.leaves.len()),
                    reason.clone(),
                ));
            }
        }
        let last = read_checkpoints(dir)?.into_iter().last().transpose();
        let last = last.map_err(|reason| tampered(dir, "checkpoints.jsonl".into(), reason))?;
        if let Some(cp) = &last {
            check_against(dir, cp, &scan.leaves, &key.verifying_key())?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(AuditError::io("open", &path))?;
        let mut frontier = Frontier::default();
        for leaf in &scan.leaves {
            frontier.push(*leaf);
        }
        let log = AuditLog {
            dir: dir.to_path_buf(),
            file,
            leaves: scan.leaves,
            frontier,
            key,
            last,
            witness,
            unsynced: false,
        };
        Ok((log, report))
    }

    /// Appends an entry, sealed when the process has a key ring (encryption at rest, see
    /// `entry`); returns its leaf index.
    pub fn append(&mut self, entry: &Entry) -> Result<u64, AuditError> {
        let ring = onesec_keys::installed();
        let payload = entry
            .to_stored_payload(ring.as_deref())
            .map_err(|e| AuditError::Seal(e.to_string()))?;
        self.append_payload(payload)
    }

    /// Appends a stored payload as it is (a spooled entry already sealed by its writer).
    pub(crate) fn append_payload(&mut self, payload: Vec<u8>) -> Result<u64, AuditError> {
        let mut framed = Vec::with_capacity(payload.len() + entry::FRAME_HEADER);
        entry::frame(&payload, &mut framed);
        self.file
            .write_all(&framed)
            .map_err(AuditError::io("append to", &self.dir.join(LEAVES_FILE)))?;
        let leaf = merkle::leaf_hash(&payload);
        self.leaves.push(leaf);
        self.frontier.push(leaf);
        self.unsynced = true;
        Ok(self.frontier.size() - 1)
    }

    /// Makes the entries durable and signs the current tree head (unless nothing was added
    /// since the last checkpoint); sends it to the witness.
    pub fn checkpoint(&mut self, time_ms: i64) -> Result<Checkpoint, AuditError> {
        if let Some(last) = self.last.as_ref().filter(|c| c.size == self.size()) {
            return Ok(last.clone());
        }
        if self.unsynced {
            self.file
                .sync_data()
                .map_err(AuditError::io("sync", &self.dir.join(LEAVES_FILE)))?;
            self.unsynced = false;
        }
        let cp = Checkpoint::sign(&self.key, self.size(), &self.frontier.root(), time_ms);
        let path = self.dir.join(CHECKPOINTS_FILE);
        append_line(&path, &cp, true)?;
        self.send_to_witness(&cp);
        self.last = Some(cp.clone());
        Ok(cp)
    }

    /// Appends to the witness file and POSTs to the witness URL. The POST runs on its own
    /// thread, so a slow witness neither holds the log nor blocks an async caller.
    fn send_to_witness(&self, cp: &Checkpoint) {
        if let Some(path) = &self.witness.file
            && let Err(error) = append_line(path, cp, true)
        {
            tracing::error!(%error, "audit witness file not written");
        }
        if let Some(url) = self.witness.url.clone() {
            let cp = cp.clone();
            let posted = std::thread::Builder::new()
                .name("onesec-witness".into())
                .spawn(move || post_to_witness(&url, &cp));
            if let Err(error) = posted {
                tracing::error!(%error, "audit witness thread not started");
            }
        }
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The last checkpoint, if any.
    pub fn last_checkpoint(&self) -> Option<&Checkpoint> {
        self.last.as_ref()
    }

    /// Signs a document (an exported incident bundle) with the checkpoint key
    /// ([`crate::sign_document`]).
    pub fn sign_document(&self, document: &[u8]) -> String {
        crate::sign_document(&self.key, document)
    }

    /// The public key that checks this log's checkpoints.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The audit folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Walks the entries back from the newest to the first batch entry: usually a few entries, not
/// the whole log.
fn last_covered_event(bytes: &[u8], offsets: &[u64]) -> u64 {
    offsets
        .iter()
        .rev()
        .find_map(
            |offset| match entry::read_frame(&bytes[*offset as usize..]) {
                Framed::Record { payload, .. } => serde_json::from_slice::<Entry>(payload)
                    .ok()?
                    .ingest_batch()
                    .map(|batch| batch.last_id),
                _ => None,
            },
        )
        .unwrap_or(0)
}

fn tampered(dir: &Path, position: String, reason: String) -> AuditError {
    AuditError::Tampered {
        dir: dir.to_path_buf(),
        position,
        reason,
    }
}

/// The last checkpoint must be signed by our key and match the tree at its size.
fn check_against(
    dir: &Path,
    cp: &Checkpoint,
    leaves: &[Hash],
    key: &VerifyingKey,
) -> Result<(), AuditError> {
    let position = format!("checkpoint of size {}", cp.size);
    cp.verify(key)
        .map_err(|reason| tampered(dir, position.clone(), reason))?;
    let size = usize::try_from(cp.size).unwrap_or(usize::MAX);
    if size > leaves.len() {
        let reason = format!("the log holds only {} leaves", leaves.len());
        return Err(tampered(dir, position, reason));
    }
    if Some(merkle::root(&leaves[..size])) != cp.root_hash() {
        let reason = "the leaves no longer hash to its root".to_string();
        return Err(tampered(dir, position, reason));
    }
    Ok(())
}

/// Cuts an incomplete last record, keeping its bytes aside; returns how many were cut.
fn cut_torn_tail(path: &Path, bytes: &[u8], offset: u64) -> Result<u64, AuditError> {
    let torn = &bytes[offset as usize..];
    let aside = path.with_extension(format!("bin.torn-{offset}"));
    fs::write(&aside, torn).map_err(AuditError::io("write", &aside))?;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(AuditError::io("open", path))?;
    file.set_len(offset)
        .and_then(|()| file.sync_all())
        .map_err(AuditError::io("truncate", path))?;
    tracing::warn!(
        offset,
        bytes = torn.len(),
        "audit log: cut an incomplete last record"
    );
    Ok(torn.len() as u64)
}

fn post_to_witness(url: &str, cp: &Checkpoint) {
    let result = reqwest::blocking::Client::new()
        .post(url)
        .json(cp)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .and_then(|r| r.error_for_status());
    if let Err(error) = result {
        tracing::error!(%error, %url, "audit witness not reached");
    }
}

fn append_line(path: &Path, cp: &Checkpoint, sync: bool) -> Result<(), AuditError> {
    let mut line = serde_json::to_vec(cp).unwrap_or_default();
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(AuditError::io("open", path))?;
    file.write_all(&line)
        .map_err(AuditError::io("append to", path))?;
    if sync {
        file.sync_data().map_err(AuditError::io("sync", path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, last_id: u64) -> Entry {
        Entry {
            time_ms: 1,
            actor: "onesec".into(),
            action: action.into(),
            target: String::new(),
            detail: serde_json::json!({
                "input": "http", "format": "auto", "raw_sha256": "", "first_id": 1,
                "last_id": last_id, "events_root": "",
            }),
        }
    }

    #[test]
    fn reopening_finds_the_last_covered_event_behind_later_actions() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, report) = AuditLog::open(dir.path(), Witness::default()).unwrap();
        assert_eq!(report.covered_upto, 0);
        log.append(&entry("ingest.batch", 10)).unwrap();
        log.append(&entry("journal.recovered", 30)).unwrap();
        log.append(&entry("incident.state", 99)).unwrap();
        drop(log);
        let (_, report) = AuditLog::open(dir.path(), Witness::default()).unwrap();
        assert_eq!((report.leaves, report.covered_upto), (3, 30));
    }
}
