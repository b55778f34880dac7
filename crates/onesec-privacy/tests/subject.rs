//! Data subject requests on a real store and journal: the export holds every event resolved to
//! the person, with how long each category is kept and the incidents naming them; the erasure
//! removes them except what a legal hold keeps, and no byte of an erased event stays below the
//! journal's new first record.

mod fixture;

use fixture::{
    contains, data_folder, event, folder_bytes, journal_with_events, postgres, store_events,
    stored_ids,
};
use onesec_event::EventId;
use onesec_journal::Journal;
use onesec_privacy::subject::{erase, export, render_text};
use onesec_privacy::{RetentionSettings, holds};
use onesec_store::{Retention, SqliteStore, Store};

/// Erin's events in the fixture: every 40th from 17.
fn erins() -> Vec<EventId> {
    (17..=400).step_by(40).collect()
}

#[test]
fn the_export_holds_every_event_of_the_person_and_how_long_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let _journal = data_folder(dir.path());
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    holds::place(&mut store, "held", "case", "dpo", 1).unwrap();
    let settings: RetentionSettings =
        toml::from_str("default_days = 365\n[[rule]]\ncategory = \"movements\"\ndays = 30")
            .unwrap();
    let record = serde_json::json!({ "id": "erin", "name": "Erin Example" });
    let export = export(&store, "erin", Some(record), &settings, 99).unwrap();
    let mut ids: Vec<EventId> = export.events.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, erins());
    assert!(
        export
            .events
            .iter()
            .all(|e| e.resolved.person.as_ref().unwrap().id == "erin")
    );
    let total: u64 = export.categories.iter().map(|c| c.events).sum();
    assert_eq!(total, erins().len() as u64);
    let movements = export
        .categories
        .iter()
        .find(|c| c.category == "movements")
        .unwrap();
    assert_eq!(movements.kept, vec!["30 days by rule 1".to_string()]);
    let logins = export
        .categories
        .iter()
        .find(|c| c.category == "logins")
        .unwrap();
    assert_eq!(logins.kept, vec!["365 days by default_days".to_string()]);
    assert_eq!(export.incidents.len(), 1);
    assert!(export.incidents[0].legal_hold);
    let text = render_text(&export, |ms| ms.to_string());
    assert!(
        text.contains("Erin Example") && text.contains("Events: 10"),
        "{text}"
    );
    assert_eq!(
        text.matches("physical_access").count(),
        movements.events as usize
    );
}

/// The erasure on any store; returns what the journal did.
fn erases_erin<S: Store + Retention + ?Sized>(
    store: &mut S,
    journal: &Journal,
) -> onesec_privacy::retention::JournalCompaction {
    holds::place(store, "held", "case", "dpo", 1).unwrap();
    let before = stored_ids(store);

    let dry = erase(store, Some(journal), "erin", "request 12", 5, true).unwrap();
    assert_eq!(stored_ids(store), before, "a dry run erases nothing");
    let report = erase(store, Some(journal), "erin", "request 12", 5, false).unwrap();
    assert_eq!(report.found, 10);
    assert_eq!(
        report.kept_for_legal_hold, 1,
        "57 is cited by the held incident"
    );
    assert_eq!(report.removed, 9);
    assert_eq!(dry.removed_ids, report.removed_ids);
    assert_eq!(report.incidents_naming, vec!["held".to_string()]);
    assert_ne!(report.subject_sha256, "erin");
    let expected: std::collections::BTreeSet<EventId> = before
        .iter()
        .copied()
        .filter(|id| *id == 57 || !erins().contains(id))
        .collect();
    assert_eq!(
        stored_ids(store),
        expected,
        "only Erin's unheld events went"
    );
    let compaction = report
        .journal
        .expect("the segments holding Erin's events went");
    assert!(compaction.segments_removed > 0);
    let kept = store.events_by_ids(&[56, 58]).unwrap();
    assert_eq!(
        kept,
        vec![event(56), event(58)],
        "neighbours still read whole"
    );
    compaction
}

#[test]
fn on_postgres_erasure_removes_the_person_except_what_a_legal_hold_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, positions) = journal_with_events(dir.path());
    let Some((_schema, mut store)) = postgres("privacy_erasure", dir.path()) else {
        return;
    };
    store_events(&mut store, positions);
    erases_erin(&mut store, &journal);
    assert_eq!(store.event_index_problems().unwrap(), vec![]);
}

#[test]
fn erasure_removes_the_person_except_what_a_legal_hold_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let journal = data_folder(dir.path());
    let mut store = SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
    let compaction = erases_erin(&mut store, &journal);
    drop(store);
    let bytes = folder_bytes(dir.path());
    let below: Vec<EventId> = erins()
        .into_iter()
        .filter(|id| *id != 57 && *id < compaction.first_retained)
        .collect();
    assert!(!below.is_empty());
    // Erin's name stays only in the held event 57 (and events still in the journal's open
    // segment): count the copies.
    let copies = bytes.windows(10).filter(|w| *w == b"ErinMarker").count();
    let still_journaled = erins()
        .into_iter()
        .filter(|id| *id != 57 && *id >= compaction.first_retained)
        .count();
    assert!(
        contains(&bytes, "ErinMarker"),
        "the held event keeps her name"
    );
    assert!(
        copies <= 1 + still_journaled,
        "{copies} copies of Erin's name for 1 held event and {still_journaled} in the open segment"
    );
}
