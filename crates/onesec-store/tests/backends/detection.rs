//! Detection batches (events, alerts, incidents, manual operations), dead letters, evidence.

use crate::Kind;
use onesec_event::{Activity, Domain, Event, EventClass, PersonRef, Severity};
use onesec_incident::{Alert, AlertStatus, Entities, Incident, IncidentState, ManualOp};
use onesec_store::{
    DeadLetter, DetectionBatch, EventFilter, EvidenceItem, IncidentFilter, LateEvent, ManualRecord,
};

crate::on_both_backends!(
    batches_are_idempotent_and_queryable,
    human_state_survives_detection_updates_but_merge_wins,
    dead_letters_are_kept_with_their_reason,
    evidence_is_kept_with_its_bytes_and_numbered,
    operations_by_hand_come_back_in_order,
    detected_upto_never_goes_back,
    late_events_are_stored_and_listed,
);

fn event(id: u64, t: i64, person: &str) -> Event {
    let mut e = Event::new(t, EventClass::PhysicalAccess, Activity::AccessGranted);
    e.id = id;
    e.resolved.site = Some("PAR".into());
    e.resolved.person = Some(PersonRef {
        id: person.into(),
        name: "N".into(),
        status: "active".into(),
        department: String::new(),
        home_site: String::new(),
    });
    e
}

pub fn incident(id: &str, state: IncidentState) -> Incident {
    Incident {
        id: id.into(),
        title: "t".into(),
        domain: Domain::Hybrid,
        priority: Severity::High,
        state,
        alert_ids: vec!["a1".into()],
        active_alerts: 1,
        entities: Entities::default(),
        first_ms: 10,
        last_ms: 20,
        merged_into: None,
        repeats: 0,
    }
}

fn alert() -> Alert {
    Alert {
        id: "a1".into(),
        rule_id: "r".into(),
        title: "t".into(),
        description: String::new(),
        author: String::new(),
        tags: vec![],
        severity: Severity::High,
        domain: Domain::Hybrid,
        status: AlertStatus::Active,
        group: vec![],
        event_ids: vec![1, 2],
        first_ms: 10,
        last_ms: 20,
        entities: Entities::default(),
        incident_id: Some("i1".into()),
        repeat_of: None,
        repeats: 0,
        last_repeat_ms: None,
    }
}

