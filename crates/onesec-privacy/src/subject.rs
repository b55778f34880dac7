//! Data subject requests (GDPR Art. 15 and 17): everything onesec holds about one person, and
//! the erasure of what it may erase.
//!
//! A person is the directory id events were resolved to (`people.csv` `person_id`): the store
//! indexes every event resolved to a person, so the export and the erasure find exactly those.
//! Events the directory could not resolve to the person (an account or badge it did not know at
//! the time) are not found; docs/privacy.md says so.

use std::collections::BTreeMap;

use onesec_event::{Event, EventId};
use onesec_journal::Journal;
use onesec_store::{EventFilter, IncidentFilter, LegalHold, Retention, Store};
use serde::Serialize;

use crate::policy::{CATEGORIES, RetentionSettings, category_of};
use crate::retention::{JournalCompaction, RetentionError, compact_journal, ranges};

/// An incident that names the person, as the export lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentMention {
    /// Incident id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Life-cycle state.
    pub state: String,
    /// First and last event time (UTC ms).
    pub first_ms: i64,
    /// Last event time (UTC ms).
    pub last_ms: i64,
    /// Whether it is under legal hold.
    pub legal_hold: bool,
}

/// How long one category of the person's events is kept, as the live configuration says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryHeld {
    /// Data category.
    pub category: String,
    /// What it says about a person.
    pub meaning: String,
    /// Events of the person in it.
    pub events: u64,
    /// Oldest and newest event time (UTC ms).
    pub first_ms: i64,
    /// Newest event time (UTC ms).
    pub last_ms: i64,
    /// The periods that apply to the person's events of this category (`90 days by rule 2`,
    /// `kept by default`), each once.
    pub kept: Vec<String>,
}

/// Everything held about a person (the machine-readable export).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectExport {
    /// The person's directory id.
    pub person: String,
    /// When the export was made (UTC ms).
    pub generated_ms: i64,
    /// The directory's record of the person, when the directory was at hand.
    pub directory: Option<serde_json::Value>,
    /// The person's events per data category, with how long each is kept.
    pub categories: Vec<CategoryHeld>,
    /// Incidents that name the person.
    pub incidents: Vec<IncidentMention>,
    /// Every event resolved to the person, in event-time order.
    pub events: Vec<Event>,
}

/// What an erasure found and did: the detail of its `privacy.erase` audit entry (ids and
/// counts; the person only as a hash).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErasureReport {
    /// SHA-256 (hex) of the person's directory id: the audit log proves the request was
    /// carried out without naming the person.
    pub subject_sha256: String,
    /// Why (the request's reference).
    pub reason: String,
    /// True when nothing was removed.
    pub dry_run: bool,
    /// Events resolved to the person.
    pub found: u64,
    /// Events kept because an incident under legal hold cites them.
    pub kept_for_legal_hold: u64,
    /// Events removed (or that would be).
    pub removed: u64,
    /// The removed ids as consecutive ranges.
    pub removed_ids: Vec<(EventId, EventId)>,
    /// Incidents that name the person: kept (incident records are not erased; see
    /// docs/privacy.md).
    pub incidents_naming: Vec<String>,
    /// Journal segments deleted afterwards.
    pub journal: Option<JournalCompaction>,
}

/// Every event resolved to `person`, in event-time order.
pub fn events_of<S: Store + ?Sized>(store: &S, person: &str) -> Result<Vec<Event>, RetentionError> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events(&EventFilter {
            person: Some(person.to_string()),
            after_id: Some(after),
            limit: Some(10_000),
            ..EventFilter::default()
        })?;
        let Some(last) = page.last() else { break };
        after = last.id;
        events.extend(page);
    }
    events.sort_by_key(|e| (e.time_ms, e.id));
    Ok(events)
}

/// The incidents whose entities name `person`, most recent first.
fn incidents_naming<S: Store + Retention + ?Sized>(
    store: &S,
    person: &str,
) -> Result<Vec<IncidentMention>, RetentionError> {
    let holds: Vec<LegalHold> = store.legal_holds()?;
    let all = store.incidents(&IncidentFilter {
        all: true,
        limit: Some(i64::MAX as usize),
        ..IncidentFilter::default()
    })?;
    Ok(all
        .into_iter()
        .filter(|i| i.entities.persons.contains(person))
        .map(|i| IncidentMention {
            legal_hold: holds.iter().any(|h| h.incident_id == i.id),
            id: i.id,
            title: i.title,
            state: i.state.as_str().to_string(),
            first_ms: i.first_ms,
            last_ms: i.last_ms,
        })
        .collect())
}

