//! The retention job: finds the events whose period is over, keeps those an incident still
//! needs or a legal hold protects, removes the rest from the store, then the incidents whose
//! period is over (`crate::incidents`) with everything kept for them, then lets the journal
//! drop the segments that held the removed events.
//!
//! Order matters (ARCHITECTURE.md, store invariant): the store removes its events and takes
//! the bodies it still needs out of the journal in committed transactions *before* any journal
//! segment is deleted, and only segments whose records detection has fully processed are
//! deleted. A crash in between leaves segments nobody needs, which the next run deletes; a
//! restart never detects removed events again because detection stores only events above
//! `detected_upto`.

use std::collections::{BTreeMap, HashSet};

use onesec_event::EventId;
use onesec_journal::Journal;
use onesec_store::{EventFilter, RemovedIncidentRows, Retention, Store};
use serde::Serialize;

use crate::incidents::{Fate, fates, orphaned_manual_ops};
use crate::policy::{DAY_MS, RetentionSettings, category_of};

/// A retention run that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The store failed.
    #[error("retention: {0}")]
    Store(#[from] onesec_store::StoreError),
    /// The journal failed while deleting segments (the store part is committed).
    #[error("retention: deleting journal segments: {0}")]
    Journal(#[from] onesec_journal::JournalError),
}

/// What one run found and did: the detail of its `retention.removed` audit entry. It names
/// ids and counts only, never the content that was removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RetentionReport {
    /// The moment periods were counted back from (UTC ms).
    pub as_of_ms: i64,
    /// True when nothing was removed (a dry run).
    pub dry_run: bool,
    /// Events old enough that some period could be over.
    pub examined: u64,
    /// Events whose period is over.
    pub expired: u64,
    /// Expired events kept because an incident under legal hold cites them.
    pub kept_for_legal_hold: u64,
    /// Expired events kept because an incident still within `incident_days` cites them.
    pub kept_as_incident_evidence: u64,
    /// Events removed (or, in a dry run, that would be).
    pub removed: u64,
    /// Removed events per setting that decided (`rule 2`, `default_days`).
    pub removed_by_setting: BTreeMap<String, u64>,
    /// Removed events per data category.
    pub removed_by_category: BTreeMap<String, u64>,
    /// The removed ids as consecutive ranges.
    pub removed_ids: Vec<(EventId, EventId)>,
    /// Event time of the newest removed event (UTC ms).
    pub newest_removed_ms: Option<i64>,
    /// Device address and name changes removed.
    pub device_changes_removed: u64,
    /// Incidents removed (or, in a dry run, that would be), by id: finished, not held and
    /// inactive for longer than `incident_days`.
    pub incidents_removed: Vec<String>,
    /// What their removal took with them, rows per table (zero in a dry run).
    pub incident_rows_removed: RemovedIncidentRows,
    /// Incidents past `incident_days` kept because they are still open.
    pub incidents_kept_open: u64,
    /// Incidents past `incident_days` (or finished) kept because a legal hold is on them.
    pub incidents_kept_for_legal_hold: u64,
    /// Alerts that belong to no incident removed after `incident_days`.
    pub unattached_alerts_removed: u64,
    /// What happened to the journal (None: not touched).
    pub journal: Option<JournalCompaction>,
}

/// Journal segments deleted by a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JournalCompaction {
    /// The journal's first retained sequence afterwards: every record below it is gone.
    pub first_retained: EventId,
    /// Segments deleted.
    pub segments_removed: usize,
    /// Kept events whose bodies moved from those segments into the store.
    pub bodies_moved: u64,
}

/// Events incidents still need, and why.
#[derive(Debug, Default)]
pub struct Protected {
    /// Cited by an incident under legal hold.
    pub held: HashSet<EventId>,
    /// Cited by an incident within `incident_days` (or any incident, when that is not set).
    pub evidence: HashSet<EventId>,
}

/// Every event an incident cites (its alerts' events and its event evidence), sorted by why
/// it must stay; expired incidents (`crate::incidents`) protect nothing.
pub fn protected<S: Store + Retention + ?Sized>(
    store: &S,
    settings: &RetentionSettings,
    now_ms: i64,
) -> Result<Protected, RetentionError> {
    protected_by(store, &fates(store, settings, now_ms)?)
}

