//! Devices seen in events: a device the directory does not know is discovered from its
//! events, with first and last seen, and its history can be asked for.

mod common;

use common::{Onesec, Options};

fn door_alarm(time: &str) -> String {
    format!(
        r#"{{"topic": "acme/ctl-lab-09/onvif-ej/Door/State/DoorAlarm/&LAB-D-1", "payload": {{"UtcTime": "{time}", "PropertyOperation": "Changed", "Source": {{"DoorToken": "LAB-D-1"}}, "Data": {{"State": "DoorForcedOpen"}}}}}}"#
    )
}

#[test]
fn an_unknown_controller_is_discovered_with_first_and_last_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: tmp.path().join("data"),
        ..Options::default()
    });
    let body = [
        door_alarm("2026-03-10T21:00:00Z"),
        door_alarm("2026-03-10T21:30:00Z"),
    ]
    .join("\n");
    let answer = onesec.post_events("onvif-ej", body, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    onesec.wait_for_detection(2);

    let seen = onesec.get_json("/api/v1/devices/seen?known=false");
    let list = seen
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {seen}"));
    let controller = list
        .iter()
        .find(|d| d["device"] == "host:ctl-lab-09")
        .unwrap_or_else(|| panic!("the controller was not discovered: {seen}"));
    assert_eq!(controller["known"], false);
    assert_eq!(controller["kind"], "reader", "{controller}");
    assert_eq!(controller["events"], 2);
    assert_eq!(controller["first_seen_ms"], 1_773_176_400_000i64);
    assert_eq!(controller["last_seen_ms"], 1_773_178_200_000i64);

    let history = onesec.get_json("/api/v1/devices/host:ctl-lab-09/history");
    assert_eq!(history["seen"]["events"], 2, "{history}");
    assert!(history["changes"].as_array().is_some(), "{history}");
    let missing = onesec.get("/api/v1/devices/host:nobody/history");
    assert_eq!(missing.status, 404);
}
