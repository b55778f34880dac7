//! Privacy by design end to end (docs/privacy.md): `onesec privacy retention` on a real data
//! folder removes exactly the expired events, deletes the journal segments that held them,
//! leaves an audit log that still verifies, and a restart does not bring them back; a legal
//! hold placed with `onesec privacy hold` keeps its incident and every event it cites while
//! closed incidents past `incident_days` go.

mod common;

use common::{Onesec, Options, cli};
use onesec_store::{EventFilter, SqliteStore, Store};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn northwind() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")
}

/// A badge grant at reader RDR-EDI-05 on `day` (`2026-MM-DD`), second `n` of the day.
fn grant(day: &str, n: u32, badge: &str) -> String {
    let (h, m, s) = (n / 3600 % 24, n / 60 % 60, n % 60);
    format!(
        r#"{{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/AccessGranted/Credential/&RDR-EDI-05", "payload": {{"UtcTime": "{day}T{h:02}:{m:02}:{s:02}Z", "Source": {{"AccessPointToken": "RDR-EDI-05"}}, "Data": {{"CredentialToken": "{badge}"}}}}}}"#
    )
}

fn sshd(day: &str, minute: u32) -> String {
    format!(
        "<38>1 {day}T09:{minute:02}:00Z srv-edi-fs1 sshd 411 - - Accepted publickey for icampbell from 10.20.0.7 port 50522 ssh2"
    )
}

