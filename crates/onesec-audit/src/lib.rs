//! The tamper-evident audit log.
//!
//! Every ingested batch (the SHA-256 of its raw bytes, its event ids and a Merkle root over its
//! journal payloads) and every human or automated action is an [`Entry`], appended as a leaf of
//! an RFC 9162 Merkle tree ([`merkle`]). At intervals the tree head is signed with Ed25519
//! ([`Checkpoint`]) and optionally sent to a witness outside the data folder. [`verify_dir`]
//! checks a folder or exported bundle offline; [`LogContents`] builds inclusion proofs that a
//! third party checks with the public key alone. The on-disk format is specified in
//! `docs/audit-format.md`.
//!
//! What it catches: a changed, removed, inserted or reordered leaf (the roots of later
//! checkpoints no longer match), a changed or forged checkpoint (signature), a truncation
//! (a checkpoint covers leaves that are gone), history rewritten between two checkpoints
//! (consistency proof), and, with a witness, a log rebuilt and re-signed by someone holding
//! the key (the witness's checkpoints no longer match). What it cannot catch: entries
//! appended after the last checkpoint and removed before the next one, so the checkpoint
//! interval bounds what an attacker can silently drop.

pub mod checkpoint;
mod document;
pub mod entry;
mod error;
mod log;
pub mod merkle;
mod spool;
mod verify;

pub use checkpoint::{Checkpoint, load_public_key, parse_public_key};
pub use document::{document_signed_bytes, sign_document, verify_document};
pub use entry::{Entry, IngestBatch, PayloadError, is_sealed_payload, open_payload, sealed_key};
pub use error::AuditError;
pub use log::{AuditLog, CHECKPOINTS_FILE, LEAVES_FILE, OpenReport, Witness};
pub use spool::{SPOOL_DIR, spool_entry};
pub use verify::{
    EventProof, InclusionProof, LogContents, Problem, VerifyReport, events_root, read_contents,
    verify_dir,
};
