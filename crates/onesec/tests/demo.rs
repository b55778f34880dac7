//! `onesec up --demo` (no shared data needed): the built-in hybrid attack opens a hybrid
//! incident joining the forced door with the USB stick or console login in the same zone, and
//! `onesec export --ocsf` writes every stored event as OCSF.

mod common;

use common::{ActualIncident, Onesec, Options, cli};
use serde_json::Value;

#[test]
fn the_demo_opens_a_hybrid_incident_and_exports_ocsf() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        demo: true,
        ..Options::default()
    });
    onesec.wait_for_stdout("demo: attack replayed");
    let status = onesec.wait_for_detection(1);
    let stored = status["journal_seq"].as_u64().unwrap();
    assert_eq!(
        onesec.events().len() as u64,
        stored,
        "every journaled demo event is stored"
    );

    let incidents = onesec.incidents();
    let forced_then_hands_on = |incident: &ActualIncident| {
        incident.domain == "hybrid"
            && incident.timeline.iter().any(|door| {
                door.activity == "portal_forced"
                    && !door.zone.is_empty()
                    && incident.timeline.iter().any(|host| {
                        host.zone == door.zone
                            && (host.activity == "connected"
                                || (host.activity == "logon" && host.raw.contains("tty")))
                    })
            })
    };
    assert!(
        incidents.iter().any(forced_then_hands_on),
        "no hybrid incident with a forced door and a USB device or console login in the same zone:\n{incidents:#?}"
    );

    // The store is SQLite in WAL mode: the export reads it while the server runs.
    let output = cli(&[
        "export".as_ref(),
        "--ocsf".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "onesec export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("OCSF export is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len() as u64,
        stored,
        "one OCSF object per stored event"
    );
    for line in lines {
        let ocsf: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(ocsf.is_object(), "{line}");
        let class_uid = ocsf["class_uid"]
            .as_u64()
            .unwrap_or_else(|| panic!("no class_uid: {line}"));
        let activity_id = ocsf["activity_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no activity_id: {line}"));
        assert_eq!(
            ocsf["type_uid"].as_u64(),
            Some(class_uid * 100 + activity_id),
            "{line}"
        );
    }
}
