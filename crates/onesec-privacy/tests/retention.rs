//! The retention job on a real store over a real journal, laid out as detection leaves them,
//! on SQLite and on PostgreSQL: it removes exactly the events whose period is over and no
//! incident protects, nothing an incident under legal hold cites, and (SQLite, whose file is
//! the data folder's) no byte of a removed event stays in the data folder below the journal's
//! new first record.

mod fixture;

use fixture::{
    EVENTS, NOW_MS, contains, data_folder, event, folder_bytes, journal_with_events, postgres,
    store_events, stored_ids,
};
use onesec_event::{Event, EventClass, EventId};
use onesec_journal::Journal;
use onesec_privacy::policy::DAY_MS;
use onesec_privacy::retention::JournalCompaction;
use onesec_privacy::{RetentionSettings, holds, run};
use onesec_store::{Retention, SqliteStore, Store};
use std::collections::BTreeSet;

fn settings() -> RetentionSettings {
    let text = r#"
        incident_days = 20
        [[rule]]
        category = "movements"
        site = "LYS"
        days = 10
        [[rule]]
        category = "movements"
        days = 30
        [[rule]]
        class = "video_analytics"
        days = 25
    "#;
    let settings: RetentionSettings = toml::from_str(text).unwrap();
    settings.validate().unwrap();
    settings
}

/// What the policy above says, written out by hand: logins are kept; badge events at LYS go
/// after 10 days, elsewhere after 30; camera events after 25.
fn expired_by_hand(e: &Event) -> bool {
    let days = match (e.class, e.resolved.site.as_deref()) {
        (EventClass::PhysicalAccess, Some("LYS")) => 10,
        (EventClass::PhysicalAccess, _) => 30,
        (EventClass::VideoAnalytics, _) => 25,
        _ => return false,
    };
    e.time_ms + days * DAY_MS <= NOW_MS
}

/// The behaviour on any store; returns the ids removed and what the journal did.
fn removes_exactly_what_expired<S: Store + Retention + ?Sized>(
    store: &mut S,
    journal: &Journal,
) -> (BTreeSet<EventId>, JournalCompaction) {
    holds::place(store, "held", "case 2026-14", "dpo", 1).unwrap();
    let settings = settings();

    let dry = run(store, Some(journal), &settings, NOW_MS, true).unwrap();
    assert_eq!(
        stored_ids(store).len() as u64,
        EVENTS,
        "a dry run removes nothing"
    );

    let report = run(store, Some(journal), &settings, NOW_MS, false).unwrap();
    let all: Vec<Event> = (1..=EVENTS).map(event).collect();
    let protected: BTreeSet<EventId> = [3, 5, 12, 57, 9].into();
    let expected_gone: BTreeSet<EventId> = all
        .iter()
        .filter(|e| expired_by_hand(e) && !protected.contains(&e.id))
        .map(|e| e.id)
        .collect();
    let expected_kept: BTreeSet<EventId> = (1..=EVENTS)
        .filter(|id| !expected_gone.contains(id))
        .collect();
    assert!(
        expected_gone.contains(&6) && expected_gone.contains(&8),
        "old incident: not protected"
    );
    assert_eq!(stored_ids(store), expected_kept);
    assert_eq!(report.removed, expected_gone.len() as u64);
    assert_eq!(
        dry.removed, report.removed,
        "the dry run announced the same"
    );
    assert_eq!(
        report.kept_for_legal_hold, 4,
        "3, 5, 12 and 57 expired but are held"
    );
    assert_eq!(
        report.kept_as_incident_evidence, 1,
        "9 is cited by a recent incident"
    );
    assert_eq!(store.event_index_problems().unwrap(), vec![]);

    // The journal let go of the segments that held removed events; the kept events of
    // those segments moved into the store and still read whole.
    let compaction = report.journal.clone().expect("segments were deleted");
    assert!(compaction.segments_removed > 0);
    assert_eq!(journal.first_sequence(), compaction.first_retained);
    let kept_events = store
        .events_by_ids(&expected_kept.iter().copied().collect::<Vec<_>>())
        .unwrap();
    let mut kept_events = kept_events;
    kept_events.sort_by_key(|e| e.id);
    let want: Vec<Event> = expected_kept.iter().map(|&id| event(id)).collect();
    assert_eq!(kept_events, want);
    (expected_gone, compaction)
}