fn protected_by<S: Store + ?Sized>(
    store: &S,
    fates: &[(onesec_incident::Incident, Fate)],
) -> Result<Protected, RetentionError> {
    let mut out = Protected::default();
    for (incident, fate) in fates {
        let into = match fate {
            Fate::Held => &mut out.held,
            Fate::Open | Fate::Recent => &mut out.evidence,
            Fate::Expired => continue,
        };
        into.extend(cited_events(store, &incident.id)?);
    }
    Ok(out)
}

/// Every event an incident under legal hold cites.
pub fn held_events<S: Store + Retention + ?Sized>(
    store: &S,
) -> Result<HashSet<EventId>, RetentionError> {
    let mut held = HashSet::new();
    for hold in store.legal_holds()? {
        held.extend(cited_events(store, &hold.incident_id)?);
    }
    Ok(held)
}

/// The events an incident's alerts and evidence name.
pub fn cited_events<S: Store + ?Sized>(
    store: &S,
    incident: &str,
) -> Result<Vec<EventId>, RetentionError> {
    let mut ids: Vec<EventId> = store
        .alerts(Some(incident), usize::MAX >> 1)?
        .into_iter()
        .flat_map(|a| a.event_ids)
        .collect();
    ids.extend(
        store
            .evidence(incident)?
            .into_iter()
            .filter_map(|e| e.event_id),
    );
    Ok(ids)
}

/// Finds what expired as of `now_ms`; removes it unless `dry_run`; then, given the journal,
/// deletes the segments no longer needed.
pub fn run<S: Store + Retention + ?Sized>(
    store: &mut S,
    journal: Option<&Journal>,
    settings: &RetentionSettings,
    now_ms: i64,
    dry_run: bool,
) -> Result<RetentionReport, RetentionError> {
    let mut report = RetentionReport {
        as_of_ms: now_ms,
        dry_run,
        ..RetentionReport::default()
    };
    let fates = fates(store, settings, now_ms)?;
    let expired = expired_events(store, settings, now_ms, &fates, &mut report)?;
    report.removed = expired.len() as u64;
    report.removed_ids = ranges(&expired);
    count_incidents(settings, now_ms, &fates, &mut report);
    if dry_run {
        return Ok(report);
    }
    if !expired.is_empty() {
        let removed = store.remove_events(&expired, "retention", now_ms)?;
        report.removed = removed.len() as u64;
    }
    remove_incidents(store, settings, now_ms, &fates, &mut report)?;
    if let Some(days) = settings.device_history_days {
        report.device_changes_removed =
            store.remove_device_changes_before(now_ms - i64::from(days) * DAY_MS)?;
    }
    if let Some(journal) = journal {
        report.journal = compact_journal(store, journal)?;
    }
    tracing::info!(
        removed = report.removed,
        held = report.kept_for_legal_hold,
        incidents_removed = report.incidents_removed.len(),
        "retention run"
    );
    Ok(report)
}

impl RetentionReport {
    /// Whether the run removed anything (what makes it worth an audit entry).
    pub fn changed_anything(&self) -> bool {
        self.removed > 0
            || self.device_changes_removed > 0
            || self.journal.is_some()
            || self.incident_rows_removed.total() > 0
            || self.unattached_alerts_removed > 0
    }
}

/// Lists the expired incidents and counts those kept past `incident_days` only because they
/// are open or held.
fn count_incidents(
    settings: &RetentionSettings,
    now_ms: i64,
    fates: &[(onesec_incident::Incident, Fate)],
    report: &mut RetentionReport,
) {
    let Some(days) = settings.incident_days else {
        return;
    };
    let old = |i: &onesec_incident::Incident| i.last_ms + i64::from(days) * DAY_MS <= now_ms;
    for (incident, fate) in fates {
        match fate {
            Fate::Expired => report.incidents_removed.push(incident.id.clone()),
            Fate::Open if old(incident) => report.incidents_kept_open += 1,
            Fate::Held if old(incident) || !incident.state.is_open() => {
                report.incidents_kept_for_legal_hold += 1
            }
            _ => {}
        }
    }
    report.incidents_removed.sort_unstable();
}

