//! Several connections to one store at once, and a PostgreSQL connection that is lost.

use crate::Kind;
use crate::detection::incident;
use onesec_incident::IncidentState;
use onesec_store::testing::ScratchSchema;
use onesec_store::{DetectionBatch, PgStore, Store};

crate::on_both_backends!(a_persons_state_survives_detection_writing_the_same_incident_at_once);

/// Detection keeps sending incident i1 (as `new`) from one connection while a person
/// acknowledges it from another: whatever the interleaving, the person's state stays.
fn a_persons_state_survives_detection_writing_the_same_incident_at_once(kind: Kind) {
    let backend = kind.fresh();
    let mut detection = backend.open();
    let batch = DetectionBatch {
        incidents: vec![incident("i1", IncidentState::New)],
        ..Default::default()
    };
    detection.commit(&batch).unwrap();
    let mut person = backend.open();
    let writer = std::thread::spawn(move || {
        for _ in 0..200 {
            detection.commit(&batch).unwrap();
        }
        detection
    });
    std::thread::sleep(std::time::Duration::from_millis(5));
    person
        .set_incident_state("i1", IncidentState::Acknowledged)
        .unwrap();
    let detection = writer.join().unwrap();
    assert_eq!(
        detection.incident("i1").unwrap().unwrap().state,
        IncidentState::Acknowledged
    );
}

#[test]
fn a_lost_postgres_connection_is_opened_again() {
    let Some(schema) = ScratchSchema::create("reconnect") else {
        return;
    };
    let mut store = PgStore::connect(schema.settings()).unwrap();
    store
        .commit(&DetectionBatch {
            incidents: vec![incident("i1", IncidentState::New)],
            detected_upto: 7,
            ..Default::default()
        })
        .unwrap();
    let pid = store.backend_pid().unwrap();
    schema
        .execute(&format!("SELECT pg_terminate_backend({pid})"))
        .unwrap();
    // The call that finds the connection gone may fail; the next one connects again.
    let upto = store.detected_upto().or_else(|_| store.detected_upto());
    assert_eq!(upto.unwrap(), 7);
    assert_ne!(store.backend_pid().unwrap(), pid, "a new server process");
    assert!(store.incident("i1").unwrap().is_some());
}
