//! Offline verification of an audit folder or exported bundle, and inclusion proofs.

use crate::checkpoint::{self, Checkpoint, parse_hash};
use crate::entry::{Entry, Framed, read_frame};
use crate::error::AuditError;
use crate::log::{self, CHECKPOINTS_FILE, LEAVES_FILE, ScanStop};
use crate::merkle::{self, Hash};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;

/// One thing that does not hold, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Where: `leaf N (byte B)`, `checkpoint K (size S)`, `witness line L`...
    pub position: String,
    /// What is wrong.
    pub what: String,
}

/// The outcome of [`verify_dir`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Complete, undamaged leaves read.
    pub leaves: u64,
    /// Checkpoints read.
    pub checkpoints: usize,
    /// Checkpoints whose signature and root hold.
    pub checkpoints_ok: usize,
    /// Witness checkpoints compared.
    pub witnessed: usize,
    /// Everything that does not hold; empty means the log verifies.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, position: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            position: position.into(),
            what: what.into(),
        });
    }
}

/// Checks every leaf, every checkpoint signature and root, the consistency of each checkpoint
/// with the one before, and (if given) every witness checkpoint. `key`: the public key to
/// trust; by default the folder's `signing.pub` (pass one obtained independently to rule out a
/// replaced key).
pub fn verify_dir(
    dir: &Path,
    key: Option<&VerifyingKey>,
    witness: Option<&Path>,
) -> Result<VerifyReport, AuditError> {
    let key = match key {
        Some(key) => *key,
        None => checkpoint::load_public_key(&dir.join(checkpoint::PUBLIC_KEY_FILE))?,
    };
    let path = dir.join(LEAVES_FILE);
    let bytes = fs::read(&path).map_err(AuditError::io("read", &path))?;
    let scan = log::scan(&bytes);
    let mut report = VerifyReport {
        leaves: scan.leaves.len() as u64,
        ..VerifyReport::default()
    };
    check_leaves(&bytes, &scan, &mut report);
    let checkpoints = log::read_checkpoints(dir)?;
    report.checkpoints = checkpoints.len();
    let mut roots = TreeRoots::new(&scan.leaves);
    let mut previous: Option<Checkpoint> = None;
    for (i, cp) in checkpoints.into_iter().enumerate() {
        let cp = match cp {
            Ok(cp) => cp,
            Err(reason) => {
                let position = format!("{CHECKPOINTS_FILE} line {}", i + 1);
                report.problem(position, format!("not a checkpoint: {reason}"));
                continue;
            }
        };
        let position = format!("checkpoint {} (size {})", i + 1, cp.size);
        if check_checkpoint(&cp, &key, &mut roots, &position, &mut report) {
            report.checkpoints_ok += 1;
        }
        if let Some(prev) = &previous {
            check_consistency(prev, &cp, &position, &mut report);
        }
        previous = Some(cp);
    }
    if let Some(witness) = witness {
        check_witness(witness, &key, &mut roots, &mut report)?;
    }
    Ok(report)
}

fn check_leaves(bytes: &[u8], scan: &log::Scan, report: &mut VerifyReport) {
    for (index, offset) in scan.offsets.iter().enumerate() {
        let Framed::Record { payload, .. } = read_frame(&bytes[*offset as usize..]) else {
            continue;
        };
        if let Err(e) = serde_json::from_slice::<Entry>(payload) {
            let position = format!("leaf {index} (byte {offset})");
            report.problem(position, format!("not an audit entry: {e}"));
        }
    }
    if let Some((offset, stop)) = &scan.stop {
        let position = format!("leaf {} (byte {offset})", scan.leaves.len());
        let what = match stop {
            ScanStop::Incomplete => "the file ends inside this record (truncated)".to_string(),
            ScanStop::Damaged(reason) => format!("damaged record: {reason}"),
        };
        report.problem(position, what);
    }
}

