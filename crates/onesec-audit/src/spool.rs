//! Entries from other processes: the spool.
//!
//! Only the process that holds the log (`onesec up`, through the pipeline) appends to
//! `leaves.bin`. A command that acts on the data folder on its own (`onesec export`, `onesec
//! audit export`) leaves its entry as one file in `<audit>/spool/`; the log takes the spooled
//! entries in name order (time first) when it opens and before each checkpoint, appends them
//! and removes the files. A file that is not an entry is renamed `<name>.refused` and an
//! `audit.spool_refused` entry says so.
//!
//! A spooled entry is protected once appended and covered by the next checkpoint; until then
//! it can be removed unnoticed, like any entry after the last checkpoint.

use crate::entry::Entry;
use crate::error::AuditError;
use crate::log::AuditLog;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The spool folder inside the audit folder.
pub const SPOOL_DIR: &str = "spool";

/// Leaves `entry` in `<audit>/spool/` for the log to append; returns the file.
pub fn spool_entry(audit_dir: &Path, entry: &Entry) -> Result<PathBuf, AuditError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = audit_dir.join(SPOOL_DIR);
    fs::create_dir_all(&dir).map_err(AuditError::io("create", &dir))?;
    let name = format!(
        "{:020}-{}-{}.json",
        entry.time_ms.max(0),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    // Sealed like the log's own entries when encryption is on: a spooled entry waits in the
    // data folder too.
    let ring = onesec_keys::installed();
    let payload = entry
        .to_stored_payload(ring.as_deref())
        .map_err(|e| AuditError::Seal(e.to_string()))?;
    fs::write(&partial, payload).map_err(AuditError::io("write", &partial))?;
    fs::rename(&partial, &path).map_err(AuditError::io("rename", &partial))?;
    Ok(path)
}

impl AuditLog {
    /// Appends the spooled entries (oldest first) and removes their files; returns how many
    /// entries were taken.
    pub fn absorb_spool(&mut self) -> Result<usize, AuditError> {
        let dir = self.dir().join(SPOOL_DIR);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(AuditError::io("read", &dir)(e)),
        };
        let mut files: Vec<PathBuf> = listing
            .filter_map(|item| item.ok().map(|i| i.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
            })
            .collect();
        files.sort();
        let mut taken = 0;
        for file in files {
            let bytes = fs::read(&file).map_err(AuditError::io("read", &file))?;
            match serde_json::from_slice::<Entry>(&bytes) {
                Ok(_) if crate::entry::is_sealed_payload(&bytes) => {
                    // Sealed by its writer: appended byte for byte, no key needed.
                    self.append_payload(bytes)?;
                    taken += 1;
                    fs::remove_file(&file).map_err(AuditError::io("remove", &file))?;
                }
                Ok(entry) => {
                    self.append(&entry)?;
                    taken += 1;
                    fs::remove_file(&file).map_err(AuditError::io("remove", &file))?;
                }
                Err(error) => {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    tracing::warn!(%error, file = %file.display(), "spooled audit entry refused");
                    let refused = file.with_file_name(format!("{name}.refused"));
                    fs::rename(&file, &refused).map_err(AuditError::io("rename", &file))?;
                    self.append(&Entry {
                        time_ms: 0,
                        actor: "onesec".into(),
                        action: "audit.spool_refused".into(),
                        target: name,
                        detail: serde_json::json!({ "reason": error.to_string() }),
                    })?;
                }
            }
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Witness;

    fn entry(time_ms: i64, action: &str) -> Entry {
        Entry {
            time_ms,
            actor: "cli:alice".into(),
            action: action.into(),
            target: "out.jsonl".into(),
            detail: serde_json::json!({"events": 3}),
        }
    }

    #[test]
    fn spooled_entries_are_appended_in_time_order_and_bad_ones_are_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let (mut log, _) = AuditLog::open(&dir, Witness::default()).unwrap();
        spool_entry(&dir, &entry(20, "export.audit")).unwrap();
        spool_entry(&dir, &entry(10, "export.ocsf")).unwrap();
        fs::write(dir.join(SPOOL_DIR).join("0-bad.json"), "not an entry").unwrap();
        assert_eq!(log.absorb_spool().unwrap(), 2);
        assert_eq!(log.size(), 3);
        let names: Vec<String> = fs::read_dir(dir.join(SPOOL_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0-bad.json.refused"]);
        log.checkpoint(30).unwrap();
        drop(log);
        let contents = crate::read_contents(&dir).unwrap();
        let actions: Vec<String> = contents
            .entries
            .iter()
            .map(|b| serde_json::from_slice::<Entry>(b).unwrap().action)
            .collect();
        assert_eq!(
            actions,
            ["audit.spool_refused", "export.ocsf", "export.audit"]
        );
        assert!(crate::verify_dir(&dir, None, None).unwrap().is_ok());
    }
}