/// Posts `count` badge grants on `day` in batches; returns their ids.
fn post_grants(onesec: &Onesec, day: &str, count: u32, badge: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    for start in (0..count).step_by(500) {
        let body: Vec<String> = (start..(start + 500).min(count))
            .map(|n| grant(day, n, badge))
            .collect();
        let answer = onesec.post_events("onvif-ej", body.join("\n"), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        ids.extend(common::acknowledged_ids(&answer.body));
    }
    ids
}

fn stored_ids(data: &Path) -> BTreeSet<u64> {
    let store = SqliteStore::open(&data.join("onesec.db")).unwrap();
    store
        .events(&EventFilter {
            after_id: Some(0),
            limit: Some(1_000_000),
            ..EventFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn run_cli(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "onesec {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `onesec privacy retention --apply --json` with the data folder's and the as-of flags:
/// the report as printed.
fn apply_retention(folder: &[&str], as_of: &[&str]) -> String {
    run_cli(
        &[
            &["privacy", "retention", "--apply", "--json"][..],
            folder,
            as_of,
        ]
        .concat(),
    )
}

fn verify(data: &Path) -> String {
    let out = cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "audit verify failed:\n{text}");
    text
}

fn write_config(path: &Path, retention: &str) {
    fs::write(
        path,
        format!("[journal]\nsegment_mib = 1\n\n[privacy.retention]\n{retention}\n"),
    )
    .unwrap();
}

#[test]
fn retention_removes_the_expired_events_and_their_segments_and_the_audit_log_verifies() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("onesec.toml");
    write_config(
        &config,
        "[[privacy.retention.rule]]\ncategory = \"movements\"\ndays = 30",
    );
    let options = Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        config: Some(config.clone()),
        ..Options::default()
    };
    let mut onesec = Onesec::start(&options);
    // March: 2500 badge events (more than two 1 MiB segments) and two logins; May: 300 more.
    let old_badges = post_grants(&onesec, "2026-03-02", 2500, "0x7A1002");
    let logins = onesec.post_events(
        "syslog",
        format!("{}\n{}", sshd("2026-03-02", 1), sshd("2026-03-02", 2)),
        None,
    );
    assert_eq!(logins.status, 200, "{}", logins.body);
    let login_ids = common::acknowledged_ids(&logins.body);
    let recent = post_grants(&onesec, "2026-05-02", 300, "0x7A1002");
    let last = *recent.last().unwrap();
    onesec.wait_for_detection(last);
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();
    let segments_before = fs::read_dir(data.join("journal")).unwrap().count();

    let folder = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let as_of = ["--as-of", "2026-05-10T00:00:00Z"];
    let dry = run_cli(&[&["privacy", "retention", "--json"][..], &folder, &as_of].concat());
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(
        stored_ids(&data).len() as u64,
        last,
        "a dry run removes nothing"
    );

    let applied = apply_retention(&folder, &as_of);
    let report: Value = serde_json::from_str(&applied).unwrap();
    // Events an incident cites are kept as its evidence; every other March badge event goes.
    let kept_as_evidence = report["kept_as_incident_evidence"].as_u64().unwrap();
    assert_eq!(report["expired"].as_u64().unwrap(), old_badges.len() as u64);
    assert_eq!(
        report["removed"].as_u64().unwrap() + kept_as_evidence,
        old_badges.len() as u64
    );
    assert_eq!(
        report["removed"], dry["removed"],
        "the dry run said the same"
    );
    let stored = stored_ids(&data);
    for id in login_ids.iter().chain(&recent) {
        assert!(stored.contains(id), "event {id} is not expired and stays");
    }
    let old_kept = old_badges.iter().filter(|id| stored.contains(id)).count();
    assert_eq!(old_kept as u64, kept_as_evidence);
    let journal = &report["journal"];
    assert!(
        journal["segments_removed"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    assert!(fs::read_dir(data.join("journal")).unwrap().count() < segments_before);

    // The audit log still verifies: the deleted batches and removed ids are explained by the
    // audited retention run, whose entry names ids and counts only.
    let verified = verify(&data);
    assert!(
        verified.contains("deleted by audited retention runs"),
        "{verified}"
    );
    let leaves = fs::read(data.join("audit/leaves.bin")).unwrap();
    let leaves = String::from_utf8_lossy(&leaves);
    assert!(leaves.contains("retention.removed"));

    // A restart rebuilds detection from what the journal keeps and stores nothing removed.
    let onesec = Onesec::start(&options);
    onesec.wait_for_detection(last);
    let after_restart = onesec.status();
    assert_eq!(after_restart["detected_seq"].as_u64(), Some(last));
    drop(onesec);
    assert_eq!(stored_ids(&data), stored, "no removed event came back");
    verify(&data);
}

#[test]
fn a_legal_hold_keeps_what_its_incident_cites_and_is_audited() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut onesec = Onesec::start_demo(&data);
    let incidents = onesec.incidents();
    assert!(!incidents.is_empty(), "the demo opens an incident");
    let held = incidents[0].id.clone();
    onesec.kill();
    let config = temp.path().join("onesec.toml");
    // Everything expires after a day, incidents protect their events for a day only.
    write_config(&config, "default_days = 1\nincident_days = 1");
    let folder = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];

    let refused = cli(&[
        &["privacy", "hold", "no-such-incident", "--reason", "x"][..],
        &folder,
    ]
    .concat());
    assert!(!refused.status.success());
    let placed = run_cli(
        &[
            &[
                "privacy",
                "hold",
                held.as_str(),
                "--reason",
                "litigation 2026-7",
            ][..],
            &folder,
        ]
        .concat(),
    );
    assert!(placed.contains("legal hold"), "{placed}");
    let listed = run_cli(&[&["privacy", "holds"][..], &folder].concat());
    assert!(
        listed.contains(&held) && listed.contains("litigation 2026-7"),
        "{listed}"
    );

    let mut store = SqliteStore::open(&data.join("onesec.db")).unwrap();
    let cited: BTreeSet<u64> = store
        .alerts(Some(&held), 10_000)
        .unwrap()
        .into_iter()
        .flat_map(|a| a.event_ids)
        .collect();
    assert!(!cited.is_empty());
    // The other incidents are closed (an open incident and what it cites never expire), so
    // only the hold keeps anything.
    let all = onesec_store::IncidentFilter {
        all: true,
        ..Default::default()
    };
    let others: Vec<onesec_incident::Incident> = store
        .incidents(&all)
        .unwrap()
        .into_iter()
        .filter(|i| i.id != held)
        .collect();
    for incident in others.iter().filter(|i| i.state.is_open()) {
        store
            .set_incident_state(&incident.id, onesec_incident::IncidentState::Closed)
            .unwrap();
    }
    // Merged into the held one, an incident stays with it.
    let mut others: Vec<String> = others
        .into_iter()
        .filter(|i| i.merged_into.as_deref() != Some(held.as_str()))
        .map(|i| i.id)
        .collect();
    others.sort();
    drop(store);
    let far_future = ["--as-of", "2030-01-01T00:00:00Z"];
    let applied = apply_retention(&folder, &far_future);
    let report: Value = serde_json::from_str(&applied).unwrap();
    assert_eq!(
        report["kept_for_legal_hold"].as_u64(),
        Some(cited.len() as u64)
    );
    assert_eq!(
        stored_ids(&data),
        cited,
        "only the held incident's events remain"
    );
    // The closed incidents expired with everything kept for them; the held one stays.
    let mut removed: Vec<String> = report["incidents_removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, others, "{report:#}");
    assert_eq!(report["incidents_kept_for_legal_hold"].as_u64(), Some(1));
    let store = SqliteStore::open(&data.join("onesec.db")).unwrap();
    for id in &others {
        assert!(store.incident(id).unwrap().is_none(), "{id} expired");
        assert!(store.alerts(Some(id), 10).unwrap().is_empty());
    }
    assert!(
        store.incident(&held).unwrap().is_some(),
        "the held incident stays"
    );
    drop(store);
    verify(&data);

    let lifted = run_cli(
        &[
            &[
                "privacy",
                "release",
                held.as_str(),
                "--reason",
                "case closed",
            ][..],
            &folder,
        ]
        .concat(),
    );
    assert!(lifted.contains("lifted"), "{lifted}");
    let leaves = fs::read(data.join("audit/leaves.bin")).unwrap();
    let leaves = String::from_utf8_lossy(&leaves);
    for action in ["privacy.hold", "privacy.release", "retention.removed"] {
        assert!(leaves.contains(action), "{action} is audited");
    }

    // Released but still open, the incident stays with what it cites; closed, it expires with
    // its alerts and events at the next run, and the audit log still verifies.
    let kept = apply_retention(&folder, &far_future);
    let kept: Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(kept["incidents_removed"], serde_json::json!([]), "{kept:#}");
    assert_eq!(kept["incidents_kept_open"].as_u64(), Some(1), "{kept:#}");
    assert_eq!(stored_ids(&data), cited);
    let mut store = SqliteStore::open(&data.join("onesec.db")).unwrap();
    store
        .set_incident_state(&held, onesec_incident::IncidentState::Closed)
        .unwrap();
    drop(store);
    let expired = apply_retention(&folder, &far_future);
    let expired: Value = serde_json::from_str(&expired).unwrap();
    assert_eq!(
        expired["incidents_removed"],
        serde_json::json!([held]),
        "{expired:#}"
    );
    assert!(
        expired["incident_rows_removed"]["alerts"].as_u64().unwrap() > 0,
        "{expired:#}"
    );
    assert_eq!(expired["removed"].as_u64(), Some(cited.len() as u64));
    assert!(stored_ids(&data).is_empty(), "nothing cites them any more");
    let store = SqliteStore::open(&data.join("onesec.db")).unwrap();
    assert!(store.incident(&held).unwrap().is_none());
    assert!(store.alerts(None, 10_000).unwrap().is_empty());
    drop(store);
    let verified = verify(&data);
    assert!(verified.contains("OK: nothing was changed"), "{verified}");
}

/// `method path` with a JSON body as `bearer`: status and body.
fn send_json(
    onesec: &Onesec,
    method: reqwest::Method,
    path: &str,
    body: Value,
    bearer: &str,
) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", onesec.base))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().unwrap_or(Value::Null);
    (status, body)
}

#[test]
fn holds_and_retention_runs_over_the_api_need_manage_privacy_and_are_audited() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut onesec = Onesec::start_demo(&data);
    let incident = onesec.incidents()[0].id.clone();
    let admin = onesec.token().expect("authentication is on").to_string();
    let analyst = onesec.issue_token("analyst", "soc_analyst", &[]);
    let dpo = onesec.issue_token("dpo", "compliance_officer", &[]);
    let hold_path = format!("/api/v1/incidents/{incident}/hold");
    let reason = serde_json::json!({ "reason": "litigation 2026-7" });
    let post = reqwest::Method::POST;

    let (status, _) = send_json(&onesec, post.clone(), &hold_path, reason.clone(), &analyst);
    assert_eq!(status, 403, "a SOC analyst may not hold incidents");
    let (status, body) = send_json(&onesec, post.clone(), &hold_path, json_reason(""), &dpo);
    assert_eq!(status, 400, "{body}");
    let (status, body) = send_json(
        &onesec,
        post.clone(),
        "/api/v1/incidents/no-such/hold",
        reason.clone(),
        &dpo,
    );
    assert_eq!(status, 404, "{body}");
    let (status, hold) = send_json(&onesec, post.clone(), &hold_path, reason, &dpo);
    assert_eq!(status, 201, "{hold}");
    assert_eq!(hold["placed_by"], "token:dpo");
    let holds = onesec.get_json("/api/v1/privacy/holds");
    assert_eq!(holds[0]["incident_id"], Value::String(incident.clone()));

    let dry = serde_json::json!({ "as_of": "2030-01-01T00:00:00Z" });
    let (status, report) = send_json(
        &onesec,
        post.clone(),
        "/api/v1/privacy/retention",
        dry,
        &admin,
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["removed"], 0,
        "no period is configured: nothing expires"
    );

    let delete = reqwest::Method::DELETE;
    let (status, _) = send_json(&onesec, delete.clone(), &hold_path, json_reason(""), &dpo);
    assert_eq!(status, 400, "lifting needs a reason");
    let (status, body) = send_json(
        &onesec,
        delete.clone(),
        &hold_path,
        json_reason("settled"),
        &dpo,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = send_json(&onesec, delete, &hold_path, json_reason("again"), &dpo);
    assert_eq!(status, 404, "no hold left to lift");
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();

    let entries: Vec<Value> = onesec_audit::read_contents(&data.join("audit"))
        .unwrap()
        .entries
        .iter()
        .filter_map(|bytes| serde_json::from_slice(bytes).ok())
        .collect();
    let audited = |action: &str| {
        entries.iter().any(|e| {
            e["action"] == action && e["actor"] == "token:dpo" && e["target"] == incident.as_str()
        })
    };
    assert!(audited("privacy.hold"), "the hold is audited with who");
    assert!(
        audited("privacy.release"),
        "the release is audited with who"
    );
}

fn json_reason(reason: &str) -> Value {
    serde_json::json!({ "reason": reason })
}

/// Every audit entry of a data folder (stopped onesec).
fn audit_entries(data: &Path) -> Vec<Value> {
    onesec_audit::read_contents(&data.join("audit"))
        .unwrap()
        .entries
        .iter()
        .filter_map(|bytes| serde_json::from_slice(bytes).ok())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn folder_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes.extend(folder_bytes(&path));
        } else {
            bytes.extend(fs::read(&path).unwrap());
        }
    }
    bytes
}

#[test]
fn a_person_asks_what_onesec_holds_and_has_it_erased() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("onesec.toml");
    fs::write(
        &config,
        format!(
            "directory = {:?}\n[journal]\nsegment_mib = 1\n[privacy.retention]\ndefault_days = 365\n",
            northwind().to_str().unwrap()
        ),
    )
    .unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        config: Some(config.clone()),
        ..Options::default()
    });
    // Rory MacLeod (n002, badge 0x7A1002) badges in 300 times; then Isla Campbell (n001)
    // logs in 1500 times, enough to fill the first journal segment.
    let rory = post_grants(&onesec, "2026-05-02", 300, "0x7A1002");
    let lines: Vec<String> = (0..1500).map(|i| sshd("2026-05-03", i % 60)).collect();
    for chunk in lines.chunks(500) {
        let answer = onesec.post_events("syslog", chunk.join("\n"), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let last = onesec.status()["journal_seq"].as_u64().unwrap();
    onesec.wait_for_detection(last);
    onesec.kill();
    let folder = [
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];

    // "What do we hold about this person?"
    let json = run_cli(
        &[
            &["privacy", "export", "n002", "--reason", "SAR 2026-3"][..],
            &folder,
        ]
        .concat(),
    );
    let export: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(export["directory"]["name"], "Rory MacLeod");
    let ids: Vec<u64> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), rory.len());
    assert!(ids.iter().all(|id| rory.contains(id)));
    assert_eq!(export["categories"][0]["category"], "movements");
    assert_eq!(
        export["categories"][0]["kept"][0],
        "365 days by default_days"
    );
    let text = run_cli(
        &[
            &[
                "privacy",
                "export",
                "n002",
                "--reason",
                "SAR 2026-3",
                "--format",
                "text",
            ][..],
            &folder,
        ]
        .concat(),
    );
    assert!(
        text.contains("Rory MacLeod") && text.contains("movements"),
        "{text}"
    );
    let missing = cli(&[&["privacy", "export", "n002", "--reason", " "][..], &folder].concat());
    assert!(!missing.status.success(), "an export needs a reason");

    // "Delete what we may."
    let dry = run_cli(
        &[
            &[
                "privacy",
                "erase",
                "n002",
                "--reason",
                "erasure 2026-3",
                "--json",
            ][..],
            &folder,
        ]
        .concat(),
    );
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["removed"].as_u64(), Some(rory.len() as u64));
    assert!(
        contains(&folder_bytes(&data), "0x7A1002"),
        "a dry run erases nothing"
    );
    let erased = run_cli(
        &[
            &[
                "privacy",
                "erase",
                "n002",
                "--reason",
                "erasure 2026-3",
                "--apply",
                "--json",
            ][..],
            &folder,
        ]
        .concat(),
    );
    let report: Value = serde_json::from_str(&erased).unwrap();
    assert_eq!(report["removed"].as_u64(), Some(rory.len() as u64));
    assert!(
        report["journal"]["segments_removed"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    let stored = stored_ids(&data);
    assert!(rory.iter().all(|id| !stored.contains(id)));
    assert_eq!(
        stored.len() as u64,
        last - rory.len() as u64,
        "nobody else's events went"
    );
    let bytes = folder_bytes(&data);
    assert!(
        !contains(&bytes, "0x7A1002"),
        "no badge number of his is left"
    );
    assert!(!contains(&bytes, "Rory MacLeod"), "no name of his is left");
    assert!(contains(&bytes, "icampbell"), "Isla's events stay");
    verify(&data);

    let entries = audit_entries(&data);
    let exports: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "privacy.export" && e["target"] == "n002")
        .collect();
    assert_eq!(exports.len(), 2, "each export is audited");
    assert_eq!(exports[0]["detail"]["reason"], "SAR 2026-3");
    let erase = entries
        .iter()
        .find(|e| e["action"] == "privacy.erase")
        .expect("the erasure is audited");
    assert_eq!(erase["detail"]["removed"].as_u64(), Some(rory.len() as u64));
    assert!(
        !erase.to_string().contains("n002"),
        "the erasure names the person only by hash"
    );
}