/// Signature, size and root of one checkpoint against the leaves; true when all hold.
fn check_checkpoint(
    cp: &Checkpoint,
    key: &VerifyingKey,
    roots: &mut TreeRoots<'_>,
    position: &str,
    report: &mut VerifyReport,
) -> bool {
    let leaves = roots.leaves;
    if let Err(reason) = cp.verify(key) {
        report.problem(position, reason);
        return false;
    }
    let Some(size) = usize::try_from(cp.size).ok().filter(|s| *s <= leaves.len()) else {
        let what = format!(
            "covers {} leaves but only {} can be read: leaves were removed or the log was truncated",
            cp.size,
            leaves.len()
        );
        report.problem(position, what);
        return false;
    };
    if Some(roots.root_at(size)) != cp.root_hash() {
        let what = format!(
            "the first {size} leaves do not hash to its root: a leaf was changed, removed, inserted or reordered{}",
            first_divergence_hint(report)
        );
        report.problem(position, what);
        return false;
    }
    true
}

fn first_divergence_hint(report: &VerifyReport) -> String {
    match report.problems.first() {
        Some(p) if p.position.starts_with("leaf") => format!(" (see {})", p.position),
        _ => String::new(),
    }
}

/// Each checkpoint must extend the one before. (Their roots are each recomputed from the same
/// leaves, which is stronger than an RFC 9162 consistency proof between them; proofs are for
/// parties without the leaves: [`LogContents::consistency`].)
fn check_consistency(
    prev: &Checkpoint,
    cp: &Checkpoint,
    position: &str,
    report: &mut VerifyReport,
) {
    if cp.size < prev.size {
        let what = format!("is smaller than the checkpoint before it ({})", prev.size);
        report.problem(position, what);
    } else if cp.time_ms < prev.time_ms {
        let what = format!(
            "is older than the checkpoint before it ({} ms)",
            prev.time_ms
        );
        report.problem(position, what);
    }
}

/// Every checkpoint the witness received must be signed and match the log at its size.
fn check_witness(
    path: &Path,
    key: &VerifyingKey,
    roots: &mut TreeRoots<'_>,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    let text = fs::read_to_string(path).map_err(AuditError::io("read", path))?;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let position = format!("witness {} line {}", path.display(), i + 1);
        match serde_json::from_str::<Checkpoint>(line) {
            Ok(cp) => {
                report.witnessed += 1;
                check_checkpoint(&cp, key, roots, &position, report);
            }
            Err(e) => report.problem(position, format!("not a checkpoint: {e}")),
        }
    }
    Ok(())
}

/// Roots of the tree at growing sizes in one pass over the leaves, so checking every
/// checkpoint of a log costs O(leaves), not O(leaves × checkpoints).
struct TreeRoots<'a> {
    leaves: &'a [Hash],
    frontier: merkle::Frontier,
}

impl<'a> TreeRoots<'a> {
    fn new(leaves: &'a [Hash]) -> Self {
        TreeRoots {
            leaves,
            frontier: merkle::Frontier::default(),
        }
    }

    /// The root of the first `size` leaves (`size <= leaves.len()`); a smaller size than the
    /// last one asked for starts the pass again.
    fn root_at(&mut self, size: usize) -> Hash {
        if (size as u64) < self.frontier.size() {
            self.frontier = merkle::Frontier::default();
        }
        let from = self.frontier.size() as usize;
        for leaf in &self.leaves[from..size] {
            self.frontier.push(*leaf);
        }
        self.frontier.root()
    }
}

/// Proof that an entry is leaf `leaf_index` of the tree a signed checkpoint commits to.
/// Checkable with the public key alone ([`InclusionProof::verify`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's position.
    pub leaf_index: u64,
    /// The entry's bytes (the Merkle leaf), as text.
    pub entry: String,
    /// Sibling hashes from the leaf up (hex), RFC 9162 §2.1.3.
    pub audit_path: Vec<String>,
    /// The signed tree head the path leads to.
    pub checkpoint: Checkpoint,
}

impl InclusionProof {
    /// Checks the path and the checkpoint signature.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        self.checkpoint.verify(key)?;
        let root = self.checkpoint.root_hash().ok_or("bad root")?;
        let path = parse_path(&self.audit_path)?;
        let leaf = merkle::leaf_hash(self.entry.as_bytes());
        if merkle::verify_inclusion(&leaf, self.leaf_index, self.checkpoint.size, &path, &root) {
            Ok(())
        } else {
            Err("the audit path does not lead from the entry to the checkpoint's root".into())
        }
    }
}

