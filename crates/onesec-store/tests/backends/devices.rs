//! Devices as the events show them, and posture per day.

use crate::Kind;
use onesec_event::{Activity, Event, EventClass};
use onesec_store::{DetectionBatch, PostureDay, Store};

crate::on_both_backends!(
    devices_are_seen_with_first_last_and_changes,
    events_stored_again_are_not_counted_again,
    posture_keeps_the_latest_value_of_each_day,
    an_attackers_address_is_not_the_devices,
    changes_in_one_batch_come_back_in_order,
    inventory_changes_are_kept_in_the_device_history,
);

fn camera_event(id: u64, time_ms: i64, host: &str, ip: &str) -> Event {
    let mut e = Event::new(time_ms, EventClass::VideoAnalytics, Activity::Other);
    e.id = id;
    e.host = Some(host.into());
    e.src.ip = ip.parse().ok();
    e.source.format = "onvif-ej".into();
    e
}

fn known(mut e: Event, device: &str) -> Event {
    e.resolved.device_id = Some(device.into());
    e.resolved.device_kind = Some("camera".into());
    e.resolved.site = Some("PAR".into());
    e
}

fn commit(store: &mut dyn Store, events: Vec<Event>) {
    let upto = events.iter().map(|e| e.id).max().unwrap_or(0);
    store
        .commit(&DetectionBatch {
            events,
            detected_upto: upto,
            ..DetectionBatch::default()
        })
        .unwrap();
}

fn devices_are_seen_with_first_last_and_changes(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    commit(
        &mut *store,
        vec![
            known(camera_event(1, 1_000, "cam-lobby", "10.0.5.7"), "CAM-1"),
            camera_event(2, 1_500, "cam-rogue", "10.0.9.9"),
            known(camera_event(3, 2_000, "cam-lobby", "10.0.5.7"), "CAM-1"),
        ],
    );
    // A later batch: the camera moved to another address; a syslog line names no device.
    let mut login = Event::new(3_500, EventClass::Authentication, Activity::Logon);
    login.id = 5;
    login.host = Some("web-01".into());
    commit(
        &mut *store,
        vec![
            known(camera_event(4, 3_000, "cam-lobby", "10.0.6.1"), "CAM-1"),
            login,
        ],
    );
    let seen = store.device_sightings().unwrap();
    let ids: Vec<(&str, bool)> = seen.iter().map(|s| (s.device.as_str(), s.known)).collect();
    assert_eq!(ids, [("CAM-1", true), ("host:cam-rogue", false)]);
    let cam = &seen[0];
    assert_eq!(
        (cam.first_seen_ms, cam.last_seen_ms, cam.events),
        (1_000, 3_000, 3)
    );
    assert_eq!(cam.ip.as_deref(), Some("10.0.6.1"));
    assert_eq!(cam.site.as_deref(), Some("PAR"));
    assert_eq!(
        seen[1].kind.as_deref(),
        Some("camera"),
        "guessed from video events"
    );
    assert_eq!(store.device_sighting("CAM-1").unwrap().as_ref(), Some(cam));
    assert_eq!(store.device_sighting("CAM-9").unwrap(), None);
    let changes = store.device_changes("CAM-1").unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0].time_ms, changes[0].field.as_str()),
        (3_000, "ip")
    );
    assert_eq!(changes[0].old.as_deref(), Some("10.0.5.7"));
    assert_eq!(changes[0].new.as_deref(), Some("10.0.6.1"));
}

fn events_stored_again_are_not_counted_again(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let batch = vec![known(camera_event(1, 1_000, "cam", "10.0.5.7"), "CAM-1")];
    commit(&mut *store, batch.clone());
    // A rebuild from the journal hands the same events over again.
    commit(&mut *store, batch);
    let seen = store.device_sightings().unwrap();
    assert_eq!(seen[0].events, 1);
    assert!(store.device_changes("CAM-1").unwrap().is_empty());
}