#[test]
fn subject_requests_over_the_api_need_a_reason_and_manage_privacy_across_all_sites() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        ..Options::default()
    });
    let isla = onesec.post_events(
        "syslog",
        format!("{}\n{}", sshd("2026-05-03", 1), sshd("2026-05-03", 2)),
        None,
    );
    assert_eq!(isla.status, 200, "{}", isla.body);
    onesec.wait_for_detection(2);
    let dpo = onesec.issue_token("dpo", "compliance_officer", &[]);
    let local = onesec.issue_token("local-dpo", "compliance_officer", &["EDI"]);
    let analyst = onesec.issue_token("analyst", "soc_analyst", &[]);
    let get = reqwest::Method::GET;
    let path = "/api/v1/privacy/subjects/n001?reason=SAR%207";
    assert_eq!(
        onesec.request_as(get.clone(), path, Some(&analyst)).status,
        403
    );
    assert_eq!(
        onesec.request_as(get.clone(), path, Some(&local)).status,
        403
    );
    let no_reason = onesec.request_as(get.clone(), "/api/v1/privacy/subjects/n001", Some(&dpo));
    assert_eq!(no_reason.status, 400);
    let export = onesec.request_as(get, path, Some(&dpo));
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(export.body["directory"]["name"], "Isla Campbell");

    let post = reqwest::Method::POST;
    let erase_path = "/api/v1/privacy/subjects/n001/erase";
    let (status, _) = send_json(&onesec, post.clone(), erase_path, json_reason(""), &dpo);
    assert_eq!(status, 400, "an erasure needs the request's reference");
    let body = serde_json::json!({ "reason": "erasure 7", "apply": true });
    let (status, report) = send_json(&onesec, post, erase_path, body, &dpo);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["removed"], 2);
    let again = onesec.request_as(reqwest::Method::GET, path, Some(&dpo));
    assert!(again.body["events"].as_array().unwrap().is_empty());
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();
    let entries = audit_entries(&data);
    let exports = entries
        .iter()
        .filter(|e| {
            e["action"] == "privacy.export" && e["actor"] == "token:dpo" && e["target"] == "n001"
        })
        .count();
    assert_eq!(exports, 2, "both lookups are audited with who and whom");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "privacy.erase" && e["actor"] == "token:dpo")
    );
    verify(&data);
}

