//! Errors of the audit log.

use std::path::{Path, PathBuf};

/// Why the audit log could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("audit log: cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not usable.
    #[error("audit log: key {path} is not usable: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The log's own records contradict each other: it was changed.
    #[error(
        "audit log in {dir} fails verification at {position}: {reason} (run `onesec audit verify` for the full report)"
    )]
    Tampered {
        /// The audit folder.
        dir: PathBuf,
        /// Leaf index or byte offset.
        position: String,
        /// What does not hold.
        reason: String,
    },
    /// An entry could not be sealed (encryption at rest).
    #[error("audit log: cannot encrypt an entry: {0}")]
    Seal(String),
    /// A proof was asked for something the log does not hold.
    #[error("audit log: {0}")]
    NotFound(String),
}

impl AuditError {
    /// An `Io` error constructor for `map_err`.
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| AuditError::Io {
            action,
            path,
            source,
        }
    }
}