fn posture_keeps_the_latest_value_of_each_day(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let day = |d: &str, score: f64| PostureDay {
        day: d.into(),
        scope: "site".into(),
        key: "PAR".into(),
        score,
        min: 40,
        devices: 6,
        findings: 9,
    };
    store
        .record_posture(&[day("2026-11-25", 71.5), day("2026-11-26", 60.0)])
        .unwrap();
    store.record_posture(&[day("2026-11-26", 64.2)]).unwrap();
    let trend = store.posture_trend("site", "PAR").unwrap();
    let points: Vec<(&str, f64)> = trend.iter().map(|p| (p.day.as_str(), p.score)).collect();
    assert_eq!(points, [("2026-11-25", 71.5), ("2026-11-26", 64.2)]);
    assert_eq!(
        (trend[1].min, trend[1].devices, trend[1].findings),
        (40, 6, 9)
    );
    assert!(store.posture_trend("zone", "PAR").unwrap().is_empty());
}

fn an_attackers_address_is_not_the_devices(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let mut failed = Event::new(1_000, EventClass::DeviceHealth, Activity::Other);
    failed.id = 1;
    failed.host = Some("cam-7".into());
    failed.src.ip = "203.0.113.9".parse().ok();
    commit(&mut *store, vec![failed]);
    let seen = store.device_sightings().unwrap();
    assert_eq!(seen[0].device, "host:cam-7");
    assert_eq!(seen[0].ip, None);
}

fn changes_in_one_batch_come_back_in_order(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    commit(
        &mut *store,
        vec![
            known(camera_event(1, 1_000, "cam-a", "10.0.0.1"), "CAM-1"),
            known(camera_event(2, 2_000, "cam-a", "10.0.0.2"), "CAM-1"),
            // Address and name change at once: recorded address first, then name.
            known(camera_event(3, 3_000, "cam-b", "10.0.0.3"), "CAM-1"),
            known(camera_event(4, 3_000, "cam-x", "10.0.9.9"), "CAM-2"),
        ],
    );
    let changes: Vec<(i64, String, Option<String>)> = store
        .device_changes("CAM-1")
        .unwrap()
        .into_iter()
        .map(|c| (c.time_ms, c.field, c.new))
        .collect();
    assert_eq!(
        changes,
        [
            (2_000, "ip".to_string(), Some("10.0.0.2".to_string())),
            (3_000, "ip".to_string(), Some("10.0.0.3".to_string())),
            (3_000, "host".to_string(), Some("cam-b".to_string())),
        ]
    );
    assert!(store.device_changes("CAM-2").unwrap().is_empty());
    assert_eq!(store.device_sightings().unwrap().len(), 2);
}

fn device(id: &str, fields: &[(&str, &str)]) -> onesec_store::InventoryRow {
    (
        id.to_string(),
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn inventory_changes_are_kept_in_the_device_history(kind: Kind) {
    let backend = kind.fresh();
    let mut store = backend.open();
    let first = [
        device("CAM-1", &[("firmware", "10.12.114"), ("ip", "10.10.50.22")]),
        device("CAM-2", &[("firmware", "9.80.1")]),
    ];
    assert_eq!(
        store.sync_inventory(1_000, &first).unwrap(),
        0,
        "first sync: a baseline"
    );
    assert_eq!(
        store.sync_inventory(1_500, &first).unwrap(),
        0,
        "nothing changed"
    );
    let second = [
        device(
            "CAM-1",
            &[
                ("firmware", "11.9.60"),
                ("ip", "10.10.50.22"),
                ("vlan", "50"),
            ],
        ),
        device("RDR-9", &[("kind", "reader")]),
    ];
    assert_eq!(store.sync_inventory(2_000, &second).unwrap(), 4);
    let cam1: Vec<(String, Option<String>, Option<String>)> = store
        .device_changes("CAM-1")
        .unwrap()
        .into_iter()
        .map(|c| (c.field, c.old, c.new))
        .collect();
    assert_eq!(
        cam1,
        [
            (
                "inventory.firmware".into(),
                Some("10.12.114".into()),
                Some("11.9.60".into())
            ),
            ("inventory.vlan".into(), None, Some("50".into())),
        ]
    );
    assert_eq!(
        store.device_changes("RDR-9").unwrap()[0].new.as_deref(),
        Some("added")
    );
    let removed = store.device_changes("CAM-2").unwrap();
    assert_eq!(
        (removed[0].time_ms, removed[0].new.as_deref()),
        (2_000, Some("removed"))
    );
    // The stored inventory survives a reopen: the next sync compares with it.
    drop(store);
    let mut store = backend.open();
    assert_eq!(store.sync_inventory(3_000, &second).unwrap(), 0);
}
