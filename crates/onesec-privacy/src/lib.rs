//! Privacy by design (docs/privacy.md): the platform's own data is personal data.
//!
//! * [`policy`]: the retention policy of `[privacy.retention]`, periods per event class, site
//!   and data category ([`policy::CATEGORIES`]), first matching rule wins.
//! * [`retention`]: the job that removes expired events from the store and then the journal
//!   segments that held them, keeping what a legal hold or a recent incident needs; its
//!   [`retention::RetentionReport`] is the detail of the `retention.removed` audit entry (ids
//!   and counts, never content, so the audit log stays verifiable and holds no removed data).
//! * [`incidents`]: which incidents a run removes with everything kept for them (finished,
//!   unheld, inactive for longer than `incident_days`) and which it keeps.
//! * [`holds`]: legal holds on incidents.
//! * [`records`]: the record of processing (GDPR Art. 30) from the live configuration,
//!   Markdown and JSON.
//! * [`access`]: who looked at a person's data, from the audit log's `privacy.lookup`,
//!   `privacy.export` and `export.ocsf` entries ([`policy::AccessSettings`] says which lookups
//!   need a reason).
//! * [`pseudonymisation`]: `[privacy.pseudonymisation]`, person identifiers replaced by keyed
//!   pseudonyms at ingest (the HMAC itself is `onesec_directory::pseudonym`'s).
//! * [`subject`]: data subject requests: everything held about a person (JSON and text), and
//!   the erasure of their events except what a legal hold keeps (`privacy.erase`, the person
//!   named in the audit log only by the SHA-256 of their id).
//!
//! **Architecture invariant:** store before journal. A journal segment is deleted only after
//! the store has removed the expired events and taken into its blocks the bodies of the events
//! it keeps, in committed transactions, and only when detection has processed every record of
//! the segment. The crate never decides what an event means: it reads class, site and time
//! of stored events through the [`onesec_store::Store`] and [`onesec_store::Retention`]
//! traits and leaves the audit entry to its caller.

pub mod access;
pub mod encryption;
pub mod holds;
pub mod incidents;
pub mod policy;
pub mod pseudonymisation;
pub mod records;
pub mod retention;
pub mod subject;

pub use encryption::{EncryptionError, EncryptionSettings};
pub use policy::{AccessSettings, PrivacySettings, RetentionRule, RetentionSettings};
pub use retention::{RetentionError, RetentionReport, run};

/// The audit action of a retention run that removed something.
pub const AUDIT_RETENTION: &str = "retention.removed";
/// The audit action of an erasure that removed something.
pub const AUDIT_ERASE: &str = "privacy.erase";
/// The audit action of an export of a person's data.
pub const AUDIT_EXPORT: &str = "privacy.export";
/// The audit action of a legal hold placed.
pub const AUDIT_HOLD: &str = "privacy.hold";
/// The audit action of a legal hold lifted.
pub const AUDIT_RELEASE: &str = "privacy.release";
