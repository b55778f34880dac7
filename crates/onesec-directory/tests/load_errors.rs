//! Bad directory files are refused with the file, the line and the reason; a reload that fails
//! keeps the previous directory.

use onesec_directory::{Directory, DirectoryError, SharedDirectory};
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn load_err(name: &str) -> DirectoryError {
    match Directory::load_dir(data(name)) {
        Ok(_) => panic!("{name} must be refused"),
        Err(e) => e,
    }
}

fn file_name(e: &DirectoryError) -> String {
    e.file().file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn bad_status_names_file_line_column_value_and_expected() {
    let e = load_err("bad-status");
    let msg = e.to_string();
    assert_eq!(file_name(&e), "people.csv");
    assert_eq!(e.line(), Some(4));
    assert!(matches!(e, DirectoryError::InvalidValue { .. }), "{msg}");
    assert!(msg.contains("people.csv:4"), "{msg}");
    assert!(
        msg.contains("`status`") && msg.contains("`retired`"),
        "{msg}"
    );
    assert!(msg.contains("active, leave, terminated"), "{msg}");
}

#[test]
fn unknown_zone_names_the_portal_and_its_line() {
    let e = load_err("unknown-zone");
    let msg = e.to_string();
    assert_eq!(file_name(&e), "sites.yaml");
    assert_eq!(e.line(), Some(9), "{msg}");
    assert!(msg.contains("portal `HQ-D-SRV`"), "{msg}");
    assert!(
        msg.contains("`HQ-SERVER`") && msg.contains("not a zone"),
        "{msg}"
    );
}

#[test]
fn bad_cidr_names_the_line_and_the_value() {
    let e = load_err("bad-cidr");
    let msg = e.to_string();
    assert_eq!(file_name(&e), "sites.yaml");
    assert_eq!(e.line(), Some(7), "{msg}");
    assert!(msg.contains("10.1.20.0/33"), "{msg}");
    assert!(msg.contains("invalid CIDR"), "{msg}");
}

#[test]
fn missing_column_names_the_column() {
    let e = load_err("missing-column");
    let msg = e.to_string();
    assert_eq!(file_name(&e), "people.csv");
    assert_eq!(e.line(), Some(1));
    assert!(
        matches!(&e, DirectoryError::MissingColumn { column, .. } if column == "status"),
        "{msg}"
    );
    assert!(msg.contains("missing column `status`"), "{msg}");
}

#[test]
fn duplicate_zone_id_is_refused_at_the_second_one() {
    let e = load_err("duplicate-zone");
    let msg = e.to_string();
    assert_eq!(e.line(), Some(8), "{msg}");
    assert!(
        msg.contains("zone `HQ-OFFICE`") && msg.contains("duplicate id"),
        "{msg}"
    );
}

#[test]
fn device_in_unknown_zone_is_refused() {
    let e = load_err("device-unknown-zone");
    let msg = e.to_string();
    assert_eq!(file_name(&e), "devices.csv");
    assert_eq!(e.line(), Some(3), "{msg}");
    assert!(
        msg.contains("`zone`") && msg.contains("`HQ-NOWHERE`"),
        "{msg}"
    );
}

#[test]
fn in_memory_errors_and_edge_cases() {
    let people = "person_id,name,department,status,accounts,badges,home_site\n\
                  a1,Ann,IT,active,ann,0x01,\n\
                  a2,Bob,IT,active,bob,0x0001,\n";
    let e = Directory::from_texts(Some(people), None, None).unwrap_err();
    assert!(
        e.to_string().contains("already belongs to person `a1`"),
        "{e}"
    );

    let people = "person_id,name,department,status,accounts,badges,home_site\n\
                  a1,Ann,IT,active,ann,,\n\
                  a1,Ann Again,IT,active,ann2,,\n";
    let e = Directory::from_texts(Some(people), None, None).unwrap_err();
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("duplicate person_id"), "{e}");

    // The same bare name in two domains: only the qualified names resolve.
    let people = "person_id,name,department,status,accounts,badges,home_site\n\
                  a1,Ann,IT,active,EU\\jdoe,,\n\
                  a2,Bob,IT,active,US\\jdoe,,\n";
    let d = Directory::from_texts(Some(people), None, None).unwrap();
    assert_eq!(
        d.person_by_account("jdoe", Some("eu"))
            .map(|p| p.id.as_str()),
        Some("a1")
    );
    assert_eq!(
        d.person_by_account("jdoe", Some("US"))
            .map(|p| p.id.as_str()),
        Some("a2")
    );
    assert_eq!(d.person_by_account("jdoe", None), None);
    assert_eq!(d.warnings().len(), 1);

    let sites = "sites:\n  - id: S\n    timezone: Mars/Olympus\n";
    let e = Directory::from_texts(None, Some(sites), None).unwrap_err();
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().contains("unknown time zone"), "{e}");

    let sites = "sites:\n  - id: S\n    geo: { lat: 95, lon: 0 }\n";
    let e = Directory::from_texts(None, Some(sites), None).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");

    let sites = "sites: [ { id: S, zones: [ { id: Z\n";
    let e = Directory::from_texts(None, Some(sites), None).unwrap_err();
    assert!(matches!(e, DirectoryError::Syntax { .. }), "{e}");

    // Forward compatible: unknown keys are ignored, numbers accepted as ids, empty file is fine.
    let sites = "version: 2\nsites:\n  - id: 7\n    owner: facilities\n    zones:\n      - { id: 70, colour: blue }\n";
    let d = Directory::from_texts(None, Some(sites), None).unwrap();
    assert_eq!(d.zone("70").map(|z| z.site.as_str()), Some("7"));
    assert_eq!(
        Directory::from_texts(None, Some("# nothing yet\n"), None)
            .unwrap()
            .summary()
            .sites,
        0
    );

    let devices = "device_id,kind,ip\nD1,server,10.0.0.300\n";
    let e = Directory::from_texts(None, None, Some(devices)).unwrap_err();
    assert!(
        e.to_string()
            .contains("devices.csv:2: column `ip`: invalid value `10.0.0.300`"),
        "{e}"
    );

    let e = Directory::load_dir(data("does-not-exist")).unwrap_err();
    assert!(matches!(e, DirectoryError::Io { .. }));
    let empty = tempfile::tempdir().unwrap();
    let e = Directory::load_dir(empty.path()).unwrap_err();
    assert!(matches!(e, DirectoryError::NoFiles { .. }), "{e}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn reload_swaps_in_the_new_directory_and_keeps_the_old_on_error() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "person_id,name,department,status,accounts,badges,home_site\n";
    write(
        tmp.path(),
        "people.csv",
        &format!("{header}x1,Xavier,IT,active,xav,0xAA,\n"),
    );
    let shared = SharedDirectory::load(tmp.path()).unwrap();
    let before = shared.current();
    assert_eq!(before.person("x1").unwrap().status.as_str(), "active");
    assert_eq!(shared.generation(), 0);

    // The person leaves: the reload is seen by new snapshots, old snapshots stay consistent.
    write(
        tmp.path(),
        "people.csv",
        &format!("{header}x1,Xavier,IT,terminated,xav,0xAA,\ny2,Yara,HR,active,yara,,\n"),
    );
    let summary = shared.reload().unwrap();
    assert_eq!((summary.people, summary.terminated), (2, 1));
    assert_eq!(shared.generation(), 1);
    assert_eq!(
        shared.current().person("x1").unwrap().status.as_str(),
        "terminated"
    );
    assert_eq!(before.person("x1").unwrap().status.as_str(), "active");

    // A broken file is refused and the directory in force does not change.
    write(
        tmp.path(),
        "people.csv",
        &format!("{header}x1,Xavier,IT,gone,xav,,\n"),
    );
    let e = shared.reload().unwrap_err();
    assert!(e.to_string().contains("`gone`"), "{e}");
    assert_eq!(shared.generation(), 1);
    assert_eq!(shared.current().summary().people, 2);
    let clone = shared.clone();
    assert_eq!(
        clone
            .current()
            .person_by_account("yara", None)
            .map(|p| p.id.as_str()),
        Some("y2")
    );
    assert_eq!(clone.path(), tmp.path());
}
