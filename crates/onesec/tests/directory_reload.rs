//! The directory is reloadable without a restart: a badge unknown at start resolves to its
//! person once `people.csv` lists it and `POST /api/v1/directory/reload` is called; a broken
//! file is refused with its reason and the previous directory stays.

mod common;

use common::{Onesec, Options};
use std::path::Path;

fn copy_example(to: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind");
    std::fs::create_dir_all(to).unwrap();
    for name in ["people.csv", "sites.yaml", "devices.csv"] {
        std::fs::copy(example.join(name), to.join(name)).unwrap();
    }
}

fn grant(time: &str, badge: &str) -> String {
    format!(
        r#"{{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/AccessGranted/Credential/&RDR-EDI-05", "payload": {{"UtcTime": "{time}", "Source": {{"AccessPointToken": "RDR-EDI-05"}}, "Data": {{"CredentialToken": "{badge}"}}}}}}"#
    )
}

fn person_of_last_event(onesec: &Onesec) -> Option<String> {
    let events = onesec.events();
    let last = events.last().expect("an event is stored");
    last["resolved"]["person"]["id"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn a_reloaded_directory_resolves_new_badges_and_a_broken_one_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("directory");
    copy_example(&directory);
    let onesec = Onesec::start(&Options {
        data_dir: temp.path().join("data"),
        directory: Some(directory.clone()),
        ..Options::default()
    });

    assert_eq!(
        onesec
            .post_events("onvif-ej", grant("2026-05-05T08:00:00Z", "0x7A9999"), None)
            .status,
        200
    );
    onesec.wait_for_detection(1);
    assert_eq!(
        person_of_last_event(&onesec),
        None,
        "the badge is unknown at first"
    );

    let people = std::fs::read_to_string(directory.join("people.csv")).unwrap();
    let extended = format!("{people}n010,New Starter,IT,active,nstarter,0x7A9999,EDI,,Graduate\n");
    std::fs::write(directory.join("people.csv"), extended).unwrap();
    let reload = onesec.post_json("/api/v1/directory/reload");
    assert_eq!(reload.status, 200, "{}", reload.body);
    assert_eq!(reload.body["people"], 10);

    assert_eq!(
        onesec
            .post_events("onvif-ej", grant("2026-05-05T08:01:00Z", "0x7A9999"), None)
            .status,
        200
    );
    onesec.wait_for_detection(2);
    assert_eq!(person_of_last_event(&onesec).as_deref(), Some("n010"));

    // A device's firmware updated in devices.csv: the reload keeps the change in its history.
    let devices = std::fs::read_to_string(directory.join("devices.csv")).unwrap();
    let first_device = devices.lines().nth(1).unwrap().to_string();
    let id = first_device.split(',').next().unwrap().to_string();
    let old_firmware = first_device.split(',').nth(9).unwrap().to_string();
    let mut cells: Vec<&str> = first_device.split(',').collect();
    cells[9] = "99.1.0";
    std::fs::write(
        directory.join("devices.csv"),
        devices.replacen(&first_device, &cells.join(","), 1),
    )
    .unwrap();
    assert_eq!(onesec.post_json("/api/v1/directory/reload").status, 200);
    let history = onesec.get_json(&format!("/api/v1/devices/{id}/history"));
    let change = &history["changes"][0];
    assert_eq!(change["field"], "inventory.firmware", "{history}");
    assert_eq!(change["old"], old_firmware.as_str());
    assert_eq!(change["new"], "99.1.0");

    std::fs::write(directory.join("people.csv"), "person_id,name\nbroken,row\n").unwrap();
    let refused = onesec.post_json("/api/v1/directory/reload");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap_or("")
            .contains("people.csv"),
        "{}",
        refused.body
    );
    assert_eq!(
        onesec.status()["directory"]["people"],
        10,
        "the previous directory stays"
    );
}
