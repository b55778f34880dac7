//! Events: blocks, timelines, paging, journal references and the index check.

use crate::{Backend, Kind};
use onesec_event::{Activity, Event, EventClass, EventId, PersonRef};
use onesec_store::{DetectionBatch, EventFilter, Store};

crate::on_both_backends!(
    time_queries_return_the_earliest_events_in_time_order,
    person_and_site_queries_use_the_key_index,
    paging_by_id_walks_every_event_once,
    events_at_or_below_the_stored_ones_are_not_stored_twice,
    the_indexes_are_checked_against_the_events_they_index,
    a_block_that_cannot_be_read_is_one_problem_and_the_check_goes_on,
    a_lost_journal_segment_is_an_error_naming_the_events,
    a_store_without_the_journal_cannot_read_journal_blocks_and_says_why,
    events_without_journal_positions_are_serialised_into_the_blocks,
    removed_events_are_gone_and_the_rest_reads_as_before,
    bodies_taken_from_the_journal_outlive_its_segments,
    holds_are_placed_restated_and_lifted,
);

fn event(id: EventId, time_ms: i64, person: Option<&str>, site: Option<&str>) -> Event {
    let mut e = Event::new(time_ms, EventClass::PhysicalAccess, Activity::AccessGranted);
    e.id = id;
    e.resolved.site = site.map(str::to_string);
    e.resolved.person = person.map(|p| PersonRef {
        id: p.into(),
        name: "N".into(),
        status: "active".into(),
        department: String::new(),
        home_site: String::new(),
    });
    e
}

/// 1000 events, event time running backwards within each block so block order and time
/// order differ; every 10th about p1, every 3rd at site PAR.
fn thousand_events() -> Vec<Event> {
    (1..=1000u64)
        .map(|id| {
            let time = (id as i64 / 100) * 1000 + (100 - id as i64 % 100);
            let person = (id % 10 == 0).then_some("p1");
            let site = (id % 3 == 0).then_some("PAR");
            event(id, time, person, site)
        })
        .collect()
}

/// A store holding the thousand events (fields drop in order: the connection first).
struct Stored {
    store: Box<dyn Store>,
    events: Vec<Event>,
    /// The folder holding the journal the blocks refer to (journal layout only).
    journal: Option<tempfile::TempDir>,
    backend: Backend,
}

impl Stored {
    fn journal_dir(&self) -> std::path::PathBuf {
        match &self.journal {
            Some(dir) => dir.path().join("journal"),
            None => std::path::PathBuf::from("no-journal"),
        }
    }
}

/// The thousand events in two commits, their JSON kept in the blocks.
fn store_with_events(kind: Kind) -> Stored {
    let backend = kind.fresh();
    let mut store = backend.open();
    let events = thousand_events();
    for part in events.chunks(600) {
        let batch = DetectionBatch {
            events: part.to_vec(),
            detected_upto: part.last().unwrap().id,
            ..Default::default()
        };
        store.commit(&batch).unwrap();
    }
    Stored {
        store,
        events,
        journal: None,
        backend,
    }
}