/// Everything held about `person`; `directory` is the directory's record, when at hand.
pub fn export<S: Store + Retention + ?Sized>(
    store: &S,
    person: &str,
    directory: Option<serde_json::Value>,
    settings: &RetentionSettings,
    now_ms: i64,
) -> Result<SubjectExport, RetentionError> {
    let events = events_of(store, person)?;
    Ok(SubjectExport {
        person: person.to_string(),
        generated_ms: now_ms,
        directory,
        categories: categories(&events, settings),
        incidents: incidents_naming(store, person)?,
        events,
    })
}

fn categories(events: &[Event], settings: &RetentionSettings) -> Vec<CategoryHeld> {
    let mut out: BTreeMap<&str, CategoryHeld> = BTreeMap::new();
    for event in events {
        let category = category_of(event.class);
        let entry = out.entry(category).or_insert_with(|| CategoryHeld {
            category: category.to_string(),
            meaning: CATEGORIES
                .iter()
                .find(|(name, _, _)| *name == category)
                .map(|(_, _, meaning)| meaning.to_string())
                .unwrap_or_default(),
            events: 0,
            first_ms: event.time_ms,
            last_ms: event.time_ms,
            kept: Vec::new(),
        });
        entry.events += 1;
        entry.first_ms = entry.first_ms.min(event.time_ms);
        entry.last_ms = entry.last_ms.max(event.time_ms);
        let period = settings.period(event);
        let kept = match period.days {
            Some(days) => format!("{days} days by {}", period.source),
            None => format!("kept by {}", period.source),
        };
        if !entry.kept.contains(&kept) {
            entry.kept.push(kept);
        }
    }
    out.into_values().collect()
}

/// The export as text for the person: what, how much, since when, how long it is kept, then
/// every event on one line.
pub fn render_text(export: &SubjectExport, format_ms: impl Fn(i64) -> String) -> String {
    let mut out = format!(
        "Personal data held by onesec about {}\nas of {}\n\n",
        export.person,
        format_ms(export.generated_ms)
    );
    if let Some(record) = &export.directory {
        out.push_str("Directory record\n");
        if let Some(fields) = record.as_object() {
            for (key, value) in fields {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("Events: {}\n", export.events.len()));
    for c in &export.categories {
        out.push_str(&format!(
            "  {} ({}): {} events from {} to {}; {}\n",
            c.category,
            c.meaning,
            c.events,
            format_ms(c.first_ms),
            format_ms(c.last_ms),
            c.kept.join(", ")
        ));
    }
    out.push_str(&format!(
        "\nIncidents naming the person: {}\n",
        export.incidents.len()
    ));
    for i in &export.incidents {
        let hold = if i.legal_hold {
            ", under legal hold"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {} {} ({}{hold}), {} to {}\n",
            i.id,
            i.title,
            i.state,
            format_ms(i.first_ms),
            format_ms(i.last_ms)
        ));
    }
    out.push_str("\nEvery event\n");
    for e in &export.events {
        let place = [
            e.resolved.site.as_deref(),
            e.resolved.zone.as_deref(),
            e.physical.portal.as_deref(),
            e.host.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
        out.push_str(&format!(
            "  {}  {} {}  {}\n",
            format_ms(e.time_ms),
            e.class.as_str(),
            e.activity.as_str(),
            place
        ));
    }
    out
}

/// Erases the events resolved to `person` except those an incident under legal hold cites;
/// then, given the journal, deletes the segments that held them. `dry_run`: only counts.
pub fn erase<S: Store + Retention + ?Sized>(
    store: &mut S,
    journal: Option<&Journal>,
    person: &str,
    reason: &str,
    now_ms: i64,
    dry_run: bool,
) -> Result<ErasureReport, RetentionError> {
    let events = events_of(store, person)?;
    let held = crate::retention::held_events(store)?;
    let mut erasable: Vec<EventId> = events
        .iter()
        .map(|e| e.id)
        .filter(|id| !held.contains(id))
        .collect();
    erasable.sort_unstable();
    let mut report = ErasureReport {
        subject_sha256: sha256_hex(person.as_bytes()),
        reason: reason.to_string(),
        dry_run,
        found: events.len() as u64,
        kept_for_legal_hold: (events.len() - erasable.len()) as u64,
        removed: erasable.len() as u64,
        removed_ids: ranges(&erasable),
        incidents_naming: incidents_naming(store, person)?
            .into_iter()
            .map(|i| i.id)
            .collect(),
        journal: None,
    };
    if dry_run {
        return Ok(report);
    }
    if !erasable.is_empty() {
        report.removed = store.remove_events(&erasable, "erasure", now_ms)?.len() as u64;
    }
    if let Some(journal) = journal {
        report.journal = compact_journal(store, journal)?;
    }
    Ok(report)
}

/// SHA-256 in hex (the subject's id in the audit log).
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
