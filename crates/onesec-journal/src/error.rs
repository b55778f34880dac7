//! The journal's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while opening, appending to, reading or
/// trimming a journal. Messages say what failed, where, and why.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system I/O call failed.
    #[error("journal I/O error: cannot {op} {path}: {source}")]
    Io {
        /// What the journal was doing (e.g. "fsync", "open segment").
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A segment holds bytes that fail validation where no torn tail may be.
    #[error("journal segment {segment} is corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        /// The damaged segment file.
        segment: PathBuf,
        /// Byte offset within the file where the damage was detected.
        offset: u64,
        /// What exactly is wrong.
        reason: String,
    },

    /// Another process or `Journal` handle already has the directory open.
    #[error(
        "journal directory {dir} is already open by another process or Journal (lock file {dir}/LOCK is held)"
    )]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },

    /// The configuration cannot work.
    #[error("invalid journal configuration: {0}")]
    InvalidConfig(String),

    /// `append_batch` was called with no payloads.
    #[error("cannot append an empty batch: at least one payload is required")]
    EmptyBatch,

    /// A payload exceeds the format's per-record limit; nothing of the batch was written.
    #[error(
        "payload #{index} of the batch is {len} bytes, above the per-record limit of {max} bytes; nothing of the batch was written"
    )]
    RecordTooLarge {
        /// Index of the offending payload within the batch.
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// The limit ([`crate::MAX_PAYLOAD_LEN`]).
        max: usize,
    },

    /// The requested sequence has been removed by retention (or is 0).
    #[error(
        "sequence {requested} is not retained: the oldest retained sequence is {first_available}"
    )]
    SequenceUnavailable {
        /// The sequence that was asked for.
        requested: u64,
        /// The oldest sequence still on disk.
        first_available: u64,
    },

    /// An earlier write or fsync failed; the journal refuses further appends until reopened.
    #[error(
        "journal writer stopped after an I/O failure and accepts no more appends (reopen to recover): {0}"
    )]
    WriterFailed(String),

    /// The writer thread is gone (the journal is shutting down or the thread died).
    #[error("journal writer thread is no longer running; the request was not completed")]
    Closed,

    /// An encrypted segment whose key the journal was not given (no key ring at all, or one
    /// without that key): refused when the journal opens, before anything is read or written.
    #[error(
        "journal segment {segment} is encrypted with key {key}, {why}; configure [privacy.encryption] with that key (docs/privacy.md, \"Encryption at rest\")"
    )]
    KeyUnavailable {
        /// The segment file.
        segment: PathBuf,
        /// The key its header names.
        key: onesec_keys::KeyId,
        /// "but no key was given" or the ids the ring holds.
        why: String,
    },

    /// A record of an encrypted segment that does not authenticate with the key its header
    /// names: a wrong key that happens to share the id, or changed bytes with a matching CRC.
    #[error(
        "journal segment {segment}: record {sequence} at byte offset {offset} does not decrypt with key {key} (wrong key, or the record was altered)"
    )]
    Undecryptable {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the record's prefix.
        offset: u64,
        /// Its sequence.
        sequence: u64,
        /// The key its header names.
        key: onesec_keys::KeyId,
    },

    /// Sealing a record failed (the OS random generator for a new writer's nonces).
    #[error("journal encryption failed: {0}")]
    Encryption(#[from] onesec_keys::KeyError),
}

impl JournalError {
    /// Builds an [`JournalError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`JournalError::Corrupt`].
    pub(crate) fn corrupt(
        segment: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        JournalError::Corrupt {
            segment: segment.into(),
            offset,
            reason: reason.into(),
        }
    }
}