/// The thousand events journaled as the ingestor does (JSON, id 0) in small segments, then
/// committed in two batches with their journal positions, as detection does.
fn journal_store_with_events(kind: Kind) -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let events = thousand_events();
    let config = onesec_journal::JournalConfig::new(dir.path().join("journal"))
        .segment_bytes(64 << 10)
        .fsync(onesec_journal::FsyncPolicy::Never);
    let (journal, _) = onesec_journal::Journal::open(config).unwrap();
    let payloads = events
        .iter()
        .map(|e| {
            let mut unjournaled = e.clone();
            unjournaled.id = 0;
            serde_json::to_vec(&unjournaled).unwrap()
        })
        .collect();
    assert_eq!(journal.append_batch(payloads).unwrap(), 1..=1000);
    let mut reader = journal.reader(1).unwrap();
    let mut positions = Vec::new();
    while let Some((_, _, at)) = reader.try_next_located().unwrap() {
        positions.push(at);
    }
    let segments: std::collections::BTreeSet<u64> = positions.iter().map(|p| p.segment).collect();
    assert!(segments.len() > 2, "blocks must split at segment ends");
    let backend = kind.fresh();
    let mut store = backend.open_with_journal(&dir.path().join("journal"));
    for (part, at) in events.chunks(600).zip(positions.chunks(600)) {
        let batch = DetectionBatch {
            events: part.to_vec(),
            journal_positions: at.to_vec(),
            detected_upto: part.last().unwrap().id,
            ..Default::default()
        };
        store.commit(&batch).unwrap();
    }
    let copied = backend.query_i64("SELECT coalesce(sum(length(data)), 0) FROM event_blocks");
    assert_eq!(copied, 0, "no event body is copied into the database");
    Stored {
        store,
        events,
        journal: Some(dir),
        backend,
    }
}

/// Both layouts of a store holding the thousand events.
fn stores_with_events(kind: Kind) -> Vec<Stored> {
    vec![store_with_events(kind), journal_store_with_events(kind)]
}

fn expected(events: &[Event], keep: impl Fn(&Event) -> bool, limit: usize) -> Vec<EventId> {
    let mut kept: Vec<&Event> = events.iter().filter(|e| keep(e)).collect();
    kept.sort_by_key(|e| (e.time_ms, e.id));
    kept.iter().take(limit).map(|e| e.id).collect()
}

fn ids(events: Vec<Event>) -> Vec<EventId> {
    events.into_iter().map(|e| e.id).collect()
}

fn time_queries_return_the_earliest_events_in_time_order(kind: Kind) {
    for Stored { store, events, .. } in stores_with_events(kind) {
        assert_eq!(store.event_count().unwrap(), 1000);
        let filter = EventFilter {
            from_ms: Some(2050),
            to_ms: Some(7000),
            limit: Some(150),
            ..Default::default()
        };
        let got = ids(store.events(&filter).unwrap());
        let want = expected(&events, |e| (2050..=7000).contains(&e.time_ms), 150);
        assert_eq!(got, want);
        let all = store.events(&EventFilter::default()).unwrap();
        assert_eq!(ids(all.clone()), expected(&events, |_| true, 1000));
        let mut by_id = all;
        by_id.sort_by_key(|e| e.id);
        assert_eq!(by_id, events, "events read back whole, with their ids");
    }
}

fn person_and_site_queries_use_the_key_index(kind: Kind) {
    for Stored { store, events, .. } in stores_with_events(kind) {
        let person = EventFilter {
            person: Some("p1".into()),
            from_ms: Some(3000),
            ..Default::default()
        };
        let want = expected(&events, |e| e.id % 10 == 0 && e.time_ms >= 3000, 1000);
        assert_eq!(ids(store.events(&person).unwrap()), want);
        let both = EventFilter {
            person: Some("p1".into()),
            site: Some("PAR".into()),
            limit: Some(20),
            ..Default::default()
        };
        let want = expected(&events, |e| e.id % 30 == 0, 20);
        assert_eq!(ids(store.events(&both).unwrap()), want);
    }
}

fn paging_by_id_walks_every_event_once(kind: Kind) {
    for Stored { store, .. } in stores_with_events(kind) {
        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let page = store
                .events(&EventFilter {
                    after_id: Some(after),
                    limit: Some(97),
                    ..Default::default()
                })
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            seen.extend(ids(page));
        }
        assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    }
}

fn events_at_or_below_the_stored_ones_are_not_stored_twice(kind: Kind) {
    for Stored {
        mut store, events, ..
    } in stores_with_events(kind)
    {
        let again = DetectionBatch {
            events: events[500..700].to_vec(),
            detected_upto: 700,
            ..Default::default()
        };
        store.commit(&again).unwrap();
        assert_eq!(store.event_count().unwrap(), 1000);
        let got = store.events_by_ids(&[1000, 5, 77, 5000]).unwrap();
        let mut got_ids = ids(got);
        got_ids.sort();
        assert_eq!(got_ids, vec![5, 77, 1000]);
    }
}