/// Proof that one ingested event's journal payload is part of an audited batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventProof {
    /// The event id (journal sequence).
    pub event_id: u64,
    /// The journal payload of the event, as text (the event JSON as journaled, `"id":0`).
    pub payload: String,
    /// Sibling hashes from the payload to the batch's `events_root` (hex).
    pub batch_path: Vec<String>,
    /// The batch entry's inclusion in the log.
    pub batch: InclusionProof,
}

impl EventProof {
    /// Checks the payload's path to the batch's `events_root`, then the batch's inclusion.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        self.batch.verify(key)?;
        let entry: Entry = serde_json::from_str(&self.batch.entry).map_err(|e| e.to_string())?;
        let batch = entry
            .ingest_batch()
            .ok_or("the entry is not an ingest batch")?;
        if !(batch.first_id..=batch.last_id).contains(&self.event_id) {
            return Err("the event id is outside the batch".into());
        }
        let root = parse_hash(&batch.events_root).ok_or("bad events_root")?;
        let path = parse_path(&self.batch_path)?;
        let leaf = merkle::leaf_hash(self.payload.as_bytes());
        let index = self.event_id - batch.first_id;
        let size = batch.last_id - batch.first_id + 1;
        if merkle::verify_inclusion(&leaf, index, size, &path, &root) {
            Ok(())
        } else {
            Err("the payload is not the batch's event at that position".into())
        }
    }
}

fn parse_path(path: &[String]) -> Result<Vec<Hash>, String> {
    path.iter()
        .map(|h| parse_hash(h).ok_or_else(|| format!("{h:?} is not a hash")))
        .collect()
}

/// Entries of an audit folder with their leaf hashes, read for proofs.
pub struct LogContents {
    /// The entries as clear JSON, in leaf order: sealed entries opened with the process's
    /// key ring; without it (or with a ring that lacks their key) what they keep in the clear
    /// (time, action, the detail keys verification reads, and the `sealed` member).
    pub entries: Vec<Vec<u8>>,
    /// The payloads as stored (the Merkle leaves), in leaf order.
    pub stored: Vec<Vec<u8>>,
    /// Their leaf hashes.
    pub leaves: Vec<Hash>,
    /// The last checkpoint.
    pub checkpoint: Option<Checkpoint>,
}

/// Reads an audit folder for proofs (the log should verify first).
pub fn read_contents(dir: &Path) -> Result<LogContents, AuditError> {
    let path = dir.join(LEAVES_FILE);
    let bytes = fs::read(&path).map_err(AuditError::io("read", &path))?;
    let scan = log::scan(&bytes);
    let stored: Vec<Vec<u8>> = scan
        .offsets
        .iter()
        .filter_map(|o| match read_frame(&bytes[*o as usize..]) {
            Framed::Record { payload, .. } => Some(payload.to_vec()),
            _ => None,
        })
        .collect();
    let ring = onesec_keys::installed();
    let mut unopened = 0usize;
    let entries = stored
        .iter()
        .map(|payload| {
            if !crate::entry::is_sealed_payload(payload) {
                return payload.clone();
            }
            match crate::entry::open_payload(payload, ring.as_deref()) {
                Ok(entry) => entry.to_payload(),
                Err(_) => {
                    unopened += 1;
                    payload.clone()
                }
            }
        })
        .collect();
    if unopened > 0 {
        tracing::warn!(
            unopened,
            "audit entries are encrypted and were not opened (no key, or not the key they were sealed with): only their clear part is shown"
        );
    }
    let checkpoint = log::read_checkpoints(dir)?
        .into_iter()
        .filter_map(Result::ok)
        .next_back();
    Ok(LogContents {
        entries,
        stored,
        leaves: scan.leaves,
        checkpoint,
    })
}

impl LogContents {
    /// The inclusion proof of leaf `index` under the last checkpoint.
    pub fn prove_leaf(&self, index: usize) -> Result<InclusionProof, AuditError> {
        let checkpoint = self
            .checkpoint
            .clone()
            .ok_or_else(|| AuditError::NotFound("no checkpoint has been signed yet".into()))?;
        let size = usize::try_from(checkpoint.size).unwrap_or(usize::MAX);
        if index >= size || size > self.leaves.len() {
            return Err(AuditError::NotFound(format!(
                "leaf {index} is not covered by the last checkpoint (size {}); wait for the next one",
                checkpoint.size
            )));
        }
        Ok(InclusionProof {
            leaf_index: index as u64,
            entry: String::from_utf8_lossy(&self.stored[index]).into_owned(),
            audit_path: merkle::inclusion_path(index, &self.leaves[..size])
                .iter()
                .map(hex::encode)
                .collect(),
            checkpoint,
        })
    }

