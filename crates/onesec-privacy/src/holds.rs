//! Legal holds on incidents: while an incident is held, no retention run or erasure removes
//! an event it cites (docs/privacy.md). Holding and lifting are audited by the caller
//! (`privacy.hold`, `privacy.release`).

use onesec_store::{LegalHold, Retention, Store};

/// A hold that cannot be placed or lifted.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// No such incident.
    #[error("no incident {0}")]
    NoIncident(String),
    /// A hold needs a reason (a case number, a request from counsel).
    #[error("a legal hold needs a reason")]
    NoReason,
    /// The incident is not held.
    #[error("incident {0} is not under legal hold")]
    NotHeld(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] onesec_store::StoreError),
}

/// Places a hold on an existing incident (restating it replaces reason, who and when).
pub fn place<S: Store + Retention + ?Sized>(
    store: &mut S,
    incident_id: &str,
    reason: &str,
    by: &str,
    now_ms: i64,
) -> Result<LegalHold, HoldError> {
    if reason.trim().is_empty() {
        return Err(HoldError::NoReason);
    }
    if store.incident(incident_id)?.is_none() {
        return Err(HoldError::NoIncident(incident_id.to_string()));
    }
    let hold = LegalHold {
        incident_id: incident_id.to_string(),
        reason: reason.trim().to_string(),
        placed_by: by.to_string(),
        placed_ms: now_ms,
    };
    store.place_legal_hold(&hold)?;
    Ok(hold)
}

/// Lifts the hold on an incident.
pub fn lift<S: Store + Retention + ?Sized>(
    store: &mut S,
    incident_id: &str,
) -> Result<(), HoldError> {
    if store.lift_legal_hold(incident_id)? {
        Ok(())
    } else {
        Err(HoldError::NotHeld(incident_id.to_string()))
    }
}
