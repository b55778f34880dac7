//! Casework on a running onesec (the demo, plus a few events of our own): a repeating door alarm
//! is counted on the incident instead of growing it; incidents merged and split by hand through
//! the API and the CLI, kept across a restart; evidence attached and read back; the context of
//! an incident (cameras, door history, a person's badge and login events, device posture); the
//! export as a signed bundle that `onesec incident verify` checks offline (and refuses once
//! changed) and as an HTML report; closing an incident cancels its playbook run.

mod common;

use common::{Onesec, Options};
use onesec_auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn demo() -> (tempfile::TempDir, Onesec, String) {
    let tmp = tempfile::tempdir().unwrap();
    let onesec = Onesec::start_demo(&tmp.path().join("data"));
    let incidents = onesec.get_json("/api/v1/incidents");
    let hybrid = incidents
        .as_array()
        .and_then(|all| all.iter().find(|i| i["domain"] == "hybrid"))
        .unwrap_or_else(|| panic!("the demo opens a hybrid incident: {incidents}"));
    let id = hybrid["id"].as_str().unwrap().to_string();
    (tmp, onesec, id)
}

fn post(onesec: &Onesec, path: &str, body: &Value) -> (u16, Value) {
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{}{path}", onesec.base))
        .json(body);
    if let Some(token) = onesec.token() {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("server answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Posts ONVIF onvif-ej events (`(time, topic suffix, payload source and data)`) and waits for
/// detection.
fn send_onvif(onesec: &Onesec, events: &[Value]) {
    let body: Vec<String> = events.iter().map(Value::to_string).collect();
    let answer = onesec.post_events("onvif-ej", body.join("\n"), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let last = answer.body["last_id"].as_u64().unwrap();
    onesec.wait_for_detection(last);
}

fn door_alarm(controller: &str, door: &str, time: &str) -> Value {
    json!({
        "topic": format!("northwind/{controller}/onvif-ej/Door/State/DoorAlarm/&{door}"),
        "payload": {"UtcTime": time, "PropertyOperation": "Changed",
                    "Source": {"DoorToken": door}, "Data": {"State": "DoorForcedOpen"}},
    })
}

fn badge(reader: &str, credential: &str, time: &str) -> Value {
    json!({
        "topic": format!("northwind/ctl-edi-01/onvif-ej/AccessControl/AccessGranted/Credential/&{reader}"),
        "payload": {"UtcTime": time, "Source": {"AccessPointToken": reader},
                    "Data": {"CredentialToken": credential, "External": "false", "Direction": "in"}},
    })
}

fn incident(onesec: &Onesec, id: &str) -> Value {
    onesec.get_json(&format!("/api/v1/incidents/{id}"))
}

fn open_incidents(onesec: &Onesec) -> Vec<Value> {
    onesec
        .get_json("/api/v1/incidents")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Runs `onesec ARGS --server <base>` as the admin; its standard output (it must succeed).
fn cli_ok(onesec: &Onesec, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--server", &onesec.base]);
    let out = common::cli_as(&all, onesec.token());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "onesec {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn audit_text(tmp: &tempfile::TempDir) -> String {
    let leaves = std::fs::read(tmp.path().join("data/audit/leaves.bin")).unwrap();
    String::from_utf8_lossy(&leaves).into_owned()
}

#[test]
fn a_repeating_door_alarm_is_counted_not_opened_again() {
    let (_tmp, onesec, id) = demo();
    let before = incident(&onesec, &id);
    let incidents_before = open_incidents(&onesec).len();
    let alarms: Vec<Value> = (0..20)
        .map(|i| {
            door_alarm(
                "ctl-edi-01",
                "EDI-D-SRV",
                &format!("2026-04-16T22:50:{i:02}Z"),
            )
        })
        .collect();
    send_onvif(&onesec, &alarms);
    let after = incident(&onesec, &id);
    assert_eq!(
        open_incidents(&onesec).len(),
        incidents_before,
        "no new incident"
    );
    assert_eq!(
        after["incident"]["alert_ids"], before["incident"]["alert_ids"],
        "repeats do not join as alerts"
    );
    assert_eq!(after["incident"]["repeats"], 20, "{}", after["incident"]);
    let alerts = after["alerts"].as_array().unwrap();
    let repeats = alerts.iter().filter(|a| a["repeat_of"].is_string()).count();
    assert_eq!(repeats, 20);
    let counted = alerts
        .iter()
        .find(|a| a["repeats"] == 20)
        .unwrap_or_else(|| panic!("the alarm that repeats carries the count: {alerts:?}"));
    assert_eq!(counted["rule_id"], "148a2af8-4233-4f75-a083-23691bdc8dc8");
    assert_eq!(
        after["incident"]["last_ms"].as_i64().unwrap(),
        1_776_379_819_000,
        "the last repeat extends the incident in time"
    );
}

#[test]
fn incidents_are_merged_and_split_by_hand_and_that_survives_a_restart() {
    let (tmp, onesec, demo_id) = demo();
    send_onvif(
        &onesec,
        &[door_alarm(
            "ctl-mtl-01",
            "MTL-D-LAB",
            "2026-04-21T03:00:00Z",
        )],
    );
    let lab = open_incidents(&onesec)
        .into_iter()
        .find(|i| i["entities"]["sites"] == json!(["MTL"]))
        .expect("the lab door opens an incident at MTL");
    let lab_id = lab["id"].as_str().unwrap().to_string();
    let lab_alert = lab["alert_ids"][0].as_str().unwrap().to_string();

    // Refusals first: unknown target, itself, a role that only reads.
    let merge = |from: &str, into: &str| {
        post(
            &onesec,
            &format!("/api/v1/incidents/{from}/merge"),
            &json!({"into": into, "comment": "same intruder"}),
        )
    };
    assert_eq!(merge(&lab_id, "inc-nope").0, 404);
    assert_eq!(merge(&lab_id, &lab_id).0, 400);
    let auditor = onesec.issue_token("auditor", Role::Auditor.as_str(), &[]);
    let refused = onesec.request_as(
        Method::POST,
        &format!("/api/v1/incidents/{lab_id}/merge"),
        Some(&auditor),
    );
    assert_eq!(refused.status, 403);

    let (status, merged) = merge(&lab_id, &demo_id);
    assert_eq!(status, 200, "{merged}");
    let gone = incident(&onesec, &lab_id);
    assert_eq!(gone["incident"]["state"], "merged");
    assert_eq!(gone["incident"]["merged_into"], demo_id.as_str());
    let kept = incident(&onesec, &demo_id);
    assert!(
        kept["incident"]["alert_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(lab_alert)),
        "{}",
        kept["incident"]
    );
    assert!(
        kept["incident"]["entities"]["sites"]
            .as_array()
            .unwrap()
            .contains(&json!("MTL"))
    );
    for detail in [&gone, &kept] {
        let merge = detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["action"] == "merge")
            .unwrap_or_else(|| panic!("merge in the history: {}", detail["history"]));
        assert_eq!(merge["actor"], common::ADMIN);
        assert_eq!(merge["from"], lab_id.as_str());
        assert_eq!(merge["to"], demo_id.as_str());
    }
    assert_eq!(
        merge(&lab_id, &demo_id).0,
        409,
        "a merged incident is not open"
    );

    // Split the lab alert off again, with the CLI.
    let out = cli_ok(
        &onesec,
        &[
            "incident",
            "split",
            &demo_id,
            "--alert",
            &lab_alert,
            "--comment",
            "different intruders after all",
        ],
    );
    let new_id = out
        .trim()
        .strip_prefix("new incident ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let split_off = incident(&onesec, &new_id);
    assert_eq!(split_off["incident"]["alert_ids"], json!([lab_alert]));
    assert_eq!(split_off["incident"]["state"], "new");
    let source = incident(&onesec, &demo_id);
    assert!(
        !source["incident"]["alert_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(lab_alert))
    );
    let text = audit_text(&tmp);
    assert!(text.contains("incident.merge") && text.contains("incident.split"));

    // A restart rebuilds the grouping from the journal and applies both operations again.
    let data = tmp.path().join("data");
    drop(onesec);
    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(data.join("demo-directory")),
        ..Options::default()
    });
    onesec.wait_for_detection(1);
    // The lab door again, five minutes later: it repeats the split-off alert.
    send_onvif(
        &onesec,
        &[door_alarm(
            "ctl-mtl-01",
            "MTL-D-LAB",
            "2026-04-21T03:05:00Z",
        )],
    );
    let split_off = incident(&onesec, &new_id);
    assert_eq!(split_off["incident"]["alert_ids"], json!([lab_alert]));
    assert_eq!(
        split_off["incident"]["repeats"], 1,
        "{}",
        split_off["incident"]
    );
    assert_eq!(incident(&onesec, &lab_id)["incident"]["state"], "merged");
    let source = incident(&onesec, &demo_id);
    assert!(
        !source["incident"]["alert_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(lab_alert))
    );
}

#[test]
fn evidence_context_and_a_signed_export_that_verifies_offline() {
    let (tmp, onesec, demo_id) = demo();
    // Callum Reid (n004) left the company: his account logs in, then his badge opens the main door.
    let login = "<86>1 2026-04-20T08:00:00Z srv-edi-build sshd 100 - - Accepted password for creid from 10.40.20.17 port 50000 ssh2";
    let answer = onesec.post_events("syslog", login, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    send_onvif(
        &onesec,
        &[badge("RDR-EDI-01", "0x7A1004", "2026-04-20T08:05:00Z")],
    );
    let callum = open_incidents(&onesec)
        .into_iter()
        .find(|i| i["entities"]["persons"] == json!(["n004"]))
        .unwrap_or_else(|| {
            panic!(
                "Callum's badge opens an incident: {:?}",
                open_incidents(&onesec)
            )
        });
    let callum_id = callum["id"].as_str().unwrap().to_string();

    // Context: cameras on the zone, the door's history, his badge and login events, posture.
    let context = onesec.get_json(&format!("/api/v1/incidents/{callum_id}/context"));
    let cameras: Vec<&str> = context["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(cameras.contains(&"CAM-EDI-RCP"), "{context}");
    let door = &context["doors"][0];
    assert_eq!(door["portal"], "EDI-D-MAIN", "{context}");
    assert!(!door["events"].as_array().unwrap().is_empty());
    let person = &context["persons"][0];
    assert_eq!(person["person"], "n004");
    assert_eq!(person["status"], "terminated");
    assert!(
        !person["badge_events"].as_array().unwrap().is_empty(),
        "{person}"
    );
    assert!(
        person["login_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["user"] == "creid"),
        "{person}"
    );
    let demo_context = onesec.get_json(&format!("/api/v1/incidents/{demo_id}/context"));
    let postures = demo_context["devices"].as_array().unwrap();
    assert!(
        postures
            .iter()
            .any(|p| p["device"]["id"] == "SRV-EDI-FS1" && p["score"].is_number()),
        "{demo_context}"
    );
    assert!(demo_context["cameras"].to_string().contains("CAM-EDI-SRV"));
    let mtl = onesec.issue_token("mtl-soc", Role::SocAnalyst.as_str(), &["MTL"]);
    let hidden = onesec.request_as(
        Method::GET,
        &format!("/api/v1/incidents/{demo_id}/context"),
        Some(&mtl),
    );
    assert_eq!(hidden.status, 404);

    // Evidence: a file with the CLI, an event reference with the API.
    let note = tmp.path().join("guard-report.txt");
    std::fs::write(&note, "Door found open at 23:50, cable ties on the rack.\n").unwrap();
    cli_ok(
        &onesec,
        &[
            "incident",
            "attach",
            &demo_id,
            "--file",
            note.to_str().unwrap(),
            "--note",
            "guard's report",
        ],
    );
    let door_event = door["events"][0]["id"].as_u64().unwrap();
    let (status, reference) = post(
        &onesec,
        &format!("/api/v1/incidents/{demo_id}/evidence"),
        &json!({"event_id": door_event, "note": "who was at the main door"}),
    );
    assert_eq!(status, 201, "{reference}");
    let (status, _) = post(
        &onesec,
        &format!("/api/v1/incidents/{demo_id}/evidence"),
        &json!({"event_id": 999_999}),
    );
    assert_eq!(status, 400);
    let items = onesec.get_json(&format!("/api/v1/incidents/{demo_id}/evidence"));
    let file = &items[0];
    assert_eq!(file["kind"], "file");
    assert_eq!(file["name"], "guard-report.txt");
    let url = format!(
        "{}/api/v1/incidents/{demo_id}/evidence/{}",
        onesec.base, file["seq"]
    );
    let download = reqwest::blocking::Client::new()
        .get(&url)
        .bearer_auth(onesec.token().unwrap())
        .send()
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["x-onesec-sha256"].to_str().unwrap(),
        file["sha256"].as_str().unwrap()
    );
    assert_eq!(
        download.bytes().unwrap().as_ref(),
        std::fs::read(&note).unwrap().as_slice()
    );
    assert_eq!(items[1]["event_id"], door_event);

    // Export: the signed bundle verifies offline with the audit key, and fails once changed.
    let bundle = tmp.path().join("bundle.json");
    cli_ok(
        &onesec,
        &[
            "incident",
            "export",
            &demo_id,
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    let key = tmp.path().join("data/audit/signing.pub");
    let verify = |file: &std::path::Path| {
        common::cli(&[
            "incident",
            "verify",
            file.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ])
    };
    let ok = verify(&bundle);
    let said = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(ok.status.success(), "{said}");
    assert!(said.starts_with("ok: incident"), "{said}");
    let document: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let doc = &document["document"];
    let timeline = doc["timeline"].as_array().unwrap().len();
    let proven = doc["proofs"]["events"].as_array().unwrap().len();
    assert_eq!(
        proven,
        timeline + 1,
        "every event, and the referenced one, is proven"
    );
    assert!(said.contains(&format!("{proven} event proof(s)")), "{said}");
    assert!(!doc["proofs"]["entries"].as_array().unwrap().is_empty());
    assert_eq!(doc["evidence"][0]["name"], "guard-report.txt");
    assert!(doc["evidence"][0]["content_base64"].is_string());
    assert_eq!(doc["context"]["cameras"][0]["id"], "CAM-EDI-SRV");
    let tampered = tmp.path().join("tampered.json");
    let mut changed = document.clone();
    changed["document"]["incident"]["title"] = json!("nothing happened");
    std::fs::write(&tampered, serde_json::to_vec_pretty(&changed).unwrap()).unwrap();
    let refused = verify(&tampered);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("FAILED"));
    let mut forged = document.clone();
    forged["document"]["proofs"]["events"][0]["payload"] = json!("{\"raw\": \"x\"}");
    std::fs::write(&tampered, serde_json::to_vec(&forged).unwrap()).unwrap();
    assert!(!verify(&tampered).status.success());

    // The report: one HTML page, no script.
    let (status, html) = onesec.get_text(&format!("/api/v1/incidents/{demo_id}/report"));
    assert_eq!(status, 200);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&demo_id) && html.contains("<h2>Timeline</h2>"));
    assert!(html.contains("guard-report.txt") && html.contains("CAM-EDI-SRV"));
    assert!(!html.contains("<script"));
    let manager = onesec.issue_token("boss", Role::Manager.as_str(), &[]);
    let export_as_manager = onesec.request_as(
        Method::GET,
        &format!("/api/v1/incidents/{demo_id}/export"),
        Some(&manager),
    );
    assert_eq!(export_as_manager.status, 403);
    let text = audit_text(&tmp);
    for action in ["incident.evidence", "incident.export", "incident.report"] {
        assert!(text.contains(action), "{action} is audited");
    }
}

#[test]
fn closing_an_incident_cancels_its_run() {
    let (tmp, onesec, id) = demo();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let answer = onesec.get(&format!("/api/v1/incidents/{id}/playbook"));
        if answer.status == 200 {
            break answer.body;
        }
        assert!(Instant::now() < deadline, "no run started");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["status"], "running");
    let actions = run["actions"].as_array().unwrap().len();
    let (status, closed) = post(
        &onesec,
        &format!("/api/v1/incidents/{id}/state"),
        &json!({"state": "closed", "comment": "false alarm: cleaning crew"}),
    );
    assert_eq!(status, 200, "{closed}");
    let run = onesec.get_json(&format!("/api/v1/incidents/{id}/playbook"));
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["actions"].as_array().unwrap().len(), actions);
    assert!(
        run["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "cancelled"),
        "{run}"
    );
    let tasks = onesec.get_json("/api/v1/tasks");
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["incident_id"] != id.as_str()),
        "{tasks}"
    );
    assert!(audit_text(&tmp).contains("playbook.cancel"));
}