    /// The RFC 9162 consistency proof from the tree of `old_size` leaves to the last
    /// checkpoint, for a witness that kept an older checkpoint and not the leaves.
    pub fn consistency(&self, old_size: u64) -> Result<(Vec<String>, Checkpoint), AuditError> {
        let checkpoint = self
            .checkpoint
            .clone()
            .ok_or_else(|| AuditError::NotFound("no checkpoint has been signed yet".into()))?;
        let size = usize::try_from(checkpoint.size).unwrap_or(usize::MAX);
        let old = usize::try_from(old_size).unwrap_or(usize::MAX);
        if old == 0 || old > size || size > self.leaves.len() {
            return Err(AuditError::NotFound(format!(
                "no consistency proof from size {old_size} to {}",
                checkpoint.size
            )));
        }
        let proof = merkle::consistency_proof(old, &self.leaves[..size]);
        Ok((proof.iter().map(hex::encode).collect(), checkpoint))
    }

    /// The ingest batch holding event `id`: its leaf index and facts.
    pub fn batch_of(&self, id: u64) -> Option<(usize, crate::entry::IngestBatch)> {
        self.entries.iter().enumerate().find_map(|(i, bytes)| {
            let entry: Entry = serde_json::from_slice(bytes).ok()?;
            let batch = entry.ingest_batch()?;
            (batch.first_id..=batch.last_id)
                .contains(&id)
                .then_some((i, batch))
        })
    }

    /// The proof for event `id`, given the journal payloads of its whole batch in order.
    pub fn prove_event(
        &self,
        id: u64,
        batch_payloads: &[Vec<u8>],
    ) -> Result<EventProof, AuditError> {
        let (index, batch) = self
            .batch_of(id)
            .ok_or_else(|| AuditError::NotFound(format!("no audited batch holds event {id}")))?;
        self.prove_event_in(index, &batch, id, batch_payloads)
    }

    /// Every ingest batch with its leaf index, in leaf order (to find many events' batches
    /// with one pass over the log instead of one per event).
    pub fn batches(&self) -> Vec<(usize, crate::entry::IngestBatch)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, bytes)| {
                let entry: Entry = serde_json::from_slice(bytes).ok()?;
                Some((i, entry.ingest_batch()?))
            })
            .collect()
    }

    /// The proof for event `id` of the batch entry at leaf `index` (from [`Self::batches`]),
    /// given the journal payloads of the whole batch in order.
    pub fn prove_event_in(
        &self,
        index: usize,
        batch: &crate::entry::IngestBatch,
        id: u64,
        batch_payloads: &[Vec<u8>],
    ) -> Result<EventProof, AuditError> {
        if !(batch.first_id..=batch.last_id).contains(&id) {
            return Err(AuditError::NotFound(format!(
                "event {id} is not in the batch {}..={}",
                batch.first_id, batch.last_id
            )));
        }
        let hashes: Vec<Hash> = batch_payloads
            .iter()
            .map(|p| merkle::leaf_hash(p))
            .collect();
        if Some(merkle::root(&hashes)) != parse_hash(&batch.events_root) {
            return Err(AuditError::NotFound(format!(
                "the journal records {}..={} no longer hash to the audited events_root",
                batch.first_id, batch.last_id
            )));
        }
        let position = (id - batch.first_id) as usize;
        if position >= batch_payloads.len() {
            return Err(AuditError::NotFound(format!("no payload for event {id}")));
        }
        Ok(EventProof {
            event_id: id,
            payload: String::from_utf8_lossy(&batch_payloads[position]).into_owned(),
            batch_path: merkle::inclusion_path(position, &hashes)
                .iter()
                .map(hex::encode)
                .collect(),
            batch: self.prove_leaf(index)?,
        })
    }
}

/// The `events_root` of a batch: the Merkle root over its journal payloads in order.
pub fn events_root(payloads: &[Vec<u8>]) -> Hash {
    let hashes: Vec<Hash> = payloads.iter().map(|p| merkle::leaf_hash(p)).collect();
    merkle::root(&hashes)
}
