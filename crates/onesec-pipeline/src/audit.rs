//! The pipeline's side of the audit log: what it records, when it signs, and how it catches up
//! with the journal after a crash.
//!
//! Ingest appends one `ingest.batch` entry per journaled batch, after the journal append (so an
//! entry never names events that are not durable). A crash between the two leaves journaled
//! events without an entry; on start, [`Audit::reconcile`] appends a `journal.recovered` entry
//! for them, with the Merkle root of their journal payloads, so every event id stays covered.

use crate::config::AuditConfig;
use onesec_audit::{AuditError, AuditLog, Checkpoint, Entry, EventProof, IngestBatch, Witness};
use onesec_journal::{Journal, JournalReader};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What [`Audit::incident_proofs`] found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IncidentProofs {
    /// The signed tree head every proof leads to.
    pub checkpoint: Checkpoint,
    /// The audit public key (hex) that checks the checkpoint and the bundle's signature.
    pub public_key: String,
    /// One inclusion proof per event.
    pub events: Vec<EventProof>,
    /// Events without a proof, with the reason.
    pub unproven: Vec<(u64, String)>,
    /// Inclusion proofs of the audit entries about the incident (who did what, when).
    pub entries: Vec<onesec_audit::InclusionProof>,
}

/// The audit log, shared by ingest, the API and the checkpoint thread.
pub struct Audit {
    log: Mutex<AuditLog>,
    stop: AtomicBool,
    /// The highest event id an entry covered when the log was opened.
    covered_at_open: u64,
}

/// SHA-256 in hex.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

impl Audit {
    /// Opens `<data>/audit`.
    pub(crate) fn open(config: &AuditConfig, data: &Path) -> Result<Arc<Audit>, AuditError> {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let witness = Witness {
            file: non_empty(&config.witness_file).map(PathBuf::from),
            url: non_empty(&config.witness_url),
        };
        let (mut log, report) = AuditLog::open(&data.join("audit"), witness)?;
        let spooled = log.absorb_spool()?;
        tracing::info!(
            leaves = report.leaves,
            torn_bytes = report.torn_bytes,
            spooled,
            "audit log opened"
        );
        Ok(Arc::new(Audit {
            log: Mutex::new(log),
            stop: AtomicBool::new(false),
            covered_at_open: report.covered_upto,
        }))
    }

