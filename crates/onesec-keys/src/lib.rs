//! # onesec-keys
//!
//! Encryption at rest (`docs/privacy.md`, "Encryption at rest"). A stolen data folder without
//! the key must reveal no personal data, so everything onesec writes there that can hold some
//! is sealed with a key the folder does not contain:
//!
//! * the journal seals every record's payload ([`RecordKey::seal`], XChaCha20-Poly1305; the
//!   segment header names the key by its [`KeyId`], so keys can rotate segment by segment);
//! * the SQLite databases are SQLCipher files opened with [`KeyRing::sqlcipher_key`];
//! * exports written to files are sealed whole ([`seal_file`], the same AEAD in a small
//!   envelope of its own);
//! * the audit log seals the personal part of each entry ([`seal_audit`], the same envelope
//!   under its own subkey) and keeps in the clear only what verification needs.
//!
//! A [`KeyRing`] is read from a key file or an environment variable: one 256-bit key per
//! line as 64 hexadecimal digits, the **first** being the current key (what new data is
//! sealed with), the others older keys kept so that what they sealed stays readable until it
//! is rewritten or removed. Keys are never used directly: each use derives its own subkey
//! (`SHA-256(label ‖ key)`), so the journal, the databases and exports never share one.
//!
//! [`install`] makes one ring the process's: the journal's `JournalConfig::new` and the
//! SQLite store pick it up, so a command cannot forget to pass it and silently write in the
//! clear.

#![warn(missing_docs)]

mod ring;
mod seal;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use ring::{KEY_ENV, KEY_FILE_ENV, KeyId, KeyRing, generate_key_hex, install, installed};
pub use seal::{
    FILE_MAGIC, NonceSource, RecordKey, SEAL_OVERHEAD, Sealer, is_sealed_file, open_audit,
    open_file, seal_audit, seal_file,
};

use std::path::PathBuf;

/// Why a key could not be had or a sealed thing could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The key file is readable by other users than its owner.
    #[error(
        "the key file {path} is readable by group or others (mode {mode:o}); make it private: chmod 600 {path}"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line of the key file or variable is not a usable key.
    #[error("{source_name} line {line}: {reason}")]
    BadKey {
        /// The file or variable the key came from.
        source_name: String,
        /// 1-based line (or comma-separated item) number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The file or variable holds no key at all.
    #[error(
        "{0} holds no key (one key per line, 64 hexadecimal digits; `onesec privacy keygen` makes one)"
    )]
    Empty(String),
    /// Data sealed with a key the ring does not hold.
    #[error(
        "{what} was encrypted with key {id}, which is not in the key ring (keys held: {held}); give the key it was written with"
    )]
    UnknownKey {
        /// What could not be opened.
        what: String,
        /// The key it names.
        id: KeyId,
        /// The ids the ring holds.
        held: String,
    },
    /// Authentication failed: wrong key, or the bytes were changed.
    #[error("{0} does not decrypt: it was changed, or sealed with another key of the same id")]
    Tampered(String),
    /// Not a sealed file at all (or a truncated one).
    #[error("{0} is not an encrypted onesec file (no envelope header)")]
    NotSealed(String),
    /// More than the cipher can seal in one piece.
    #[error("{0} bytes are more than one sealed piece may hold")]
    TooLarge(usize),
    /// The OS random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}
