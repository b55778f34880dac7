//! Compliance evidence for ISO/IEC 27001:2022 Annex A, NIS2 and the GDPR.
//!
//! * [`catalogue`]: the controls (`compliance/controls.toml`, shipped and embedded) and the one
//!   spelling of a control id that rules, checks and steps are mapped to.
//! * [`mapping`]: which rules (Sigma tags such as `iso27001.7.2`, `nis2.21.2.b`), device checks
//!   and playbook steps (`step_extensions` … `controls`) serve which control.
//! * [`coverage`]: per control, what serves it and which alerts, incidents, findings,
//!   submissions and checkpoints of a period show it at work — and which controls have none.
//! * [`clock`]: regulatory deadlines of an incident marked NIS2-significant or a GDPR
//!   breach, in calendar time of the organisation's zone.
//! * [`draft`]: each report's required contents filled from the incident, edited by people.
//! * [`finding_history`]: when each hygiene finding was open, as evidence for past periods.
//! * [`exercise`]: drill results recorded as evidence that response is tested.
//! * [`db`]: marks, drafts, submissions, escalations and exercise results in
//!   `<data>/compliance.db`.
//!
//! **Architecture invariant:** no clock and no network: every function that depends on time
//! takes `now_ms`; the caller (the server) audits submissions and announces escalations.

pub mod catalogue;
pub mod clock;
pub mod coverage;
pub mod db;
pub mod draft;
pub mod exercise;
pub mod finding_history;
pub mod mapping;
pub mod period;

pub use catalogue::{Catalogue, CatalogueError, Control, Framework, canonical_id};
pub use clock::{ClockError, Deadline, DeadlineStatus, Mark, Regime, Stage, Submission, deadlines};
pub use coverage::{Coverage, CoverageStatus, EvidenceItem, EvidenceKind, Period, coverage};
pub use db::{ComplianceDb, DbError, Escalation, due_escalations};
pub use draft::{Draft, DraftError, DraftField, Facts, FieldSource};
pub use exercise::{ExerciseResult, InvalidResult};
pub use finding_history::{FindingRecord, FindingSpan, span_evidence};
pub use mapping::{Mapping, SourceKind};
pub use period::PeriodError;