fn the_indexes_are_checked_against_the_events_they_index(kind: Kind) {
    for stored in stores_with_events(kind) {
        let backend = &stored.backend;
        let journal = stored.journal_dir();
        assert_eq!(backend.index_problems(&journal), vec![]);
        let tamper = |sql: &str| assert!(backend.execute(sql) > 0, "{sql}");
        // Event 30 (p1 at PAR) drops out of p1's timeline; event 31 joins it.
        tamper("DELETE FROM event_keys WHERE id = 30 AND kind = 'person'");
        tamper(
            "INSERT INTO event_keys (kind, key, time_ms, id)
             SELECT 'person', 'p1', time_ms, 31 FROM event_keys WHERE id = 33",
        );
        // The first block claims an earlier latest time (time queries would skip it).
        tamper("UPDATE event_blocks SET max_time_ms = 0 WHERE first_id = 1");
        // A key for an event the store does not hold.
        tamper("INSERT INTO event_keys (kind, key, time_ms, id) VALUES ('site', 'PAR', 1, 5000)");
        let problems = backend.index_problems(&journal);
        let at = |place: &str| problems.iter().filter(|(p, _)| p == place).count();
        assert_eq!(at("store event 30"), 1, "{problems:?}");
        assert_eq!(at("store event 31"), 1, "{problems:?}");
        assert_eq!(at("store event 5000"), 1, "{problems:?}");
        assert_eq!(
            problems
                .iter()
                .filter(|(p, _)| p.starts_with("store block 1..="))
                .count(),
            1,
            "{problems:?}"
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}

fn a_block_that_cannot_be_read_is_one_problem_and_the_check_goes_on(kind: Kind) {
    let stored = journal_store_with_events(kind);
    let backend = &stored.backend;
    let offset = backend.offset_column();
    backend.execute(&format!(
        "UPDATE event_blocks SET {offset} = {offset} + 3
         WHERE first_id = (SELECT min(first_id) FROM event_blocks WHERE first_id > 1)"
    ));
    let problems = backend.index_problems(&stored.journal_dir());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].1.contains("cannot be read"), "{problems:?}");
}

fn a_lost_journal_segment_is_an_error_naming_the_events(kind: Kind) {
    let stored = journal_store_with_events(kind);
    let first_segment = stored.journal_dir().join("00000000000000000001.seg");
    std::fs::remove_file(first_segment).unwrap();
    let error = stored.store.events_by_ids(&[1]).unwrap_err().to_string();
    assert!(error.contains("events 1..="), "{error}");
    assert!(error.contains("00000000000000000001.seg"), "{error}");
    assert_eq!(
        stored.store.events_by_ids(&[1000]).unwrap().len(),
        1,
        "later segments still read"
    );
}

fn a_store_without_the_journal_cannot_read_journal_blocks_and_says_why(kind: Kind) {
    let stored = journal_store_with_events(kind);
    let elsewhere = stored.journal.as_ref().unwrap().path().join("elsewhere");
    let store = stored.backend.open_with_journal(&elsewhere);
    let error = store.events_by_ids(&[3]).unwrap_err().to_string();
    assert!(error.contains("elsewhere"), "{error}");
}