    fn with_log<T>(&self, f: impl FnOnce(&mut AuditLog) -> T) -> T {
        match self.log.lock() {
            Ok(mut log) => f(&mut log),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Appends an entry; a failure is logged (the action itself has happened).
    pub fn record(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        let entry = Entry {
            time_ms: crate::ingest::now_ms(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail,
        };
        if let Err(error) = self.with_log(|log| log.append(&entry)) {
            tracing::error!(%error, action, "audit entry not written");
        }
    }

    /// Records a journaled batch.
    pub(crate) fn record_batch(&self, batch: IngestBatch) {
        let detail = serde_json::to_value(&batch).unwrap_or_default();
        self.record("onesec", "ingest.batch", &batch.input, detail);
    }

    /// Takes the entries other processes spooled (`onesec export`...), then signs a
    /// checkpoint now.
    pub fn checkpoint(&self) -> Result<Checkpoint, AuditError> {
        self.with_log(|log| {
            if let Err(error) = log.absorb_spool() {
                tracing::error!(%error, "spooled audit entries not taken");
            }
            log.checkpoint(crate::ingest::now_ms())
        })
    }

    /// The audit folder.
    pub fn dir(&self) -> PathBuf {
        self.with_log(|log| log.dir().to_path_buf())
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        self.with_log(|log| hex::encode(log.public_key().to_bytes()))
    }

    /// The proof that event `id` was ingested as it is stored, under the newest checkpoint
    /// (signed now if entries were added since the last one).
    pub fn prove_event(&self, journal: &Journal, id: u64) -> Result<EventProof, AuditError> {
        // Signing first (a no-op when nothing was added since the last checkpoint) lets the
        // log be read once.
        self.checkpoint()?;
        let contents = onesec_audit::read_contents(&self.dir())?;
        let (_, batch) = contents
            .batch_of(id)
            .ok_or_else(|| AuditError::NotFound(format!("no audited batch holds event {id}")))?;
        let payloads =
            read_payloads(journal, batch.first_id, batch.last_id).map_err(AuditError::NotFound)?;
        contents.prove_event(id, &payloads)
    }

    /// Signs a document (an incident bundle) with the audit key (`onesec_audit::sign_document`).
    pub fn sign_document(&self, document: &[u8]) -> String {
        self.with_log(|log| log.sign_document(document))
    }

    /// The proofs an incident export carries, under one checkpoint (signed now if entries
    /// were added since the last one): the inclusion proof of every event in `event_ids` that
    /// an audited batch holds, and of every audit entry `about` selects (the actions on the
    /// incident). The log is read once; events it cannot prove are listed with the reason.
    pub fn incident_proofs(
        &self,
        journal: &Journal,
        event_ids: &[u64],
        about: impl Fn(&Entry) -> bool,
    ) -> Result<IncidentProofs, AuditError> {
        let checkpoint = self.checkpoint()?;
        let contents = onesec_audit::read_contents(&self.dir())?;
        let batches = contents.batches();
        let mut proofs = IncidentProofs {
            checkpoint,
            public_key: self.public_key_hex(),
            events: Vec::new(),
            unproven: Vec::new(),
            entries: Vec::new(),
        };
        let mut payloads: Option<(u64, Vec<Vec<u8>>)> = None;
        for &id in event_ids {
            let found = batches
                .iter()
                .rev()
                .find(|(_, b)| (b.first_id..=b.last_id).contains(&id));
            let Some((index, batch)) = found else {
                proofs
                    .unproven
                    .push((id, "no audited batch holds it".into()));
                continue;
            };
            if payloads
                .as_ref()
                .is_none_or(|(first, _)| *first != batch.first_id)
            {
                match read_payloads(journal, batch.first_id, batch.last_id) {
                    Ok(read) => payloads = Some((batch.first_id, read)),
                    Err(reason) => {
                        proofs.unproven.push((id, reason));
                        continue;
                    }
                }
            }
            let batch_payloads = payloads.as_ref().map_or(&[][..], |(_, p)| p.as_slice());
            match contents.prove_event_in(*index, batch, id, batch_payloads) {
                Ok(proof) => proofs.events.push(proof),
                Err(error) => proofs.unproven.push((id, error.to_string())),
            }
        }
        for (index, bytes) in contents.entries.iter().enumerate() {
            let Ok(entry) = serde_json::from_slice::<Entry>(bytes) else {
                continue;
            };
            if about(&entry)
                && let Ok(proof) = contents.prove_leaf(index)
            {
                proofs.entries.push(proof);
            }
        }
        Ok(proofs)
    }

    /// Covers journal records no entry names (a crash between journal and audit append).
    pub(crate) fn reconcile(&self, journal: &Journal) -> Result<(), String> {
        let covered = self.covered_at_open;
        let last = journal.last_sequence();
        let first = (covered + 1).max(journal.first_sequence());
        if first > last {
            return Ok(());
        }
        let payloads = read_payloads(journal, first, last)?;
        let batch = IngestBatch {
            input: "journal".into(),
            format: "journal".into(),
            raw_sha256: sha256_hex(&payloads.iter().map(Vec::as_slice).collect::<Vec<_>>()),
            first_id: first,
            last_id: last,
            events_root: hex::encode(onesec_audit::events_root(&payloads)),
        };
        tracing::warn!(
            first,
            last,
            "audit: journaled events without an entry; recorded now"
        );
        let detail = serde_json::to_value(&batch).unwrap_or_default();
        self.record("onesec", "journal.recovered", "journal", detail);
        Ok(())
    }

    /// Signs a checkpoint every `interval` until [`Audit::stop`].
    pub(crate) fn start_checkpoints(self: &Arc<Self>, interval: Duration) {
        let audit = self.clone();
        let spawned = std::thread::Builder::new()
            .name("onesec-audit".into())
            .spawn(move || {
                let step = Duration::from_millis(100);
                let mut waited = Duration::ZERO;
                while !audit.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited >= interval {
                        waited = Duration::ZERO;
                        if let Err(error) = audit.checkpoint() {
                            tracing::error!(%error, "audit checkpoint failed");
                        }
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "audit checkpoint thread not started");
        }
    }

    /// Stops the checkpoint thread and signs a last checkpoint.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Err(error) = self.checkpoint() {
            tracing::error!(%error, "final audit checkpoint failed");
        }
    }
}

/// The journal payloads of records `first..=last`.
pub fn read_payloads(journal: &Journal, first: u64, last: u64) -> Result<Vec<Vec<u8>>, String> {
    read_range(journal, &mut None, first, last)
}

/// The journal payloads of each range `first..=last`, in the order given. Ranges are read in
/// ascending order with one reader, reopened only for a range that starts behind it: opening
/// a reader scans its segment from the start, so a reader per range (one per audited batch)
/// would cost O(ranges × segment size).
pub fn read_payload_ranges(
    journal: &Journal,
    ranges: &[(u64, u64)],
) -> Vec<Result<Vec<Vec<u8>>, String>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i]);
    let mut results: Vec<Result<Vec<Vec<u8>>, String>> = vec![Ok(Vec::new()); ranges.len()];
    let mut reader = None;
    for i in order {
        let (first, last) = ranges[i];
        results[i] = read_range(journal, &mut reader, first, last);
    }
    results
}

