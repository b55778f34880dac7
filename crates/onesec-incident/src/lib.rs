//! Alerts in, incidents out.
//!
//! Detection produces [`Alert`]s (a rule fired, with the events that made it and the entities
//! they name). The [`Grouper`] gathers alerts about the same people or devices — or, for
//! alerts that name nobody, the same site or zone — that are close in event time into one
//! [`Incident`], whose domain (physical / cyber / hybrid) and priority follow from its alerts;
//! a repeating alarm is counted instead of grouped again (flood control), and people merge
//! and split incidents by hand ([`ManualOp`]). The [`Case`] beside each
//! incident is what people add (priority 1–5, category, owner team, assignee, SLA due dates,
//! escalation); [`HistoryEntry`] records who changed what and when.
//!
//! **Architecture invariant:** this crate holds no I/O and no clock. It is deterministic: the
//! same alerts in the same order give the same incidents with the same ids, which is what makes
//! a replay of the journal after a crash converge on exactly the incidents it had before.

mod alert;
mod case;
mod changes;
mod grouper;
mod incident;

pub use alert::{Alert, AlertStatus, Entities};
pub use case::{
    Case, Category, HistoryEntry, Priority, PriorityError, Risk, Route, RouteRule, SlaPolicy,
};
pub use changes::Changes;
pub use grouper::{Change, GroupError, Grouper, GrouperConfig, ManualOp};
pub use incident::{Incident, IncidentState, StateError};

/// A short, stable, lower-case hex digest (FNV-1a 64) used to derive ids from other ids.
pub fn stable_hash(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