/// `GET path` as `bearer` with the reason header: status and body.
fn get_with_reason(onesec: &Onesec, path: &str, bearer: &str, reason: &str) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .get(format!("{}{path}", onesec.base))
        .bearer_auth(bearer)
        .header("X-Onesec-Reason", reason)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn every_look_at_a_persons_data_is_audited_and_the_dpo_can_ask_who_looked() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("onesec.toml");
    fs::write(
        &config,
        "[privacy.access]\nreason_required = [\"person_timeline\"]\n",
    )
    .unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        config: Some(config.clone()),
        directory: Some(northwind()),
        ..Options::default()
    });
    // Callum Reid (n004) left the company; his badge is tried at a reader.
    let denied = r#"{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/Denied/Credential/&RDR-EDI-01", "payload": {"UtcTime": "2026-05-05T09:15:00Z", "Source": {"AccessPointToken": "RDR-EDI-01"}, "Data": {"CredentialToken": "0x7A1004", "Reason": "CredentialNotActive"}}}"#;
    let answer = onesec.post_events("onvif-ej", denied, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    onesec.wait_for_detection(1);
    let incidents = onesec.incidents();
    let incident = incidents
        .iter()
        .find(|i| i.persons.contains("n004"))
        .unwrap_or_else(|| panic!("an incident names n004: {incidents:?}"))
        .clone();
    let person = incident.persons.iter().next().unwrap().clone();
    let admin = onesec.token().unwrap().to_string();
    let dpo = onesec.issue_token("dpo", "compliance_officer", &[]);
    let analyst = onesec.issue_token("analyst", "soc_analyst", &[]);
    let get = reqwest::Method::GET;

    // A person's timeline needs a reason here ([privacy.access]); by query or header.
    let timeline = format!("/api/v1/events?person={person}");
    let refused = onesec.request_as(get.clone(), &timeline, Some(&admin));
    assert_eq!(refused.status, 400, "{}", refused.body);
    let by_query = format!("{timeline}&reason=case%2011");
    let answer = onesec.request_as(get.clone(), &by_query, Some(&admin));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (status, _) = get_with_reason(&onesec, &timeline, &analyst, "shift check");
    assert_eq!(status, 200);
    // The incident's context, report and export show its people's events: no reason needed.
    let id = &incident.id;
    for path in [
        format!("/api/v1/incidents/{id}/context"),
        format!("/api/v1/incidents/{id}/report"),
        format!("/api/v1/incidents/{id}/export"),
        format!("/console/incidents/{id}"),
    ] {
        let answer = onesec.request_as(get.clone(), &path, Some(&admin));
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    let export = format!("/api/v1/privacy/subjects/{person}?reason=SAR%209");
    assert_eq!(
        onesec.request_as(get.clone(), &export, Some(&dpo)).status,
        200
    );

    // "Who looked at this person's data?"
    let who = format!("/api/v1/privacy/access?person={person}");
    assert_eq!(
        onesec.request_as(get.clone(), &who, Some(&analyst)).status,
        403
    );
    let answer = onesec.request_as(get.clone(), &who, Some(&dpo));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let looks = answer.body.as_array().unwrap().clone();
    let seen: Vec<(String, String, String)> = looks
        .iter()
        .map(|a| {
            (
                a["actor"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |actor: &str, kind: &str, reason: &str| {
        seen.contains(&(actor.to_string(), kind.to_string(), reason.to_string()))
    };
    assert!(has(common::ADMIN, "person_timeline", "case 11"), "{seen:?}");
    assert!(
        has("token:analyst", "person_timeline", "shift check"),
        "{seen:?}"
    );
    assert!(has(common::ADMIN, "incident_context", ""), "{seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|(_, kind, _)| kind == "incident_export")
            .count(),
        2,
        "the report and the export: {seen:?}"
    );
    let context_views = looks
        .iter()
        .filter(|a| a["kind"] == "incident_context" && a["target"] == id.as_str())
        .count();
    assert_eq!(
        context_views, 2,
        "the API's and the console's view: {seen:?}"
    );
    assert!(has("token:dpo", "subject_export", "SAR 9"), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|(_, kind, reason)| kind == "person_timeline" && reason.is_empty()),
        "the refused lookup showed nothing and is not a look"
    );
    let later = format!("{who}&from=2099-01-01T00:00:00Z");
    let none = onesec.request_as(get, &later, Some(&dpo));
    assert_eq!(none.body.as_array().map(Vec::len), Some(0));
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();

    // The same question offline, from the data folder.
    let offline = run_cli(&[
        "privacy",
        "access",
        &person,
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
    ]);
    let offline: Value = serde_json::from_str(&offline).unwrap();
    assert_eq!(offline.as_array().unwrap().len(), looks.len());
}

#[test]
fn the_record_of_processing_follows_the_live_configuration() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("onesec.toml");
    fs::write(
        &config,
        format!(
            r#"directory = {:?}
[compliance]
dpo_contact = "dpo@northwind.example"
[[response.connectors]]
name = "soc"
kind = "webhook"
url = "https://soc.northwind.example/hook"
[privacy.retention]
enabled = true
default_days = 365
[[privacy.retention.rule]]
category = "movements"
days = 90
[privacy.access]
reason_required = ["person_timeline"]
"#,
            northwind().to_str().unwrap()
        ),
    )
    .unwrap();
    let args = ["privacy", "records", "--config", config.to_str().unwrap()];
    let markdown = run_cli(&args);
    for expected in [
        "dpo@northwind.example",
        "| movements |",
        "90 days by rule 1",
        "365 days otherwise (default_days)",
        "https://soc.northwind.example/hook",
        "retention job running: yes",
        "encryption at rest: no",
        "a reason is required for person_timeline",
    ] {
        assert!(
            markdown.contains(expected),
            "{expected:?} missing:\n{markdown}"
        );
    }
    let json: Value =
        serde_json::from_str(&run_cli(&[&args[..], &["--format", "json"]].concat())).unwrap();
    let movements = json["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "movements")
        .unwrap();
    assert_eq!(movements["retention"][0], "90 days by rule 1");
    // "What is kept longer than 90 days?" The record says: logins, video... by the default.
    let logins = json["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "logins")
        .unwrap();
    assert_eq!(logins["retention"][0], "365 days otherwise (default_days)");
    let subjects = json["data_subjects"][0].as_str().unwrap();
    assert!(subjects.contains("active"), "{subjects}");

    // The same record from the running onesec, for those who read compliance data.
    let data = temp.path().join("data");
    let onesec = Onesec::start(&Options {
        data_dir: data,
        config: Some(config.clone()),
        ..Options::default()
    });
    let manager = onesec.issue_token("manager", "manager", &[]);
    let analyst = onesec.issue_token("analyst", "soc_analyst", &[]);
    let get = reqwest::Method::GET;
    let path = "/api/v1/privacy/records?format=json";
    assert_eq!(
        onesec.request_as(get.clone(), path, Some(&analyst)).status,
        403
    );
    let served = onesec.request_as(get, path, Some(&manager));
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.body["categories"], json["categories"]);
    assert_eq!(served.body["recipients"], json["recipients"]);
}

#[test]
fn a_running_onesec_removes_expired_events_and_their_segments_and_goes_on_detecting() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("onesec.toml");
    write_config(&config, "default_days = 1\nincident_days = 1");
    let options = Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        config: Some(config),
        ..Options::default()
    };
    let mut onesec = Onesec::start(&options);
    let old = post_grants(&onesec, "2026-03-02", 2500, "0x7A1002");
    onesec.wait_for_detection(*old.last().unwrap());
    let admin = onesec.token().unwrap().to_string();
    let body = serde_json::json!({ "apply": true, "as_of": "2026-04-01T00:00:00Z" });
    let post = reqwest::Method::POST;
    let (status, report) = send_json(&onesec, post, "/api/v1/privacy/retention", body, &admin);
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["removed"].as_u64(),
        Some(old.len() as u64),
        "{report:#}"
    );
    assert!(
        report["journal"]["segments_removed"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    // Detection goes on past the deleted segments.
    let new = post_grants(&onesec, "2026-04-02", 10, "0x7A1002");
    onesec.wait_for_detection(*new.last().unwrap());
    assert_eq!(onesec.events().len(), new.len());
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();
    verify(&data);
    let onesec = Onesec::start(&options);
    onesec.wait_for_detection(*new.last().unwrap());
    assert_eq!(
        onesec.events().len(),
        new.len(),
        "nothing removed comes back"
    );
}

/// `[store] backend = "postgres"` with `[privacy.retention] enabled = true` starts (it used to
/// be refused), and `onesec privacy retention --apply` on that configuration removes the
/// expired events from PostgreSQL and the journal segments that held them, the audit log still
/// verifying against the store and the journal.
#[test]
fn retention_on_postgresql_removes_the_expired_events_and_the_audit_log_verifies() {
    let Some(schema) = onesec_store::testing::ScratchSchema::create("privacy_up") else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("onesec.toml");
    fs::write(
        &config,
        format!(
            "[journal]\nsegment_mib = 1\n\n[store]\nbackend = \"postgres\"\nurl = {:?}\nschema = {:?}\n\n\
             [privacy.retention]\nenabled = true\nevery_minutes = 600\n\n\
             [[privacy.retention.rule]]\ncategory = \"movements\"\ndays = 30\n",
            schema.settings().url,
            schema.name()
        ),
    )
    .unwrap();
    let options = Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        config: Some(config.clone()),
        ..Options::default()
    };
    let mut onesec = Onesec::start(&options);
    let old_badges = post_grants(&onesec, "2026-03-02", 2500, "0x7A1002");
    let recent = post_grants(&onesec, "2026-05-02", 300, "0x7A1002");
    let last = *recent.last().unwrap();
    onesec.wait_for_detection(last);
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();
    let in_postgres = |sql: &str| schema.query_i64(sql).unwrap();
    let stored = || in_postgres("SELECT coalesce(sum(count), 0)::BIGINT FROM event_blocks");
    assert_eq!(stored(), last as i64);

    let applied = run_cli(&[
        "privacy",
        "retention",
        "--apply",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--as-of",
        "2026-05-10T00:00:00Z",
    ]);
    let report: Value = serde_json::from_str(&applied).unwrap();
    let removed = report["removed"].as_u64().unwrap();
    let kept_as_evidence = report["kept_as_incident_evidence"].as_u64().unwrap();
    assert_eq!(
        removed + kept_as_evidence,
        old_badges.len() as u64,
        "{report:#}"
    );
    assert_eq!(stored(), (last - removed) as i64);
    assert!(in_postgres("SELECT count(*) FROM removed_events") > 0);
    assert!(
        report["journal"]["segments_removed"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    let out = cli(&[
        "audit",
        "verify",
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "audit verify failed:\n{text}");
    assert!(text.contains("deleted by audited retention runs"), "{text}");

    // Holds work on the same store.
    let placed = cli(&[
        "privacy",
        "hold",
        "no-such-incident",
        "--reason",
        "x",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        !placed.status.success(),
        "no such incident on PostgreSQL either"
    );
}