/// Reads `first..=last` with `reader` (opened or reopened as needed; dropped after an error).
fn read_range(
    journal: &Journal,
    reader: &mut Option<JournalReader>,
    first: u64,
    last: u64,
) -> Result<Vec<Vec<u8>>, String> {
    let result = read_range_with(journal, reader, first, last);
    if result.is_err() {
        *reader = None;
    }
    result
}

fn read_range_with(
    journal: &Journal,
    slot: &mut Option<JournalReader>,
    first: u64,
    last: u64,
) -> Result<Vec<Vec<u8>>, String> {
    let reader = match slot {
        Some(reader) if reader.next_sequence() <= first => reader,
        _ => slot.insert(journal.reader(first).map_err(|e| e.to_string())?),
    };
    let mut payloads = Vec::new();
    while reader.next_sequence() <= last {
        match reader.try_next().map_err(|e| e.to_string())? {
            Some((seq, payload)) if seq >= first => payloads.push(payload),
            Some(_) => {}
            None => return Err(format!("journal ends before record {last}")),
        }
    }
    Ok(payloads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use onesec_journal::JournalConfig;

    #[test]
    fn ranges_in_any_order_read_their_own_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(JournalConfig::new(dir.path())).unwrap();
        let payloads: Vec<Vec<u8>> = (1..=10).map(|i| format!("p{i}").into_bytes()).collect();
        journal.append_batch(payloads).unwrap();
        let ranges = [(7, 9), (1, 2), (2, 4), (10, 11)];
        let read = read_payload_ranges(&journal, &ranges);
        let text = |r: &Result<Vec<Vec<u8>>, String>| -> Vec<String> {
            r.as_ref()
                .unwrap()
                .iter()
                .map(|p| String::from_utf8(p.clone()).unwrap())
                .collect()
        };
        assert_eq!(text(&read[0]), ["p7", "p8", "p9"]);
        assert_eq!(text(&read[1]), ["p1", "p2"]);
        assert_eq!(
            text(&read[2]),
            ["p2", "p3", "p4"],
            "a range behind the reader reopens it"
        );
        assert!(
            read[3]
                .as_ref()
                .unwrap_err()
                .contains("ends before record 11")
        );
    }
}