/// Removes the expired incidents with every row kept for them, the merges and splits by hand
/// that named only them, and the alerts of no incident past `incident_days`.
fn remove_incidents<S: Store + Retention + ?Sized>(
    store: &mut S,
    settings: &RetentionSettings,
    now_ms: i64,
    fates: &[(onesec_incident::Incident, Fate)],
    report: &mut RetentionReport,
) -> Result<(), RetentionError> {
    let Some(days) = settings.incident_days else {
        return Ok(());
    };
    if !report.incidents_removed.is_empty() {
        let kept: HashSet<&str> = fates
            .iter()
            .filter(|(_, fate)| *fate != Fate::Expired)
            .map(|(i, _)| i.id.as_str())
            .collect();
        let ops = orphaned_manual_ops(store, &kept)?;
        report.incident_rows_removed = store.remove_incidents(&report.incidents_removed, &ops)?;
    }
    report.unattached_alerts_removed =
        store.remove_unattached_alerts_before(now_ms - i64::from(days) * DAY_MS)?;
    Ok(())
}

/// Ids of the events whose period is over and that no incident protects, ascending; fills
/// the report's counts.
fn expired_events<S: Store + Retention + ?Sized>(
    store: &S,
    settings: &RetentionSettings,
    now_ms: i64,
    fates: &[(onesec_incident::Incident, Fate)],
    report: &mut RetentionReport,
) -> Result<Vec<EventId>, RetentionError> {
    let Some(shortest) = settings.shortest_days() else {
        return Ok(Vec::new());
    };
    let protected = protected_by(store, fates)?;
    let mut expired = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events(&EventFilter {
            after_id: Some(after),
            to_ms: Some(now_ms - i64::from(shortest) * DAY_MS),
            limit: Some(10_000),
            ..EventFilter::default()
        })?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for event in &page {
            report.examined += 1;
            let period = settings.period(event);
            let Some(days) = period.days else { continue };
            if event.time_ms + i64::from(days) * DAY_MS > now_ms {
                continue;
            }
            report.expired += 1;
            if protected.held.contains(&event.id) {
                report.kept_for_legal_hold += 1;
                continue;
            }
            if protected.evidence.contains(&event.id) {
                report.kept_as_incident_evidence += 1;
                continue;
            }
            *report.removed_by_setting.entry(period.source).or_default() += 1;
            *report
                .removed_by_category
                .entry(category_of(event.class).to_string())
                .or_default() += 1;
            report.newest_removed_ms = report.newest_removed_ms.max(Some(event.time_ms));
            expired.push(event.id);
        }
    }
    expired.sort_unstable();
    Ok(expired)
}

/// Deletes the journal segments up to the last one (short of the segment being written) that
/// holds a removed event, once detection has processed all of them: the bodies of the events
/// the store keeps from those segments move into the store first. None when no segment needs
/// to go.
pub fn compact_journal<S: Store + Retention + ?Sized>(
    store: &mut S,
    journal: &Journal,
) -> Result<Option<JournalCompaction>, RetentionError> {
    let firsts = journal.segment_firsts();
    let Some(&active) = firsts.last() else {
        return Ok(None);
    };
    let first = journal.first_sequence();
    let highest_removed = store
        .removed_ranges()?
        .iter()
        .filter(|r| r.first_id < active && r.last_id >= first)
        .map(|r| r.last_id.min(active - 1))
        .max();
    let Some(highest) = highest_removed else {
        return Ok(None);
    };
    // The segment after the one holding `highest`: everything before it goes.
    let next = firsts
        .iter()
        .copied()
        .find(|&f| f > highest)
        .unwrap_or(active);
    let cut = next.min(store.detected_upto()?.saturating_add(1));
    let bodies_moved = store.take_bodies_before(cut)?;
    let limit = store
        .journal_needed_from()?
        .map_or(cut, |needed| needed.min(cut));
    let segments_removed = journal.truncate_before(limit)?;
    if segments_removed == 0 && bodies_moved == 0 {
        return Ok(None);
    }
    Ok(Some(JournalCompaction {
        first_retained: journal.first_sequence(),
        segments_removed,
        bodies_moved,
    }))
}

/// Consecutive runs of sorted, distinct ids.
pub fn ranges(ids: &[EventId]) -> Vec<(EventId, EventId)> {
    let mut out: Vec<(EventId, EventId)> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => out.push((id, id)),
        }
    }
    out
}
