//! The audit log end to end: batches and actions are recorded by a running onesec, an event's
//! proof checks with the public key alone, `onesec audit verify` passes on the untouched data
//! folder and reports the position of a changed journal event or audit leaf in copies of it,
//! and journaled events a crash (here: a run with the audit log off) left without an entry are
//! covered on the next start.

mod common;

use common::{Onesec, Options, cli};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn northwind() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")
}

fn grant(minute: u32, badge: &str) -> String {
    format!(
        r#"{{"topic": "northwind/ctl-edi-01/onvif-ej/AccessControl/AccessGranted/Credential/&RDR-EDI-05", "payload": {{"UtcTime": "2026-05-05T08:{minute:02}:00Z", "Source": {{"AccessPointToken": "RDR-EDI-05"}}, "Data": {{"CredentialToken": "{badge}"}}}}}}"#
    )
}

fn sshd(minute: u32, user: &str) -> String {
    format!(
        "<38>1 2026-05-05T09:{minute:02}:00Z srv-edi-fs1 sshd 411 - - Accepted publickey for {user} from 10.20.0.7 port 50522 ssh2"
    )
}

/// Three batches: 2 badge events, 3 SSH logins, 1 badge event; returns the acknowledged ids.
fn ingest_three_batches(onesec: &Onesec) -> Vec<Vec<u64>> {
    let bodies = [
        (
            "onvif-ej",
            format!("{}\n{}", grant(1, "0x7A0001"), grant(2, "0x7A0002")),
        ),
        (
            "syslog",
            (1..=3)
                .map(|m| sshd(m, "amacleod"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("onvif-ej", grant(3, "0x7A0003")),
    ];
    bodies
        .iter()
        .map(|(format, body)| {
            let answer = onesec.post_events(format, body.clone(), None);
            assert_eq!(answer.status, 200, "{}", answer.body);
            let (first, last) = (
                answer.body["first_id"].as_u64(),
                answer.body["last_id"].as_u64(),
            );
            (first.unwrap()..=last.unwrap()).collect()
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for item in fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else if item.file_name() != "LOCK" {
            fs::copy(item.path(), target).unwrap();
        }
    }
}

/// Rewrites one byte of journal record `seq`'s payload and fixes the record's CRC, as an
/// attacker who knows the journal format would (docs/journal-format.md).
fn rewrite_journal_event(data: &Path, seq: u64) {
    let journal = data.join("journal");
    let segment = fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let mut bytes = fs::read(&segment).unwrap();
    let mut at = 32;
    loop {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let record_seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        if record_seq == seq {
            let payload = at + 16..at + 16 + len;
            let text = String::from_utf8(bytes[payload.clone()].to_vec()).unwrap();
            let forged = text.replacen("amacleod", "nobody00", 1);
            assert_ne!(forged, text, "the record names the user");
            bytes[payload.clone()].copy_from_slice(forged.as_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), &bytes[payload]);
            bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
            break;
        }
        at += 16 + len;
    }
    fs::write(&segment, bytes).unwrap();
}

fn verify(data: &Path) -> (bool, String) {
    let out = cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn batches_and_actions_are_audited_proved_and_verified() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        ..Options::default()
    });
    let batches = ingest_three_batches(&onesec);
    onesec.wait_for_detection(6);
    assert_eq!(onesec.post_json("/api/v1/directory/reload").status, 200);

    let proof = onesec.get_json(&format!("/api/v1/audit/proof/{}", batches[1][1]));
    let key = onesec_audit::load_public_key(&data.join("audit/signing.pub")).unwrap();
    let parsed: onesec_audit::EventProof = serde_json::from_value(proof.clone()).unwrap();
    parsed
        .verify(&key)
        .expect("the proof checks with the public key");
    assert!(parsed.payload.contains("Accepted publickey for amacleod"));
    let proof_file = temp.path().join("proof.json");
    fs::write(&proof_file, proof.to_string()).unwrap();
    let checked = cli(&[
        "audit",
        "check-proof",
        proof_file.to_str().unwrap(),
        "--public-key",
        data.join("audit/signing.pub").to_str().unwrap(),
    ]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );

    let mut forged: Value = proof.clone();
    forged["payload"] = Value::String(parsed.payload.replace("amacleod", "nobody00"));
    fs::write(&proof_file, forged.to_string()).unwrap();
    let refused = cli(&[
        "audit",
        "check-proof",
        proof_file.to_str().unwrap(),
        "--public-key",
        data.join("audit/signing.pub").to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("INVALID"));

    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    onesec.kill();

    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert!(report.contains("journal checked: 3 batches"), "{report}");

    // `onesec audit prove` offline, from the data folder: the same proof, checked with the
    // public key alone.
    let offline = cli(&[
        "audit",
        "prove",
        &batches[0][1].to_string(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(offline.status.success(), "{offline:?}");
    let offline: onesec_audit::EventProof = serde_json::from_slice(&offline.stdout).unwrap();
    offline.verify(&key).expect("the offline proof checks");
    assert_eq!(offline.event_id, batches[0][1]);
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    let leaves = fs::read(data.join("audit/leaves.bin")).unwrap();
    let text = String::from_utf8_lossy(&leaves);
    for action in ["service.start", "ingest.batch", "directory.reload"] {
        assert!(text.contains(action), "{action} is recorded");
    }

    let changed_event = temp.path().join("changed-event");
    copy_dir(&data, &changed_event);
    rewrite_journal_event(&changed_event, batches[1][2]);
    let (ok, report) = verify(&changed_event);
    assert!(!ok);
    let range = format!("journal records {}..={}", batches[1][0], batches[1][2]);
    assert!(report.contains(&format!("PROBLEM  {range}")), "{report}");

    let changed_leaf = temp.path().join("changed-leaf");
    copy_dir(&data, &changed_leaf);
    let path = changed_leaf.join("audit/leaves.bin");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    fs::write(&path, bytes).unwrap();
    let (ok, report) = verify(&changed_leaf);
    assert!(!ok);
    assert!(report.contains("PROBLEM  leaf "), "{report}");

    // The store (what the API shows). Its blocks name where their events lie in the journal:
    // a block pointed elsewhere, or relabelled with other ids, cannot be read; a block
    // rewritten to hold its own (changed) JSON, as blocks written without a journal do, is
    // compared event by event; deleted blocks leave detected events missing.
    assert!(report.contains("store checked: 6 events"), "{report}");
    let tamper_store = |name: &str, tamper: &dyn Fn(&rusqlite::Connection) -> usize| {
        let copy = temp.path().join(name);
        copy_dir(&data, &copy);
        let conn = rusqlite::Connection::open(copy.join("onesec.db")).unwrap();
        assert!(tamper(&conn) > 0, "{name} changed nothing");
        drop(conn);
        verify(&copy)
    };
    let sql = |sql: &'static str| move |conn: &rusqlite::Connection| conn.execute(sql, []).unwrap();
    for (name, change) in [
        ("moved-store", "UPDATE event_blocks SET offset = offset + 1"),
        (
            "relabelled-store",
            "UPDATE event_blocks SET first_id = first_id + 1, last_id = last_id + 1",
        ),
    ] {
        let (ok, report) = tamper_store(name, &sql(change));
        assert!(!ok, "{name}");
        assert!(
            report.contains("PROBLEM  store events from 1: cannot be read"),
            "{name}: {report}"
        );
    }
    let inline_changed_json = |conn: &rusqlite::Connection| {
        let copy_store = conn.path().map(std::path::PathBuf::from).unwrap();
        let store = onesec_store::SqliteStore::open(&copy_store).unwrap();
        let events = onesec_store::Store::events(&store, &Default::default()).unwrap();
        let lines: String = events
            .iter()
            .map(|e| {
                serde_json::to_string(e)
                    .unwrap()
                    .replace("amacleod", "nobody00")
                    + "\n"
            })
            .collect();
        let first = events.iter().map(|e| e.id).min().unwrap() as i64;
        conn.execute("DELETE FROM event_blocks WHERE first_id <> ?1", [first])
            .unwrap();
        conn.execute(
            "UPDATE event_blocks SET data = ?1, segment = NULL, offset = NULL,
               last_id = ?2, count = ?3",
            rusqlite::params![
                lines.into_bytes(),
                events.iter().map(|e| e.id).max().unwrap() as i64,
                events.len() as i64
            ],
        )
        .unwrap()
    };
    let (ok, report) = tamper_store("changed-store", &inline_changed_json);
    assert!(!ok);
    for id in &batches[1] {
        assert!(
            report.contains(&format!("PROBLEM  store event {id}: differs")),
            "{report}"
        );
    }
    assert!(!report.contains(&format!("store event {}:", batches[0][0])));
    let (ok, report) = tamper_store(
        "unindexed-store",
        &sql("DELETE FROM event_keys WHERE id = (SELECT min(id) FROM event_keys)"),
    );
    assert!(!ok);
    assert!(report.contains("its timeline index rows are"), "{report}");
    let (ok, report) = tamper_store(
        "retimed-store",
        &sql("UPDATE event_blocks SET min_time_ms = min_time_ms + 1"),
    );
    assert!(!ok);
    assert!(report.contains("PROBLEM  store block 1..="), "{report}");
    let (ok, report) = tamper_store("removed-store", &sql("DELETE FROM event_blocks"));
    assert!(!ok);
    assert!(
        report.contains("PROBLEM  store events 1..=6: journaled and detected, but missing"),
        "{report}"
    );

    // An exported bundle: no signing key, verifies offline with its public key alone, and a
    // changed byte in it is found.
    let bundle = temp.path().join("bundle");
    let exported = cli(&[
        "audit",
        "export",
        bundle.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{exported:?}");
    assert!(!bundle.join("signing.key").exists());
    assert_eq!(
        fs::read(bundle.join("signing.pub")).unwrap(),
        fs::read(data.join("audit/signing.pub")).unwrap()
    );
    let verify_bundle = || {
        let out = cli(&[
            "audit",
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--public-key",
            bundle.join("signing.pub").to_str().unwrap(),
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, report) = verify_bundle();
    assert!(ok, "{report}");
    let leaves = bundle.join("leaves.bin");
    let mut bytes = fs::read(&leaves).unwrap();
    bytes[20] ^= 0x01;
    fs::write(&leaves, bytes).unwrap();
    let (ok, report) = verify_bundle();
    assert!(!ok && report.contains("PROBLEM  leaf 0"), "{report}");
    let spooled = fs::read_dir(data.join("audit/spool")).unwrap().count();
    assert_eq!(
        spooled, 1,
        "the bundle export waits in the spool for the next start"
    );
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert!(report.contains("1 entries wait in spool/"), "{report}");
}

#[test]
fn events_journaled_without_an_entry_are_covered_on_the_next_start() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("no-audit.toml");
    fs::write(&config, "[audit]\nenabled = false\n").unwrap();
    let mut onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        config: Some(config),
        ..Options::default()
    });
    let batches = ingest_three_batches(&onesec);
    onesec.wait_for_detection(6);
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 404);
    onesec.kill();

    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        directory: Some(northwind()),
        ..Options::default()
    });
    let proof = onesec.get_json(&format!("/api/v1/audit/proof/{}", batches[2][0]));
    let parsed: onesec_audit::EventProof = serde_json::from_value(proof).unwrap();
    let key = onesec_audit::load_public_key(&data.join("audit/signing.pub")).unwrap();
    parsed.verify(&key).unwrap();
    assert!(parsed.batch.entry.contains("journal.recovered"));
}

/// The entries of an audit folder, parsed.
fn entries(data: &Path) -> Vec<onesec_audit::Entry> {
    onesec_audit::read_contents(&data.join("audit"))
        .unwrap()
        .entries
        .iter()
        .map(|bytes| serde_json::from_slice(bytes).unwrap())
        .collect()
}

fn find<'a>(
    entries: &'a [onesec_audit::Entry],
    action: &str,
    what: impl Fn(&onesec_audit::Entry) -> bool,
) -> &'a onesec_audit::Entry {
    entries
        .iter()
        .find(|e| e.action == action && what(e))
        .unwrap_or_else(|| {
            let seen: Vec<String> = entries
                .iter()
                .map(|e| format!("{} {} {}", e.actor, e.action, e.target))
                .collect();
            panic!("no matching {action} entry among {seen:#?}")
        })
}

/// Each kind of action issue 6 names, done the way a person or onesec does it, is a leaf of
/// the audit log with who did it: login (good and bad), acknowledgement, the rules and the
/// configuration in effect, playbook steps, connector calls, an export, a directory reload.
#[test]
fn every_kind_of_action_is_in_the_audit_log_with_its_actor() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let onesec = Onesec::start_demo(&data);
    let client = reqwest::blocking::Client::new();
    let login = |password: &str| {
        client
            .post(format!("{}/api/v1/auth/login", onesec.base))
            .json(&serde_json::json!({"user": common::ADMIN, "password": password}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(login("not the password at all"), 401);
    assert_eq!(login(common::ADMIN_PASSWORD), 200);
    let incidents = onesec.get_json("/api/v1/incidents");
    let id = incidents[0]["id"].as_str().unwrap().to_string();
    let ack = client
        .post(format!("{}/api/v1/incidents/{id}/ack", onesec.base))
        .bearer_auth(onesec.token().unwrap())
        .json(&serde_json::json!({"comment": "on it"}))
        .send()
        .unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(onesec.post_json("/api/v1/directory/reload").status, 200);
    // Detection starts the hybrid incident's playbook: wait for its run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !entries(&data).iter().any(|e| e.action == "response.action") {
        assert!(std::time::Instant::now() < deadline, "no response action");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = temp.path().join("export.jsonl");
    let export = cli(&[
        "export",
        "--ocsf",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{export:?}");
    // The running onesec takes the export's spooled entry at its next checkpoint.
    assert_eq!(onesec.get("/api/v1/audit/checkpoint").status, 200);
    let all = entries(&data);

    let failed = find(&all, "auth.login", |e| e.detail["outcome"] != "success");
    assert_eq!(failed.target, common::ADMIN);
    find(&all, "auth.login", |e| {
        e.actor == common::ADMIN && e.detail["outcome"] == "success"
    });
    let ack = find(&all, "incident.state", |e| e.target == id);
    assert_eq!(
        (ack.actor.as_str(), &ack.detail["to"]),
        (common::ADMIN, &Value::from("acknowledged"))
    );
    let rules = find(&all, "rules.load", |_| true);
    assert!(rules.detail["loaded"].as_u64().unwrap() > 10, "{rules:?}");
    assert_eq!(rules.detail["digest"].as_str().unwrap().len(), 64);
    assert!(
        rules.detail["files"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("builtin:")),
        "{rules:?}"
    );
    let config = find(&all, "config.load", |_| true);
    assert_eq!(
        config.detail["effective_sha256"].as_str().unwrap().len(),
        64
    );
    let step = find(&all, "playbook.step", |_| true);
    assert!(step.detail["kind"].is_string(), "{step:?}");
    find(&all, "playbook.start", |_| true);
    let call = find(&all, "response.action", |_| true);
    assert!(call.detail["outcome"].is_string(), "{call:?}");
    find(&all, "directory.reload", |e| e.actor == common::ADMIN);
    let exported = find(&all, "export.ocsf", |e| e.actor.starts_with("cli:"));
    let bytes = fs::read(&out).unwrap();
    assert_eq!(
        exported.detail["sha256"].as_str().unwrap(),
        hex_sha256(&bytes),
        "the entry names the exported bytes"
    );
    assert_eq!(
        exported.detail["events"].as_u64().unwrap() as usize,
        bytes.iter().filter(|b| **b == b'\n').count()
    );
    assert!(
        !data.join("audit/spool").exists()
            || fs::read_dir(data.join("audit/spool")).unwrap().count() == 0,
        "the spool was emptied"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A rule or a setting changed between two starts shows in the audit log: the `rules.load`
/// entries name the changed file with a new hash, the `config.load` entries differ. An export
/// while onesec is stopped is taken at the next start.
#[test]
fn a_changed_rule_or_setting_shows_between_two_starts() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let rules = temp.path().join("rules");
    fs::create_dir_all(&rules).unwrap();
    let rule = |level: &str| {
        format!(
            "title: Local rule\nid: 5d2c8e57-6f0a-4c43-9a3a-1f2b3c4d5e6f\nlogsource:\n  product: linux\ndetection:\n  sel:\n    message|contains: 'oops'\n  condition: sel\nlevel: {level}\n"
        )
    };
    fs::write(rules.join("local.yml"), rule("low")).unwrap();
    let config = temp.path().join("onesec.toml");
    let settings = |minutes: u32| {
        format!(
            "[rules]\ndirs = [\"{}\"]\n[incidents]\nwindow = \"{minutes}m\"\n",
            rules.display()
        )
    };
    fs::write(&config, settings(30)).unwrap();
    let options = Options {
        data_dir: data.clone(),
        config: Some(config.clone()),
        ..Options::default()
    };
    let mut first = Onesec::start(&options);
    first.kill();
    fs::write(rules.join("local.yml"), rule("high")).unwrap();
    fs::write(&config, settings(45)).unwrap();
    let export = cli(&["export", "--ocsf", "--data-dir", data.to_str().unwrap()]);
    assert!(export.status.success(), "{export:?}");
    let second = Onesec::start(&options);
    assert_eq!(second.get("/api/v1/audit/checkpoint").status, 200);
    let all = entries(&data);

    let loads: Vec<&onesec_audit::Entry> =
        all.iter().filter(|e| e.action == "rules.load").collect();
    assert_eq!(loads.len(), 2);
    let key = rules.join("local.yml").display().to_string();
    let (before, after) = (&loads[0].detail, &loads[1].detail);
    assert!(before["files"][&key].is_string(), "{before}");
    assert_ne!(
        before["files"][&key], after["files"][&key],
        "the file's hash"
    );
    assert_ne!(before["digest"], after["digest"]);
    let configs: Vec<&onesec_audit::Entry> =
        all.iter().filter(|e| e.action == "config.load").collect();
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0].target, config.display().to_string());
    assert_ne!(
        configs[0].detail["file_sha256"],
        configs[1].detail["file_sha256"]
    );
    assert_ne!(
        configs[0].detail["effective_sha256"],
        configs[1].detail["effective_sha256"]
    );
    let export = find(&all, "export.ocsf", |_| true);
    assert_eq!(export.target, "stdout");
    let position = |action: &str| all.iter().position(|e| e.action == action).unwrap();
    assert!(
        all.iter()
            .rposition(|e| e.action == "service.start")
            .unwrap()
            > position("export.ocsf"),
        "the export is taken when the log opens, before the second start's entry"
    );
}

/// Checkpoints are signed on their own at `[audit] checkpoint_secs`, without anyone asking.
#[test]
fn checkpoints_are_signed_at_the_configured_interval() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("fast.toml");
    fs::write(&config, "[audit]\ncheckpoint_secs = 1\n").unwrap();
    let onesec = Onesec::start(&Options {
        data_dir: data.clone(),
        config: Some(config),
        ..Options::default()
    });
    let checkpoints = || {
        fs::read_to_string(data.join("audit/checkpoints.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = checkpoints();
    for minute in 1..=3 {
        let answer = onesec.post_events("syslog", sshd(minute, "amacleod"), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        while checkpoints() <= seen {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint after batch {minute}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        seen = checkpoints();
    }
    let report = onesec_audit::verify_dir(&data.join("audit"), None, None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.checkpoints >= 3);
}