#[test]
fn retention_removes_exactly_what_expired_and_nothing_held() {
    let dir = tempfile::tempdir().unwrap();
    let journal = data_folder(dir.path());
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    let (expected_gone, compaction) = removes_exactly_what_expired(&mut store, &journal);
    // No byte of a removed event below the journal's first record is left anywhere.
    drop(store);
    let bytes = folder_bytes(dir.path());
    let mut checked = 0;
    for id in expected_gone
        .iter()
        .filter(|&&id| id < compaction.first_retained)
    {
        assert!(
            !contains(&bytes, &format!("Name{id:04}Marker")),
            "name of {id}"
        );
        assert!(
            !contains(&bytes, &format!("subject-{id:04}")),
            "person id of {id}"
        );
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
    assert!(contains(&bytes, "Name0003Marker"), "held events stay");
}

fn second_run_and_lifted_hold<S: Store + Retention + ?Sized>(store: &mut S, journal: &Journal) {
    holds::place(store, "held", "case", "dpo", 1).unwrap();
    let settings = settings();
    run(store, Some(journal), &settings, NOW_MS, false).unwrap();
    let again = run(store, Some(journal), &settings, NOW_MS, false).unwrap();
    assert_eq!(again.removed, 0);
    assert_eq!(again.kept_for_legal_hold, 4);
    holds::lift(store, "held").unwrap();
    assert!(holds::lift(store, "held").is_err(), "not held any more");
    let freed = run(store, Some(journal), &settings, NOW_MS, false).unwrap();
    assert_eq!(freed.removed_ids, vec![(3, 3), (5, 5), (12, 12), (57, 57)]);
    assert!(holds::place(store, "nope", "case", "dpo", 1).is_err());
    assert!(holds::place(store, "recent", " ", "dpo", 1).is_err());
}

#[test]
fn a_second_run_finds_nothing_and_lifting_the_hold_frees_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let journal = data_folder(dir.path());
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    second_run_and_lifted_hold(&mut store, &journal);
}

#[test]
fn on_postgres_retention_removes_exactly_what_expired_and_nothing_held() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, positions) = journal_with_events(dir.path());
    let Some((_schema, mut store)) = postgres("privacy_retention", dir.path()) else {
        return;
    };
    store_events(&mut store, positions);
    let (_, compaction) = removes_exactly_what_expired(&mut store, &journal);
    assert!(
        store.journal_needed_from().unwrap().unwrap_or(u64::MAX) >= compaction.first_retained,
        "no block refers to a deleted segment"
    );
    assert_eq!(store.event_index_problems().unwrap(), vec![]);
}

#[test]
fn on_postgres_a_second_run_finds_nothing_and_lifting_the_hold_frees_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, positions) = journal_with_events(dir.path());
    let Some((_schema, mut store)) = postgres("privacy_second_run", dir.path()) else {
        return;
    };
    store_events(&mut store, positions);
    second_run_and_lifted_hold(&mut store, &journal);
}

#[test]
fn without_periods_nothing_expires() {
    let dir = tempfile::tempdir().unwrap();
    let journal = data_folder(dir.path());
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    let report = run(
        &mut store,
        Some(&journal),
        &RetentionSettings::default(),
        NOW_MS,
        false,
    )
    .unwrap();
    assert_eq!((report.removed, report.journal), (0, None));
    assert_eq!(stored_ids(&store).len() as u64, EVENTS);
}