fn events_without_journal_positions_are_serialised_into_the_blocks(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let two = event(2, 50, Some("p2"), Some("PAR"));
    // Positions of another length than the events mean "not given".
    let batch = DetectionBatch {
        events: vec![two.clone()],
        journal_positions: vec![],
        detected_upto: 2,
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    assert_eq!(store.events_by_ids(&[2]).unwrap(), vec![two]);
}

/// A connection with retention (`onesec_store::Retention`) on the database the generic store
/// wrote, reading the same journal.
fn retention(stored: &Stored) -> Box<dyn onesec_store::PrivacyStore> {
    let journal = stored.journal.as_ref().map(|j| j.path().join("journal"));
    match (&stored.backend, journal) {
        (Backend::Sqlite(dir), journal) => {
            let store = onesec_store::SqliteStore::open(&dir.path().join("onesec.db")).unwrap();
            match journal {
                Some(journal) => Box::new(store.with_journal_dir(journal)),
                None => Box::new(store),
            }
        }
        (Backend::Postgres(schema), journal) => {
            let store = onesec_store::PgStore::connect(schema.settings()).unwrap();
            match journal {
                Some(journal) => Box::new(store.with_journal_dir(journal)),
                None => Box::new(store),
            }
        }
    }
}

fn removed_events_are_gone_and_the_rest_reads_as_before(kind: Kind) {
    for stored in stores_with_events(kind) {
        let mut store = retention(&stored);
        // Every 7th event, and every id below 40.
        let gone: Vec<EventId> = (1..=1000).filter(|id| id % 7 == 0 || *id < 40).collect();
        let removed = store.remove_events(&gone, "retention", 99).unwrap();
        assert_eq!(removed.len(), gone.len());
        let kept: Vec<Event> = stored
            .events
            .iter()
            .filter(|e| !gone.contains(&e.id))
            .cloned()
            .collect();
        assert_eq!(store.event_count().unwrap(), kept.len() as u64);
        let mut all = store.events(&EventFilter::default()).unwrap();
        all.sort_by_key(|e| e.id);
        assert_eq!(all, kept);
        let person = EventFilter {
            person: Some("p1".into()),
            ..Default::default()
        };
        let want = expected(&kept, |e| e.id % 10 == 0, 1000);
        assert_eq!(ids(store.events(&person).unwrap()), want);
        assert_eq!(store.event_index_problems().unwrap(), vec![]);
        let ranges = store.removed_ranges().unwrap();
        assert_eq!((ranges[0].first_id, ranges[0].last_id), (1, 39));
        assert!(
            store
                .remove_events(&gone, "retention", 100)
                .unwrap()
                .is_empty()
        );
    }
}

fn bodies_taken_from_the_journal_outlive_its_segments(kind: Kind) {
    let stored = journal_store_with_events(kind);
    let mut store = retention(&stored);
    assert_eq!(store.journal_needed_from().unwrap(), Some(1));
    let moved = store.take_bodies_before(501).unwrap();
    assert!(moved >= 500, "{moved}");
    let needed = store.journal_needed_from().unwrap().unwrap();
    assert!(needed > 500, "{needed}");
    let folder = stored.journal.as_ref().unwrap().path().join("journal");
    let (journal, _) =
        onesec_journal::Journal::open(onesec_journal::JournalConfig::new(folder)).unwrap();
    assert!(journal.truncate_before(needed).unwrap() > 0);
    let mut all = store.events(&EventFilter::default()).unwrap();
    all.sort_by_key(|e| e.id);
    assert_eq!(
        all, stored.events,
        "every event still reads after its segment went"
    );
    assert_eq!(store.event_index_problems().unwrap(), vec![]);
}

fn holds_are_placed_restated_and_lifted(kind: Kind) {
    let backend = kind.fresh();
    let stored = Stored {
        store: backend.open(),
        events: vec![],
        journal: None,
        backend,
    };
    let mut store = retention(&stored);
    let hold = |reason: &str| onesec_store::LegalHold {
        incident_id: "inc-1".into(),
        reason: reason.into(),
        placed_by: "dpo".into(),
        placed_ms: 5,
    };
    store.place_legal_hold(&hold("case 1")).unwrap();
    store.place_legal_hold(&hold("case 2")).unwrap();
    assert_eq!(store.legal_holds().unwrap(), vec![hold("case 2")]);
    assert!(store.lift_legal_hold("inc-1").unwrap());
    assert!(!store.lift_legal_hold("inc-1").unwrap());
    assert!(store.legal_holds().unwrap().is_empty());
}