fn batches_are_idempotent_and_queryable(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let batch = DetectionBatch {
        events: vec![event(1, 100, "p1"), event(2, 50, "p2")],
        alerts: vec![alert()],
        incidents: vec![incident("i1", IncidentState::New)],
        detected_upto: 2,
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    store.commit(&batch).unwrap();
    assert_eq!(store.event_count().unwrap(), 2);
    assert_eq!(store.detected_upto().unwrap(), 2);
    let by_person = store
        .events(&EventFilter {
            person: Some("p1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_person.len(), 1);
    let ordered = store.events_by_ids(&[1, 2]).unwrap();
    assert_eq!(ordered[0].id, 2, "ordered by event time");
    assert_eq!(
        store.incidents(&IncidentFilter::default()).unwrap().len(),
        1
    );
    assert_eq!(store.alerts(Some("i1"), 10).unwrap(), vec![alert()]);
    assert_eq!(store.alerts(None, 10).unwrap().len(), 1);
    // Another connection sees the same store.
    let other = backend.open();
    assert_eq!(
        other.incident("i1").unwrap(),
        Some(incident("i1", IncidentState::New))
    );
}

fn human_state_survives_detection_updates_but_merge_wins(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let mut batch = DetectionBatch {
        incidents: vec![incident("i1", IncidentState::New)],
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    store
        .set_incident_state("i1", IncidentState::Acknowledged)
        .unwrap();
    store.commit(&batch).unwrap();
    assert_eq!(
        store.incident("i1").unwrap().unwrap().state,
        IncidentState::Acknowledged
    );
    batch.incidents = vec![incident("i1", IncidentState::Merged)];
    store.commit(&batch).unwrap();
    assert_eq!(
        store.incident("i1").unwrap().unwrap().state,
        IncidentState::Merged
    );
    assert!(
        store
            .incidents(&IncidentFilter::default())
            .unwrap()
            .is_empty()
    );
    let all = IncidentFilter {
        all: true,
        ..Default::default()
    };
    assert_eq!(store.incidents(&all).unwrap().len(), 1);
    assert!(
        store
            .set_incident_state("i1", IncidentState::Closed)
            .is_err()
    );
}

fn dead_letters_are_kept_with_their_reason(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let letter = DeadLetter {
        id: 0,
        received_ms: 1,
        input: "http".into(),
        format: "json".into(),
        line: 3,
        reason: "expected a JSON object".into(),
        raw: "{oops".into(),
        byte_offset: Some(17),
    };
    let second = DeadLetter {
        line: 4,
        byte_offset: None,
        ..letter.clone()
    };
    store.add_dead_letters(&[letter, second]).unwrap();
    let kept = store.dead_letters(10).unwrap();
    assert_eq!(kept[1].line, 3);
    assert_eq!(kept[1].byte_offset, Some(17));
    assert_eq!(
        (kept[0].line, kept[0].byte_offset),
        (4, None),
        "newest first"
    );
    assert!(kept[0].id > kept[1].id);
    assert_eq!(store.dead_letter_count().unwrap(), 2);
    assert_eq!(store.dead_letters(1).unwrap().len(), 1);
}

fn evidence_is_kept_with_its_bytes_and_numbered(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let item = EvidenceItem {
        seq: 0,
        incident_id: "inc-1".into(),
        kind: "file".into(),
        name: "guard-report.txt".into(),
        media_type: Some("text/plain".into()),
        size: 5,
        sha256: Some("x".into()),
        event_id: None,
        note: "the guard's notes".into(),
        added_by: "alice".into(),
        added_ms: 42,
    };
    let first = store.add_evidence(&item, Some(b"hello")).unwrap();
    let event = EvidenceItem {
        kind: "event".into(),
        event_id: Some(7),
        ..item.clone()
    };
    let second = store.add_evidence(&event, None).unwrap();
    assert!(second.seq > first.seq);
    let listed = store.evidence("inc-1").unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    let (got, bytes) = store.evidence_data("inc-1", first.seq).unwrap().unwrap();
    assert_eq!((got, bytes.as_slice()), (first.clone(), &b"hello"[..]));
    let (_, none) = store.evidence_data("inc-1", second.seq).unwrap().unwrap();
    assert!(none.is_empty(), "an event reference has no bytes");
    assert!(store.evidence_data("inc-2", first.seq).unwrap().is_none());
    assert!(store.evidence("inc-2").unwrap().is_empty());
}

fn operations_by_hand_come_back_in_order(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let ops = vec![
        ManualRecord {
            seq: 0,
            at_ms: 1,
            actor: "alice".into(),
            comment: "same intruder".into(),
            op: ManualOp::Merge {
                from: "b".into(),
                into: "a".into(),
            },
        },
        ManualRecord {
            seq: 0,
            at_ms: 2,
            actor: "bob".into(),
            comment: String::new(),
            op: ManualOp::split("a", &["x".to_string()]),
        },
    ];
    let batch = DetectionBatch {
        manual_ops: ops.clone(),
        ..DetectionBatch::default()
    };
    store.commit(&batch).unwrap();
    let back = store.manual_ops().unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].op, ops[0].op);
    assert_eq!(back[0].comment, "same intruder");
    assert_eq!(back[1].actor, "bob");
    assert!(back[0].seq < back[1].seq);
}

fn detected_upto_never_goes_back(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    assert_eq!(store.detected_upto().unwrap(), 0);
    for upto in [5, 3, 9] {
        store
            .commit(&DetectionBatch {
                detected_upto: upto,
                ..DetectionBatch::default()
            })
            .unwrap();
    }
    assert_eq!(store.detected_upto().unwrap(), 9);
}

fn late_events_are_stored_and_listed(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let late = |id: u64, t: i64| LateEvent {
        id,
        time_ms: t,
        watermark_ms: 10_000,
        source: "syslog-udp/linux".into(),
    };
    let batch = DetectionBatch {
        events: vec![
            event(1, 9_000, "p1"),
            event(2, 100, "p2"),
            event(3, 200, "p3"),
        ],
        detected_upto: 3,
        late: vec![late(2, 100), late(3, 200)],
        ..Default::default()
    };
    store.commit(&batch).unwrap();
    // A replay commits the same batch again: nothing twice.
    store.commit(&batch).unwrap();
    assert_eq!(store.event_count().unwrap(), 3, "late events are stored");
    assert_eq!(
        store.late_events(None, 10).unwrap(),
        vec![late(2, 100), late(3, 200)]
    );
    assert_eq!(store.late_events(Some(2), 10).unwrap(), vec![late(3, 200)]);
    assert_eq!(store.late_events(None, 1).unwrap(), vec![late(2, 100)]);
    assert_eq!(store.events_by_ids(&[2, 3]).unwrap().len(), 2);
    let other = backend.open();
    assert_eq!(other.late_events(None, 10).unwrap().len(), 2);
}
