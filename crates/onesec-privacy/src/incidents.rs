//! Which incidents a retention run keeps and which have expired (docs/privacy.md, "Incidents").
//!
//! An incident expires when `incident_days` is set, it is finished (resolved, closed,
//! withdrawn or merged: [`IncidentState::is_open`] is false), no legal hold is on it, and its
//! last activity — its last event, the last entry of its case's history, its last response
//! action, its playbook run's last save, the last evidence attached — is older than
//! `incident_days`. Open incidents never expire: a case still being worked on must not vanish
//! under the people working it, however old. A merged incident goes only with (or after) the
//! incident it was merged into, whose alerts it handed over.
//!
//! Decided here, the same for every backend; the store only deletes the rows
//! ([`Retention::remove_incidents`]).

use std::collections::HashSet;

use onesec_incident::{Incident, ManualOp};
use onesec_store::{IncidentFilter, Retention, Store, StoreError};

use crate::policy::{DAY_MS, RetentionSettings};

/// Why a retention run keeps an incident, or that it expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Under legal hold.
    Held,
    /// Still open (new, acknowledged, in progress, on hold).
    Open,
    /// Finished, but its last activity is within `incident_days` (or `incident_days` is not
    /// set: incidents are kept).
    Recent,
    /// Finished, unheld and inactive for longer than `incident_days`: removed.
    Expired,
}

/// Every incident the store holds with its fate as of `now_ms`.
pub fn fates<S: Store + Retention + ?Sized>(
    store: &S,
    settings: &RetentionSettings,
    now_ms: i64,
) -> Result<Vec<(Incident, Fate)>, StoreError> {
    let holds: HashSet<String> = store
        .legal_holds()?
        .into_iter()
        .map(|h| h.incident_id)
        .collect();
    let incidents = store.incidents(&IncidentFilter {
        all: true,
        limit: Some(i64::MAX as usize),
        ..IncidentFilter::default()
    })?;
    let mut out = Vec::with_capacity(incidents.len());
    for incident in incidents {
        let fate = if holds.contains(&incident.id) {
            Fate::Held
        } else if incident.state.is_open() {
            Fate::Open
        } else {
            match settings.incident_days {
                Some(days)
                    if last_activity(store, &incident)? + i64::from(days) * DAY_MS <= now_ms =>
                {
                    Fate::Expired
                }
                _ => Fate::Recent,
            }
        };
        out.push((incident, fate));
    }
    keep_merged_with_their_target(&mut out);
    Ok(out)
}

/// The latest moment anything happened to an incident: its last event, its case's history,
/// its response actions, its playbook run, its evidence (UTC ms).
pub fn last_activity<S: Store + ?Sized>(store: &S, incident: &Incident) -> Result<i64, StoreError> {
    let id = incident.id.as_str();
    let mut last = incident.last_ms;
    if let Some(entry) = store.history(id)?.last() {
        last = last.max(entry.at_ms);
    }
    if let Some(action) = store.actions(id)?.last() {
        last = last.max(action.at_ms);
    }
    if let Some(run) = store.run(id)? {
        last = last.max(run.updated_ms);
    }
    for item in store.evidence(id)? {
        last = last.max(item.added_ms);
    }
    Ok(last)
}

/// A merged incident handed its alerts to its target: it stays as long as the target does
/// (whatever keeps the target), following chains of merges.
fn keep_merged_with_their_target(fates: &mut [(Incident, Fate)]) {
    loop {
        let kept: HashSet<String> = fates
            .iter()
            .filter(|(_, fate)| *fate != Fate::Expired)
            .map(|(i, _)| i.id.clone())
            .collect();
        let mut changed = false;
        for (incident, fate) in fates.iter_mut() {
            let target_kept = incident
                .merged_into
                .as_ref()
                .is_some_and(|target| kept.contains(target));
            if *fate == Fate::Expired && target_kept {
                *fate = Fate::Recent;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// The numbers of the merges and splits by hand all of whose incidents are gone (`kept` holds
/// the incidents that stay): a rebuild of detection could not apply them again, and they
/// name who did them.
pub fn orphaned_manual_ops<S: Store + ?Sized>(
    store: &S,
    kept: &HashSet<&str>,
) -> Result<Vec<i64>, StoreError> {
    let gone = |id: &String| !kept.contains(id.as_str());
    Ok(store
        .manual_ops()?
        .into_iter()
        .filter(|record| match &record.op {
            ManualOp::Merge { from, into } => gone(from) && gone(into),
            ManualOp::Split {
                incident, new_id, ..
            } => gone(incident) && gone(new_id),
        })
        .map(|record| record.seq)
        .collect())
}
